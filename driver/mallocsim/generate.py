"""Generate synthetic traces in the classic format, reproducibly from a seed.

Kinds (the CS:APP classic patterns and the CMU syn-* power-law set):

  random      allocs and frees at random, sizes uniform in 1..32768 (random-bal)
  binary      pairs of small and large blocks, the large ones freed, then
              blocks slightly larger allocated: fragmentation (binary-bal)
  coalescing  two neighbours allocated and freed, then one of their summed
              size: rewards coalescing (coalescing-bal)
  realloc     one block growing by realloc while short-lived small blocks come
              and go around it (realloc-bal)
  strings     power-law sizes of any byte count, mostly short (syn-string)
  structs     power-law counts of 8-byte words, small (syn-struct)
  arrays      power-law element counts of power-of-two element sizes, some
              grown by realloc (syn-array)

Guarantees: the same kind, op count and seed give the same bytes (only
random.Random.random() is used, whose sequence Python keeps stable); the
trace has exactly `ops` op lines (for ops >= 2) and frees every block by its
end; the header is the classic one: peak live payload rounded up to a page,
ids, ops, weight 1.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from mallocsim.errors import UsageError
from mallocsim.record import classic_header

GROWN_CAP = 1 << 22  # blocks grown by realloc stop growing here
MIN_OPS = 2  # an allocation and its free
# Ten times the scale benchmark's trace: the text is built in memory (about
# 180 MB a million ops) and takes about 2 s a million ops to make.
MAX_OPS = 100_000_000


class _Full(Exception):
    """The op budget leaves no room for this op and the frees it implies."""


@dataclass
class _Heap:
    """Live blocks and the op lines so far, within a fixed op budget."""

    rng: random.Random
    budget: int  # op lines still to write, the final frees included
    lines: list[str] = field(default_factory=list)
    sizes: dict[int, int] = field(default_factory=dict)  # live id -> size
    order: list[int] = field(default_factory=list)  # live ids, for picking at random
    where: dict[int, int] = field(default_factory=dict)  # live id -> index in order
    free_ids: list[int] = field(default_factory=list)
    next_id: int = 0
    live_bytes: int = 0
    peak_bytes: int = 0
    last_freed: tuple[int, int] = (0, 0)  # (id, size) of the latest free

    def below(self, n: int) -> int:
        """A uniform integer in [0, n)."""
        return int(self.rng.random() * n)

    def pick(self) -> int:
        """A live id at random."""
        return self.order[self.below(len(self.order))]

    def _spend(self, ops_implied: int) -> None:
        if self.budget - len(self.sizes) < ops_implied:
            raise _Full
        self.budget -= 1

    def _set_size(self, block: int, size: int) -> None:
        self.live_bytes += size - self.sizes.get(block, 0)
        self.sizes[block] = size
        self.peak_bytes = max(self.peak_bytes, self.live_bytes)

    def alloc(self, size: int) -> int:
        self._spend(2)  # this op and the block's free
        block = self.free_ids.pop() if self.free_ids else self.next_id
        self.next_id = max(self.next_id, block + 1)
        self.where[block] = len(self.order)
        self.order.append(block)
        self._set_size(block, size)
        self.lines.append(f"a {block} {size}")
        return block

    def realloc(self, block: int, size: int) -> None:
        self._spend(1)
        self._set_size(block, size)
        self.lines.append(f"r {block} {size}")

    def free(self, block: int) -> None:
        self.budget -= 1
        size = self.sizes.pop(block)
        self.live_bytes -= size
        self.last_freed = (block, size)
        index = self.where.pop(block)
        last = self.order.pop()
        if last != block:
            self.order[index] = last
            self.where[last] = index
        self.free_ids.append(block)
        self.lines.append(f"f {block}")

    def finish(self) -> None:
        """Spend what is left of the budget: the frees of the live blocks, and
        when one op is still spare, a same-size realloc just before the last free."""
        for block in sorted(self.sizes):
            self.free(block)
        if self.budget == 1:
            block, size = self.last_freed
            self.lines.insert(len(self.lines) - 1, f"r {block} {size}")
            self.budget = 0


def _power_law(heap: _Heap, scale: float, alpha: float, cap: int) -> int:
    return min(cap, int(scale * heap.rng.paretovariate(alpha)))


def _churn(heap: _Heap, size: Callable[[], int], keep: float, grow: float = 0.0) -> None:
    """Steady-state churn: allocate with probability `keep` (else free a block
    at random); with probability `grow`, realloc a block to a new size."""
    while True:
        roll = heap.rng.random()
        if heap.order and roll < grow:
            block = heap.pick()
            heap.realloc(block, min(GROWN_CAP, heap.sizes[block] + size()))
        elif not heap.order or roll < grow + keep:
            heap.alloc(size())
        else:
            heap.free(heap.pick())


def _random(heap: _Heap) -> None:
    _churn(heap, lambda: 1 + heap.below(32768), keep=0.5)


def _binary(heap: _Heap) -> None:
    while True:
        pairs = 100 + heap.below(400)
        small = 16 * (1 + heap.below(4))
        large = 448 - small
        kept, freed = [], []
        for _ in range(pairs):
            kept.append(heap.alloc(small))
            freed.append(heap.alloc(large))
        for block in freed:
            heap.free(block)
        kept += [heap.alloc(large + 64) for _ in range(pairs)]
        for block in kept:
            heap.free(block)


def _coalescing(heap: _Heap) -> None:
    while True:
        first, second = 4000 + heap.below(200), 4000 + heap.below(200)
        a, b = heap.alloc(first), heap.alloc(second)
        heap.free(a)
        heap.free(b)
        heap.free(heap.alloc(first + second))


def _realloc(heap: _Heap) -> None:
    while True:
        block = heap.alloc(512)
        step = 64 * (1 + heap.below(4))
        previous = None
        for _ in range(100 + heap.below(400)):
            small = heap.alloc(128)
            if previous is not None:
                heap.free(previous)
            previous = small
            heap.realloc(block, heap.sizes[block] + step)
        heap.free(block)
        if previous is not None:
            heap.free(previous)


def _strings(heap: _Heap) -> None:
    _churn(heap, lambda: 1 + _power_law(heap, 8, 1.3, 1 << 16), keep=0.55)


def _structs(heap: _Heap) -> None:
    _churn(heap, lambda: 8 * _power_law(heap, 1, 1.2, 512), keep=0.55)


def _arrays(heap: _Heap) -> None:
    def size() -> int:
        element = 1 << heap.below(5)  # 1 .. 16 bytes
        return element * _power_law(heap, 4, 1.1, 1 << 16)

    _churn(heap, size, keep=0.5, grow=0.1)


KINDS: dict[str, Callable[[_Heap], None]] = {
    "random": _random,
    "binary": _binary,
    "coalescing": _coalescing,
    "realloc": _realloc,
    "strings": _strings,
    "structs": _structs,
    "arrays": _arrays,
}


def generate(kind: str, ops: int, seed: int) -> str:
    """The text of a `kind` trace of exactly `ops` ops from `seed`."""
    if kind not in KINDS:
        raise UsageError(f"unknown trace kind {kind!r}; known: {', '.join(KINDS)}")
    if not MIN_OPS <= ops <= MAX_OPS:
        raise UsageError(
            f"--ops must be from {MIN_OPS} (an allocation and its free) to {MAX_OPS:,}, not {ops}"
        )
    heap = _Heap(rng=random.Random(seed), budget=ops)
    try:
        KINDS[kind](heap)
    except _Full:
        heap.finish()
    header = classic_header(heap.next_id, len(heap.lines), heap.peak_bytes)
    return header + "".join(line + "\n" for line in heap.lines)
