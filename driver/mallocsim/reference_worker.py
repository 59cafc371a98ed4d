"""The process a reference allocator replays one trace in (see references.py).

Started as `python -m mallocsim.reference_worker REQUEST-JSON` with LD_PRELOAD
naming the allocator's library (nothing for glibc), so that the engine's
"system" allocator, and this interpreter, run on it. It first checks that the
allocator it was started for is the one answering, then runs one observed
checked pass (footprint from the allocator's own statistics after every op),
then replay_trace's checks and timed passes, asks the allocator how large its
blocks for the trace's requests are (a footprint below what they take at the
peak is not measured: see with_footprint), and prints one JSON object:
{"result": TraceResult, "series": Series or null}, or {"usage_error": "..."}.
"""

from __future__ import annotations

import json
import resource
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from cffi import FFI

from mallocsim.allocators import AllocatorSpec
from mallocsim.errors import UsageError
from mallocsim.references import REFERENCES
from mallocsim.replay import LoadedAllocator, ReplayOptions, replay_trace
from mallocsim.results import TraceResult
from mallocsim.timeline import Observed, observe_checked
from mallocsim.trace import load_trace

FOOTPRINT_READS = 20_000  # readings of the footprint a trace is worth (see observe_checked)
# Bytes: every reference's blocks are multiples of this. A reference that
# exports no function giving its own block size for a request has its blocks
# counted as the requests rounded up to it (see Meter.block_size).
MIN_GRANULE = 8
# glibc's chunks on a 64-bit system (malloc.c, 2.36): a chunk holds the request
# plus its size field (SIZE_SZ, 8 bytes; the next chunk's prev_size field is
# the request's while the chunk is in use), rounded up to MALLOC_ALIGNMENT
# (16), and is at least MINSIZE (32: the four fields a free chunk needs).
GLIBC_SIZE_FIELD = 8
GLIBC_ALIGNMENT = 16
GLIBC_MINSIZE = 32
_STATS_CDEF = """
struct mallinfo2 { size_t arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks,
                   fordblks, keepcost; };
struct mallinfo2 mallinfo2(void);
int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
int MallocExtension_GetNumericProperty(const char *property, size_t *value);
int malloc_trim(size_t pad);
void MallocExtension_ReleaseFreeMemory(void);
void mi_collect(bool force);
void mi_process_info(size_t *elapsed_msecs, size_t *user_msecs, size_t *system_msecs,
                     size_t *current_rss, size_t *peak_rss, size_t *current_commit,
                     size_t *peak_commit, size_t *page_faults);
size_t nallocx(size_t size, int flags);
size_t tc_nallocx(size_t size, int flags);
size_t mi_good_size(size_t size);
"""


@dataclass(frozen=True)
class Meter:
    """How the observed pass measures a reference: its footprint, read from its
    own statistics; the least its block for a request takes, so that a
    footprint below what the trace's live blocks take can be told apart (see
    with_footprint); and what to do right before the baseline reading (after
    the engine allocated all it will before the trace's first op)."""

    footprint: Callable[[], int]  # bytes
    block_size: Callable[[int], int]  # bytes: the least a block of n > 0 bytes takes
    blocks: str  # how block_size counts a block, for the reason of a footprint not measured
    start: Callable[[], None] | None = None


def meter(name: str) -> Meter:
    """How to measure the named allocator. Its buffers are made here, so a
    reading allocates nothing from the allocator it measures. Fails
    (AttributeError, or UsageError) when that allocator is not the one this
    process runs on."""
    ffi = FFI()
    ffi.cdef(_STATS_CDEF)
    process = ffi.dlopen(None)  # the global scope: the preloaded library comes first
    value = ffi.new("size_t *")
    if name == "glibc":
        mallinfo2 = process.mallinfo2

        def glibc() -> int:
            info = mallinfo2()
            return int(info.arena + info.hblkhd)

        return Meter(
            glibc,
            glibc_chunk,
            f"a chunk of n + {GLIBC_SIZE_FIELD} rounded up to {GLIBC_ALIGNMENT}, "
            f"at least {GLIBC_MINSIZE}",
        )
    if name == "jemalloc":
        return _jemalloc_meter(ffi, process.mallctl, *_size_classes(process, "nallocx"))
    if name == "tcmalloc":
        get = process.MallocExtension_GetNumericProperty

        def tcmalloc() -> int:
            get(b"generic.heap_size", value)
            heap = int(value[0])
            get(b"tcmalloc.pageheap_unmapped_bytes", value)
            return heap - int(value[0])

        return Meter(tcmalloc, *_size_classes(process, "tc_nallocx"))
    if name == "mimalloc":
        info = process.mi_process_info
        rest = ffi.new("size_t[7]")

        def mimalloc() -> int:
            info(rest, rest + 1, rest + 2, rest + 3, rest + 4, value, rest + 5, rest + 6)
            return int(value[0])

        return Meter(mimalloc, *_size_classes(process, "mi_good_size"))
    raise UsageError(f"{name}: not a reference allocator")


def glibc_chunk(size: int) -> int:
    """Bytes: glibc's chunk for a request of `size` bytes (request2size in
    malloc.c; see GLIBC_MINSIZE). A request that glibc serves with mmap (at
    least M_MMAP_THRESHOLD, 128 KiB at first) gets whole pages instead, more
    than this: the least it takes still."""
    aligned = (size + GLIBC_SIZE_FIELD + GLIBC_ALIGNMENT - 1) & ~(GLIBC_ALIGNMENT - 1)
    return max(GLIBC_MINSIZE, aligned)


def _rounded(size: int) -> int:
    return (size + MIN_GRANULE - 1) & ~(MIN_GRANULE - 1)


def _size_classes(process: object, function: str) -> tuple[Callable[[int], int], str]:
    """The allocator's block size for a request, asked of the allocator itself
    (`function`: nallocx(n, 0) or mi_good_size(n), which allocate nothing),
    and how it is counted; the request rounded up to MIN_GRANULE when the
    library exports no such function. Never less than that rounding (nallocx
    answers 0 for a size it cannot serve)."""
    try:
        ask = getattr(process, function)
    except AttributeError:
        return _rounded, f"n rounded up to {MIN_GRANULE} (the library exports no {function})"
    if function.endswith("nallocx"):
        return lambda size: max(_rounded(size), int(ask(size, 0))), f"{function}(n, 0)"
    return lambda size: max(_rounded(size), int(ask(size))), f"{function}(n)"


def _jemalloc_meter(
    ffi: FFI, mallctl: Callable[..., int], block_size: Callable[[int], int], blocks: str
) -> Meter:
    """jemalloc's footprint: the active pages of an arena made for the trace
    alone. It is created here, empty, and the observed thread is moved onto it
    right before the baseline reading, its thread cache emptied: from then on
    every block the trace takes comes from that arena (a manual arena keeps
    even the blocks above opt.oversize_threshold), and nothing else does.
    Measured on an arena already in use, or process-wide, part of the trace
    is served unseen from what the arena and the thread cache held at the
    baseline (regions the engine and cffi had used and freed, partly used
    slabs)."""
    unsigned = ffi.sizeof("unsigned")
    arena = ffi.new("unsigned *")
    page = ffi.new("size_t *")
    value = ffi.new("size_t *")
    length = ffi.new("size_t *", unsigned)
    if mallctl(b"arenas.create", arena, length, ffi.NULL, 0) != 0:
        raise UsageError("jemalloc: cannot create an arena for the trace (arenas.create)")
    length[0] = ffi.sizeof("size_t")
    if mallctl(b"arenas.page", page, length, ffi.NULL, 0) != 0:
        raise UsageError("jemalloc: its page size is unavailable (arenas.page)")
    active = f"stats.arenas.{arena[0]}.pactive".encode()
    epoch = ffi.new("uint64_t *", 1)

    def jemalloc() -> int:
        length[0] = ffi.sizeof("uint64_t")
        mallctl(b"epoch", epoch, length, epoch, ffi.sizeof("uint64_t"))  # refresh the stats
        length[0] = ffi.sizeof("size_t")
        if mallctl(active, value, length, ffi.NULL, 0) != 0:
            raise UsageError(f"jemalloc: {active.decode()} is unavailable (built without stats?)")
        return int(value[0]) * int(page[0])

    def start() -> None:
        if mallctl(b"thread.arena", ffi.NULL, ffi.NULL, arena, unsigned) != 0:
            raise UsageError(f"jemalloc: cannot move the trace onto arena {arena[0]}")
        # Fails only when there is no thread cache, and so nothing to empty.
        mallctl(b"thread.tcache.flush", ffi.NULL, ffi.NULL, ffi.NULL, 0)

    return Meter(jemalloc, block_size, blocks, start)


def settle(name: str) -> None:
    """Make the calling thread start clean, through the allocator's own
    interface, before the pass: give back the free memory it holds (what it
    gives back and later takes again for the trace is then counted, not
    hidden in the baseline). jemalloc needs none of it: its trace gets an
    arena of its own (see _jemalloc_meter)."""
    ffi = FFI()
    ffi.cdef(_STATS_CDEF)
    process = ffi.dlopen(None)
    if name == "glibc":
        process.malloc_trim(0)
    elif name == "tcmalloc":
        process.MallocExtension_ReleaseFreeMemory()
    elif name == "mimalloc":
        process.mi_collect(True)


def with_footprint(
    result: TraceResult, observed: Observed, needed: int, blocks: str
) -> TraceResult:
    """A reference's valid result with the peak footprint and the utilization
    of its observed pass; or with neither, and the reason in not_measured,
    when that footprint cannot be the allocator's own. Its blocks for the
    trace's live requests take `needed` bytes at their peak (a request of n
    bytes taking at least `blocks`: Trace.peak_blocks of Meter.block_size)
    however it lays them out: a footprint that grew by less (a utilization
    above the bound those blocks set) means memory the process held before
    the first op served part of the trace, because the trace is too small to
    measure the allocator by or because the measurement missed some of it."""
    peak, payload = observed.peak_footprint, observed.peak_payload
    why = None
    if peak <= 0:
        why = "its footprint did not grow: the trace fit in memory its process already held"
    elif peak < needed:
        why = (
            f"its footprint grew by {peak:,} B, less than its own blocks need at the peak "
            f"({needed:,} B): a request of n bytes takes {blocks}, so its utilization cannot "
            f"exceed {payload / needed:.1%} (this footprint gives {payload / peak:.1%}): "
            "memory its process already held served part of the trace"
        )
    if why is not None:
        return replace(result, heap_size=None, utilization=None, not_measured=why)
    return replace(result, heap_size=peak, utilization=payload / peak, not_measured=None)


def run(request: dict) -> dict:
    """Replay the requested trace on this process's allocator: the payload to print."""
    name = request["reference"]
    reference = REFERENCES[name]
    try:
        measure = meter(name)
        measure.footprint()
    except AttributeError:
        raise UsageError(
            f"{name}: its statistics are not reachable: is {reference.library} preloaded?"
        ) from None
    trace = load_trace(request["trace"])
    options = ReplayOptions(
        check_heap=False,
        timing=request["timing"],
        min_seconds=request["min_seconds"],
        min_passes=request["min_passes"],
        max_passes=request["max_passes"],
        sample_above=request["sample_above"],
    )
    spec = AllocatorSpec(name, "system", None, "system", "")
    with LoadedAllocator(spec) as alloc:
        # The observed pass comes first, while the allocator holds nothing of
        # the trace's (later passes would find their memory already there), and
        # in a thread of its own: glibc, jemalloc and mimalloc give a new thread
        # a new arena or heap, so the trace does not fill the holes the
        # interpreter left in the main thread's (jemalloc's gets an arena of
        # its own at the baseline: see _jemalloc_meter).
        passes: list[Observed | BaseException] = []

        def observed_pass() -> None:
            try:
                settle(name)
                passes.append(
                    observe_checked(
                        trace,
                        alloc,
                        measure.footprint,
                        request["series_points"],
                        True,
                        FOOTPRINT_READS,
                        measure.start,
                    )
                )
            except BaseException as error:  # reported by the main thread
                passes.append(error)

        thread = threading.Thread(target=observed_pass)
        thread.start()
        thread.join()
        observed = passes[0]
        if isinstance(observed, BaseException):
            raise UsageError(
                f"{name}: the observed pass failed: {type(observed).__name__}: {observed}"
            )
        result = replay_trace(trace, alloc, options)
    if not (result.valid and observed.valid):
        return {"result": asdict(result), "series": None}
    # Once per trace, after the observed pass, in the allocator's own process.
    needed = trace.peak_blocks(measure.block_size)
    result = with_footprint(result, observed, needed, measure.blocks)
    result = replace(result, peak_rss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    series = asdict(observed.series) if observed.series else None
    return {"result": asdict(result), "series": series}


def main() -> int:
    try:
        payload = run(json.loads(sys.argv[1]))
    except UsageError as error:
        payload = {"usage_error": str(error)}
    sys.stdout.write(json.dumps(payload))
    return 0


if __name__ == "__main__":
    sys.exit(main())
