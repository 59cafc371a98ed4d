"""`mallocsim diff OLD.json NEW.json`: utilization points, speed ratios with
the noise marked, a trace that became invalid, and bad files."""

from __future__ import annotations

import json
import shutil

import pytest

from mallocsim.diff import BROKE, FIXED, SAME, compare_pair, diff_runs, speed_text
from mallocsim.results import TraceResult, write_json

from .conftest import FIXTURE_ALLOCATORS

GOOD = "a 0 24\na 1 100\nr 0 300\nf 1\na 2 8\nf 0\nf 2\n"


def _timed(util, low, median, high, valid=True, trace="t"):
    return TraceResult(
        allocator="a", trace=trace, path=None, valid=valid, error=None if valid else "broke",
        ops=1000, weight=1, utilization=util, seconds=median, seconds_min=low,
        seconds_max=high, ops_per_sec=1000 / median if median else None,
    )  # fmt: skip


def test_points_and_speed_ratio_with_noise_marked():
    faster = compare_pair(_timed(0.80, 0.9, 1.0, 1.1), _timed(0.85, 0.45, 0.5, 0.55))
    assert faster.status == SAME
    assert faster.util_points == pytest.approx(5.0)
    assert faster.speed_ratio == pytest.approx(2.0) and not faster.noise
    assert speed_text(faster) == "2.00x faster"
    slower = compare_pair(_timed(0.8, 0.9, 1.0, 1.1), _timed(0.8, 1.9, 2.0, 2.2))
    assert speed_text(slower) == "2.00x slower"
    # Medians 1.0 and 1.05, but the spreads overlap: within the noise.
    noise = compare_pair(_timed(0.8, 0.9, 1.0, 1.1), _timed(0.8, 1.0, 1.05, 1.2))
    assert noise.noise and speed_text(noise) == "1.05x slower (noise)"


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


def test_diff_of_two_saved_runs_where_a_trace_became_invalid(cli, write_trace, tmp_path):
    # The same allocator, saved twice; in between its source gains a bug that
    # one of the two traces shows (the misaligned fixture stands in for it).
    allocator = tmp_path / "mine.c"
    traces = tmp_path / "traces"
    traces.mkdir()
    (traces / "first.rep").write_text(GOOD)
    (traces / "second.rep").write_text("a 0 0\nf 0\n")  # nothing is ever returned to misalign
    shutil.copy(FIXTURE_ALLOCATORS / "good_bump.c", allocator)
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    common = ("--dialect", "classic", "--min-seconds", "0.001", traces)
    assert cli("compare", "-a", allocator, "--json", old, *common).status == 0
    shutil.copy(FIXTURE_ALLOCATORS / "misaligned.c", allocator)
    assert cli("compare", "-a", allocator, "--json", new, *common).status == 1
    run = cli("diff", old, new)
    assert run.status == 1, run.err  # a trace that was valid is not any more
    lines = run.out.splitlines()
    first = next(line for line in lines if " first " in line)
    assert "became invalid" in first
    assert any("first: became invalid:" in line and "not 16-byte aligned" in line for line in lines)
    second = next(line for line in lines if " second " in line)
    assert "same" in second and ("faster" in second or "slower" in second or "noise" in second)
    # A run against itself: nothing changed, every timing within the noise.
    run = cli("diff", old, old)
    assert run.status == 0
    assert "+0.0 pts" in run.out and "1.00x faster (noise)" in run.out and "became" not in run.out


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
