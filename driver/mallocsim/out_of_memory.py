"""Out of memory as an outcome of its own: an allocator that returns NULL for
blocks the machine cannot hold has not broken, it has met the machine.

The rule, one for every allocator, decided from the trace alone: the outcome
is "out of memory" (fail_kind OUT_OF_MEMORY, shown as `oom`) when the
allocator returned NULL (the engine's "null_return") and the blocks live
right then, counted at their requested sizes (the request's own included, a
realloc's old block not), need more bytes than the memory the allocator may
have. Anything less stays a failure: the machine could have held them.

That memory is the machine's RAM plus its swap (MemTotal + SwapTotal), not
what is free at the moment: Linux's default overcommit (heuristic, mode 0)
refuses exactly a mapping larger than RAM + swap, so no allocator can get
such a block on this machine, whereas "free memory" moves with the load and
would make a verdict depend on what else was running. Blocks that fit in
RAM + swap but not in what was free then stay failures: rare, and a
re-run tells them apart.

On our heap, a lab's heap limit (CS:APP 20 MB, CMU 100 MB) is the lab's own
rule: its driver fails a trace whose mm_malloc returns NULL, and so does
mallocsim there (grading never changes here); only without a heap limit
(mallocsim's own lab) is the machine the limit. The production references
(glibc, jemalloc, mimalloc, tcmalloc) run on the machine's memory under any
lab.

An out-of-memory result stays invalid (valid is False: nothing was
measured), so a saved file reads the same everywhere; the commands that
compare allocators (replay, compare, bench) treat it as not a failure: it
does not change their exit status and it is left out of their means, with a
footnote.
"""

from __future__ import annotations

import os
from dataclasses import replace
from functools import cache

from mallocsim._native import lib
from mallocsim.numbers import size
from mallocsim.results import TraceResult
from mallocsim.trace import Trace

OUT_OF_MEMORY = "out_of_memory"  # TraceResult.fail_kind; trace_outcome shows it as "oom"
NULL_RETURN = "null_return"  # the engine's kind for an allocator's NULL
MEMINFO = "/proc/meminfo"


def is_out_of_memory(result: TraceResult) -> bool:
    """Whether a result is the outcome "out of memory" (see the module's docstring)."""
    return result.fail_kind == OUT_OF_MEMORY


@cache
def machine_memory() -> int:
    """Bytes: this machine's RAM plus its swap (MemTotal + SwapTotal of
    /proc/meminfo; the RAM alone, from sysconf, where there is no such file)."""
    fields: dict[str, int] = {}
    try:
        with open(MEMINFO, encoding="ascii", errors="replace") as meminfo:
            for line in meminfo:
                name, _, rest = line.partition(":")
                words = rest.split()
                if words and words[0].isdigit():
                    fields[name] = int(words[0]) * 1024  # the file says kB: KiB
    except OSError:
        pass
    if "MemTotal" in fields:
        return fields["MemTotal"] + fields.get("SwapTotal", 0)
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def memory_limit(on_our_heap: bool, heap_limit: int | None) -> int | None:
    """Bytes an allocator may have: the machine's for a reference (or glibc
    in-process), and for our heap when no lab limits it; None when a lab's
    heap limit applies, whose rule is that a NULL fails the trace."""
    if on_our_heap and heap_limit is not None:
        return None
    return machine_memory()


def needed_at(trace: Trace, index: int) -> int:
    """Bytes: the blocks live right before op `index`, at their requested
    sizes, with the block that op asks for in place of its id's old one (a
    free asks for none). One pass over the ops before it; only a NULL answer
    pays for it."""
    ops = trace.native.ops
    live = [0] * trace.num_ids
    total = 0
    for position in range(min(index + 1, trace.num_ops)):
        op = ops[position]
        if op.id == lib.MS_ID_NULL:
            continue
        if op.kind == lib.MS_OP_FREE:
            block = 0
        elif op.kind == lib.MS_OP_CALLOC:
            block = op.count * op.size
        else:
            block = op.size
        total += block - live[op.id]
        live[op.id] = block
    return total


def judged(result: TraceResult, trace: Trace, limit: int | None) -> TraceResult:
    """`result` as the outcome "out of memory" when it is a NULL for blocks
    that need more than `limit` bytes (from memory_limit; None: never), with
    why in its error; otherwise `result` unchanged."""
    if limit is None or result.fail_kind != NULL_RETURN or result.fail_op is None:
        return result
    needed = needed_at(trace, result.fail_op)
    if needed <= limit:
        return result
    why = (
        f"out of memory: the blocks live then need {size(needed)}, more than the "
        f"{size(limit)} this machine has (RAM + swap)"
    )
    return replace(result, fail_kind=OUT_OF_MEMORY, error=f"{result.error}: {why}")


def crash_past_limit(trace: Trace, result: TraceResult, heap_limit: int | None) -> int | None:
    """The bytes the blocks live at a crash need, when more than `heap_limit` (None: no limit),
    else None: past that limit mem_sbrk returns (void *)-1, which an allocator that goes on with
    it crashes on (the CMU drivers say "Ran out of memory" and fail the trace)."""
    if heap_limit is None or result.fail_kind != "crash" or result.fail_op is None:
        return None
    needed = needed_at(trace, result.fail_op)
    return needed if needed > heap_limit else None


def heap_limit_note(trace: Trace, result: TraceResult, heap_limit: int | None) -> str | None:
    """Where a crash came, when the blocks live then needed more than the lab's heap
    (crash_past_limit). The F22 driver says "Ran out of memory" there; the grade said only
    "crashed with SIGSEGV" (lab check run 15). Said as what the heap allows, not as what
    happened: a file that crashed on a big request before asking mem_sbrk was told mem_sbrk had
    refused (red-team pass 26)."""
    needed = crash_past_limit(trace, result, heap_limit)
    if heap_limit is None or needed is None:
        return None
    return (
        f"{trace.name}: the blocks live when the allocator crashed need {size(needed)}, more than "
        f"the lab's {size(heap_limit)} heap, past which mem_sbrk returns (void *)-1 (does "
        "the allocator check for it?)"
    )
