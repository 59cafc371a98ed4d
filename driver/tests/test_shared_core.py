"""shared_core.py: a grader and its agent held to one CPU while the passes are timed, and given
back what they had; a CPU another grader holds is left to it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from mallocsim.shared_core import hold, last_cpu, one_core

CPUS = os.sched_getaffinity(0)
pytestmark = pytest.mark.skipif(len(CPUS) < 2, reason="one CPU: nothing to hold a process to")


@pytest.fixture
def agent() -> Iterator[subprocess.Popen]:
    """A process standing for the agent: it runs (so that /proc knows its last CPU) until
    killed."""
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.05)
    yield child
    child.kill()
    child.wait()


def held_elsewhere(cpus: set[int]) -> ExitStack:
    """Claims on `cpus`, as other graders would hold them, until the stack closes."""
    stack = ExitStack()
    for cpu in cpus:
        claim = hold(cpu)
        assert claim is not None, f"CPU {cpu} is held by another process already"
        stack.enter_context(claim)
    return stack


def test_the_grader_and_its_agent_share_one_cpu_and_get_theirs_back(agent):
    agents = os.sched_getaffinity(agent.pid)
    with one_core(agent.pid) as cpu:
        assert cpu in CPUS
        assert os.sched_getaffinity(0) == {cpu}
        assert os.sched_getaffinity(agent.pid) == {cpu}
    assert os.sched_getaffinity(0) == CPUS
    assert os.sched_getaffinity(agent.pid) == agents


def test_the_agents_own_cpu_comes_first(agent):
    chosen = max(CPUS)
    os.sched_setaffinity(agent.pid, {chosen})
    deadline = time.monotonic() + 5
    while last_cpu(agent.pid) != chosen and time.monotonic() < deadline:
        time.sleep(0.01)
    with one_core(agent.pid) as cpu:
        assert cpu == chosen
    assert os.sched_getaffinity(agent.pid) == {chosen}


def test_a_cpu_another_grader_holds_is_left_to_it(agent):
    free = min(CPUS)
    with held_elsewhere(CPUS - {free}), one_core(agent.pid) as cpu:
        assert cpu == free
        assert hold(free) is None  # held by this grader now
    claim = hold(free)  # and given up with the body
    assert claim is not None
    claim.close()


def test_with_every_cpu_held_nothing_is_pinned(agent):
    agents = os.sched_getaffinity(agent.pid)
    with held_elsewhere(CPUS), one_core(agent.pid) as cpu:
        assert cpu is None
        assert os.sched_getaffinity(0) == CPUS
        assert os.sched_getaffinity(agent.pid) == agents


def test_an_agent_that_is_gone_pins_nothing():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    with one_core(child.pid) as cpu:
        assert cpu is None
        assert os.sched_getaffinity(0) == CPUS
    free = hold(min(CPUS))  # no claim was left behind
    assert free is not None
    free.close()


def test_where_no_socket_can_be_made_nothing_is_pinned(agent, monkeypatch):
    def refused(*_args: object) -> None:
        raise PermissionError("socket denied")

    monkeypatch.setattr("mallocsim.shared_core.socket.socket", refused)
    with one_core(agent.pid) as cpu:
        assert cpu is None
        assert os.sched_getaffinity(0) == CPUS


def test_an_agent_that_may_not_be_pinned_leaves_everything_as_it_was(agent, monkeypatch):
    agents = os.sched_getaffinity(agent.pid)
    pin = os.sched_setaffinity

    def only_self(pid: int, cpus: set[int]) -> None:
        if pid != 0:
            raise PermissionError("not this process's to move")
        pin(pid, cpus)

    monkeypatch.setattr("mallocsim.shared_core.os.sched_setaffinity", only_self)
    with one_core(agent.pid) as cpu:
        assert cpu is None
        assert os.sched_getaffinity(0) == CPUS
    assert os.sched_getaffinity(agent.pid) == agents
    for each in CPUS:  # no claim kept
        claim = hold(each)
        assert claim is not None
        claim.close()
