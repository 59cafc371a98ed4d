"""What changed between two saved runs, per allocator and trace.

For each (allocator, trace name) pair: the utilization in points (new - old)
and the speed ratio (new ops/s / old ops/s, "1.25x faster"). As in pyperf's
compare_to, a timing change is not reported as one when it is inside the
measured spread: when the two runs' [fastest, slowest] pass intervals overlap,
the ratio is marked as noise. A trace that became invalid (or valid again)
says so, with the new error; pairs found in one run only are listed too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mallocsim.report import kops, percent
from mallocsim.results import TraceResult, geomean
from mallocsim.table import render_table

SAME = "same"
BROKE = "became invalid"
FIXED = "became valid"
STILL_BROKEN = "still invalid"
ADDED = "only in new"
REMOVED = "only in old"


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
    noise: bool  # the timing spreads overlap: the ratio is within the noise


def _overlap(old: TraceResult, new: TraceResult) -> bool:
    if None in (old.seconds_min, old.seconds_max, new.seconds_min, new.seconds_max):
        return False
    return old.seconds_min <= new.seconds_max and new.seconds_min <= old.seconds_max


def compare_pair(old: TraceResult | None, new: TraceResult | None) -> Change:
    either = new or old
    assert either is not None
    if old is None or new is None:
        status = ADDED if old is None else REMOVED
        return Change(either.allocator, either.trace, status, old, new, None, None, False)
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
    noise = ratio is not None and _overlap(old, new)
    return Change(new.allocator, new.trace, status, old, new, points, ratio, noise)


def diff_runs(old: Sequence[TraceResult], new: Sequence[TraceResult]) -> list[Change]:
    """Every pair of either run, in the new run's order, then those gone."""
    old_by = {(r.allocator, r.trace): r for r in old}
    new_by = {(r.allocator, r.trace): r for r in new}
    changes = [compare_pair(old_by.get(key), result) for key, result in new_by.items()]
    changes += [compare_pair(result, None) for key, result in old_by.items() if key not in new_by]
    return changes


def speed_text(change: Change) -> str:
    ratio = change.speed_ratio
    if ratio is None:
        return "-"
    text = f"{ratio:.2f}x faster" if ratio >= 1 else f"{1 / ratio:.2f}x slower"
    return f"{text} (noise)" if change.noise else text


def _points(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f} pts"


def format_diff(changes: Sequence[Change]) -> str:
    header = (
        "allocator",
        "trace",
        "status",
        "util old",
        "util new",
        "change",
        "Kops/s old",
        "Kops/s new",
        "speed",
    )
    rows = []
    for c in changes:
        old_util = percent(c.old.utilization) if c.old and c.old.valid else "-"
        new_util = percent(c.new.utilization) if c.new and c.new.valid else "-"
        rows.append(
            (
                c.allocator,
                c.trace,
                c.status,
                old_util,
                new_util,
                _points(c.util_points),
                kops(c.old.ops_per_sec) if c.old and c.old.valid else "-",
                kops(c.new.ops_per_sec) if c.new and c.new.valid else "-",
                speed_text(c),
            )
        )
    out = [render_table([header], rows, left=3)]
    for c in changes:
        if c.status in (BROKE, STILL_BROKEN) and c.new is not None:
            out.append(f"{c.allocator} on {c.trace}: {c.status}: {c.new.error}")
    significant = [c.speed_ratio for c in changes if c.speed_ratio is not None]
    mean = geomean(significant)
    if mean is not None:
        word = "faster" if mean >= 1 else "slower"
        out.append(
            f"speed, geometric mean over {len(significant)} pairs: "
            f"{max(mean, 1 / mean):.2f}x {word}; "
            f"{sum(c.noise for c in changes)} of them within the noise (the timing spreads overlap)"
        )
    return "\n".join(out)
