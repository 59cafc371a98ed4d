"""Rounds of a comparison: every cell measured several times, the allocators' order
rotated from round to round, each cell shown as its median round, and how far each
allocator's geometric mean moved from round to round.

A shared machine has slow spells (another job, the hypervisor, the kernel's own
threads) lasting from a fraction of a second to minutes. A comparison measures one
allocator over every trace, then the next: a spell that falls on one allocator's stretch
makes it look slow there and nowhere else (on this project's 2-core machine, cells a
quarter to a third off in single runs of `compare`, different ones each run). In
rounds, with the order rotated, a spell falls on a different allocator each time, and a
cell's median round is the one no spell decided; the spread of the per-round means says
how far a single run could have been trusted, and ratios taken within a round (between
figures measured seconds apart, not rounds apart) cancel what moves the whole machine.
The issue that asked for production speed states its targets that way: each allocator's
geometric mean, min / median / max over interleaved runs, and its ratio to ours.

Guarantees: pure functions on results (nothing native, nothing run here); a merged cell
is one round's result unchanged, never an average (its utilization, checks and
statistics belong together); a cell that failed in any round is failed (a wrong answer
once is a wrong answer), one that ran out of memory in any round and failed in none is
out of memory; a round's geometric means are taken over the traces given (the merged
comparison's common ones), and a round that lacks one of them for an allocator (stopped
by Ctrl-C before the end) is left out of that allocator's spread rather than compared
over fewer traces.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from mallocsim.numbers import kops, ratio
from mallocsim.out_of_memory import is_out_of_memory
from mallocsim.results import TraceResult, geomean
from mallocsim.stats import Stats, describe
from mallocsim.table import WIDTH, fit, render_table

MAX_ROUNDS = 100  # a comparison of a few allocators on a few dozen traces: about an hour

# One round's throughput per (allocator, trace key): None where the cell failed or was
# not timed.
RoundSpeeds = Mapping[tuple[str, str], float | None]


def rotated(names: Sequence[str], index: int) -> list[str]:
    """The allocators' order in round `index` (from 0): the given order turned left by
    `index`, so that each allocator comes first, and after each other, in turn."""
    if not names:
        return []
    turn = index % len(names)
    return [*names[turn:], *names[:turn]]


def median_round(results: Sequence[TraceResult]) -> TraceResult:
    """The result that stands for a cell measured in several rounds: the first failure
    if any round failed, else the first out-of-memory result if any, else the round of
    median throughput (the lower middle one of an even count: a round measured, not a
    mean of two), or the first round when none was timed."""
    if not results:
        raise ValueError("a cell needs at least one round")
    failed = [r for r in results if not r.valid and not is_out_of_memory(r)]
    starved = [r for r in results if is_out_of_memory(r)]
    if failed or starved:
        return (failed or starved)[0]
    timed = sorted((r for r in results if r.ops_per_sec is not None), key=_speed)
    return timed[(len(timed) - 1) // 2] if timed else results[0]


def _speed(result: TraceResult) -> float:
    return result.ops_per_sec or 0.0


@dataclass(frozen=True)
class RoundsSpread:
    """How each allocator's geometric mean of Kops/s moved from round to round, and the
    first allocator's mean over each one's, taken within each round (None: no round had
    every trace for it). `traces` is how many traces each mean is over."""

    rounds: int  # rounds with every allocator's mean: all of them, unless stopped early
    measured: int  # rounds begun
    traces: int
    first: str
    geomeans: dict[str, Stats | None]
    first_over: dict[str, Stats | None]


def spread(
    speeds: Sequence[RoundSpeeds], allocators: Sequence[str], traces: Sequence[str]
) -> RoundsSpread:
    """The spread of the per-round means of `allocators` (the first is the one the
    ratios divide), each over `traces`; a round missing one of them for an allocator
    counts for neither its mean nor a ratio with it."""

    def mean(round_: RoundSpeeds, allocator: str) -> float | None:
        values = [round_.get((allocator, t)) for t in traces]
        if not traces or any(v is None or v <= 0 for v in values):
            return None
        return geomean(v for v in values if v is not None)

    means = [{a: mean(r, a) for a in allocators} for r in speeds]
    first = allocators[0] if allocators else ""
    geomeans: dict[str, Stats | None] = {}
    first_over: dict[str, Stats | None] = {}
    for allocator in allocators:
        own = [m[allocator] for m in means if m[allocator] is not None]
        geomeans[allocator] = describe(own) if own else None
        paired = [
            mine / theirs
            for m in means
            if (mine := m[first]) is not None and (theirs := m[allocator]) is not None
        ]
        first_over[allocator] = describe(paired) if paired else None
    whole = sum(all(m[a] is not None for a in allocators) for m in means)
    return RoundsSpread(whole, len(speeds), len(traces), first, geomeans, first_over)


SPREAD_HEADER = ("allocator", "min", "median", "max", "min", "median", "max")
# The titles over SPREAD_HEADER's columns, with the columns each spans.
SPREAD_GROUPS = (("", 1), ("Kops/s geomean", 3), ("first / it", 3))


def spread_rows(result: RoundsSpread) -> list[list[str]]:
    """A row an allocator: its mean's min, median and max, then the ratio's ("-" for
    the first allocator, whose ratio is 1 by definition)."""
    rows = []
    for allocator, stats in result.geomeans.items():
        row = [allocator, *_three(stats, kops)]
        row += (
            ["-"] * 3 if allocator == result.first else _three(result.first_over[allocator], ratio)
        )
        rows.append(row)
    return rows


def spread_lead(result: RoundsSpread) -> str:
    """What the rounds were, and what the spread table holds."""
    rounds = f"{result.rounds} rounds"
    if result.rounds < result.measured:
        whole = "round" if result.rounds == 1 else "rounds"
        rounds = f"{result.rounds} whole {whole} of {result.measured} begun"
    return (
        f"{rounds}, the allocators' order rotated each round; each cell of the comparison is "
        f"its median round. Each allocator's geometric mean over the {result.traces} traces, "
        f"round by round, and the first allocator's ({result.first}) over it within each round:"
    )


def format_spread(result: RoundsSpread, width: int | None = WIDTH) -> str:
    """spread_lead, then the table of spread_rows."""
    table = render_table([SPREAD_HEADER], spread_rows(result), groups=SPREAD_GROUPS, width=width)
    return fit(spread_lead(result), width) + "\n" + table


def _three(stats: Stats | None, shown: Callable[[float | None], str]) -> list[str]:
    if stats is None:
        return [shown(None)] * 3
    return [shown(stats.minimum), shown(stats.median), shown(stats.maximum)]
