"""The process a reference allocator replays one trace in (see references.py).

Started as `python -m mallocsim.reference_worker REQUEST-JSON` with LD_PRELOAD
naming the allocator's library (nothing for glibc), so that the engine's
"system" allocator, and this interpreter, run on it. It first checks that the
allocator it was started for is the one answering, then runs one observed
checked pass (footprint from the allocator's own statistics after every op),
then replay_trace's checks and timed passes, and prints one JSON object:
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
# Bytes: a block of any reference takes at least its size rounded up to this
# (their size classes are multiples of 8 bytes), so no footprint of theirs can
# be below the trace's live sizes rounded up to it.
MIN_GRANULE = 8
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
"""


@dataclass(frozen=True)
class Meter:
    """How the observed pass measures a reference: its footprint, read from its
    own statistics, and what to do right before the baseline reading (after
    the engine allocated all it will before the trace's first op)."""

    footprint: Callable[[], int]  # bytes
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

        return Meter(glibc)
    if name == "jemalloc":
        return _jemalloc_meter(ffi, process.mallctl)
    if name == "tcmalloc":
        get = process.MallocExtension_GetNumericProperty

        def tcmalloc() -> int:
            get(b"generic.heap_size", value)
            heap = int(value[0])
            get(b"tcmalloc.pageheap_unmapped_bytes", value)
            return heap - int(value[0])

        return Meter(tcmalloc)
    if name == "mimalloc":
        info = process.mi_process_info
        rest = ffi.new("size_t[7]")

        def mimalloc() -> int:
            info(rest, rest + 1, rest + 2, rest + 3, rest + 4, value, rest + 5, rest + 6)
            return int(value[0])

        return Meter(mimalloc)
    raise UsageError(f"{name}: not a reference allocator")


def _jemalloc_meter(ffi: FFI, mallctl: Callable[..., int]) -> Meter:
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

    return Meter(jemalloc, start)


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


def with_footprint(result: TraceResult, observed: Observed, needed: int) -> TraceResult:
    """A reference's valid result with the peak footprint and the utilization
    of its observed pass; or with neither, and the reason in not_measured,
    when that footprint cannot be the allocator's own. Its blocks are
    multiples of MIN_GRANULE, so the trace's live blocks take `needed` bytes
    at their peak (their sizes rounded up to it) however it lays them out: a
    footprint that grew by less (a utilization above that bound) means memory
    the process held before the first op served part of the trace, because
    the trace is too small to measure the allocator by or because the
    measurement missed some of it."""
    peak, payload = observed.peak_footprint, observed.peak_payload
    why = None
    if peak <= 0:
        why = "its footprint did not grow: the trace fit in memory its process already held"
    elif peak < payload:
        why = (
            f"its footprint grew by {peak:,} B, less than the peak payload ({payload:,} B): "
            "the trace fit in memory its process already held"
        )
    elif peak < needed:
        why = (
            f"its footprint grew by {peak:,} B, less than the {needed:,} B the live blocks "
            f"take rounded up to {MIN_GRANULE} (utilization {payload / peak:.1%}, above the "
            f"{MIN_GRANULE}-byte bound {payload / needed:.1%}): memory its process already "
            "held served part of the trace"
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
    result = with_footprint(result, observed, trace.peak_rounded(MIN_GRANULE))
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
