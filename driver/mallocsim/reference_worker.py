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

import ctypes
import json
import re
import resource
import sys
import threading
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, replace

from cffi import FFI

from mallocsim.allocators import AllocatorSpec
from mallocsim.errors import UsageError
from mallocsim.references import REFERENCES
from mallocsim.replay import LoadedAllocator, ReplayOptions, replay_trace
from mallocsim.results import TraceResult
from mallocsim.timeline import Observed, observe_checked
from mallocsim.trace import load_trace, rounded_up

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
# glibc's thread cache (tcache, malloc.c 2.36): a bin for each chunk size up
# to this (TCACHE_MAX_BINS = 64 of them, from GLIBC_MINSIZE in steps of
# GLIBC_ALIGNMENT), each holding at most tcache_count chunks (7; a tunable
# can make it up to 65,535).
GLIBC_TCACHE_LARGEST = 1040
GLIBC_TCACHE_MOST = 65_535
MALLOC_INFO_ROOM = 1 << 16  # bytes: malloc_info's report on two arenas takes 2 to 20 KiB
# In malloc_info's report: an arena's start, and the free bytes of a "total":
# each arena's "fast" (its fastbins) and "rest" (its other bins and its top
# chunk), then the process's.
_ARENA = re.compile(rb"<heap ")
_TOTAL = re.compile(rb'<total type="[a-z]+" count="[0-9]+" size="([0-9]+)"/>')
_STATS_CDEF = """
typedef struct _IO_FILE FILE;
FILE *fmemopen(void *buf, size_t size, const char *mode);
void setbuf(FILE *stream, char *buf);
void rewind(FILE *stream);
long ftell(FILE *stream);
int malloc_info(int options, FILE *stream);
void *malloc(size_t size);
void free(void *ptr);
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
    with_footprint); and, when the footprint at that point is not the one to
    count from, how to read the baseline right before the trace's first op
    (after the engine allocated all it will before it)."""

    footprint: Callable[[], int]  # bytes
    block_size: Callable[[int], int]  # bytes: the least a block of n > 0 bytes takes
    blocks: str  # how block_size counts a block, for the reason of a footprint not measured
    baseline: Callable[[], int] | None = None  # bytes; None: footprint()


def meter(name: str, sizes: Collection[int] = ()) -> Meter:
    """How to measure the named allocator on a trace whose blocks have these
    sizes (Trace.block_sizes: glibc's baseline needs them). Its buffers are
    made here, so a reading allocates nothing from the allocator it
    measures. Fails (AttributeError, or UsageError) when that allocator is
    not the one this process runs on."""
    ffi = FFI()
    ffi.cdef(_STATS_CDEF)
    process = ffi.dlopen(None)  # the global scope: the preloaded library comes first
    value = ffi.new("size_t *")
    if name == "glibc":
        return _glibc_meter(ffi, process, sizes)
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


class _Mallinfo2(ctypes.Structure):
    """glibc's struct mallinfo2 (malloc.h, from 2.33)."""

    _fields_ = [
        (field, ctypes.c_size_t)
        for field in (
            "arena",  # bytes: the heaps of all arenas
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",  # bytes: the chunks mmapped
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",  # bytes: free in all arenas' bins and top chunks
            "keepcost",
        )
    ]


def _mallinfo2() -> Callable[[], _Mallinfo2]:
    """glibc's mallinfo2 (AttributeError before glibc 2.33), called through
    ctypes, which keeps the struct it returns in the interpreter's own
    allocator: cffi would malloc it, in the arena being measured."""
    mallinfo2 = ctypes.CDLL(None).mallinfo2
    mallinfo2.restype = _Mallinfo2
    mallinfo2.argtypes = []
    return mallinfo2


def _glibc_meter(ffi: FFI, process: object, sizes: Collection[int]) -> Meter:
    """glibc's footprint: mallinfo2's arena + hblkhd, counted from what was in
    use right before the first op. The trace's thread has an arena of its own
    (see run), but the free memory that arena and the thread's cache (tcache)
    held then would serve the trace's first blocks with no growth: glibc
    makes a new arena's heap with its top padded (M_TOP_PAD, 128 KiB), which
    malloc_trim leaves (it trims only the main arena), and the interpreter
    frees chunks into the cache. So the baseline is the footprint less that
    free memory: the arena's top and bins (malloc_info, which reports each
    arena apart) and the cached chunks of the sizes the trace asks for (the
    only ones it can take: see _glibc_cached). The trace is counted as holding
    that memory from the first op, as it would hold the padded top of a heap
    of its own."""
    mallinfo2 = _mallinfo2()
    report = ffi.new("char[]", MALLOC_INFO_ROOM)
    stream = process.fmemopen(report, MALLOC_INFO_ROOM, b"w")
    if stream == ffi.NULL:
        raise UsageError("glibc: cannot open a stream in memory for malloc_info")
    process.setbuf(stream, ffi.NULL)  # unbuffered: writing to it allocates nothing
    chunks = {glibc_chunk(size) for size in sizes}
    cacheable = sorted(chunk for chunk in chunks if chunk <= GLIBC_TCACHE_LARGEST)

    def glibc() -> int:
        info = mallinfo2()
        return int(info.arena + info.hblkhd)

    def baseline() -> int:
        cached = sum(_glibc_cached(ffi, process, mallinfo2, chunk) for chunk in cacheable)
        process.rewind(stream)
        process.malloc_info(0, stream)
        footprint = glibc()
        # Parsed once both are read: the parsing may allocate in the arena.
        text = ffi.buffer(report, process.ftell(stream))
        arenas = len(_ARENA.findall(text))
        totals = _TOTAL.findall(text)  # the process's are fast, rest and mmap
        if len(totals) != 2 * arenas + 3:
            raise UsageError(
                f"glibc: malloc_info's report is not as expected (over {MALLOC_INFO_ROOM:,} B?)"
            )
        if arenas != 2:  # the main arena, first, and the one made for the thread
            raise UsageError(
                f"glibc: the trace's arena cannot be told apart: {arenas} arenas, not 2"
            )
        return footprint - int(totals[2]) - int(totals[3]) - cached

    return Meter(
        glibc,
        glibc_chunk,
        f"a chunk of n + {GLIBC_SIZE_FIELD} rounded up to {GLIBC_ALIGNMENT}, "
        f"at least {GLIBC_MINSIZE}",
        baseline,
    )


def _glibc_cached(
    ffi: FFI, process: object, mallinfo2: Callable[[], _Mallinfo2], chunk: int
) -> int:
    """Bytes: the chunks of `chunk` bytes that the calling thread's cache
    (tcache) holds. glibc's free bytes (mallinfo2's fordblks) count its bins
    and top chunks, not its caches, whose chunks look in use: a chunk taken
    from the cache or given back to it leaves them as they were. So chunks
    are taken with malloc until one comes from elsewhere (they fall by
    exactly the chunk; one taken from a bin that held more of its size
    refills the cache with them, and they fall by more), then all given
    back, counting those the cache takes: the last one taken, from the top
    or a bin, may end there too, counted (the trace asks for chunks of that
    size, and the cache serves them first). The blocks are chained through
    their first word, so that keeping them allocates nothing."""
    taken = ffi.NULL
    for _ in range(GLIBC_TCACHE_MOST + 1):
        free = mallinfo2().fordblks
        block = process.malloc(chunk - GLIBC_SIZE_FIELD)
        if block == ffi.NULL:
            raise MemoryError(f"glibc: malloc({chunk - GLIBC_SIZE_FIELD}) failed")
        ffi.cast("void **", block)[0] = taken
        taken = block
        if free - mallinfo2().fordblks == chunk:
            break
    else:
        raise UsageError(f"glibc: its thread's cache of {chunk}-byte chunks does not empty")
    cached = 0
    while taken != ffi.NULL:
        block, taken = taken, ffi.cast("void **", taken)[0]
        free = mallinfo2().fordblks
        process.free(block)
        if mallinfo2().fordblks == free:
            cached += chunk
    return cached


def _size_classes(process: object, function: str) -> tuple[Callable[[int], int], str]:
    """The allocator's block size for a request, asked of the allocator itself
    (`function`: nallocx(n, 0) or mi_good_size(n), which allocate nothing),
    and how it is counted; the request rounded up to MIN_GRANULE when the
    library exports no such function. Never less than that rounding (nallocx
    answers 0 for a size it cannot serve)."""
    rounded = rounded_up(MIN_GRANULE)
    try:
        ask = getattr(process, function)
    except AttributeError:
        return rounded, f"n rounded up to {MIN_GRANULE} (the library exports no {function})"
    if function.endswith("nallocx"):
        return lambda size: max(rounded(size), int(ask(size, 0))), f"{function}(n, 0)"
    return lambda size: max(rounded(size), int(ask(size))), f"{function}(n)"


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

    def baseline() -> int:
        if mallctl(b"thread.arena", ffi.NULL, ffi.NULL, arena, unsigned) != 0:
            raise UsageError(f"jemalloc: cannot move the trace onto arena {arena[0]}")
        # Fails only when there is no thread cache, and so nothing to empty.
        mallctl(b"thread.tcache.flush", ffi.NULL, ffi.NULL, ffi.NULL, 0)
        return jemalloc()

    return Meter(jemalloc, block_size, blocks, baseline)


def settle(name: str) -> None:
    """Make the calling thread start clean, through the allocator's own
    interface, before the pass: give back the free memory it holds (what it
    gives back and later takes again for the trace is then counted, not
    hidden in the baseline). jemalloc needs none of it: its trace gets an
    arena of its own (see _jemalloc_meter). glibc's malloc_trim leaves the
    free memory of the thread's own arena and cache, which its baseline
    counts instead (see _glibc_meter)."""
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
    trace = load_trace(request["trace"], request["reading"])
    try:
        measure = meter(name, trace.block_sizes())
        measure.footprint()
    except AttributeError:
        raise UsageError(
            f"{name}: its statistics are not reachable: is {reference.library} preloaded?"
        ) from None
    options = ReplayOptions(
        check_heap=False,
        timing=request["timing"],
        min_seconds=request["min_seconds"],
        min_passes=request["min_passes"],
        max_passes=request["max_passes"],
        sample_above=request["sample_above"],
        batch=request["batch"],
    )
    spec = AllocatorSpec(name, "system", None, "system", "")
    with LoadedAllocator(spec) as alloc:
        # The observed pass comes first, while the allocator holds nothing of
        # the trace's (later passes would find their memory already there), and
        # in a thread of its own: glibc, jemalloc and mimalloc give a new thread
        # a new arena or heap, so the trace does not fill the holes the
        # interpreter left in the main thread's (jemalloc's gets an arena of
        # its own at the baseline, and glibc's baseline counts what the new
        # arena holds free: see _jemalloc_meter and _glibc_meter).
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
                        measure.baseline,
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
