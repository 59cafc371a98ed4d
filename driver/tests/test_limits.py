"""Time limits that fit the work (limits.py): a trace's limit from the
reference allocator's time on it, with a floor; a hung op stopped within
seconds wherever it is, while a slow allocator that keeps going is not; a
fixed --timeout still wins."""

from __future__ import annotations

import time

import pytest

from mallocsim import limits
from mallocsim.allocators import library_for, resolve
from mallocsim.config import for_lab
from mallocsim.grading import plan, replay_options, time_limits
from mallocsim.isolate import ASLEEP_SECONDS, replay_isolated
from mallocsim.limits import (
    CHECKED_PASSES,
    LIMIT_FLOOR,
    ROUND_TRIP_SECONDS,
    STALL_SECONDS,
    stall_limit,
    trace_limits,
)
from mallocsim.replay import ReplayOptions
from mallocsim.trace import Trace, load_trace

from .conftest import fixture_allocator, fixture_variant

TRACE = "".join(f"a {i} {16 + i}\n" for i in range(50)) + "".join(f"f {i}\n" for i in range(50))


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def quick_reference(monkeypatch):
    """The reference takes a millisecond on every trace: the floor decides, whatever the load."""
    monkeypatch.setattr(
        limits, "reference_seconds", lambda traces, *_: {t.name: 0.001 for t in traces}
    )


def _round_trips(trace: Trace) -> float:
    """What a limit allows for grading the trace from outside the allocator's process."""
    return CHECKED_PASSES * trace.num_ops * ROUND_TRIP_SECONDS


def test_a_small_traces_limit_is_the_floor_and_its_round_trips(write_trace, quick_reference):
    trace = load_trace(write_trace("small", TRACE))
    found = trace_limits([trace], resolve("glibc"), ReplayOptions())
    assert found == {"small": pytest.approx(LIMIT_FLOOR + _round_trips(trace))}


def test_a_big_trace_is_allowed_its_round_trips_between_grader_and_agent(write_trace):
    ops = 100_000
    big = load_trace(write_trace("big", "".join(f"a {i} 8\nf {i}\n" for i in range(ops // 2))))
    limit = trace_limits([big], resolve("glibc"), ReplayOptions())["big"]
    assert limit >= LIMIT_FLOOR + CHECKED_PASSES * ops * ROUND_TRIP_SECONDS


def test_heap_checks_after_every_op_get_ten_times_longer(write_trace, quick_reference):
    trace = load_trace(write_trace("small", TRACE))
    checked = trace_limits([trace], resolve("glibc"), ReplayOptions(check_heap=True))
    assert checked["small"] == pytest.approx(10 * LIMIT_FLOOR + _round_trips(trace))
    assert stall_limit(ReplayOptions(check_heap=True)) == 10 * STALL_SECONDS


def test_without_a_fixed_limit_a_grade_takes_the_references_and_stops_hung_ops(
    write_trace, quick_reference
):
    config = for_lab("mallocsim")
    graded = plan(config, [str(write_trace("small", TRACE))])
    options = replay_options(config, False)
    found, stall = time_limits(graded.traces, config, options)
    assert found == {"small": pytest.approx(LIMIT_FLOOR + _round_trips(graded.traces[0]))}
    assert stall == STALL_SECONDS
    assert time_limits(graded.traces, config, options, 30.0) == ({"small": 30.0}, None)


def test_a_hung_op_is_stopped_within_seconds_and_named(write_trace):
    trace = load_trace(write_trace("small", TRACE))
    spec = resolve(str(fixture_allocator("hang")), "classic")
    library_for(spec)  # built first: only the replay is timed (a build takes seconds under load)
    start = time.monotonic()
    result = replay_isolated(trace, spec, ReplayOptions(timing=False), 60.0, STALL_SECONDS)
    assert time.monotonic() - start < STALL_SECONDS + 3  # not the minute
    assert result.fail_kind == "timeout" and "hung: stopped at op" in (result.error or "")


def test_an_allocator_asleep_on_its_own_lock_is_stopped_within_seconds_and_named(
    write_trace, tmp_path
):
    source = fixture_variant("hang", "#define HANG_ASLEEP 1\n", tmp_path / "mm.c")
    trace = load_trace(write_trace("small", TRACE))
    spec = resolve(str(source), "classic")
    library_for(spec)  # built first: only the replay is timed
    start = time.monotonic()
    result = replay_isolated(trace, spec, ReplayOptions(timing=False), 60.0, STALL_SECONDS)
    assert time.monotonic() - start < ASLEEP_SECONDS + 5  # not STALL_WALL_FLOOR, nor the minute
    assert result.fail_kind == "timeout"
    assert "hung: stopped at op" in (result.error or "") and "asleep for" in (result.error or "")


def test_a_slow_allocator_that_keeps_going_is_not_taken_as_hung(write_trace):
    # implicit:best scans every free block: slow, but every op returns.
    many = "".join(f"a {i} {8 + i % 64}\n" for i in range(3000))
    many += "".join(f"f {i}\n" for i in range(0, 3000, 2))
    many += "".join(f"a {3000 + i} {16 + i % 32}\n" for i in range(3000))
    trace = load_trace(write_trace("many", many))
    result = replay_isolated(trace, resolve("implicit:best"), ReplayOptions(), 60.0, 0.2)
    assert result.valid, result.error


def test_replay_without_a_timeout_stops_a_hanging_allocator_in_seconds(cli, write_trace):
    start = time.monotonic()
    run = cli("replay", "-a", fixture_allocator("hang"), "--dialect", "classic",
              "--no-timing", write_trace("small", TRACE))  # fmt: skip
    assert run.status == 1 and "hung: stopped at op" in run.said
    assert time.monotonic() - start < 15  # the floor and the stall, not 120 s


def test_a_trace_whose_timed_passes_run_out_of_time_stays_valid_timed_by_its_checked_passes(
    cli, write_trace, tmp_path
):
    # Checked in milliseconds, then 0.05 s a malloc or more: a timed pass needs seconds.
    trace = write_trace("small", TRACE)
    saved = tmp_path / "grade.json"
    run = cli("grade", "--wide", "--dialect", "classic", "--throughput", "time",
              "--timeout", "1", "--json", saved,
              fixture_allocator("slower_later"), trace)  # fmt: skip
    assert run.status == 0, run.out + run.err
    said = "small: the timed passes ran past the trace's time limit (1 s of CPU time)"
    assert said in run.said
    (result,) = run.json(saved)["grade"]["results"]
    assert result["valid"] and result["utilization"] > 0
    assert result["timing_cut"] == 1 and result["passes"] == 0
    by = {"cpu": "checked_cpu_seconds", "wall": "checked_seconds"}[result["timing_cut_clock"]]
    assert result["seconds"] == result[by]


def test_a_replay_report_lists_a_trace_whose_timed_passes_ran_out_of_time(cli, write_trace):
    trace = write_trace("small", TRACE)
    run = cli("replay", "--dialect", "classic", "--timeout", "1",
              "-a", fixture_allocator("slower_later"), trace)  # fmt: skip
    assert run.status == 0, run.out + run.err
    heading = run.out.index("Timed passes out of time:")
    assert "small: the timed passes ran past the trace's time limit" in run.out[heading:]


def test_an_op_hung_in_the_timed_passes_still_fails_its_trace(write_trace, tmp_path):
    source = fixture_variant("slower_later", "#define SLOW_STEPS (1UL << 40)\n", tmp_path / "mm.c")
    trace = load_trace(write_trace("small", TRACE))
    result = replay_isolated(trace, resolve(str(source), "classic"), ReplayOptions(), 60.0, 0.25)
    assert not result.valid and result.fail_kind == "timeout"
    assert result.fail_phase == "timed" and "hung: stopped at op" in (result.error or "")
