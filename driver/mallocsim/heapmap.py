"""A heap map: where every block was, op by op, for one allocator and trace.

This is the slow path, on purpose: the engine's observer sees only sums, so
the map replays the trace op by op from Python, calling the allocator's own
mm_* functions through cffi (3 to 10 microseconds an op: 0.3 to 0.9 s for an
80,000-op trace) and recording each block's address and lifetime. It is
meant for one trace at a time, replayed whole (up to MAX_OPS ops: its memory
is some 100 bytes an op, in Python lists), for an allocator on the simulated
heap that already passed that trace's checked pass in isolation. The figure
(heapmap_figure.py) downsamples it to its pixels.

Several allocators on one trace are one HeapMap whose `beside` holds the
others, drawn side by side with it; it is a plain field, so a saved run keeps
them (saved.py writes a HeapMap as its fields) and an older file without it
still reads.

What the map calls each heap byte (plots.py draws them):
  payload    the bytes the trace asked for;
  overhead   what the allocator keeps beside them: the usable bytes past the
             request (mm_usable_size when exported, else the request rounded
             up to 16), and gaps of at most METADATA_GAP bytes between blocks
             (headers, footers, run headers);
  free       every other byte below the heap's current size.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from cffi import FFI

from mallocsim._native import ffi, lib
from mallocsim.allocators import library_for
from mallocsim.errors import UsageError
from mallocsim.replay import LoadedAllocator
from mallocsim.timeline import simulated_heap
from mallocsim.trace import Trace

MAX_OPS = 2_000_000  # ops a heap map replays at most: every trace we ship or know, whole
METADATA_GAP = 32  # bytes: a gap this small between blocks is headers, not free space


@dataclass(frozen=True)
class HeapMap:
    """Every block's place and lifetime over the first `ops` ops of a trace
    (all of them, unless the trace is longer than MAX_OPS)."""

    allocator: str
    trace: str
    ops: int  # ops replayed
    total_ops: int  # ops in the trace
    heap_sizes: list[int]  # bytes: the heap's size after each op
    # One per block: [first op it was live after, op it was freed at (ops if never),
    # offset from the heap's start, requested bytes, usable bytes]
    blocks: list[list[int]]
    # Other allocators' maps of the same trace, drawn beside this one (no `beside` of their own)
    beside: list[HeapMap] = field(default_factory=list)

    def __post_init__(self) -> None:
        # A saved run gives the maps beside as dicts of their fields.
        maps = [m if isinstance(m, HeapMap) else HeapMap(**m) for m in self.beside]
        object.__setattr__(self, "beside", maps)

    @property
    def side_by_side(self) -> list[HeapMap]:
        """This map and those beside it, in the order they are drawn."""
        return [self, *self.beside]

    def alongside(self, others: list[HeapMap]) -> HeapMap:
        """This map with `others` beside it."""
        return replace(self, beside=list(others))


def _usable_size(alloc: LoadedAllocator) -> object:
    """The allocator's mm_usable_size, or None when it does not export one."""
    if alloc.spec.path is None:
        return None
    usable_ffi = FFI()
    usable_ffi.cdef("size_t mm_usable_size(void *ptr);")
    try:
        function = usable_ffi.dlopen(str(library_for(alloc.spec))).mm_usable_size
    except (AttributeError, OSError):
        return None
    return lambda pointer: function(usable_ffi.cast("void *", pointer))


def collect(trace: Trace, alloc: LoadedAllocator, max_ops: int = MAX_OPS) -> HeapMap:
    """Replay the trace (its first max_ops ops) op by op and record the blocks.
    Raises UsageError for an allocator not on the simulated heap or one that fails."""
    if alloc.native.dialect == lib.MS_DIALECT_SYSTEM:
        raise UsageError(f"{alloc.spec.name}: a heap map needs an allocator on the simulated heap")
    heap = simulated_heap()
    native = alloc.native
    lib.mem_reset()
    if native.dialect == lib.MS_DIALECT_CMU:
        started = bool(ffi.cast("bool (*)(void)", native.init)())
    else:
        started = ffi.cast("int (*)(void)", native.init)() == 0
    if not started:
        raise UsageError(f"{alloc.spec.name}: mm_init failed")
    usable = _usable_size(alloc)
    base = int(ffi.cast("uintptr_t", heap.mem_heap_lo()))
    live: dict[int, tuple[object, list[int]]] = {}  # id -> (pointer, its block record)
    blocks: list[list[int]] = []
    sizes: list[int] = []
    count = min(trace.num_ops, max_ops)

    def take(ident: int, pointer: object, size: int, index: int) -> None:
        if pointer == ffi.NULL:
            if size == 0:  # malloc(0) and realloc(p, 0) may give nothing back
                return
            raise UsageError(f"{alloc.spec.name}: NULL for {size} bytes at op {index}")
        address = int(ffi.cast("uintptr_t", pointer))
        room = int(usable(pointer)) if usable else (size + 15) // 16 * 16
        record = [index, count, address - base, size, max(room, size)]
        blocks.append(record)
        live[ident] = (pointer, record)

    def drop(ident: int, index: int) -> object:
        pointer, record = live.pop(ident)
        record[1] = index
        return pointer

    for index, (letter, ident, size, number) in enumerate(trace.ops()):
        if index >= count:
            break
        if letter == "a":
            take(ident, native.malloc(size), size, index)
        elif letter == "c":
            take(ident, native.calloc(number, size), number * size, index)
        elif letter == "r":
            old = drop(ident, index) if ident in live else ffi.NULL
            take(ident, native.realloc(old, size), size, index)
        elif ident in live:
            native.free(drop(ident, index))
        sizes.append(int(heap.mem_heapsize()))
    return HeapMap(alloc.spec.name, trace.name, count, trace.num_ops, sizes, blocks)
