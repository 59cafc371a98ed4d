"""The clock's check on an instruction count (clock_check.py): believed up to
TOLERANCE times what the timed passes confirm, scaled past it."""

from __future__ import annotations

import time

import pytest

from mallocsim import grading
from mallocsim.cache import cache_root
from mallocsim.clock_check import (
    CLOCK_TIMING_SECONDS,
    TOLERANCE,
    check_count,
    graded_counts,
    placed_otherwise,
)
from mallocsim.config import for_lab
from mallocsim.trace import parse_trace_text

REFERENCE_COUNTS = {"a": 1000.0, "b": 3000.0}
REFERENCE_SECONDS = {"a": 1e-6, "b": 3e-6}  # 1 ns an instruction


def test_a_count_the_clock_confirms_is_graded_as_counted():
    check = check_count({"a": 500.0, "b": 500.0}, {"a": 2e-6, "b": 2e-6}, REFERENCE_COUNTS,
                        REFERENCE_SECONDS)  # fmt: skip
    assert check is not None and check.ratio == pytest.approx(4.0) and check.traces == 2
    assert check.scale == 1.0 and check.note() is None
    assert graded_counts({"a": 500.0}, check.scale) == {"a": 500.0}


def test_a_count_past_the_tolerance_is_scaled_to_what_the_clock_allows():
    # 10 instructions counted for a microsecond: 100 ns each, 100 times the reference's.
    check = check_count({"a": 10.0}, {"a": 1e-6}, REFERENCE_COUNTS, REFERENCE_SECONDS)
    assert check is not None and check.ratio == pytest.approx(100.0)
    assert check.scale == pytest.approx(100.0 / TOLERANCE)
    assert graded_counts({"a": 10.0}, check.scale)["a"] == pytest.approx(1000.0 / TOLERANCE)
    note = check.note()
    assert note is not None and "not confirmed by the clock" in note and "100.0 times" in note


def test_the_ratio_is_over_all_traces_so_one_forged_trace_counts_by_its_time():
    # b hides its work (100 instructions for 100 us); a is honest and short.
    check = check_count({"a": 1000.0, "b": 100.0}, {"a": 1e-6, "b": 1e-4}, REFERENCE_COUNTS,
                        REFERENCE_SECONDS)  # fmt: skip
    assert check is not None and check.ratio == pytest.approx((101e-6 / 1100) / 1e-9)
    assert check.scale > 1.0


@pytest.mark.parametrize(
    "counts, seconds, reference_counts, reference_seconds",
    [
        ({}, {}, REFERENCE_COUNTS, REFERENCE_SECONDS),  # nothing counted
        ({"a": 10.0}, {}, REFERENCE_COUNTS, REFERENCE_SECONDS),  # not timed (invalid)
        ({"a": 10.0}, {"a": 1e-6}, {}, REFERENCE_SECONDS),  # the reference not counted
        ({"a": 10.0}, {"a": 1e-6}, REFERENCE_COUNTS, {"a": 0.0}),  # nor timed
        ({"a": 0.0}, {"a": 1e-6}, REFERENCE_COUNTS, REFERENCE_SECONDS),  # a zero count
        ({"c": 10.0}, {"c": 1e-6}, REFERENCE_COUNTS, REFERENCE_SECONDS),  # no trace in common
    ],
)
def test_no_check_without_a_trace_measured_all_four_ways(
    counts, seconds, reference_counts, reference_seconds
):
    assert check_count(counts, seconds, reference_counts, reference_seconds) is None


@pytest.fixture
def timed_reference(monkeypatch, tmp_path):
    """grading._reference_clock with the reference's timing replaced by a counter:
    (check, how many times it timed)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    timings = []

    def timing(traces, config, measure, budget, every=True, word_bits=64):
        timings.append(measure)
        return {"t": 1e-6}, "timed in this run"

    monkeypatch.setattr(grading, "reference_costs", timing)
    trace = parse_trace_text("a 0 16\nf 0\n", "t")
    config = for_lab("csapp")
    return (lambda: grading._reference_clock([trace], config, 60.0)), timings


def test_the_references_timing_is_shared_by_the_grades_of_the_next_minutes(
    timed_reference, monkeypatch
):
    check, timings = timed_reference
    assert check() == ({"t": 1e-6}, "timed in this run")
    now = time.time()
    monkeypatch.setattr(grading.time, "time", lambda: now + CLOCK_TIMING_SECONDS - 1)
    assert check()[0] == {"t": 1e-6} and len(timings) == 1  # read, not timed again
    monkeypatch.setattr(grading.time, "time", lambda: now + CLOCK_TIMING_SECONDS + 1)
    check()
    assert len(timings) == 2  # too old: timed again


@pytest.mark.parametrize("damage", ["[]", '{"timed_at": "now", "seconds": {}}', "{"])
def test_a_damaged_timing_of_the_reference_is_timed_again(timed_reference, damage):
    check, timings = timed_reference
    check()
    for entry in (cache_root() / "reference-clock").glob("*.json"):
        entry.write_text(damage)
    assert check() == ({"t": 1e-6}, "timed in this run") and len(timings) == 2


def test_a_count_about_to_be_scaled_is_checked_against_glibc_timed_again(monkeypatch):
    # glibc's timing is kept 5 minutes; taken idle, it failed the check of honest files timed
    # beside a classmate's busy count (their counts graded 11 times higher, red-team pass 21).
    # One about to be scaled is checked again against glibc timed now, and the lower ratio stands.
    from mallocsim.clock_check import ClockCheck

    asked = []

    def check(*args, fresh=False, tolerance=TOLERANCE):
        asked.append(fresh)
        return ClockCheck(3.0 if fresh else 40.0, 1, tolerance), ""

    monkeypatch.setattr(grading, "clock_check", check)
    notes: list[str] = []
    scale, checked = grading._clock_scale({"t": 1.0}, [], [], for_lab("csapp"), 10.0, notes)
    assert (scale, checked, asked, notes) == (1.0, True, [False, True], [])


def test_a_count_of_other_code_is_believed_only_at_the_references_time_per_instruction():
    check = check_count({"a": 10.0}, {"a": 3.0}, {"a": 10.0}, {"a": 1.0}, tolerance=1.0)
    assert check is not None and check.scale == pytest.approx(3.0)
    assert "at most 1 is believed" in (check.note() or "")


def test_a_counted_heap_other_than_the_checked_passes_it_stands_for_is_named():
    assert placed_otherwise({"a": 4096, "b": 8192}, {"a": 4096, "b": 8192}) is None
    assert placed_otherwise({"a": 4096}, {}) is None  # not checked (invalid): nothing to hold
    said = placed_otherwise({"a": 4096, "b": 9000}, {"a": 4096, "b": 8192})
    assert said is not None and said.startswith("b: the counted pass's heap reached 9,000 bytes")
    assert "the checked pass's 8,192" in said
