"""The clock's check on an instruction count (clock_check.py): believed up to
TOLERANCE times what the timed passes confirm, scaled past it."""

from __future__ import annotations

import pytest

from mallocsim.clock_check import TOLERANCE, check_count, graded_counts

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
