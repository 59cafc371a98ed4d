"""A child's time limit (isolate.py): CPU time, its agent's included, so that a loaded
machine slows a trace but does not fail it; wall time bounded at WALL_MULTIPLE times it."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace

from mallocsim import isolate, replay
from mallocsim.trace import parse_trace_text


def _spin(words: object) -> dict:
    while True:
        pass


def test_time_a_child_spends_not_running_does_not_count_against_its_limit():
    started = time.monotonic()
    outcome = isolate.run_forked(lambda words: time.sleep(0.6) or {"done": 1}, timeout=0.3)
    assert outcome.payload == {"done": 1} and not outcome.timed_out
    assert time.monotonic() - started >= 0.6


def test_a_child_that_spins_is_stopped_at_its_cpu_limit():
    started = time.monotonic()
    outcome = isolate.run_forked(_spin, timeout=0.3)
    assert outcome.timed_out and not outcome.idle and outcome.payload is None
    assert time.monotonic() - started < 0.3 * isolate.WALL_MULTIPLE
    said = isolate.death(outcome, 0.3, "op 1")
    assert said == "did not finish within 0.3 s of CPU time: stopped at op 1"


def _burn(seconds: float) -> None:
    until = time.process_time() + seconds
    while time.process_time() < until:
        pass


def _checked_then_timed(shared: object, provisional: bool = True) -> dict:
    """0.3 s of checked passes, a provisional answer, then 0.4 s of timed passes."""
    _burn(0.3)
    if provisional:
        shared.provisional({"result": "checked"})  # type: ignore[attr-defined]
    _burn(0.4)
    return {"result": "timed"}


def test_once_the_checked_passes_are_done_the_timed_ones_get_a_share_of_their_own():
    # One limit for both, an honest file whose checked passes took most of a course's fixed
    # limit had its timed passes cut and timed by its round trips (red-team pass 34).
    outcome = isolate.run_forked(_checked_then_timed, timeout=0.5, agent=True)
    assert outcome.payload == {"result": "timed"} and not outcome.timed_out
    assert outcome.limit is not None and outcome.limit >= 0.25 * (1 + isolate.TIMED_SHARE)
    # Without the checked passes' answer nothing is extended: 0.7 s stops at 0.5.
    stopped = isolate.run_forked(
        lambda shared: _checked_then_timed(shared, provisional=False), timeout=0.5, agent=True
    )
    assert stopped.timed_out and stopped.limit == 0.5 and stopped.provisional is None


def test_a_child_stopped_at_its_wall_bound_in_the_timed_passes_keeps_no_checked_answer():
    # An agent that slept through its timed passes, moving their words now and then, was stopped
    # only at 20 times its limit and graded valid (red-team pass 34); out of CPU time it is.
    out_of_time = isolate.ChildOutcome(
        None, True, 9, (replay.PHASE_TIMED, 0, 1), provisional={"result": "checked"}
    )
    assert isolate._checked_in_time(out_of_time) == {"result": "checked"}
    assert isolate._checked_in_time(replace(out_of_time, idle=True)) is None
    assert isolate._checked_in_time(replace(out_of_time, stalled=0.3)) is None


def test_where_a_child_died_names_the_heap_checker_it_was_in():
    trace = parse_trace_text("a 0 16\nf 0\n", "t")
    checked = replay.PHASE_CHECKED
    assert isolate.where_it_died(trace, checked, 1, 0)[1] == "op 1 (f 0) in the checked pass"
    at = isolate.where_it_died(trace, checked, 1 | replay.IN_CHECKER, 0)[1]
    assert at == "mm_checkheap, called after op 1 (f 0) in the checked pass"
    assert (
        isolate.where_it_died(trace, checked, replay.NO_OP, 0)[1] == "mm_init in the checked pass"
    )


def test_a_child_that_sleeps_for_ever_is_stopped_at_its_wall_bound(monkeypatch):
    monkeypatch.setattr(isolate, "ASLEEP_SECONDS", 3600.0)  # the bound from the limit alone
    started = time.monotonic()
    outcome = isolate.run_forked(lambda words: time.sleep(3600) or {}, timeout=0.05)
    elapsed = time.monotonic() - started
    assert outcome.timed_out and outcome.idle
    assert 0.05 * isolate.WALL_MULTIPLE <= elapsed < 0.05 * isolate.WALL_MULTIPLE + 1.0
    said = isolate.death(outcome, 0.05, "op 1")
    assert said == (
        "did not finish within 1 s, most of it not running (asleep, or waiting for a core): "
        "stopped at op 1"
    )


def test_a_child_asleep_is_stopped_as_hung_without_a_stall_limit_too():
    # A fixed time limit (grade --timeout 5) sets no stall limit: an agent that stopped itself
    # (SIGSTOP) held its trace 100 s, the wall bound, before it was seen asleep whatever the limit.
    started = time.monotonic()
    outcome = isolate.run_forked(lambda words: time.sleep(3600) or {}, timeout=100)
    elapsed = time.monotonic() - started
    assert outcome.timed_out and outcome.asleep is not None
    assert isolate.ASLEEP_SECONDS <= outcome.asleep and elapsed < isolate.ASLEEP_SECONDS + 2


def _sleep_moving_the_words(words: object) -> dict:
    while True:  # what an agent can do: it maps the progress words
        time.sleep(0.2)
        words[1] += 1  # type: ignore[index]


def test_a_child_asleep_is_hung_however_its_words_move():
    # Each move of the words used to start the asleep clock again: an agent that moved them every
    # 200 ms while asleep held its trace for the wall bound, 20 times its limit.
    started = time.monotonic()
    outcome = isolate.run_forked(_sleep_moving_the_words, timeout=100)
    assert outcome.timed_out and outcome.asleep is not None
    assert time.monotonic() - started < isolate.ASLEEP_SECONDS + 2


def test_an_op_that_waits_without_running_is_not_taken_for_a_hung_one():
    # The progress words stand still for 0.5 s of wall time, with no CPU spent (less than
    # ASLEEP_SECONDS): as an op of a child waiting for its agent, or for a core.
    waits = lambda words: time.sleep(0.5) or {"done": 1}  # noqa: E731
    outcome = isolate.run_forked(waits, timeout=10, stall=0.2)
    assert outcome.payload == {"done": 1} and outcome.stalled is None


def test_an_op_that_spins_is_stopped_as_hung_after_its_cpu_time():
    started = time.monotonic()
    outcome = isolate.run_forked(_spin, timeout=10, stall=0.3)
    assert outcome.timed_out and outcome.stalled is not None and outcome.stalled >= 0.3
    assert time.monotonic() - started < 5
    assert "had not returned after" in isolate.death(outcome, 10, "op 1")


def _resets(words: object) -> dict:
    """0.6 s of CPU with the op word at the engine's heap reset, as after a big heap."""
    words[isolate.ENGINE_WORD] = replay.RESETTING  # type: ignore[index]
    end = time.process_time() + 0.6
    while time.process_time() < end:
        pass
    return {"done": 1}


def test_the_engines_reset_of_the_heap_is_no_hung_op(monkeypatch):
    # The starter's realloc-bal leaves 1.48 GB of heap: giving it back before the second checked
    # pass took more CPU than the stall limit, charged to the last pass's last op, "hung: stopped
    # at op 14400 (f 0)", and the starter `init` writes scored 0 (lab check run 11).
    outcome = isolate.run_forked(_resets, timeout=10, stall=0.2)
    assert outcome.payload == {"done": 1} and outcome.stalled is None
    # Bounded: the agent can write that word, and one that did while it spun held its op 144 s
    # (red-team pass 21).
    monkeypatch.setattr(isolate, "RESET_STALL_SECONDS", 0.3)
    outcome = isolate.run_forked(_resets, timeout=10, stall=0.2)
    assert outcome.payload is None and outcome.stalled is not None
    trace = parse_trace_text("a 0 16\nf 0\n", "t")
    at = isolate.where_it_died(trace, replay.PHASE_CHECKED_AGAIN, replay.RESETTING, 0)[1]
    assert at.startswith("the engine's reset of the heap before the second checked pass")


def test_an_op_that_sleeps_for_ever_is_stopped_as_hung_at_its_wall_bound(monkeypatch):
    monkeypatch.setattr(isolate, "STALL_WALL_FLOOR", 0.0)  # the bound from the limit alone
    started = time.monotonic()
    outcome = isolate.run_forked(lambda words: time.sleep(3600) or {}, timeout=100, stall=0.05)
    assert outcome.timed_out and outcome.stalled is not None
    assert time.monotonic() - started < 0.05 * isolate.WALL_MULTIPLE + 1.0


def test_an_op_asleep_with_nothing_running_is_stopped_as_hung_long_before_the_wall_bound():
    # STALL_WALL_FLOOR (20 s) is the bound for a child whose look is not trusted; one seen
    # asleep at every look is stopped after ASLEEP_SECONDS.
    started = time.monotonic()
    outcome = isolate.run_forked(lambda words: time.sleep(3600) or {}, timeout=100, stall=0.25)
    elapsed = time.monotonic() - started
    assert outcome.timed_out and outcome.asleep is not None
    assert isolate.ASLEEP_SECONDS <= outcome.asleep and elapsed < isolate.ASLEEP_SECONDS + 2
    assert isolate.death(outcome, 100, "op 1") == (
        f"hung: stopped at op 1, asleep for {outcome.asleep:.1f} s with nothing running "
        "(the allocator slept, waited for a lock it held, or stopped itself)"
    )


def test_a_child_that_stops_itself_is_stopped_as_hung():
    def stop(words: object) -> dict:
        os.kill(os.getpid(), signal.SIGSTOP)
        return {"done": 1}

    started = time.monotonic()
    outcome = isolate.run_forked(stop, timeout=100, stall=0.25)
    assert outcome.timed_out and outcome.asleep is not None and outcome.payload is None
    assert time.monotonic() - started < isolate.ASLEEP_SECONDS + 2


def test_a_child_that_runs_is_never_taken_for_asleep():
    outcome = isolate.run_forked(_spin, timeout=100, stall=3.0)
    assert outcome.timed_out and outcome.asleep is None and outcome.stalled is not None


def _resident_now() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_memory_used_and_given_back_between_two_looks_is_past_the_limit(monkeypatch):
    # The watch looks at the start and, next, when the answer comes: the 256 MiB the child
    # touched and gave back in between were never resident at a look. Judged by the current
    # resident size, it got away with it; by its peak, it did not.
    monkeypatch.setattr(isolate, "TICK_SECONDS", 60.0)
    monkeypatch.setattr(isolate, "MEMORY_LIMIT", _resident_now() + (128 << 20))

    def bomb(words: object) -> dict:
        block = b"\1" * (256 << 20)  # written, so resident
        del block  # and given back to the system (a mapping of its own)
        return {"done": 1}

    outcome = isolate.run_forked(bomb, timeout=30, sandboxed=True)
    assert outcome.payload is None
    assert outcome.memory is not None and outcome.memory > isolate.MEMORY_LIMIT
    said = isolate.death(outcome, 30, "op 3")
    assert "of memory, past the limit of" in said
    # Seen at the look the answer brings: the child still there (stopped), or already gone.
    assert outcome.timed_out or said.endswith("seen as it ended, after op 3")


def test_a_child_within_the_memory_limit_keeps_its_answer(monkeypatch):
    monkeypatch.setattr(isolate, "MEMORY_LIMIT", _resident_now() + (128 << 20))
    outcome = isolate.run_forked(lambda words: {"done": len(b"\1" * (32 << 20))}, timeout=30,
                                 sandboxed=True)  # fmt: skip
    assert outcome.payload == {"done": 32 << 20} and outcome.memory is None


def test_an_agents_peak_left_in_the_shared_words_is_judged_with_the_childs(monkeypatch):
    # The agent is gone by the time the answer comes: the grader's side leaves its peak in the
    # watch's words (remote.py), and the parent's last look takes it as the child's own.
    monkeypatch.setattr(isolate, "MEMORY_LIMIT", _resident_now() + (128 << 20))

    def graded(shared) -> dict:
        shared.watch[isolate.PEAK_WORD] = 1 << 40
        return {"done": 1}

    outcome = isolate.run_forked(graded, timeout=30, sandboxed=True, agent=True)
    assert outcome.payload is None and outcome.memory == 1 << 40


def test_an_agent_started_before_the_watch_is_made_is_held(monkeypatch):
    # The child's agent can start before the parent makes its watch (a loaded machine): the
    # watch's first look then held it before the watch had its table of agents, and the grade
    # died of an AttributeError (lab check run 9: 3 grades in some 25).
    import subprocess

    first_look = isolate._Watch._read

    def late(self):  # the parent descheduled right after the fork
        if not hasattr(self, "since"):
            time.sleep(0.5)
        return first_look(self)

    monkeypatch.setattr(isolate._Watch, "_read", late)

    def starts_an_agent(shared) -> dict:
        agent = subprocess.Popen(["sleep", "5"])
        shared.watch[isolate.AGENT_WORD] = agent.pid
        return {"done": 1}

    outcome = isolate.run_forked(starts_an_agent, timeout=30, agent=True)
    assert outcome.payload == {"done": 1}


def _gone(pid: int) -> bool:
    """Whether a process has ended (a zombie, or reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_an_agent_ends_with_its_child_even_out_of_its_death_signal(tmp_path):
    # An agent dies with its child by its death signal; one that undid it (red-team pass 11: a
    # prctl the filter missed) outlived a hung grade, spinning through the next students' timed
    # passes. The watch holds every agent it sees, and kills it once the child is gone.
    import subprocess

    pid_file = tmp_path / "agent"

    def hangs(shared) -> dict:
        agent = subprocess.Popen(["sleep", "60"])  # no death signal: as one that undid it
        shared.watch[isolate.AGENT_WORD] = agent.pid
        pid_file.write_text(str(agent.pid))
        time.sleep(60)
        return {}

    outcome = isolate.run_forked(hangs, timeout=1.5, agent=True)
    agent = int(pid_file.read_text())
    assert outcome.timed_out
    for _ in range(100):
        if _gone(agent):
            break
        time.sleep(0.02)
    assert _gone(agent)


def test_the_memory_limit_is_half_the_containers_when_it_has_less_than_the_machine():
    # Gradescope's containers hold 768 MB by default: at half the host's memory, an allocator grew
    # until the container's OOM killer ended the whole grade (lab check run 11).
    gib = 1 << 30
    assert isolate.memory_limit(24 * gib, 768 << 20) == 384 << 20
    assert isolate.memory_limit(24 * gib, None) == 8 * gib
    assert isolate.memory_limit(4 * gib, 2**63 - 4096) == 2 * gib  # v1's "no limit"
    assert isolate.MEMORY_LIMIT <= isolate.memory_limit(24 * gib, isolate.container_memory())
