"""`mallocsim diff OLD.json NEW.json`: utilization points, speed ratios called
significant or not by Welch's t-test (named in the output), untested when a
file has no per-pass times, a trace that became invalid, and bad files."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest

from mallocsim.diff import (
    BROKE,
    FIXED,
    NOT_SIGNIFICANT,
    SAME,
    SIGNIFICANT,
    UNTESTED,
    compare_pair,
    diff_runs,
    format_diff,
    significance_text,
    speed_text,
)
from mallocsim.results import TraceResult, write_json

from .conftest import fixture_allocator

GOOD = "a 0 24\na 1 100\nr 0 300\nf 1\na 2 8\nf 0\nf 2\n"


def _timed(util, low, median, high, valid=True, trace="t", passes=None):
    """A result whose timed passes were `passes` (default: low, median, high)."""
    if passes is None and median is not None:
        passes = (low, median, high)
    return TraceResult(
        allocator="a", trace=trace, path=None, valid=valid, error=None if valid else "broke",
        ops=1000, weight=1, utilization=util, seconds=median, seconds_min=low,
        seconds_max=high, ops_per_sec=1000 / median if median else None,
        passes=len(passes or ()), pass_seconds=tuple(passes or ()),
    )  # fmt: skip


# Two runs' passes (seconds), and what scipy.stats.ttest_ind(old, new, equal_var=False)
# gives for them: p = 0.0019463617062194234 and 0.8796164635287078.
OLD = (0.0101, 0.0098, 0.0103, 0.0100, 0.0099, 0.0102)
SLOWER = (0.0107, 0.0104, 0.0111, 0.0106, 0.0109)
ALIKE = (0.0100, 0.0105, 0.0097, 0.0102, 0.0099, 0.0104, 0.0098)


def _passes(values, trace="t"):
    ordered = sorted(values)
    median = ordered[len(ordered) // 2]
    return _timed(0.8, ordered[0], median, ordered[-1], trace=trace, passes=values)


def test_points_and_speed_ratio_with_the_test_named():
    faster = compare_pair(_timed(0.80, 0.9, 1.0, 1.1), _timed(0.85, 0.45, 0.5, 0.55))
    assert faster.status == SAME
    assert faster.util_points == pytest.approx(5.0)
    assert faster.speed_ratio == pytest.approx(2.0)
    assert speed_text(faster) == "2.00x faster"
    assert faster.significance == SIGNIFICANT and faster.test.name == "Welch's t-test, 95%"
    slower = compare_pair(_timed(0.8, 0.9, 1.0, 1.1), _timed(0.8, 1.9, 2.0, 2.2))
    assert speed_text(slower) == "2.00x slower"


def test_significance_is_welchs_test_on_every_pass():
    slower = compare_pair(_passes(OLD), _passes(SLOWER))
    assert slower.significance == SIGNIFICANT
    assert slower.test.p_value == pytest.approx(0.0019463617062194234, rel=1e-9)
    assert significance_text(slower) == "significant (p=0.002)"
    # Medians 0.01005 and 0.0100 (0.5% apart), but the passes say nothing beyond the noise.
    alike = compare_pair(_passes(OLD), _passes(ALIKE))
    assert alike.significance == NOT_SIGNIFICANT
    assert significance_text(alike) == "not significant (p=0.880)"
    far = compare_pair(_passes(OLD), _passes(tuple(2 * v for v in OLD)))
    assert significance_text(far) == "significant (p<0.001)"
    # Overlapping ranges are not the test: SLOWER's range [0.0104, 0.0111] and this
    # one's overlap, yet their means differ beyond their noise.
    overlapping = (0.0097, 0.0098, 0.0098, 0.0099, 0.0098, 0.0105)
    both = compare_pair(_passes(SLOWER), _passes(overlapping))
    assert both.significance == SIGNIFICANT


def test_a_significant_difference_of_the_means_against_the_medians_is_said():
    # The median pass got faster, but two very slow passes make the mean slower.
    old = (1.00, 1.01, 1.02, 1.00, 1.01, 1.02, 1.00, 1.01)
    new = (0.99, 0.99, 0.99, 0.99, 0.99, 0.99, 1.60, 1.62, 1.61, 1.62, 1.60)
    change = compare_pair(_passes(old), _passes(new))
    assert change.speed_ratio > 1 and change.test.t < 0 and change.test.significant
    assert significance_text(change) == "significant (p=0.023), means slower"


def test_a_pair_without_per_pass_times_is_untested():
    old = _timed(0.8, 0.9, 1.0, 1.1, passes=())  # a file saved before format 2
    change = compare_pair(old, _timed(0.8, 0.45, 0.5, 0.55))
    assert change.speed_ratio == pytest.approx(2.0) and change.test is None
    assert change.significance == UNTESTED and significance_text(change) == "untested"
    one = compare_pair(_timed(0.8, 1, 1, 1, passes=(1.0,)), _timed(0.8, 1, 1, 1))
    assert one.significance == UNTESTED
    text = _words(format_diff([change]))
    assert "0 significant, 0 not significant, 1 untested (Welch's t-test, 95%)" in text
    assert "before results format 2" in text


def test_format_diff_names_the_test_and_warns_of_unstable_passes():
    noisy = (0.010, 0.013, 0.009, 0.016, 0.010)
    changes = [
        compare_pair(_passes(OLD), _passes(SLOWER)),
        compare_pair(_passes(OLD, "u"), _passes(noisy, "u")),
    ]
    text = format_diff(changes)
    assert all(len(line) <= 80 for line in text.splitlines())
    # Each table fits: a long row puts its allocator on a line of its own.
    row = next(line for line in text.splitlines() if "slower" in line)
    assert row.split()[0] == "t"
    assert "1.06x slower" in row and row.endswith("  significant (p=0.002)")
    words = _words(text)
    assert "1 significant, 1 not significant (Welch's t-test, 95%)" in words
    assert (
        "warning: new: a on u: unstable: the middle half of the passes spans 30.0% of the median"
        in words
    )
    assert "test: Welch's t-test, 95%, two-sided" in words


def _words(text: str) -> str:
    """Text with its wrapped lines joined again."""
    return " ".join(text.split())


def test_validity_changes_and_pairs_in_one_run_only():
    old = [
        _timed(0.8, 1, 1, 1),
        _timed(0.5, 1, 1, 1, valid=False, trace="u"),
        _timed(0.7, 1, 1, 1, trace="gone"),
    ]
    new = [
        _timed(None, None, None, None, valid=False),
        _timed(0.6, 1, 1, 1, trace="u"),
        _timed(0.7, 1, 1, 1, trace="new"),
    ]
    changes = {c.trace: c for c in diff_runs(old, new)}
    assert changes["t"].status == BROKE and changes["t"].util_points is None
    assert changes["u"].status == FIXED and changes["u"].speed_ratio is None
    assert changes["gone"].status == "only in old" and changes["new"].status == "only in new"


def test_two_traces_of_one_name_are_paired_by_their_files():
    # Two short1-bal.rep of two folders were one row, the last of each run: the same results in
    # another order showed a 20-point regression, and one trace vanished (red-team pass 27).
    def at(path, util):
        return replace(_timed(util, 1, 1, 1, trace="short1-bal"), path=path)

    old = [at("classic/short1-bal.rep", 0.79), at("course/short1-bal.rep", 0.99)]
    new = [at("course/short1-bal.rep", 0.99), at("classic/short1-bal.rep", 0.79)]
    changes = {c.trace: c for c in diff_runs(old, new)}
    assert set(changes) == {"classic/short1-bal.rep", "course/short1-bal.rep"}
    assert all(c.util_points == pytest.approx(0) for c in changes.values())
    # a name once in each run pairs whatever its folder (runs made in two checkouts)
    [moved] = diff_runs([at("/a/short1-bal.rep", 0.79)], [at("/b/short1-bal.rep", 0.80)])
    assert moved.trace == "short1-bal" and moved.util_points == pytest.approx(1)


def test_diff_of_two_saved_runs_where_a_trace_became_invalid(cli, write_trace, tmp_path):
    # The same allocator, saved twice; in between its source gains a bug that
    # one of the two traces shows (the misaligned fixture stands in for it).
    allocator = tmp_path / "mine.c"
    traces = tmp_path / "traces"
    traces.mkdir()
    (traces / "first.rep").write_text(GOOD)
    (traces / "second.rep").write_text("a 0 0\nf 0\n")  # nothing is ever returned to misalign
    shutil.copy(fixture_allocator("good_bump"), allocator)
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    common = ("--dialect", "classic", "--min-seconds", "0.001", traces)
    assert cli("compare", "-a", allocator, "--json", old, *common).status == 0
    shutil.copy(fixture_allocator("misaligned"), allocator)
    assert cli("compare", "-a", allocator, "--json", new, *common).status == 1
    run = cli("diff", old, new)
    assert run.status == 1, run.err  # a trace that was valid is not any more
    lines = run.out.splitlines()
    first = next(line for line in lines if " first " in line)
    assert "became invalid" in first
    failure = _words(run.out).split("first: became invalid:", 1)[1]
    assert "not 16-byte aligned" in failure.split(" speed,")[0]
    # "second" in both tables: valid in both runs, then its speed, tested (every pass was saved).
    status, speed = [line for line in lines if " second " in line]
    assert "same" in status and "-" not in speed
    assert ("faster" in speed or "slower" in speed) and "significant (p" in speed
    # A run against itself: nothing changed, and the test says so.
    run = cli("diff", old, old)
    assert run.status == 0
    assert "+0.0 pts" in run.out and "1.00x faster" in run.out and "became" not in run.out
    assert "not significant (p=1.000)" in run.out and " significant (p=0" not in run.out
    assert "0 significant, 2 not significant (Welch's t-test, 95%)" in _words(run.out)


def test_diff_rejects_a_truncated_or_foreign_file(cli, tmp_path):
    good = tmp_path / "good.json"
    write_json([_timed(0.8, 1, 1, 1)], good)
    truncated = tmp_path / "cut.json"
    truncated.write_text(good.read_text()[:80])
    run = cli("diff", good, truncated)
    assert run.status == 2 and "cut.json: truncated" in run.err and "Traceback" not in run.err
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"benchmarks": []}))
    run = cli("diff", foreign, good)
    assert run.status == 2 and "not a mallocsim results file" in run.err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ops": "many"}, "(ops is 'many')"),
        ({"utilization": "high"}, "(utilization is 'high')"),
        ({"valid": 1}, "(valid is 1)"),
        ({"passes": True}, "(passes is True)"),
    ],
)
def test_diff_rejects_a_result_with_a_value_of_the_wrong_type(cli, tmp_path, change, message):
    # A hand-edited or damaged file: one line, not a TypeError inside the diff.
    good = tmp_path / "good.json"
    write_json([_timed(0.8, 1, 1, 1)], good)
    document = json.loads(good.read_text())
    document["runs"][0]["traces"][0].update(change)
    damaged = tmp_path / "damaged.json"
    damaged.write_text(json.dumps(document))
    run = cli("diff", good, damaged)
    assert run.status == 2 and "Traceback" not in run.err
    assert (
        run.err.strip() == f"mallocsim diff: {damaged}: truncated or damaged results file {message}"
    )


def test_diff_rejects_a_result_that_is_not_an_object(cli, tmp_path):
    damaged = tmp_path / "damaged.json"
    damaged.write_text(json.dumps({"format": "mallocsim-results", "version": 1,
                                   "runs": [{"allocator": "a", "traces": [7]}]}))  # fmt: skip
    run = cli("diff", damaged, damaged)
    assert run.status == 2 and "a result is 7, not an object" in run.err
