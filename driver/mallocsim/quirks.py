"""Where a lab's own driver gives a wrong verdict, and the note that says so.

A grader that agrees with a lab's driver must not copy its bugs: mallocsim
stays right, and says where the driver would differ, so that a student who
runs the handout's mdriver is not left wondering. Each quirk a lab profile
names (labs.LabProfile.driver_quirks) is a function here of the trace and our
verdict, returning a finding or None. Where the driver's verdict turns on how it
fills blocks, the finding names that fill, and stands only if the trace, replayed
as the driver fills blocks (ReplayOptions.fill_limit, zero_block0), is valid: a
crash with a big block live, or after block 0's free, is a guess until then (an
unfinished CMU file crashed on its own header words, and its driver with it, lab
check run 24). The CS:APP classic mdriver's:
  csapp-realloc-char  it compares a realloc'd byte, read as a (signed) char, with
                      index & 0xFF: the first realloc of a live block whose id is
                      128 or more fails on every allocator;
  csapp-block0-zero   it fills block 0 with byte 0x00, what fresh memory holds, so
                      a realloc that leaves zeros where block 0's data was can pass there,
                      and so can an allocator that reads block 0's data as its own
                      (it crashes here, where that data is not zero);
  csapp-overlap-ends  it checks only a new block's two ends against the live
                      blocks, so a block that contains an older one is accepted;
  csapp-live-bytes    it checks a block's bytes only when the block is realloc'd,
                      so an allocator that keeps state in a live block's payload
                      (a counter at a fixed heap offset) passes a trace that
                      never reallocs that block.
The 2013-era CMU mdriver's (cmu-2015, and Peking University's editions):
  cmu2013-ignore-ranges  it skips its overlap check on a trace whose header's fourth
                      number (ignore_ranges) is 1, as most of that lab's traces say,
                      "assuming the overlap will be caught by writing random bits":
                      an overlapping block never written over again passes there.
The CMU F20 mdriver's:
  cmu-maxfill         it fills and checks only a block's first MAXFILL bytes (2048 in
                      config.h; 1024 in a 2020-21 variant), so data lost past them,
                      a realloc that copies too little of a big block, passes there, and
                      so does an allocator that follows a word of its own kept past them
                      in a live block (zero there, the driver's bytes here).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mallocsim.labs import CMU_F20, LabProfile
from mallocsim.out_of_memory import crash_past_limit
from mallocsim.results import CHECKED_PHASES, TraceResult
from mallocsim.trace import Trace


@dataclass(frozen=True)
class Finding:
    """Where (a trace's name, or file:line) and what the lab's driver would do there."""

    where: str
    what: str
    # How the driver fills blocks, when its verdict turns on that: (fill_limit, zero_block0) as
    # ReplayOptions takes them. The finding stands only if the trace replayed so is valid.
    fill: tuple[int, bool] | None = None


# Replays a trace as a driver fills blocks (fill_limit, zero_block0): whether it was valid.
ReplayAsDriver = Callable[[Trace, int, bool], bool]

# The CS:APP driver's fill where a verdict turns on it: block 0 zeros (CMU's is _MAXFILL_FILL).
_BLOCK0_ZERO_FILL = (0, True)


def _realloc_char(trace: Trace, result: TraceResult) -> Finding | None:
    live: set[int] = set()
    for index, (letter, ident, size, _count) in enumerate(trace.ops()):
        if letter == "r" and ident >= 128 and ident in live and size > 0:
            line = trace.line_of_op(index)
            return Finding(
                f"{trace.path}:{line}" if line else trace.name,
                f"the CS:APP driver would wrongly fail this realloc of id {ident} "
                "(it compares a signed char with index & 0xFF); mallocsim checks it correctly",
            )
        if letter in ("a", "c", "r") and (letter != "r" or size > 0):
            live.add(ident)
        elif letter == "f" or letter == "r":
            live.discard(ident)
    return None


def _block0_zero(trace: Trace, result: TraceResult) -> Finding | None:
    # Only where the byte found was 0x00, what that driver expects there: any other byte (the
    # allocator's own header, 0x50) it sees as well (lab check run 9).
    zero = result.fail_byte in (None, 0)  # None: a record from before the byte was kept
    if result.fail_kind == "realloc_lost_data" and result.fail_block == 0 and zero:
        return Finding(
            trace.name,
            "the CS:APP driver passes this trace: it fills block 0 with 0x00 bytes, the same as "
            "fresh memory, so it cannot see block 0's data lost (replayed with that fill, the "
            "trace is valid)",
            _BLOCK0_ZERO_FILL,
        )
    if result.fail_kind == "crash" and result.fail_op is not None:
        # At block 0's free or realloc, or later, once it was (what the allocator read of its
        # data then can crash a later op: lab check run 20's file crashed at a malloc).
        ops = list(itertools.islice(trace.ops(), result.fail_op + 1))
        letter, ident, _size, _count = ops[-1]
        when = (
            "crashed freeing or reallocating block 0"
            if ident == 0 and letter in ("r", "f")
            else "crashed after freeing or reallocating block 0"
            if any(i == 0 and kind in ("r", "f") for kind, i, _, _ in ops[:-1])
            else None
        )
        if when is not None:
            return Finding(
                trace.name,
                "the CS:APP driver passes this trace: it fills block 0 with 0x00 bytes, the same "
                "as fresh memory, where this allocator reads its own bookkeeping from block 0's "
                f"data (it {when}; replayed with that fill, the trace is valid); mallocsim fills "
                "every block with its own bytes",
                _BLOCK0_ZERO_FILL,
            )
    return None


def _overlap_ends(trace: Trace, result: TraceResult) -> Finding | None:
    if result.fail_kind == "overlap":
        return Finding(
            trace.name,
            "the CS:APP driver checks only a new block's two ends for overlap, so it may accept "
            "this block; mallocsim checks every byte",
        )
    return None


def _ignore_ranges(trace: Trace, result: TraceResult) -> Finding | None:
    if result.fail_kind == "overlap" and trace.info.header[3] == 1:
        return Finding(
            trace.name,
            "the 2013-era CMU driver skips its overlap check on a trace whose header's fourth "
            "number (ignore_ranges) is 1, as this one's is, so it may accept this block; mallocsim "
            "checks every block",
        )
    return None


def _live_bytes(trace: Trace, result: TraceResult) -> Finding | None:
    if result.fail_kind == "overwritten":
        return Finding(
            trace.name,
            "the CS:APP driver checks a block's bytes only when it is realloc'd, so it may pass "
            "this trace; mallocsim checks every live block's",
        )
    return None


# config.h's MAXFILL: the bytes of a block the F20 driver fills and checks.
CMU_MAXFILL = 2048
_MAXFILL_FILL = (CMU_MAXFILL, False)


def _largest_live(trace: Trace, before: int) -> int:
    """The largest block live when op `before` ran (its size as asked)."""
    live: dict[int, int] = {}
    for letter, ident, size, count in itertools.islice(trace.ops(), before):
        if letter == "f":
            live.pop(ident, None)
        else:
            live[ident] = size * count if letter == "c" else size
    return max(live.values(), default=0)


def _maxfill(trace: Trace, result: TraceResult) -> Finding | None:
    lost = result.fail_kind in ("realloc_lost_data", "overwritten")
    if lost and result.fail_offset is not None and result.fail_offset >= CMU_MAXFILL:
        return Finding(
            trace.name,
            f"the CMU driver passes this trace: it fills and checks only a block's first "
            f"{CMU_MAXFILL} bytes (config.h's MAXFILL), and the data was lost at byte "
            f"{result.fail_offset} (replayed with that fill, the trace is valid); mallocsim checks "
            "every byte",
            _MAXFILL_FILL,
        )
    # A crash in a checked pass (the driver's fill is there) with a block past MAXFILL live: an
    # unfinished 2024 file followed a word it kept in a 33,856-byte block, zero under its driver,
    # which passed the trace (78.3; the same driver filling every byte crashes too), and got a
    # bare SIGSEGV here (lab check runs 9 and 13).
    # Not when the blocks live then need more than the driver's heap: mem_sbrk failed there too,
    # and the driver failed the trace, "Ran out of memory" (lab check run 15).
    checked = result.fail_phase in CHECKED_PHASES
    if result.fail_kind == "crash" and checked and result.fail_op is not None:
        largest = _largest_live(trace, result.fail_op)
        if largest > CMU_MAXFILL and crash_past_limit(trace, result, CMU_F20.heap_limit) is None:
            return Finding(
                trace.name,
                "the CMU driver passes this trace: it fills only a block's first "
                f"{CMU_MAXFILL} bytes (config.h's MAXFILL), leaving the rest as the heap has it, "
                f"and a block of {largest} bytes was live when the allocator crashed (replayed "
                "with that fill, the trace is valid: it reads a word of its own kept in a live "
                "block); mallocsim fills every byte",
                _MAXFILL_FILL,
            )
    return None


QUIRKS: dict[str, Callable[[Trace, TraceResult], Finding | None]] = {
    "csapp-realloc-char": _realloc_char,
    "csapp-block0-zero": _block0_zero,
    "csapp-overlap-ends": _overlap_ends,
    "csapp-live-bytes": _live_bytes,
    "cmu2013-ignore-ranges": _ignore_ranges,
    "cmu-maxfill": _maxfill,
}


# C library functions the handouts' mdriver (mdriver.c, its memlib, fcyc and clock) calls. The
# handouts link mm.o into it, so a definition of one in mm.c serves the whole driver: a malloc
# that calls mm_malloc, or a byte-loop memset gcc makes a call to memset, crashed the CS:APP driver,
# and a printf that prints nothing hid its results, where mallocsim, keeping them mm.c's own
# (-Bsymbolic), graded 89 (lab check run 15).
DRIVER_CALLS = frozenset(
    {
        "malloc", "calloc", "realloc", "free", "memset", "memcpy", "memmove", "memcmp",
        "printf", "fprintf", "sprintf", "snprintf", "vfprintf", "puts", "fputs", "putchar",
        "fflush", "fopen", "fclose", "fscanf", "exit", "abort", "atoi", "strtol", "strcmp",
        "strncmp", "strcpy", "strncpy", "strlen", "getopt", "gettimeofday", "clock_gettime",
    }
)  # fmt: skip


def driver_calls_note(defined: Iterable[str]) -> str | None:
    """A line when a file defines a function its lab's driver calls (DRIVER_CALLS), else None."""
    found = sorted(DRIVER_CALLS.intersection(defined))
    if not found:
        return None
    return (
        f"mm.c defines {', '.join(found)}, which the lab's own driver calls too: linked into it, "
        "as the handouts link mm.o, the file's would serve the driver itself (a malloc that calls "
        "mm_malloc, or a memset that calls itself, crashes it); mallocsim keeps them mm.c's own"
    )


def driver_notes(
    lab: LabProfile,
    graded: Iterable[tuple[Trace, TraceResult]],
    replay_as_driver: ReplayAsDriver,
) -> list[str]:
    """The lines saying where the lab's own driver would judge these traces differently: one a
    finding, the places it holds at named together ("amptjp-bal, cccp-bal: ..."). A finding that
    names a fill holds only where replay_as_driver finds the trace valid with it."""
    places: dict[str, list[str]] = {}
    for trace, result in graded:
        for name in lab.driver_quirks:
            found = QUIRKS[name](trace, result)
            if found is None:
                continue
            if found.fill is not None and not replay_as_driver(trace, *found.fill):
                continue
            places.setdefault(found.what, []).append(found.where)
    return [f"{', '.join(where)}: {what}" for what, where in places.items()]
