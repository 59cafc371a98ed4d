"""What changed between two saved runs, per allocator and trace.

For each (allocator, trace name) pair: the utilization in points (new - old)
and the speed ratio (new ops/s / old ops/s, "1.25x faster"), which is called
"significant" or "not significant" by a test, named in the output: Welch's
two-sample t-test, two-sided at 95% (stats.py), on the seconds of every timed
pass of the two runs. pyperf's compare_to makes the same call with Student's
t-test; Welch's does not assume the two runs were equally noisy. A pair with
fewer than two passes on a side, or from a file saved before format 2 (which
kept no per-pass times), is "untested", never guessed. A trace that became
invalid (or valid again) says so, with the new error; pairs found in one run
only are listed too; a measurement not to be trusted (stats.instability) is
named under the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mallocsim.numbers import kops, percent
from mallocsim.report import timing_warnings
from mallocsim.results import TraceResult, geomean
from mallocsim.stats import TEST_NAME, TTest, welch_t_test
from mallocsim.table import WIDTH, fit, render_table

SAME = "same"
BROKE = "became invalid"
FIXED = "became valid"
STILL_BROKEN = "still invalid"
ADDED = "only in new"
REMOVED = "only in old"

SIGNIFICANT = "significant"
NOT_SIGNIFICANT = "not significant"
UNTESTED = "untested"


@dataclass(frozen=True)
class Change:
    """One (allocator, trace) pair across the two runs."""

    allocator: str
    trace: str
    status: str  # SAME, BROKE, FIXED, STILL_BROKEN, ADDED or REMOVED
    old: TraceResult | None
    new: TraceResult | None
    util_points: float | None  # 100 * (new - old utilization), both valid
    speed_ratio: float | None  # new ops/s / old ops/s, both valid and timed
    test: TTest | None = None  # Welch's t-test of the passes' seconds; None: untested

    @property
    def significance(self) -> str:
        """SIGNIFICANT, NOT_SIGNIFICANT, or UNTESTED (no ratio, or no test possible)."""
        if self.speed_ratio is None or self.test is None:
            return UNTESTED
        return SIGNIFICANT if self.test.significant else NOT_SIGNIFICANT


def compare_pair(
    old: TraceResult | None, new: TraceResult | None, trace: str | None = None
) -> Change:
    """The change of one pair, shown as `trace` (default: the trace's name)."""
    either = new or old
    assert either is not None
    shown = trace if trace is not None else either.trace
    if old is None or new is None:
        status = ADDED if old is None else REMOVED
        return Change(either.allocator, shown, status, old, new, None, None)
    if old.valid and new.valid:
        status = SAME
    elif old.valid:
        status = BROKE
    elif new.valid:
        status = FIXED
    else:
        status = STILL_BROKEN
    both = old.valid and new.valid
    points = (
        100 * (new.utilization - old.utilization)
        if both and new.utilization is not None and old.utilization is not None
        else None
    )
    ratio = (
        new.ops_per_sec / old.ops_per_sec if both and new.ops_per_sec and old.ops_per_sec else None
    )
    test = welch_t_test(old.pass_seconds, new.pass_seconds) if ratio is not None else None
    return Change(new.allocator, shown, status, old, new, points, ratio, test)


def diff_runs(old: Sequence[TraceResult], new: Sequence[TraceResult]) -> list[Change]:
    """Every pair of either run, in the new run's order, then those gone."""
    old_by, new_by = _by_trace(old), _by_trace(new)
    changes = [compare_pair(old_by.get(key), result, key[1]) for key, result in new_by.items()]
    changes += [
        compare_pair(result, None, key[1]) for key, result in old_by.items() if key not in new_by
    ]
    return changes


def _by_trace(results: Sequence[TraceResult]) -> dict[tuple[str, str], TraceResult]:
    """A run's results by (allocator, trace): the trace's name, which pairs runs made in other
    folders, or its file where two traces of the run share a name (two short1-bal.rep of two
    folders collapsed into one row, a false 20-point regression: red-team pass 27)."""
    paths: dict[str, set[str | None]] = {}
    for r in results:
        paths.setdefault(r.trace, set()).add(r.path)
    return {(r.allocator, r.trace if len(paths[r.trace]) == 1 else str(r.path)): r for r in results}


def speed_text(change: Change) -> str:
    ratio = change.speed_ratio
    if ratio is None:
        return "-"
    return f"{ratio:.2f}x faster" if ratio >= 1 else f"{1 / ratio:.2f}x slower"


def significance_text(change: Change) -> str:
    """ "significant (p=0.003)", "not significant (p=0.41)", "untested" or "-"."""
    if change.speed_ratio is None:
        return "-"
    if change.test is None:
        return UNTESTED
    text = f"{change.significance} ({_p(change.test.p_value)})"
    # The test compares the passes' means, the ratio their medians: when a
    # significant difference of the means points the other way, say so.
    means_faster = change.test.t > 0  # old's mean time above new's: new is faster
    if change.test.significant and means_faster != (change.speed_ratio >= 1):
        text += f", means {'faster' if means_faster else 'slower'}"
    return text


def _p(value: float) -> str:
    return "p<0.001" if value < 0.001 else f"p={value:.3f}"


def _points(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f} pts"


TEST_NOTE = (
    f"test: {TEST_NAME}, two-sided, on the seconds of every timed pass of the two runs "
    "(their means; speed is the medians' ratio): significant when p < 0.05; untested: "
    "fewer than 2 passes on a side, or a file saved before results format 2 (no per-pass times)"
)


def format_diff(changes: Sequence[Change]) -> str:
    """Two tables (so that each fits 80 columns): validity and utilization for
    every pair, then speed and its test for the pairs timed in both runs."""
    header = ("allocator", "trace", "status", "util old", "util new", "change")
    rows = [
        (
            c.allocator,
            c.trace,
            c.status,
            percent(c.old.utilization) if c.old and c.old.valid else "-",
            percent(c.new.utilization) if c.new and c.new.valid else "-",
            _points(c.util_points),
        )
        for c in changes
    ]
    out = [render_table([header], rows, left=3, width=WIDTH)]
    timed = [c for c in changes if c.speed_ratio is not None]
    if timed:
        header = ("allocator", "trace", "Kops/s old", "Kops/s new", "speed", "test")
        rows = [
            (
                c.allocator,
                c.trace,
                kops(c.old.ops_per_sec if c.old else None),
                kops(c.new.ops_per_sec if c.new else None),
                speed_text(c),
                significance_text(c),
            )
            for c in timed
        ]
        out += ["", render_table([header], rows, left=2, width=WIDTH)]
    for c in changes:
        if c.status in (BROKE, STILL_BROKEN) and c.new is not None:
            out.append(fit(f"{c.allocator} on {c.trace}: {c.status}: {c.new.error}"))
    for side, results in (("old", [c.old for c in changes]), ("new", [c.new for c in changes])):
        kept = [r for r in results if r is not None and r.valid]
        out += [fit(f"warning: {side}: {line}") for line in timing_warnings(kept)]
    ratios = [c.speed_ratio for c in changes if c.speed_ratio is not None]
    mean = geomean(ratios)
    if mean is not None:
        word = "faster" if mean >= 1 else "slower"
        counts = {
            kind: sum(c.significance == kind for c in changes if c.speed_ratio is not None)
            for kind in (SIGNIFICANT, NOT_SIGNIFICANT, UNTESTED)
        }
        out.append(
            fit(
                f"speed, geometric mean over {len(ratios)} pairs: "
                f"{max(mean, 1 / mean):.2f}x {word}; {counts[SIGNIFICANT]} significant, "
                f"{counts[NOT_SIGNIFICANT]} not significant"
                + (f", {counts[UNTESTED]} untested" if counts[UNTESTED] else "")
                + f" ({TEST_NAME})"
            )
        )
        out.append(fit(TEST_NOTE))
    return "\n".join(out)
