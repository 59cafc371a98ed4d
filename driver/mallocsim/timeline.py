"""Heap size and live payload over time: the checked pass, observed.

The engine calls an observer after every op of its checked pass with the op's
index and the live payload (ms_check_options.observe). Here that observer
reads a footprint (our heap's mem_heapsize(), or a reference allocator's own
statistics) after every op, keeps its peak, and samples both figures at most
`points` times for a plot (each sample the highest of its window of ops, so
the peaks show). It runs once, in addition to replay_trace's own
passes, and only on traces an allocator is meant to pass: it reports whether
the pass was valid, and replay_trace gives the diagnosis when it was not.

For a reference allocator the process already holds memory of its own (the
interpreter's, and the engine's bookkeeping, allocated when the pass starts),
so the observed trace is prefixed with free(NULL), an op that changes
nothing: the footprint after it is the baseline that every later reading is
measured from. A reference may take that reading its own way, once the engine
has allocated all it will before the trace's first op: jemalloc gives the
trace an arena of its own there, glibc counts from what its arena and thread
cache hold in use then (see reference_worker.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from cffi import FFI

from mallocsim._native import HEAP_LIBRARY, NATIVE_DIR, ffi, lib
from mallocsim.replay import LoadedAllocator, ReplayOptions, check_options
from mallocsim.trace import Trace

DEFAULT_POINTS = 1500  # samples in a plotted series


@dataclass(frozen=True)
class Series:
    """One allocator's heap over one trace, sampled at op indices."""

    allocator: str
    trace: str
    ops: list[int]  # the last op index of each sample's window of ops
    live: list[int]  # bytes: the highest live requested payload in the window
    heap: list[int]  # bytes: the highest heap size (ours) or footprint above the
    # baseline (a reference) in the window


@dataclass(frozen=True)
class Observed:
    """What an observed checked pass saw."""

    valid: bool
    peak_footprint: int  # bytes: the highest footprint read after any op
    peak_payload: int  # bytes: the highest live payload
    series: Series | None  # None when no points were asked for


def _with_baseline_op(trace: Trace) -> tuple[object, object]:
    """A copy of the trace's ms_trace with free(NULL) put first (and its op array)."""
    count = trace.num_ops
    ops = ffi.new("ms_op[]", count + 1)
    ops[0].kind = lib.MS_OP_FREE
    ops[0].id = lib.MS_ID_NULL
    ffi.memmove(ops + 1, trace.native.ops, count * ffi.sizeof("ms_op"))
    native = ffi.new("ms_trace *")
    native.ops = ops
    native.num_ops = count + 1
    native.num_ids = trace.native.num_ids
    native.format = trace.native.format
    native.weight = trace.native.weight
    native.header = list(trace.native.header)
    return native, ops


def observe_checked(
    trace: Trace,
    alloc: LoadedAllocator,
    footprint: Callable[[], int],
    points: int = 0,
    baseline_op: bool = False,
    max_reads: int = 0,
    baseline: Callable[[], int] | None = None,
    replay_options: ReplayOptions | None = None,
) -> Observed:
    """Run one checked pass reading footprint() after the ops. With
    baseline_op, readings are taken relative to the footprint before the first
    op (see the module's note), as baseline() reads it then (footprint() when
    None). Samples at most `points` (0 = none). An exception raised by
    footprint() or baseline() stops the readings and is raised once the pass
    is over (an exception cannot cross the engine's C loop).

    max_reads bounds the readings of a footprint() that is costly (glibc's
    mallinfo2 walks every free chunk; 0 = read after every op). A footprint
    grows only when an op takes memory, so with a budget it is read only after
    ops that did not lower the live payload: on each new payload peak, and on
    every k-th of the others, k = ops / max_reads."""
    count = trace.num_ops
    every = max(1, math.ceil(count / max_reads)) if max_reads else 1
    stride = max(1, math.ceil(count / points)) if points else 0
    room = count // stride + 2 if stride else 1
    # Allocated before the pass, so that storing samples allocates nothing.
    sample_ops = ffi.new("uint64_t[]", room)
    sample_live = ffi.new("uint64_t[]", room)
    sample_heap = ffi.new("uint64_t[]", room)
    state = dict.fromkeys(("base", "peak", "taken", "window_live", "window_heap"), 0)
    state.update(size=0, live=0, top=0)
    errors: list[BaseException] = []  # raised by footprint() or baseline()
    read_baseline = baseline if baseline is not None else footprint

    def observe(_context: object, index: int, live: int) -> None:
        if errors:
            return
        if baseline_op:
            if index == 0:
                state["base"] = read_baseline()
                return
            index -= 1
        if every == 1 or (live >= state["live"] and (live > state["top"] or index % every == 0)):
            state["size"] = footprint() - state["base"]
            state["peak"] = max(state["peak"], state["size"])
        state["live"], state["top"] = live, max(state["top"], live)
        size = state["size"]
        if not stride:
            return
        # Each sample is the highest of its window of `stride` ops, so that
        # no peak falls between two samples.
        state["window_live"] = max(state["window_live"], live)
        state["window_heap"] = max(state["window_heap"], size)
        if (index + 1) % stride == 0 or index == count - 1:
            taken = state["taken"]
            sample_ops[taken] = index
            sample_live[taken] = state["window_live"]
            sample_heap[taken] = state["window_heap"]
            state["taken"] = taken + 1
            state["window_live"] = state["window_heap"] = 0

    def keep_error(_type: object, error: BaseException, _traceback: object) -> None:
        errors.append(error)

    callback = ffi.callback("void(void *, uint64_t, uint64_t)", observe, onerror=keep_error)
    native, keep = _with_baseline_op(trace) if baseline_op else (trace.native, None)
    options = check_options(replay_options or ReplayOptions(timing=False))
    options.observe = callback
    result = ffi.new("ms_check_result *")
    valid = bool(lib.ms_replay_checked(native, alloc.native, options, result))
    del keep
    if errors:
        raise errors[0]
    series = None
    if stride:
        taken = state["taken"]
        series = Series(
            allocator=alloc.spec.name,
            trace=trace.name,
            ops=[int(sample_ops[i]) for i in range(taken)],
            live=[int(sample_live[i]) for i in range(taken)],
            heap=[int(sample_heap[i]) for i in range(taken)],
        )
    return Observed(valid, state["peak"], int(result.peak_payload), series)


@cache
def simulated_heap() -> object:
    """The simulated heap's mem_heapsize() and mem_heap_lo(): the one instance
    every allocator shares (libmsheap.so is loaded once, whoever loads it)."""
    heap_ffi = FFI()
    heap_ffi.cdef("size_t mem_heapsize(void); void *mem_heap_lo(void);")
    return heap_ffi.dlopen(str(NATIVE_DIR / HEAP_LIBRARY))


def heap_series(
    trace: Trace,
    alloc: LoadedAllocator,
    points: int = DEFAULT_POINTS,
    options: ReplayOptions | None = None,
) -> Series:
    """Our heap's size and the live payload over a trace (a built-in policy,
    a library or an mm.c: anything on the simulated heap), checked as `options`
    (a lab's rules) say."""
    observed = observe_checked(
        trace, alloc, simulated_heap().mem_heapsize, max(points, 1), replay_options=options
    )
    assert observed.series is not None  # asked for at least one point
    return observed.series
