"""Replay one trace on one allocator through the C engine: check, measure, time.

One CFFI call per pass, never one per op. The checked pass runs twice, each
from a fresh heap and a fresh mm_init, and both runs must agree: that is what
catches an mm_init that does not really reset. Then the timed passes run with
no checks, repeated until the total is long enough to trust; the median pass
gives the throughput and the fastest and slowest its spread.

A failure comes back from the engine as data (an ms_failure: its kind, op,
block, mm_init's status, the timed pass), kept in the TraceResult's fail_*
fields beside the one-line message, so that nothing above has to parse text.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from mallocsim._native import ffi, lib
from mallocsim.allocators import AllocatorError, AllocatorSpec, library_for
from mallocsim.elf import library_bits
from mallocsim.forbidden import dynamic_symbols
from mallocsim.results import TraceResult
from mallocsim.safe_text import printable
from mallocsim.sandbox import CLOCK_TICKS
from mallocsim.trace import Trace

OP_LETTERS = {0: "a", 1: "f", 2: "r", 3: "c"}
# ms_failure.op and the progress words when no op runs (mm_init): UINT64_MAX,
# which the cdef cannot spell (MS_NO_OP in mallocsim.h).
NO_OP = (1 << 64) - 1
# The checked pass's progress word while the engine resets the heap (MS_RESETTING): the
# grader's work, charged to no op.
RESETTING = NO_OP - 1
# Added to the checked pass's progress word while mm_checkheap runs after that
# op (MS_OP_IN_CHECKER in mallocsim.h).
IN_CHECKER = 1 << 63

# Phases a child process reports through its progress words (see isolate.py).
PHASE_CHECKED = 1
PHASE_CHECKED_AGAIN = 2
PHASE_TIMED = 3
PHASE_NAMES = {
    PHASE_CHECKED: "the checked pass",
    PHASE_CHECKED_AGAIN: "the second checked pass (from a fresh heap)",
    PHASE_TIMED: "the timed passes",
}
# TraceResult.fail_phase: where a failure happened ("load": loading the allocator).
PHASE_KEYS = {
    0: "load",
    PHASE_CHECKED: "checked",
    PHASE_CHECKED_AGAIN: "checked_again",
    PHASE_TIMED: "timed",
}

# TraceResult.fail_kind: the engine's MS_FAIL_* kinds, lowercased without the
# prefix, and the kinds only the driver sees: "crash", "assertion", "forbidden_call",
# "global_overrun", "timeout" and "exit" (a child process that died, failed an assert(), called
# what an allocator may not, wrote past its global data, ran out of time, or exited without an
# answer).
ENGINE_FAIL_KINDS = (
    "none",
    "null_return",
    "misaligned",
    "outside_heap",
    "overlap",
    "overwritten",
    "realloc_lost_data",
    "calloc_not_zero",
    "calloc_overflow",
    "realloc_zero_not_null",
    "checkheap",
    "init_failed",
    "trace_error",
    "no_calloc",
    "no_checkheap",
    "heap_growth",
    "engine",
)


@cache
def _fail_kind_names() -> dict[int, str]:
    """The engine's kind numbers by name, read from the library's constants."""
    return {getattr(lib, f"MS_FAIL_{name.upper()}"): name for name in ENGINE_FAIL_KINDS}


# The failures that name a payload byte (ms_failure.offset).
_PAYLOAD_FAILURES = frozenset({"overwritten", "realloc_lost_data", "calloc_not_zero"})


def failure_fields(failure: Any, phase: str) -> dict[str, Any]:
    """The TraceResult fail_* fields for an ms_failure met in `phase`."""
    kind = _fail_kind_names().get(failure.kind, f"unknown_{failure.kind}")
    return {
        "fail_kind": kind,
        "fail_op": None if failure.op == NO_OP else int(failure.op),
        "fail_phase": phase,
        "fail_pass": None if failure.timed_pass == lib.MS_PASS_NONE else int(failure.timed_pass),
        "fail_block": None if failure.block == lib.MS_ID_NULL else int(failure.block),
        "fail_offset": int(failure.offset) if kind in _PAYLOAD_FAILURES else None,
        "fail_byte": int(failure.found) if kind in _PAYLOAD_FAILURES else None,
        "init_status": int(failure.init_status) if kind == "init_failed" else None,
    }


@dataclass(frozen=True)
class ReplayOptions:
    """How to replay; the defaults suit a report on a shared machine."""

    check_heap: bool = False  # call mm_checkheap after every op
    timing: bool = True  # run the timed passes
    min_seconds: float = 0.05  # keep timing until this much time in all...
    min_passes: int = 3  # ...and at least this many passes...
    max_passes: int = 2000  # ...but never more than this many
    sample_above: int = 1 << 20  # payloads above this are checked by sampling
    heap_limit: int | None = None  # bytes; None = the whole reserved region
    carry_heap: bool = False  # timed passes run on the heap the last one left, not from mm_init
    zero_each_pass: bool = False  # each timed pass from mm_init on zeros (the F22+ CMU drivers')
    # The lab's rules (labs.py sets them from a profile; these defaults are mallocsim's own):
    alignment: int = 16  # every pointer into our heap a multiple of this (CS:APP lab: 8)
    realloc_zero_null: bool = False  # realloc(p, 0) of a live block must return NULL (CMU lab)
    dirty_heap: bool = False  # checked passes: new heap memory holds a poison pattern, not zeros
    heap_shrinks: bool = True  # a negative mem_sbrk gives memory back (the labs': it fails)
    # Payloads keyed by a secret (the grader of an allocator in another process: it cannot
    # work the pattern out); else the public pattern, the same every run. The secret is
    # pattern_seed's bytes when given (pattern_secret.py), else each pass draws its own.
    secret_pattern: bool = False
    pattern_seed: bytes | None = None
    # An allocator graded from outside its process: where its own clock claims less than the
    # kernel counted for its timed passes, the kernel's count is kept (TraceResult.cpu_seconds)
    # instead of a "tampered timing" verdict (the clock check of an instruction count needs a
    # time it can trust, not a verdict that load could trip).
    kernel_clock: bool = False
    # How a lab's own driver fills blocks (never for a verdict: quirks.py replays a failed trace
    # this way to learn whether that driver passes it): only each payload's first fill_limit bytes
    # (0: all), and block 0 with zeros.
    fill_limit: int = 0
    zero_block0: bool = False
    # Passes too short for the clock (under 50 us) timed in batches (the engine's); False: each
    # alone, as an agent's are (a grader in another process checks every pass), for whatever is
    # compared with a student's code run in one.
    batch: bool = True


# What the engine calls as the heap checker (allocator.c): the lab adapter's
# ms_lab_checkheap, which a build of an mm.c appends, else mm_checkheap.
CHECKER_SYMBOLS = ("ms_lab_checkheap", "mm_checkheap")


def has_heap_checker(spec: AllocatorSpec) -> bool:
    """Whether the allocator exports a heap checker the engine can call (builds an mm.c first)."""
    library = library_for(spec)
    return library is not None and bool(set(CHECKER_SYMBOLS) & dynamic_symbols(library)[1])


def require_heap_checker(spec: AllocatorSpec, asked_by: str) -> None:
    """Refuse heap checks of an allocator with no heap checker to call (glibc,
    or a library or mm.c that defines none), once and before any trace runs:
    the engine would fail every trace instead, as if each had broken a check.
    `asked_by` is the option or setting that asks for them. Builds an mm.c
    first (cached); raises AllocatorError. (A checker the adapter could not
    type, ms_lab_checkheap_kind() == 0, is found only when the engine loads
    it: each trace then fails with MS_FAIL_NO_CHECKHEAP.)"""
    if not has_heap_checker(spec):
        raise AllocatorError(f"{asked_by}: {spec.name} has no mm_checkheap to call")


def native_dialect(spec: AllocatorSpec) -> int:
    """The engine's MS_DIALECT_* for a library's spec (cmu, else classic)."""
    return lib.MS_DIALECT_CMU if spec.dialect == "cmu" else lib.MS_DIALECT_CLASSIC


class LoadedAllocator:
    """An allocator loaded into this process, ready for the engine; close() it after."""

    def __init__(self, spec: AllocatorSpec, library: Path | None = None) -> None:
        """`library`: the one built for the spec, when the caller has it already
        (a sandboxed agent loads it and nothing else)."""
        self.spec = spec
        self.native = ffi.new("ms_allocator *")
        if spec.kind == "system":
            lib.ms_allocator_system(self.native)
            return
        library = library or library_for(spec)
        if library_bits(library) == 32:
            raise AllocatorError(
                f"{spec.name}: built -m32, as its {spec.lab} lab builds such a file, and a "
                "32-bit build runs only in the grader's 32-bit agent (`mallocsim grade`, "
                "`replay`), not in this 64-bit process"
            )
        dialect = native_dialect(spec)
        error = ffi.new("ms_error *")
        if not lib.ms_allocator_open(
            str(library).encode(), dialect, spec.options.encode(), self.native, error
        ):
            message = ffi.string(error.message).decode(errors="replace")
            # Named as the user named it: not our build of their mm.c, nor
            # the library behind a built-in policy.
            raise AllocatorError(message.replace(str(library), spec.name))

    def run_timed(self, trace: Trace, timed: Any, check: Any, room: Any, result: Any) -> int:
        """The engine's timed passes, here (`check` is for a grader elsewhere: remote.py)."""
        return lib.ms_replay_timed(trace.native, self.native, timed, room, result)

    def own_cpu_seconds(self) -> float:
        """The CPU time this process has run: the allocator's, and the checks'."""
        return time.process_time()

    def close(self) -> None:
        lib.ms_allocator_close(self.native)

    def __enter__(self) -> LoadedAllocator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def op_text(trace: Trace, index: int) -> str:
    """Op `index` as it is written in a trace ("a 5 48"), for diagnostics."""
    if not 0 <= index < trace.num_ops:
        return "?"
    op = trace.native.ops[index]
    letter = OP_LETTERS.get(op.kind, "?")
    ident = "-1" if op.id == lib.MS_ID_NULL else str(op.id)
    if letter == "f":
        return f"f {ident}"
    if letter == "c":
        return f"c {ident} {op.count} {op.size}"
    return f"{letter} {ident} {op.size}"


def where(trace: Trace, index: int) -> str:
    """'file:line' of op `index`, or the trace's name when the line is unknown."""
    origin = trace.path or trace.name
    line = trace.line_of_op(index)
    return f"{origin}:{line}" if line else str(origin)


def failed_result(trace: Trace, allocator: str, error: str, **failure: Any) -> TraceResult:
    """The result of a trace that `allocator` failed: nothing measured, the
    error (one line, naming the file and where possible the line) kept, and
    what is known of the failure as data: TraceResult's fail_kind, fail_op,
    fail_phase, fail_pass, fail_block, fail_offset and init_status, by name."""
    return TraceResult(
        allocator=allocator,
        trace=trace.name,
        path=trace.path,
        valid=False,
        error=error,
        ops=trace.num_ops,
        weight=trace.info.weight,
        **failure,
    )


def _set_heap(options: ReplayOptions) -> None:
    """The heap's settings for the next passes (they outlive resets)."""
    lib.mem_set_limit(options.heap_limit or 0)
    lib.mem_set_shrink(options.heap_shrinks)


def check_options(options: ReplayOptions, progress: object = None) -> Any:
    """The engine's ms_check_options for these options (the lab's checks
    included), with the heap set up for them; the one place they are made."""
    _set_heap(options)
    check = ffi.new("ms_check_options *")
    check.check_heap = options.check_heap
    check.sample_above = options.sample_above
    check.progress = progress if progress is not None else ffi.NULL
    check.alignment = options.alignment
    check.realloc_zero_null = options.realloc_zero_null
    check.dirty_heap = options.dirty_heap
    check.secret_pattern = options.secret_pattern
    check.fill_limit = options.fill_limit
    check.zero_block0 = options.zero_block0
    if options.pattern_seed is not None:
        check.pattern_seeded = True
        ffi.memmove(check.pattern_seed, options.pattern_seed, len(check.pattern_seed))
    return check


def _checked(
    trace: Trace, alloc: LoadedAllocator, options: ReplayOptions, progress: object
) -> tuple[Any, str | None, float, float]:
    """One checked pass: the native result (its failure included), the error
    line (None when valid), the pass's wall time (what all the checks cost,
    for the report) and the CPU time the allocator's process ran in it."""
    check = check_options(options, progress)
    result = ffi.new("ms_check_result *")
    start, cpu = time.perf_counter(), alloc.own_cpu_seconds()
    valid = lib.ms_replay_checked(trace.native, alloc.native, check, result)
    seconds, cpu = time.perf_counter() - start, alloc.own_cpu_seconds() - cpu
    if valid:
        return result, None, seconds, cpu
    # One line, printable: mm_checkheap_message's text is the allocator's own.
    message = printable(ffi.string(result.error).decode(errors="replace"), lines=False)
    # Only a failure at an op names a line ("mm_init failed" names none: where() says so).
    return result, f"{where(trace, result.failure.op)}: {message}", seconds, cpu


def replay_trace(
    trace: Trace,
    alloc: LoadedAllocator,
    options: ReplayOptions | None = None,
    progress: object = None,
    on_checked: Callable[[TraceResult], None] | None = None,
    on_phase: Callable[[int], None] | None = None,
) -> TraceResult:
    """Check, measure and time one trace. `progress` is an optional uint64_t[3]
    cdata (phase, op index, timed pass) kept up to date for a watching parent
    process: the engine writes the last two (see isolate.py). `on_checked` is
    given the valid checked result before the timed passes start; `on_phase` each
    phase as it starts, for a copy the allocator's code cannot reach (remote.py)."""
    options = options or ReplayOptions()
    spec = alloc.spec

    def enter(phase: int) -> object:
        if on_phase is not None:
            on_phase(phase)
        if progress is None:
            return None
        progress[0] = phase
        return progress + 1

    first, error, first_seconds, first_cpu = _checked(trace, alloc, options, enter(PHASE_CHECKED))
    if error:
        return failed_result(trace, spec.name, error, **failure_fields(first.failure, "checked"))
    again, error, again_seconds, again_cpu = _checked(
        trace, alloc, options, enter(PHASE_CHECKED_AGAIN)
    )
    if error:
        return failed_result(
            trace,
            spec.name,
            f"{error} (in the second run from a fresh heap: does mm_init really reset?)",
            **failure_fields(again.failure, "checked_again"),
        )
    # A second run, valid, on a heap of another size: mm_init left some state as it was (an
    # adaptive chunk size). The labs' drivers accept that: CMU's checks two runs' validity, not
    # their heaps, and both measure a later run than the first. The first run, which here starts
    # from a fresh process, is graded; second_heap_size says the second differed. Not the later
    # run the drivers measure: by then a file has seen the whole trace, and one that kept its
    # first run's lifetimes packed the blocks live at the peak end to end from the second on (an
    # explicit list's binary-bal 55.0% -> 98.6%, 57.4 -> 92.5), or replayed its first run's
    # answers at 50 instructions an op (red-team pass 29); measured on its second run, an honest
    # F19 file's index came out at its F20 driver's to the digit, 0.4 point over the first's
    # (lab check run 16).
    second_heap = again.heap_size if again.heap_size != first.heap_size else None
    peak, aligned, heap = first.peak_payload, first.peak_aligned, first.heap_size
    # Memory the pass wrote past its break, which its lab's driver has, is heap (past_break_note)
    measured = max(heap, first.highest_used)
    checked = TraceResult(
        allocator=spec.name,
        trace=trace.name,
        path=trace.path,
        valid=True,
        error=None,
        ops=trace.num_ops,
        weight=trace.info.weight,
        peak_payload=peak,
        peak_aligned=aligned,
        heap_size=heap or None,
        highest_used=first.highest_used or None,
        utilization=peak / measured if measured else None,
        growth_calls=first.growth_calls if heap else None,
        growth_new_pages=first.growth_new_pages if heap else None,
        alignment_bound=peak / aligned if aligned else None,
        checked_seconds=min(first_seconds, again_seconds),
        checked_cpu_seconds=min(first_cpu, again_cpu),
        second_heap_size=second_heap,
    )
    if not options.timing:
        return checked
    if on_checked is not None:
        on_checked(checked)
    return add_timing(checked, trace, alloc, options, enter(PHASE_TIMED))


def add_timing(
    checked: TraceResult,
    trace: Trace,
    alloc: LoadedAllocator,
    options: ReplayOptions,
    progress: object = None,
) -> TraceResult:
    """A valid checked result with the timed passes run and added: their
    median, spread and throughput (or the failure a timed pass met).
    `progress`, if given, is the engine's two timed-pass words (op, pass)."""
    timed = run_timed(trace, alloc, options, progress)
    if timed.error:
        return failed_result(trace, checked.allocator, timed.error, **timed.failure)
    if not options.carry_heap:  # carried passes start where the last one left the heap
        checked = with_timed_heap(checked, timed.highest_used)
    if timed.counted_seconds > 0:
        checked = replace(checked, cpu_seconds=timed.counted_seconds / len(timed.seconds))
    return with_timing(checked, trace, timed.seconds, timed.repeats)


def with_timed_heap(checked: TraceResult, highest_used: int) -> TraceResult:
    """The checked result, its utilization against the heap the timed passes reached when
    that lies past the checked passes' heap: an allocator that answers differently when it is
    not checked (a tight heap checked, a bump allocator's speed timed) is measured on both."""
    heap = max(checked.heap_size or 0, checked.highest_used or 0)
    if highest_used <= heap or not checked.peak_payload:
        return checked
    return replace(
        checked,
        timed_highest_used=highest_used,
        utilization=checked.peak_payload / highest_used,
    )


@dataclass(frozen=True)
class TimedPasses:
    """What the timed passes gave: each pass's seconds, or the failure one met."""

    seconds: list[float]  # empty when a pass failed
    error: str | None  # one line, naming the file (and the op's line when an op failed)
    failure: dict[str, Any]  # TraceResult's fail_* fields; {} when none
    highest_used: int = 0  # bytes: the timed passes' highest payload end (0: not measured)
    counted_seconds: float = 0.0  # the kernel's count, where the claims fell short of it
    repeats: int = 1  # passes timed together in each entry of seconds (their mean)


def run_timed(
    trace: Trace, alloc: LoadedAllocator, options: ReplayOptions, progress: object = None
) -> TimedPasses:
    """The timed passes the options ask for. `progress`, if given, is two
    uint64 words the engine keeps up to date (the op, the pass) for a parent
    process to read after a crash."""
    check = check_options(options)
    room = ffi.new("double[]", max(options.max_passes, 1))
    timed = ffi.new("ms_timed_options *")
    timed.min_passes = options.min_passes
    timed.max_passes = options.max_passes
    timed.min_seconds = options.min_seconds
    timed.carry_heap = options.carry_heap
    timed.zero_each_pass = options.zero_each_pass
    timed.kernel_clock = options.kernel_clock
    timed.pass_alone = not options.batch
    timed.progress = progress if progress is not None else ffi.NULL
    result = ffi.new("ms_timed_result *")
    passes = alloc.run_timed(trace, timed, check, room, result)
    if passes > 0:
        seconds = [room[i] for i in range(passes)]
        repeats = max(result.pass_repeats, 1)  # 0 from an agent, which never batches
        return TimedPasses(seconds, None, {}, result.highest_used, result.counted_seconds, repeats)
    failure = failure_fields(result.failure, "timed")
    message = printable(ffi.string(result.error).decode(errors="replace"), lines=False)
    origin = where(trace, result.failure.op)
    which = failure["fail_pass"]
    if which is not None and failure["fail_kind"] != "heap_growth":
        message += " (the untimed warm-up pass)" if which == 0 else f" (timed pass {which})"
    return TimedPasses([], f"{origin}: in the timed passes: {message}", failure)


def with_timing(
    checked: TraceResult, trace: Trace, seconds: Sequence[float], repeats: int = 1
) -> TraceResult:
    """A valid checked result with these timed passes' figures added: their
    median, spread and throughput; `repeats` passes were timed together for
    each of `seconds` (their mean), as the engine times passes too short to
    time alone."""
    median = _median(list(seconds))
    return replace(
        checked,
        seconds=median,
        seconds_min=min(seconds),
        seconds_max=max(seconds),
        passes=len(seconds),
        pass_repeats=repeats,
        ops_per_sec=trace.num_ops / median if median else None,
        pass_seconds=tuple(seconds),  # every pass, for the statistics of saved runs
    )


CPU_TICKS_TRUSTED = 10  # a process's CPU time read to this many of the kernel's ticks at least


def timed_by_checked(checked: TraceResult, trace: Trace, limit: float) -> TraceResult:
    """A valid checked result whose timed passes ran past the trace's time limit
    (`limit` seconds): timed by its checked passes instead, the CPU time its process
    ran in the lesser one standing for a timed pass's (or, under CPU_TICKS_TRUSTED of
    the kernel's ticks, the pass's wall time). That time holds the allocator's work and, graded from
    outside its process, its side of a round trip to the grader for every op: more
    than a timed pass's, never less, so that cutting the timed passes short gains
    nothing; and not the grader's checks, which the wall time holds (an honest count
    checked against that was scaled 3.1 times, 46.3 -> 42.8: red-team pass 33)."""
    cpu, wall = checked.checked_cpu_seconds, checked.checked_seconds
    by_cpu = cpu is not None and cpu >= CPU_TICKS_TRUSTED / CLOCK_TICKS
    seconds = cpu if by_cpu else wall
    timed = with_timing(checked, trace, [seconds]) if seconds else checked
    clock = "cpu" if by_cpu else "wall"
    return replace(timed, passes=0, pass_seconds=(), timing_cut=limit, timing_cut_clock=clock)


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return math.fsum(ordered[middle - 1 : middle + 1]) / 2
