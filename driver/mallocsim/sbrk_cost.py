"""The system calls a lab's memlib makes for the heap's growths, charged to the throughput.

The F20 and 2013-era CMU handouts' mem_sbrk passes every growth to the real sbrk as well ("in an
attempt to have similar semantics as a real allocator"), so under their drivers each growth is a
brk system call in the timed passes: a file that grows its heap by 64 bytes at a time pays one at
almost every malloc, and its throughput is a tenth of what the same code reaches on a memlib that
only moves a pointer (the Summer 2015 driver with and without that one call, `mdriver -f
amptjp.rep`: 7,058 Kops/s against 54,540). mallocsim's heap makes no system call (the timed passes
run in a sealed process that may not move its break), so the grade charges each growth of the
checked pass (TraceResult.growth_calls, mm_init's included, as those drivers time mm_init) what
the driver's kernel call costs:

  time          SECONDS_PER_CALL a growth, SECONDS_PER_NEW_PAGE more where the break reaches a
                page it had not reached (the kernel then extends the heap's mapping; within the
                page it only stores the new break);
  instructions  those seconds at the rate the lab's T_ref sets: T_ref's instructions an op (the
                counted reference's) for T_ref's seconds an op on the lab's own machines (the
                2013-era config.h's 13,000 Kops/s; F20's throughputs.txt 9,261). A second of calls
                then weighs against the counted T_ref what it weighs against the driver's, and
                the count stays the same on every run. Not at segfit's own rate (0.07 ns an
                instruction): code walking a big heap runs at several times that (one F20 file's
                syn-string-scaled at 0.49 ns), and its counted index fell to 73.4 against its
                driver's 97.5; nor in proportion to each trace's timed pass, which made the count
                move with the clock and left a fast file (0.08 ns an instruction, counted 2.5
                times as strictly as timed) at 77 against its driver's 97. At the lab's rate both
                are their drivers' (97.5, 97).

The seconds are one machine's (Debian 12, x86-64, a virtual machine with 2 cores, 2026-12-06): a
least-squares fit, over two runs of the 2015 handout's driver on wcyz666's mm.c (CHUNKSIZE 64
bytes), of each trace's time a pass less mallocsim's timed pass, against the calls and new pages
counted, on the 14 traces where it grows more than 100 times a pass (amptjp: 587, 488 to a new
page; boat: 11,012 and 178). Each trace's charged time is then its driver's to within 0.7-1.15x,
where without it amptjp's was 0.11x. docs/labs.md, "The memlibs' system calls", has the commands.

Guarantees: the charge is a pure function of the checked pass's counts (and, counted, of the
counted T_ref); nothing is charged for a lab whose memlib makes no system call (CS:APP's,
F22's), for a result the checked pass did not count (the system's malloc, an invalid trace), nor
to the reference (T_ref's scales were fitted to the drivers' reference figures as they stand).
"""

from __future__ import annotations

from collections.abc import Sequence

from mallocsim.labs import LabProfile
from mallocsim.results import TraceResult

SECONDS_PER_CALL = 0.17e-6  # a brk system call that moves the break within its page
SECONDS_PER_NEW_PAGE = 0.67e-6  # what one that reaches a new page costs more


def growth_seconds(result: TraceResult) -> float:
    """The seconds a pass of `result`'s trace spends in the system calls of the lab's memlib."""
    calls, new_pages = result.growth_calls or 0, result.growth_new_pages or 0
    return calls * SECONDS_PER_CALL + new_pages * SECONDS_PER_NEW_PAGE


def counted_rate(lab: LabProfile, reference: float | None) -> float | None:
    """The instructions a second of the memlib's calls counts as: T_ref's instructions an op
    (`reference`, the counted T_ref, in ops an instruction) for the seconds an op the lab's T_ref
    stands for on its own machines; None where either is unknown."""
    speed = lab.scoring.reference_throughput or lab.scoring.driver_reference_speed
    return speed / reference if speed and reference else None


def growth_charge(
    lab: LabProfile, result: TraceResult, measure: str, reference: float | None
) -> float:
    """What a pass of `result`'s trace pays for its memlib's system calls under `lab`'s driver,
    in `measure` ("time": seconds; "instructions": those seconds at the rate `reference`, the
    counted T_ref in ops an instruction, sets against the lab's T_ref in ops a second); 0 where
    the memlib makes none, or, counted, where T_ref is unknown."""
    if not lab.memlib_calls_sbrk or not result.valid:
        return 0.0
    seconds = growth_seconds(result)
    if measure == "time":
        return seconds
    rate = counted_rate(lab, reference)
    return seconds * rate if rate is not None else 0.0


def charged_ops_per_sec(lab: LabProfile, result: TraceResult) -> float | None:
    """A timed result's ops a second with its memlib's calls charged as `lab`'s driver pays them:
    the speed a grade's table shows (a threshold on the uncharged one passed a trace the grade
    showed under it: red-team pass 49); its own where it has no timed pass or pays nothing."""
    charge = growth_charge(lab, result, "time", None)
    if charge == 0.0 or result.seconds is None or result.seconds <= 0:
        return result.ops_per_sec
    return result.ops / (result.seconds + charge)


def growth_note(
    lab: LabProfile,
    results: Sequence[TraceResult],
    traces: set[str],
    measure: str = "time",
    reference: float | None = None,
) -> str | None:
    """A line on what the memlib's system calls cost the throughput traces (`traces`), when the
    lab's memlib makes them and any trace pays a tenth of a millisecond a pass or more; counted
    (`measure` "instructions", `reference` the counted T_ref in ops an instruction), also what
    they are counted as."""
    if not lab.memlib_calls_sbrk:
        return None
    paying = [r for r in results if r.valid and r.trace in traces and growth_seconds(r) >= 1e-4]
    if not paying:
        return None
    worst = max(paying, key=growth_seconds)
    rate = counted_rate(lab, reference) if measure == "instructions" else None
    counted = (
        f" (counted as {SECONDS_PER_CALL * rate:,.0f} and {SECONDS_PER_NEW_PAGE * rate:,.0f} "
        "instructions: T_ref's instructions an op for the seconds an op of the lab's T_ref)"
        if rate is not None
        else ""
    )
    return (
        f"the {lab.name} handout's mem_sbrk makes a brk system call for every growth of the heap, "
        f"as its driver times them: each pass is charged {SECONDS_PER_CALL * 1e6:.2f} us a growth "
        f"and {SECONDS_PER_NEW_PAGE * 1e6:.2f} us more for one reaching a new page{counted}, on "
        f"{len(paying)} trace{'s' if len(paying) != 1 else ''} (most: {worst.trace}, "
        f"{worst.growth_calls:,} growths a pass, {worst.growth_new_pages:,} to a new page, "
        f"{growth_seconds(worst) * 1e3:.2f} ms): growing the heap in larger steps costs fewer calls"
    )
