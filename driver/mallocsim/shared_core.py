"""One CPU for a sandboxed agent and its grader while the agent's passes are timed.

A student's allocator runs its timed passes in an agent process, and its grader (remote.py)
checks each pass's pointer log as the pass ends. Left to the scheduler, the two run on two cores,
and every pass then writes log lines the grader's core read at the last pass's end, each write
taking its line back from the other core. The same segfit code, sandboxed, lost a third of its
speed on binary2-bal (24,000 log entries a pass, 42 us more a pass) and a tenth on amptjp-bal
(5,694, 6 us more: the loss grows with the entries), `mallocsim compare -a segfit -a
libmm-segfit.so` on 2 cores; with the whole run on one core (`taskset -c 1`), or the agent and
its grader alone on one, it ran as fast as the built-in, which runs in one process and keeps no
log. Holding the agent alone to one CPU, or a busy process on the other core, changed nothing.
The agent and its grader take turns and never run at once, so one core costs them nothing while
the passes are timed. The checked passes, a turn every op, stay on any core: there a turn handed
to a side waiting on another core is answered at once, while on one core the waiting side spins
for nothing (4-6 times slower).

Guarantees: `one_core` pins the calling process (the grader) and the agent to one CPU of the
grader's allowed set for the body of the `with`, and gives both back the CPUs they had; it
prefers the agent's last CPU (its caches hold the trace), and takes a CPU only while no other
mallocsim grader on the machine holds it, so that graders run side by side (a class graded with
`-j 2`) never share one while another idles. It holds a CPU by binding an abstract-namespace
socket named after it: no file, nothing to clean up, released when the process ends however it
ends. Where nothing can be pinned (one allowed CPU, every CPU held, a call refused) it changes
nothing and yields None, and the passes run as they did before.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress

from mallocsim.sandbox import stat_fields

# /proc/PID/stat's field 39, "processor" (the CPU it last ran on), in stat_fields' numbering,
# which starts at field 3
LAST_CPU_FIELD = 36
HOLD_NAME = "mallocsim-core-{cpu}"  # abstract socket names (Linux): one per CPU held


def last_cpu(pid: int) -> int | None:
    """The CPU the process last ran on, or None when /proc does not say."""
    fields = stat_fields(pid)
    try:
        return int(fields[LAST_CPU_FIELD])
    except (IndexError, ValueError):
        return None


def hold(cpu: int) -> socket.socket | None:
    """This process's claim on `cpu` among mallocsim's graders (open while held), or None
    when another process holds it or the claim cannot be made."""
    try:
        claim = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # not inherited (PEP 446)
    except OSError:  # no sockets here (a seccomp profile, a descriptor limit)
        return None
    try:
        claim.bind("\0" + HOLD_NAME.format(cpu=cpu))
    except OSError:
        claim.close()
        return None
    return claim


@contextmanager
def one_core(agent: int) -> Iterator[int | None]:
    """The grader (this process) and its agent on one CPU for the body; that CPU, or None."""
    with ExitStack() as undo:
        yield _pin(agent, undo)


def _pin(agent: int, undo: ExitStack) -> int | None:
    """Pin both to a CPU no other grader holds, `undo` told how to give everything back; the
    CPU, or None (with nothing changed) where that cannot be done."""
    try:
        allowed = os.sched_getaffinity(0)
        agents = os.sched_getaffinity(agent)
    except OSError:
        return None
    if len(allowed) < 2:
        return None
    first = last_cpu(agent)
    for cpu in ([first] if first in allowed else []) + sorted(allowed - {first}):
        claim = hold(cpu)
        if claim is None:
            continue
        undo.enter_context(claim)
        try:
            os.sched_setaffinity(agent, {cpu})
            undo.callback(_give_back, agent, agents)
            os.sched_setaffinity(0, {cpu})
            undo.callback(_give_back, 0, allowed)
        except OSError:
            undo.close()
            return None
        return cpu
    return None


def _give_back(pid: int, cpus: set[int]) -> None:
    """The process's CPUs as they were (it may have ended meanwhile)."""
    with suppress(OSError):
        os.sched_setaffinity(pid, cpus)
