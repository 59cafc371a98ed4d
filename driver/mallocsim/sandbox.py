"""The sandbox a student's code runs in: entered by the forked child that will
load it, before its first instruction (its constructors included).

What a child does to enter (enter_sandbox), in this order:
  - stdin, stdout and stderr point at /dev/null: nothing the code prints (a fake
    score table) reaches the grader's output;
  - every other inherited file descriptor is closed but the child's own pipe:
    no channel of the grader's (pytest-xdist's, a terminal, an open file) is
    within reach;
  - a CPU-time limit (RLIMIT_CPU): a spin that escapes the parent's watch still
    ends;
  - the C side (c/src/sandbox.c): no core dumps, no file growth, and a seccomp
    filter that denies starting processes or programs, the network, creating,
    writing or changing files, signalling other processes, tracing, changing
    the system. A denied call kills the child with SIGSYS, its number left in a
    shared word; `denied_action` turns it into the diagnosis's words.
What the parent adds from outside (isolate.py): the time and stall limits, and
a memory limit on the child's resident memory (and its agent's), measured as its
peak (resident_peak): memory touched and given back between two of the parent's
looks still counts, and a child that ends between two looks is judged by it.

Our own policies and the system allocators are not sandboxed: they are ours.
"""

from __future__ import annotations

import os
import resource
from typing import Any

from mallocsim._native import ffi, lib
from mallocsim.allocators import AllocatorSpec
from mallocsim.errors import UsageError

# A watched child and its agent (isolate.py), or a count's processes (instructions.py), seen not
# running at every look for this long (a child's words still) are hung, whatever the limits: the
# allocator sleeps, waits for a lock it holds itself, or stopped itself (SIGSTOP), and will not run
# again. Only asleep (S) and stopped (T, t) count: runnable (R), in the disk's wait (D), a zombie
# not yet reaped or a process that cannot be read all count as running, so neither a loaded
# machine nor a process just ended looks asleep. Neither side of the grader's link sleeps longer
# than 0.1 s at a time (remote.c's AGENT_WAIT_NANOSECONDS; the grader, 10 ms), and valgrind runs
# the count without a pause: ten times that is never an honest op. Before, only STALL_WALL_FLOOR
# stopped such an allocator (20 s a trace), and nothing a count (its whole budget, a minute or
# more of a class's slot: red-team pass 17).
ASLEEP_SECONDS = 1.0
ASLEEP_STATES = frozenset("STt")  # /proc/PID/stat's states of a process that does not run


UNTRUSTED_KINDS = ("source", "library")  # a student's mm.c, or any .so


def untrusted(spec: AllocatorSpec) -> bool:
    """Whether the allocator's code is someone else's: sandboxed whenever it runs."""
    return spec.kind in UNTRUSTED_KINDS


def stat_fields(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command's name (the state letter first, then the
    parent, the process group...), from one read; [] when it cannot be read. Read as bytes: the
    name is whatever the process made it (prctl's PR_SET_NAME), not always UTF-8, and read as
    text one such name anywhere on the machine ended every count's watch of it in a traceback
    (red-team pass 48); what follows the name's last ")" is ASCII."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].decode("ascii").split()
    except (OSError, IndexError, ValueError):
        return []


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # the unit of /proc/PID/stat's CPU times


def cpu_seconds(fields: list[str]) -> float:
    """User and system CPU seconds from stat_fields' fields; 0.0 when there are none."""
    try:
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (ValueError, IndexError):
        return 0.0


def resident_peak(pid: int) -> int:
    """The most memory process `pid` has been resident in (the kernel's VmHWM), in
    bytes; 0 when it cannot be read (the process is gone, or a zombie)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:  # its Name line: any bytes (stat_fields)
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def enter_sandbox(denied: Any, keep_fd: int | None, cpu_seconds: float) -> None:
    """Confine this (forked child) process for good; `denied` points at the shared
    word a denied call's number is left in; `keep_fd`, if any, is the one file
    descriptor kept open. Raises UsageError when the kernel refuses (never runs
    the code unconfined)."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if keep_fd is None:
        os.closerange(3, _highest_fd())
    else:
        os.closerange(3, keep_fd)
        os.closerange(keep_fd + 1, _highest_fd())
    seconds = max(1, int(cpu_seconds) + 1)
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    error = ffi.new("ms_error *")
    if not lib.ms_sandbox_enter(denied, error):
        raise UsageError(ffi.string(error.message).decode(errors="replace"))


def _highest_fd() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 65536


def denied_action(call: int) -> str:
    """The words for a denied call: "start a process (fork)"."""
    return ffi.string(lib.ms_sandbox_denied_action(call)).decode()
