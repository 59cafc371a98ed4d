"""Allocators side by side: every allocator on every trace, one table.

A comparison holds one TraceResult per (allocator, trace), measured the way
`replay` measures them (built-in policies, libraries and mm.c files through
replay_all; the production references glibc, jemalloc, mimalloc and tcmalloc
each in its own preloaded process, see references.py). The table has one
column group per allocator (utilization, Kops/s), the best of each marked per
trace, and geometric means over the traces that every allocator passed, so
that the means compare like with like. A failed cell shows FAIL and the rest
is still measured; a cell that ran out of memory the machine does not have
shows oom (out_of_memory.py): not a failure, left out of the means with a
footnote; a reference whose footprint could not be measured on a
trace shows '-' there, with the reason listed; a reference that is not
installed is listed as missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

from mallocsim.allocators import resolve
from mallocsim.constants import DEFAULT_TIMEOUT
from mallocsim.errors import UsageError
from mallocsim.labs import DEFAULT_LAB, lab_named
from mallocsim.numbers import kops, percent
from mallocsim.out_of_memory import is_out_of_memory, judged, memory_limit
from mallocsim.progress import Progress
from mallocsim.references import REFERENCES, Reference, ReferenceMissing, replay_reference, require
from mallocsim.replay import ReplayOptions
from mallocsim.report import timing_warnings
from mallocsim.results import TraceResult, geomean
from mallocsim.rounds import (
    RoundSpeeds,
    RoundsSpread,
    format_spread,
    median_round,
    rotated,
    spread,
)
from mallocsim.runner import progress_name, replay_all, shown_replay
from mallocsim.table import WIDTH, fit, render_table
from mallocsim.trace import Trace, load_traces

WINNER = "*"  # marks the best cell of a row
OOM = "oom"  # a cell that ran out of memory the machine does not have
COMPARE_NOTE = (
    "util = peak live payload / peak heap footprint: for our heap its high-water mark, for a "
    "reference allocator the footprint its own statistics report at the peak; "
    f"bound = the best any 16-byte-aligned allocator can do; {WINNER} = best on that trace; "
    "a reference's util is '-' (not measured, the reason listed) when its footprint grew by "
    "less than its own blocks need at the trace's peak (each request rounded as that allocator "
    "rounds it): memory its process already held served part of the trace; "
    "geomean = over the traces where every allocator has that figure"
)


@dataclass(frozen=True)
class Comparison:
    """Results arranged for comparing: allocators in the order given, traces in
    the order first seen, and what could not be measured at all."""

    allocators: list[str]
    traces: list[str]  # trace keys (their file, or their name for a trace without one)
    cells: dict[tuple[str, str], TraceResult]  # (allocator, trace key) -> result
    missing: dict[str, str] = field(default_factory=dict)  # allocator -> why not measured
    interrupted: bool = False  # stopped (Ctrl-C, SIGTERM) before every cell was measured
    # Measured in rounds (rounds.py): each round's Kops/s per (allocator, trace key), and
    # each cell its median round; empty for a single round.
    round_speeds: tuple[RoundSpeeds, ...] = ()

    def cell(self, allocator: str, trace: str) -> TraceResult | None:
        return self.cells.get((allocator, trace))

    def trace_name(self, trace: str) -> str:
        for allocator in self.allocators:
            result = self.cell(allocator, trace)
            if result is not None:
                return result.trace
        return trace

    def bound(self, trace: str) -> float | None:
        """The trace's alignment bound (the same for every allocator that passed)."""
        for allocator in self.allocators:
            result = self.cell(allocator, trace)
            if result is not None and result.alignment_bound is not None:
                return result.alignment_bound
        return None

    def common_traces(self, measure: Measure | None = None) -> list[str]:
        """Traces that every allocator passed (and, with `measure`, has that
        figure for): the ones a mean across allocators may be taken over."""
        return [
            t
            for t in self.traces
            if all(
                (r := self.cell(a, t)) is not None
                and r.valid
                and (measure is None or measure(r) is not None)
                for a in self.allocators
            )
        ]


def trace_key(result: TraceResult) -> str:
    return result.path or result.trace


def build(
    results: Iterable[TraceResult],
    allocators: Sequence[str] | None = None,
    missing: dict[str, str] | None = None,
) -> Comparison:
    """Arrange results into a Comparison (allocators default to the order seen)."""
    cells: dict[tuple[str, str], TraceResult] = {}
    seen_allocators: list[str] = []
    traces: list[str] = []
    for result in results:
        key = trace_key(result)
        cells[(result.allocator, key)] = result
        if result.allocator not in seen_allocators:
            seen_allocators.append(result.allocator)
        if key not in traces:
            traces.append(key)
    missing = dict(missing or {})
    names = [a for a in (allocators or seen_allocators) if a not in missing]
    return Comparison(names, traces, cells, missing)


# The figures compared, each with the precision the table shows it at: a
# winner is decided on what the reader sees, so equal-looking cells tie.
Measure = Callable[[TraceResult], float | None]
UTILIZATION: Measure = lambda r: r.utilization  # noqa: E731
SPEED: Measure = lambda r: r.ops_per_sec  # noqa: E731
SHOWN = {UTILIZATION: lambda v: round(v * 1000), SPEED: lambda v: round(v / 1000)}


def winners(values: dict[str, float | None], measure: Measure | None = None) -> set[str]:
    """The names holding the highest value (several on a tie); none when no
    value. With `measure`, values are compared as the table shows them."""
    shown = SHOWN.get(measure, lambda v: v)
    present = {k: shown(v) for k, v in values.items() if v is not None}
    if not present:
        return set()
    best = max(present.values())
    return {k for k, v in present.items() if v == best}


def geomeans(comparison: Comparison, measure: Measure) -> dict[str, float | None]:
    """Each allocator's geometric mean of a figure over the traces where every
    allocator has that figure, so that the means compare like with like."""
    common = comparison.common_traces(measure)
    return {
        a: geomean(v for t in common if (r := comparison.cell(a, t)) and (v := measure(r)))
        for a in comparison.allocators
    }


@dataclass(frozen=True)
class Cell:
    """One cell of the comparison table: its text, and whether it is the row's best."""

    text: str
    best: bool = False


def table_rows(comparison: Comparison) -> list[list[Cell]]:
    """The table's body: per trace its name, alignment bound, then util and
    Kops/s per allocator; the last row holds the geometric means."""
    allocators = comparison.allocators
    rows: list[list[Cell]] = []
    for trace in comparison.traces:
        cells = {a: comparison.cell(a, trace) for a in allocators}
        best = {
            m: winners({a: m(r) if r and r.valid else None for a, r in cells.items()}, m)
            for m in (UTILIZATION, SPEED)
        }
        row = [Cell(comparison.trace_name(trace)), Cell(percent(comparison.bound(trace)))]
        for a in allocators:
            result = cells[a]
            if result is None:
                row += [Cell(""), Cell("")]
            elif is_out_of_memory(result):
                row += [Cell(OOM), Cell(OOM)]
            elif not result.valid:
                row += [Cell("FAIL"), Cell("FAIL")]
            else:
                row += [
                    Cell(percent(result.utilization), a in best[UTILIZATION]),
                    Cell(kops(result.ops_per_sec), a in best[SPEED]),
                ]
        rows.append(row)
    means = {m: geomeans(comparison, m) for m in (UTILIZATION, SPEED)}
    best = {m: winners(means[m], m) for m in means}
    mean_row = [Cell("geomean"), Cell("")]
    for a in allocators:
        mean_row += [
            Cell(percent(means[UTILIZATION][a]), a in best[UTILIZATION]),
            Cell(kops(means[SPEED][a]), a in best[SPEED]),
        ]
    rows.append(mean_row)
    return rows


def means_note(comparison: Comparison) -> str:
    """How many traces each geometric mean covers."""
    util_over = len(comparison.common_traces(UTILIZATION))
    speed_over = len(comparison.common_traces(SPEED))
    return (
        f"geomean over the traces where every allocator has the figure: "
        f"{util_over} for util, {speed_over} for Kops/s"
    )


TABLE_HEADER = ("trace", "bound", "util", "Kops/s")  # the last two repeat per allocator


def failures(comparison: Comparison) -> list[TraceResult]:
    """The cells that failed (out of memory is not a failure: see out_of_memory)."""
    return [r for r in _cells(comparison) if not r.valid and not is_out_of_memory(r)]


def out_of_memory(comparison: Comparison) -> list[TraceResult]:
    """The cells that ran out of memory the machine does not have."""
    return [r for r in _cells(comparison) if is_out_of_memory(r)]


def _cells(comparison: Comparison) -> list[TraceResult]:
    return [
        r
        for t in comparison.traces
        for a in comparison.allocators
        if (r := comparison.cell(a, t)) is not None
    ]


def not_measured(comparison: Comparison) -> list[tuple[str, list[str], str]]:
    """The valid cells whose utilization could not be measured (see
    reference_worker.with_footprint): (allocator, trace names, reason), the
    traces that share an allocator and a reason together, in table order."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for allocator in comparison.allocators:
        for trace in comparison.traces:
            result = comparison.cell(allocator, trace)
            if result is not None and result.valid and result.not_measured:
                grouped.setdefault((allocator, result.not_measured), []).append(result.trace)
    return [(allocator, traces, why) for (allocator, why), traces in grouped.items()]


def rounds_spread(comparison: Comparison) -> RoundsSpread | None:
    """How the geometric means moved from round to round, over the traces the
    means are over (None: measured in one round)."""
    if not comparison.round_speeds:
        return None
    traces = comparison.common_traces(SPEED)
    return spread(comparison.round_speeds, comparison.allocators, traces)


def format_comparison(comparison: Comparison, width: int | None = WIDTH) -> str:
    """The side-by-side table, its means, failures, cells not measured,
    missing references and the note, in `width` columns (allocators stacked
    in blocks when they do not fit side by side; None: one line per trace)."""
    allocators = comparison.allocators
    header = [*TABLE_HEADER[:2], *TABLE_HEADER[2:] * len(allocators)]
    body = [[c.text + (WINNER if c.best else " ") for c in row] for row in table_rows(comparison)]
    for row in body:
        row[:2] = [c.rstrip() for c in row[:2]]
    groups = [("", 2)] + [(name, 2) for name in allocators]
    out = [render_table([header], body[:-1], body[-1:], groups=groups, width=width)]
    out.append(means_note(comparison))
    failed = failures(comparison)
    if failed:
        out.append("Failures:")
        out.extend(f"  {r.allocator} on {r.trace}: {r.error}" for r in failed)
    starved = out_of_memory(comparison)
    if starved:
        out.append(
            f"Out of memory ({OOM}: not a failure; the machine cannot hold the blocks; "
            "those traces are left out of the means):"
        )
        out.extend(f"  {r.allocator} on {r.trace}: {r.error}" for r in starved)
    unmeasured = not_measured(comparison)
    if unmeasured:
        out.append("Not measured:")
        out.extend(f"  {a} on {', '.join(ts)}: {why}" for a, ts, why in unmeasured)
    for name, why in comparison.missing.items():
        out.append(f"Missing: {name}: {why}")
    rounds = rounds_spread(comparison)
    if rounds is not None:
        out.append(format_spread(rounds, width))
    out += [f"warning: {line}" for line in timing_warnings(_cells(comparison))]
    out.append(COMPARE_NOTE)
    return fit("\n".join(out), width)


def run_comparison(
    names: Sequence[str],
    paths: Iterable[str],
    options: ReplayOptions,
    dialect: str | None = None,
    isolate: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    on_result: Callable[[TraceResult], None] | None = None,
    lab: str = DEFAULT_LAB,
    progress: Progress | None = None,
    rounds: int = 1,
) -> tuple[Comparison, list[str]]:
    """Every named allocator on every trace, each replay told to `progress`
    (named after its allocator too when there are several), `rounds` times
    with the allocators' order rotated each round (rounds.py: each cell is
    its median round). Returns the comparison and the problems (bad trace
    files, allocators that could not be loaded), one line each; a reference
    that is not installed is in comparison.missing. Stopped by Ctrl-C (or a
    stop signal under stopping.stopped_as_by_ctrl_c), it returns what was
    measured, marked interrupted."""
    if len(set(names)) != len(names):
        raise UsageError("each allocator may be named only once")
    specs = {n: resolve(n, dialect, lab) for n in names if n not in REFERENCES}
    # parsed once, replayed by every allocator in every round
    traces, problems = load_traces(paths, lab_named(lab).trace_reading)
    measured: list[list[TraceResult]] = []  # per round
    missing: dict[str, str] = {}
    shown = progress if progress is not None else Progress("compare", 0, mode="quiet")
    named = len(names) > 1

    def record(result: TraceResult) -> None:
        measured[-1].append(result)
        if on_result:
            on_result(result)

    def measure(name: str) -> None:
        if name in specs:
            _, trouble = replay_all(
                [specs[name]],
                traces,
                options,
                isolate,
                timeout,
                record,
                progress=shown,
                name_allocators=named,
            )
            problems.extend(trouble)
            return
        try:
            require(REFERENCES[name])
        except ReferenceMissing as error:
            missing[name] = str(error)
            return
        try:
            for trace in traces:
                replay = partial(_reference_result, REFERENCES[name], trace, options, timeout)
                record(shown_replay(shown, progress_name(name, trace.name, named), replay))
        except UsageError as error:  # its statistics cannot be read: nothing to measure it by
            problems.append(str(error))

    interrupted = False
    try:  # stopped, it keeps what was measured (stopping.py)
        for index in range(rounds):
            measured.append([])
            for name in rotated(names, index):
                if name not in missing:
                    measure(name)
    except KeyboardInterrupt:  # the allocators measured, in their order
        interrupted = True
    comparison = merged(measured, None if interrupted else names, missing)
    problems = list(dict.fromkeys(problems))  # each round says the same
    return replace(comparison, interrupted=interrupted), problems


def merged(
    measured: Sequence[Sequence[TraceResult]],
    allocators: Sequence[str] | None = None,
    missing: dict[str, str] | None = None,
) -> Comparison:
    """The comparison of rounds of results (one list a round): each cell its
    median round (rounds.median_round), each round's speeds kept when there
    were several."""
    cells: dict[tuple[str, str], list[TraceResult]] = {}
    for results in measured:
        for result in results:
            cells.setdefault((result.allocator, trace_key(result)), []).append(result)
    comparison = build([median_round(c) for c in cells.values()], allocators, missing)
    if len(measured) < 2:
        return comparison
    speeds = tuple(
        {(r.allocator, trace_key(r)): r.ops_per_sec if r.valid else None for r in results}
        for results in measured
    )
    return replace(comparison, round_speeds=speeds)


def _reference_result(
    reference: Reference, trace: Trace, options: ReplayOptions, timeout: float
) -> TraceResult:
    """A reference's result on one trace, a NULL for blocks the machine cannot
    hold as the outcome out of memory (a reference's heap is the machine's)."""
    result = replay_reference(reference, trace, options, timeout).result
    return judged(result, trace, memory_limit(on_our_heap=False, heap_limit=None))
