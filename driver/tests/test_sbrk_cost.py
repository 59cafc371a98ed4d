"""The brk system calls of the labs' memlibs that call the real sbrk, charged to a pass: which
labs' handouts make them, what each costs in both measures, and the line that says so."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mallocsim.config import for_lab
from mallocsim.labs import LABS
from mallocsim.results import TraceResult
from mallocsim.sbrk_cost import (
    SECONDS_PER_CALL,
    SECONDS_PER_NEW_PAGE,
    charged_ops_per_sec,
    growth_charge,
    growth_note,
)
from mallocsim.score import score

from .test_score import rules

# The handouts whose memlib.c passes every growth to sbrk: F20's (`!sparse && sbrk(incr)`) and
# the 2013-era ones, Peking University's editions included; not CS:APP's, nor the F22+ ones,
# whose mem_sbrk only moves a pointer, nor mallocsim's own lab.
CALLS_SBRK = {"cmu", "cmu-2015", "cmu-pku", "cmu-pku-2022", "cmu-pku-2025"}


def grown(trace: str, calls: int, new_pages: int, seconds: float | None = 1e-3) -> TraceResult:
    return TraceResult(
        allocator="mm.c",
        trace=trace,
        path=None,
        valid=True,
        error=None,
        ops=1000,
        weight=1,
        utilization=0.9,
        growth_calls=calls,
        growth_new_pages=new_pages,
        seconds=seconds,
    )


@pytest.mark.parametrize("lab", sorted(LABS))
def test_only_the_handouts_whose_memlib_calls_sbrk_charge_for_it(lab):
    charged = growth_charge(LABS[lab], grown("steps", 1000, 100), "time", None)
    assert (charged > 0) == (lab in CALLS_SBRK)


def test_a_growth_costs_a_call_and_one_to_a_new_page_more_weighed_as_the_labs_t_ref_weighs():
    lab = LABS["cmu-2015"]
    seconds = 1000 * SECONDS_PER_CALL + 100 * SECONDS_PER_NEW_PAGE
    assert growth_charge(lab, grown("steps", 1000, 100), "time", None) == pytest.approx(seconds)
    # Counted against a T_ref of 400 instructions an op, which stands for config.h's 13,000
    # Kops/s: a second is 13e6 ops of 400 instructions.
    counted = growth_charge(lab, grown("steps", 1000, 100), "instructions", 1 / 400)
    assert counted == pytest.approx(seconds * 13e6 * 400)
    # F20's T_ref is measured, and its handout's figure for its machines weighs the seconds.
    f20 = growth_charge(LABS["cmu"], grown("steps", 1000, 100), "instructions", 1 / 400)
    assert f20 == pytest.approx(seconds * 9261e3 * 400)
    assert growth_charge(lab, grown("steps", 1000, 100), "instructions", None) == 0.0
    # Within a page the kernel only stores the break: the new page is the dear part.
    assert SECONDS_PER_NEW_PAGE > SECONDS_PER_CALL > 0
    invalid = TraceResult("mm.c", "steps", None, False, "broken", 1000, 1, growth_calls=1000)
    assert growth_charge(lab, invalid, "time", None) == 0.0
    unmeasured = TraceResult("glibc", "steps", None, True, None, 1000, 1)  # no heap of ours
    assert growth_charge(lab, unmeasured, "time", None) == 0.0


@pytest.mark.parametrize("measure", ["time", "instructions"])
def test_the_charge_lowers_t_where_the_driver_pays_it_and_nowhere_else(measure):
    # A file growing its heap 64 bytes at a time (a public 2015 solution's CHUNKSIZE): 4,000
    # growths a pass, 1,000 to a new page, on a pass that takes 100 us, or 1e6 instructions, of
    # its own; T_ref 13,000 Kops/s timed (config.h's), 400 instructions an op counted.
    results = [grown("steps", 4000, 1000, 100e-6)]
    seconds = 4000 * SECONDS_PER_CALL + 1000 * SECONDS_PER_NEW_PAGE
    counted = measure == "instructions"
    own, reference = (1e6, 1 / 400) if counted else (100e-6, 13000e3)
    charge = seconds * 13000e3 * 400 if counted else seconds
    costs = {"steps": own} if counted else None
    for lab, paid in (("cmu-2015", charge), ("csapp", 0.0), ("cmu-2022", 0.0)):
        config = replace(for_lab(lab), throughput=measure)
        got = score(results, rules("steps"), config, reference, "configured", costs)
        assert got.per_trace[0].cost == pytest.approx(own + paid)
        assert got.throughput == pytest.approx(1000 / (own + paid))


def test_the_grade_says_what_the_calls_cost_and_where_they_cost_most():
    results = [grown("few", 20, 2), grown("many", 11_012, 178), grown("untimed", 90_000, 900)]
    note = growth_note(LABS["cmu-2015"], results, {"few", "many"})
    assert note is not None
    assert "brk system call for every growth" in note
    assert "on 1 trace (most: many, 11,012 growths a pass, 178 to a new page" in note
    assert "untimed" not in note  # a trace outside T costs T nothing
    assert "counted as" not in note
    # Counted against T_ref's 400 instructions an op at config.h's 13,000 Kops/s: a growth's
    # 0.17 us is 884 instructions, a new page's 0.67 us more 3,484.
    counted = growth_note(LABS["cmu-2015"], results, {"few", "many"}, "instructions", 1 / 400)
    assert counted is not None and "a new page (counted as 884 and 3,484 instructions" in counted
    assert growth_note(LABS["csapp"], results, {"few", "many"}) is None
    assert growth_note(LABS["cmu-2015"], [grown("few", 20, 2)], {"few"}) is None  # 4.7 us


@pytest.mark.parametrize("cost", [float("nan"), float("inf"), 0.0, -1.0])
def test_a_cost_that_is_no_measure_stays_none_whatever_the_growths(cost):
    # A trace marked T without a cost that measures leaves T unmeasured (red-team pass 16); a
    # charge added to a claim of 0 or less seconds would have made it one.
    results = [grown("a", 10, 2, 0.5), grown("b", 4000, 1000, cost)]
    got = score(results, rules("a", "b"), for_lab("cmu-2015"), 13000e3, "the lab's")
    assert got.throughput is None
    assert got.penalty is not None and got.penalty.startswith("T not measured: b had no cost")


def test_the_charged_speed_is_the_ops_over_the_timed_pass_and_its_charge():
    # What the pytest plugin's threshold holds a trace to: the grade's table's speed.
    lab = LABS["cmu-2015"]
    steps = grown("steps", 1000, 100)
    charge = 1000 * SECONDS_PER_CALL + 100 * SECONDS_PER_NEW_PAGE
    assert charged_ops_per_sec(lab, steps) == pytest.approx(1000 / (1e-3 + charge))
    # A lab whose memlib makes no call: the result's own figure, as measured.
    assert charged_ops_per_sec(LABS["csapp"], replace(steps, ops_per_sec=7.0)) == 7.0
    # No timed pass (or a claim of none), or no valid one: its own figure, None here.
    for unmeasured in (grown("steps", 1000, 100, None), grown("steps", 1000, 100, 0.0)):
        assert charged_ops_per_sec(lab, unmeasured) is None
    assert charged_ops_per_sec(lab, replace(steps, valid=False, ops_per_sec=5.0)) == 5.0
