"""The clock's check on an instruction count: a count made inside the allocator's
process is believed only as far as time measured from outside it confirms.

valgrind counts in the process that runs the student's code, and that code can hide
work from it: code made at run time that asks valgrind to run a function on the real
CPU, uncounted; a different behaviour in the program valgrind counts than in the
checked one; a forged summary (docs/sandbox.md). The timed passes are measured from
outside (the agent's CPU clock, read by the grader), on the same traces. So a grade by
instructions also times the allocator, and counts and times CLOCK_REFERENCE (glibc,
whatever the lab's T_ref: the tolerance is calibrated against it), and compares their
seconds per counted instruction: the clock's view of how much of the work was counted.

Honest allocators, whose instructions cost more or less time by their cache misses and
dependency chains, took 0.59 to 3.2 times glibc's seconds per instruction (`make
bench-clock`: segfit 0.59 and 0.68, an explicit list 1.60 and 2.86, an implicit list
3.13 and 1.50, on the CS:APP and the CMU traces; three students' solutions 0.97-2.78,
docs/sandbox.md). glibc is counted warm and timed warm, each in a process that holds
nothing else (instructions.pass_instructions, system_timing), so its figure is the
same whatever ran before it. Work a count does not see shows as time it does not
explain: a bump allocator that ran 4,000 steps a malloc uncounted came out at 316,
the same code counted at 5.9.

A different behaviour where it is counted mostly places blocks otherwise: a count
whose pass's heap high-water mark is none of the checked passes' (placed_otherwise) is
believed only up to PLACED_OTHERWISE_TOLERANCE. Any other count is believed up to
TOLERANCE times what the clock confirms. Past that the
allocator's instruction counts are scaled up (by ratio / TOLERANCE), so that its
throughput is what TOLERANCE allows; the grade says so. An honest grade is unchanged
and stays the same on every run; a forgery gains at most TOLERANCE over its own honest
ratio, not whatever it claims. (A CPU's own instruction counter, read from outside,
would close this for good; this machine's virtual CPU has none.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

CLOCK_REFERENCE = "glibc"  # the allocator whose seconds per instruction the check compares with
TOLERANCE = 12.0  # the allocator's seconds per instruction over CLOCK_REFERENCE's, believed
# ... of a count whose pass placed its blocks otherwise than the checked passes (its heap's
# high-water mark another): the code counted was not the code checked, and the count is believed
# only as far as CLOCK_REFERENCE's own time per instruction explains the timed passes.
PLACED_OTHERWISE_TOLERANCE = 1.0
# Each trace is timed this long at least, both allocators (not the lab's 0.05 s: the check needs
# a ratio within a band 25 times wide, and a class of 300 paid 1.7 s a grade for the longer one).
CHECK_MIN_SECONDS = 0.01
# CLOCK_REFERENCE's times are kept this long (seconds) and shared by the grades made meanwhile.
CLOCK_TIMING_SECONDS = 300.0


@dataclass(frozen=True)
class ClockCheck:
    """What the clock said of a count."""

    ratio: float  # the allocator's seconds per counted instruction over CLOCK_REFERENCE's
    traces: int  # the traces compared (counted and timed for both)
    tolerance: float = TOLERANCE  # the ratio believed

    @property
    def scale(self) -> float:
        """What the allocator's instruction counts are multiplied by (1: confirmed)."""
        return max(1.0, self.ratio / self.tolerance)

    def note(self) -> str | None:
        """One line for the grade when the count was not confirmed, else None."""
        if self.scale == 1.0:
            return None
        return (
            f"instruction count not confirmed by the clock: per instruction counted, the "
            f"allocator took {self.ratio:.1f} times {CLOCK_REFERENCE}'s time "
            f"({self.traces} trace{'s' if self.traces != 1 else ''}, timed outside its process; "
            f"at most {self.tolerance:g} is "
            f"believed), so its counts are graded {self.scale:.1f} times higher"
        )


def check_count(
    counts: Mapping[str, float],
    seconds: Mapping[str, float],
    reference_counts: Mapping[str, float],
    reference_seconds: Mapping[str, float],
    tolerance: float = TOLERANCE,
) -> ClockCheck | None:
    """The clock's check over the traces measured all four ways (counts and seconds,
    the allocator's and the reference's, by trace name), believing `tolerance`; None
    when there is none."""
    both = [
        name
        for name, count in counts.items()
        if count > 0
        and seconds.get(name, 0.0) > 0
        and reference_counts.get(name, 0.0) > 0
        and reference_seconds.get(name, 0.0) > 0
    ]
    if not both:
        return None
    mine = sum(seconds[name] for name in both) / sum(counts[name] for name in both)
    theirs = sum(reference_seconds[name] for name in both) / sum(
        reference_counts[name] for name in both
    )
    return ClockCheck(mine / theirs, len(both), tolerance)


def placed_otherwise(heaps: Mapping[str, int], measured: Mapping[str, int]) -> str | None:
    """A line on the first trace whose counted pass's heap high-water mark (`heaps`) is not
    the heap of the checked pass it stands for (`measured`, both by trace name), else None:
    code that tells where it is counted (the program's name, valgrind's CPU) and runs
    another policy there than where it is checked and timed."""
    for name, heap in heaps.items():
        checked = measured.get(name)
        if checked and heap != checked:
            return (
                f"{name}: the counted pass's heap reached {heap:,} bytes, the checked pass's "
                f"{checked:,}: the code counted did not place its blocks as the code checked, "
                f"and its count is believed only as far as {CLOCK_REFERENCE}'s time per "
                "instruction explains its timed passes"
            )
    return None


def graded_counts(counts: Mapping[str, float], scale: float) -> dict[str, float]:
    """The counts a grade uses: as counted, multiplied by a check's scale."""
    return {name: count * scale for name, count in counts.items()}
