"""Benchmark: policies against glibc on the same traces, in the same run.

Every allocator replays every trace through the same C loop, trace by trace
(all allocators on one trace, then the next), and each trace's timed passes
are taken in alternating rounds (a fifth of each allocator's passes, then the
next allocator's, five times over), so that machine noise, even a change of
load in the middle of a trace, hits them alike and the ratios are fair. glibc
is the process's own malloc. The speed ratio is glibc's median time for the
trace over the allocator's: above 1 is faster than glibc. Across traces,
ratios and throughputs are summarized by their geometric means. An allocator
that fails a trace (crashing or hanging included) is caught by a checked
replay in a child process first, and that trace is not timed on it. Each
trace is timed in a child process of its own too, so that glibc starts every
trace alike (its heap keeps the shape the last trace left it in) and a crash
in the timed passes is reported, not fatal.

glibc's pages: each timed pass of our heap starts on the pages the last pass
used (mem_rewind). Stock glibc instead hands memory back to the kernel when a
balanced trace frees everything at the end of a pass (it trims the top of its
heap and unmaps large blocks), and pays the page faults again in the next: on
some traces that is 10-30 times its own allocation work. That is glibc as
every program gets it, and what `mallocsim bench` measures by default;
--glibc-warm first tells glibc to keep its memory too (keep_glibc_memory:
mmap threshold at its maximum, no trimming), so that the comparison is of
allocation work alone. Reports say which.

Our heaps' passes: each starts from mm_init on an empty heap, as the lab's
driver runs them, while glibc cannot be reset: its passes run on the heap the
last one left, its thread cache holding the chunks that pass freed. --carry-heap
runs ours that way too (after an untimed warm-up pass, each pass starts on the
heap the last one left, every block freed): a steady state, which an allocator
that does not reuse freed memory never reaches, so the engine refuses it once
its heap is 8 times its size after the warm-up. Reports say which.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from functools import partial
from typing import Any

from mallocsim.allocators import PRELOADED, AllocatorSpec
from mallocsim.isolate import (
    DEFAULT_TIMEOUT,
    answer,
    death,
    death_kind,
    replay_isolated,
    run_forked,
    where_it_died,
)
from mallocsim.limits import stall_limit
from mallocsim.numbers import kops, per_op, percent, ratio
from mallocsim.out_of_memory import is_out_of_memory, judged, memory_limit
from mallocsim.progress import Progress
from mallocsim.replay import (
    PHASE_TIMED,
    LoadedAllocator,
    ReplayOptions,
    failed_result,
    replay_trace,
    run_timed,
    with_timing,
)
from mallocsim.report import timing_warnings
from mallocsim.results import TraceResult, geomean, trace_outcome
from mallocsim.runner import progress_name, replay_preloaded, shown_replay
from mallocsim.sandbox import untrusted
from mallocsim.table import WIDTH, fit, render_table
from mallocsim.trace import Trace

REFERENCE = "glibc"
ROUNDS = 5  # alternating rounds in which each trace's timed passes are taken

# glibc's mallopt parameters (malloc.h) and the largest mmap threshold it takes.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 << 20
NO_TRIM = 2**31 - 1


def keep_glibc_memory() -> bool:
    """Make this process's glibc keep its pages between passes, for good (it
    cannot be undone: glibc's adaptive thresholds stop adapting once set).
    False where there is no glibc mallopt."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX) and mallopt(M_TRIM_THRESHOLD, NO_TRIM)
    )


@dataclass(frozen=True)
class BenchSummary:
    """One allocator's figures across the benchmark's traces."""

    allocator: str
    valid: int  # traces valid
    traces: int
    mean_utilization: float | None  # arithmetic mean over valid traces
    ops_per_sec_geomean: float | None
    speed_vs_glibc_geomean: float | None  # > 1: faster than glibc
    instructions_per_op_geomean: float | None = None


def run_bench(
    specs: Sequence[AllocatorSpec],
    traces: Sequence[Trace],
    options: ReplayOptions,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress | None = None,
    on_result: Callable[[TraceResult], None] | None = None,
) -> list[TraceResult]:
    """Every allocator on every trace, trace-major, each step told to
    `progress` (see progress_total), each trace's results to `on_result` once
    all its allocators are timed (what a stopped run still has).

    Each allocator other than the process's own malloc first replays every
    trace checked in a child process (isolate.py): one that fails there, by a
    crash or a hang too, is reported with that failure and not timed. Then
    each trace's timed passes, all the allocators' together, run in a child
    forked for that trace (_time_isolated), where a crash or a hang is pinned
    on the allocator being timed. A student's allocator (untrusted) is timed
    in its agent instead, with its checked replay, where the grader checks
    every timed pass: timed unchecked, a file that was right while checked and
    then handed out one block for every call was reported valid at 31 times
    glibc's speed (red-team pass 27). A preloaded reference (jemalloc, mimalloc,
    tcmalloc) cannot share that child: it replays each trace, checked and
    timed, in a process of its own (runner.replay_preloaded), right after the
    others have been timed on it. A NULL for blocks the machine cannot hold
    is the outcome out of memory (out_of_memory.py), not a failure."""
    if any(untrusted(spec) for spec in specs):
        # A student's code is timed in its agent, every pass alone (its grader checks each): so
        # are the others', so that a trace too short for the clock costs all the same.
        options = replace(options, batch=False)
    untimed = replace(options, timing=False)
    shown = progress if progress is not None else Progress("bench", 0, mode="quiet")
    limits = {
        spec.name: memory_limit(spec.kind not in ("reference", "system"), options.heap_limit)
        for spec in specs
    }
    local = [spec for spec in specs if spec.kind != "reference"]
    checked = {
        (spec.name, index): shown_replay(
            shown,
            progress_name(spec.name, trace.name, True),
            partial(
                _judged,
                replay_isolated,
                trace,
                limits[spec.name],
                trace,
                spec,
                options if untrusted(spec) else untimed,
                timeout,
                # a hung op of a student's stopped as replay stops it, not by the CPU limit
                # minutes later, "crashed with SIGXCPU" (red-team pass 27)
                stall_limit(options) if untrusted(spec) else None,
            ),
        )
        for spec in local
        if spec.kind != "system"
        for index, trace in enumerate(traces)
    }
    timed_here = [spec for spec in local if not untrusted(spec)]
    results: list[TraceResult] = []
    for index, trace in enumerate(traces):
        name = f"{trace.name}, timed"
        shown.started(name)
        timed = _time_isolated(
            trace,
            [(spec, checked.get((spec.name, index))) for spec in timed_here],
            options,
            timeout,
        )
        timed = [judged(result, trace, limits[result.allocator]) for result in timed]
        timed += [checked[(spec.name, index)] for spec in local if untrusted(spec)]
        failed = [f"{r.allocator} {trace_outcome(r)}" for r in timed if not r.valid]
        shown.finished(name, ", ".join(failed) or "valid")
        by_name = {result.allocator: result for result in timed}
        for spec in specs:
            if spec.kind == "reference":
                by_name[spec.name] = shown_replay(
                    shown,
                    progress_name(spec.name, trace.name, True),
                    partial(
                        _judged, replay_preloaded, trace, limits[spec.name], spec, trace,
                        options, timeout,
                    ),
                )  # fmt: skip
        for spec in specs:
            results.append(by_name[spec.name])
            if on_result:
                on_result(by_name[spec.name])
    return results


def _judged(
    replay: Callable[..., TraceResult], trace: Trace, limit: int | None, *args: Any
) -> TraceResult:
    """replay(*args), out of memory told apart from a failure (out_of_memory.judged)."""
    return judged(replay(*args), trace, limit)


def progress_total(specs: Sequence[AllocatorSpec], traces: Sequence[Trace]) -> int:
    """The items run_bench tells its progress of: each trace checked on each
    allocator but the process's own malloc and the preloaded references
    ("segfit: binary2-bal"), then each trace timed on them all ("binary2-bal,
    timed"), and each trace on each preloaded reference ("jemalloc: binary2-bal")."""
    checked = sum(spec.kind not in ("system", "reference") for spec in specs)
    preloaded = sum(spec.kind == "reference" for spec in specs)
    return (checked + preloaded + 1) * len(traces)


def _time_isolated(
    trace: Trace,
    pairs: Sequence[tuple[AllocatorSpec, TraceResult | None]],
    options: ReplayOptions,
    timeout: float,
) -> list[TraceResult]:
    """The allocators' checked results for the trace with their timed passes
    added, by _time_interleaved in a child forked for the trace; a result of
    None (the process's own malloc) is checked in that child first. The
    allocators are loaded in the child, inside its sandbox: a student's
    constructors never run in this process.

    In a child, the glibc being timed starts every trace from the heap this
    process has, not from the shape the last trace's passes left it in: timed
    in one process, glibc ran amptjp-bal at 8,300 Kops/s first and at 64,000
    after random-bal. And a child can die: the allocator it was timing then
    gets that failure, and the others are timed again in a new child."""
    untimed = replace(options, timing=False)
    failures: dict[int, TraceResult] = {}
    while len(failures) < len(pairs):
        live = [i for i in range(len(pairs)) if i not in failures]

        def work(progress: Any, live: list[int] = live) -> dict:
            # One that failed its checked replay is not timed: it is not loaded either.
            loaded = [
                (LoadedAllocator(spec) if result is None or result.valid else None, result)
                for spec, result in (pairs[i] for i in live)
            ]
            checked = [
                (alloc, replay_trace(trace, alloc, untimed) if result is None and alloc else result)
                for alloc, result in loaded
            ]

            def timing(k: int) -> None:
                progress[0] = k + 1  # which one to blame if this child dies

            # The engine keeps the other two words: the op and the pass being run.
            results = _time_interleaved(trace, checked, options, timing, progress + 1)
            return {"results": [asdict(result) for result in results]}

        limit = timeout * len(live)
        sandboxed = any(untrusted(spec) for spec, _ in pairs)
        outcome = run_forked(work, limit, sandboxed=sandboxed)
        payload = answer(outcome)
        if payload is not None:
            timed = iter([TraceResult(**result) for result in payload["results"]])
            return [failures[i] if i in failures else next(timed) for i in range(len(pairs))]
        timed_one, index, which = outcome.progress
        if timed_one:
            origin, at = where_it_died(trace, PHASE_TIMED, index, which)
        else:  # still checking the allocators, before any was timed
            origin, at = trace.path or trace.name, "the checks before the timed passes"
        what = death(outcome, limit, at)
        blamed = [live[outcome.progress[0] - 1]] if outcome.progress[0] else live
        for i in blamed:
            failures[i] = failed_result(
                trace,
                pairs[i][0].name,
                f"{origin}: {what}",
                fail_kind=death_kind(outcome),
                fail_phase="timed",
                fail_op=index if timed_one and index < trace.num_ops else None,
                fail_pass=which if timed_one else None,
            )
    return [failures[i] for i in range(len(pairs))]


def _time_interleaved(
    trace: Trace,
    checked: Sequence[tuple[LoadedAllocator | None, TraceResult]],
    options: ReplayOptions,
    timing: Callable[[int], None] = lambda index: None,
    progress: object = None,
) -> list[TraceResult]:
    """Each valid checked result with its timed passes added, the passes of
    all the allocators taken in ROUNDS alternating rounds (each a ROUNDS-th of
    the options' time and passes), so that a change in the machine's load
    while the trace is timed hits every allocator alike, not just the one
    being timed then. An allocator whose pass fails is timed no more.
    timing(i) is told before allocator i's passes of each round; `progress`,
    if given, is the two words the engine keeps (the op, the pass). An invalid
    checked result comes with no allocator (None): it is not timed."""
    per_round = replace(
        options,
        min_seconds=options.min_seconds / ROUNDS,
        min_passes=max(1, -(-options.min_passes // ROUNDS)),
        max_passes=max(1, options.max_passes // ROUNDS),
    )
    seconds: list[list[float]] = [[] for _ in checked]
    repeats = [1 for _ in checked]
    errors: list[str | None] = [None if result.valid else result.error for _, result in checked]
    for _ in range(ROUNDS):
        for i, (alloc, _) in enumerate(checked):
            if errors[i] is None and alloc is not None:
                timing(i)
                timed = run_timed(trace, alloc, per_round, progress)
                errors[i] = timed.error
                seconds[i] += timed.seconds
                repeats[i] = max(repeats[i], timed.repeats)
    return [
        result
        if not result.valid
        else failed_result(trace, result.allocator, error)
        if error is not None
        else with_timing(result, trace, passes, batch)
        for (_, result), error, passes, batch in zip(checked, errors, seconds, repeats, strict=True)
    ]


def speed_ratio(result: TraceResult, reference: TraceResult | None) -> float | None:
    """reference seconds / result seconds for one trace (None when either is missing)."""
    if reference is None or not (result.valid and reference.valid):
        return None
    if not result.seconds or not reference.seconds:
        return None
    return reference.seconds / result.seconds


def summarize_bench(
    results: Sequence[TraceResult], instructions: dict[tuple[str, str], float] | None = None
) -> list[BenchSummary]:
    """Per allocator, in the order first seen: utilization, speed, ratio to glibc."""
    by_trace = {(r.allocator, r.trace): r for r in results}
    summaries = []
    for name in dict.fromkeys(r.allocator for r in results):
        mine = [r for r in results if r.allocator == name]
        valid = [r for r in mine if r.valid]
        utils = [r.utilization for r in valid if r.utilization is not None]
        ratios = [speed_ratio(r, by_trace.get((REFERENCE, r.trace))) for r in mine]
        counts = [v for (a, _), v in (instructions or {}).items() if a == name]
        summaries.append(
            BenchSummary(
                allocator=name,
                valid=len(valid),
                traces=len(mine),
                mean_utilization=sum(utils) / len(utils) if utils else None,
                ops_per_sec_geomean=geomean(r.ops_per_sec or 0.0 for r in valid),
                speed_vs_glibc_geomean=geomean(x for x in ratios if x is not None),
                instructions_per_op_geomean=geomean(counts) if counts else None,
            )
        )
    return summaries


def format_bench(
    results: Sequence[TraceResult],
    instructions: dict[tuple[str, str], float] | None = None,
    glibc_mode: str = "as configured",
    heap_mode: str = "as configured",
    width: int | None = WIDTH,
) -> str:
    """The benchmark table: per trace, each allocator's util, Kops/s and speed
    vs glibc, in `width` columns (allocators stacked in blocks when they do
    not fit side by side; None: one line per trace)."""
    names = list(dict.fromkeys(r.allocator for r in results))
    traces = list(dict.fromkeys(r.trace for r in results))
    by_key = {(r.allocator, r.trace): r for r in results}
    per_alloc = ["util", "Kops/s", "vs glibc"] + (["instr/op"] if instructions else [])
    header = ["trace", "bound"] + [c for _ in names for c in per_alloc]
    rows = []
    for trace in traces:
        row = [trace]
        bounds = [by_key[(n, trace)].alignment_bound for n in names if (n, trace) in by_key]
        row.append(percent(next((b for b in bounds if b is not None), None)))
        for name in names:
            result = by_key.get((name, trace))
            if result is None or not result.valid:
                word = "oom" if result is not None and is_out_of_memory(result) else "FAIL"
                row += [word] + ["-"] * (len(per_alloc) - 1)
                continue
            row += [
                percent(result.utilization),
                kops(result.ops_per_sec),
                ratio(speed_ratio(result, by_key.get((REFERENCE, trace)))),
            ]
            if instructions:
                row.append(per_op(instructions.get((name, trace))))
        rows.append(row)
    summary_row = ["mean / geomean", ""]
    for summary in summarize_bench(results, instructions):
        summary_row += [
            percent(summary.mean_utilization),
            kops(summary.ops_per_sec_geomean),
            ratio(summary.speed_vs_glibc_geomean),
        ]
        if instructions:
            summary_row.append(per_op(summary.instructions_per_op_geomean))
    groups = [("", 2)] + [(name, len(per_alloc)) for name in names]
    failures = [
        f"  {r.allocator} on {r.trace}: {r.error}"
        for r in results
        if not r.valid and not is_out_of_memory(r)
    ]
    starved = [f"  {r.allocator} on {r.trace}: {r.error}" for r in results if is_out_of_memory(r)]
    notes = [
        "util = peak live payload / heap high-water mark (glibc: not measured here; see "
        "`mallocsim compare` for the references' footprints); bound = best possible with "
        "16-byte alignment",
        "vs glibc = glibc's median time / the allocator's on the same trace in this run "
        "(above 1 is faster); summary row: mean util, geometric means of Kops/s and ratios",
        f"glibc: {glibc_mode}",
        f"passes: {heap_mode}",
    ]
    if any(r.allocator in PRELOADED for r in results):
        notes.append(
            "jemalloc, mimalloc, tcmalloc: each trace checked and timed in a process of its "
            "own with the library preloaded, not in alternation with the others: their "
            "ratios carry more of the machine's noise"
        )
    if instructions:
        notes.append(
            "instr/op = instructions per op in the timed loop, counted by callgrind "
            "(a reference preloaded, as it is timed)"
        )
    out = [render_table([header], rows, [summary_row], groups=groups, width=width)]
    if failures:
        out += ["Failures:", *failures]
    if starved:
        out += [
            "Out of memory (oom: not a failure; the machine cannot hold the blocks; left "
            "out of its allocator's means):",
            *starved,
        ]
    out += [f"warning: {line}" for line in timing_warnings(results)]
    return fit("\n".join(out + notes), width)
