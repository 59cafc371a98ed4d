"""Run one trace's replay in a child process, so that no allocator can take
the tool down with it; run_forked is the mechanism, for any such work.

A student's allocator goes one step further away: the child stays ours (the
grader) and starts an agent program for the code (remote.py), sandboxed, so
that nothing the code writes reaches what decides its grade. An agent's death
is its grader's (remote.c ends the grader the same way), so what follows holds
for both.

The child is forked, loads the allocator, replays, and sends its TraceResult
back through a pipe. While it runs it keeps three shared words up to date (the
phase, the op index and the timed pass; the engine stores the last two, one
store an op), so when it crashes or hangs the parent still knows where:
"crashed with SIGSEGV at op 1234 (a 17 4096) in timed pass 3", with the op's
file:line. A child past its time limit is killed: the limit counts the CPU time
the child and its agent ran, not the time they waited for a core, so that a
machine whose cores are busy (other grades, other jobs) slows a trace down but
does not fail it (every checked op is a round trip between the two processes,
and a round trip waits for both to be scheduled); a child that runs for
WALL_MULTIPLE times its limit in wall time without using it (asleep, or
starved) is stopped too. Watched for a hang (`stall`), an op stops when its
words stand still while the child and agent run `stall` CPU seconds, or while
neither of them runs at all for ASLEEP_SECONDS. Whatever happens, the parent
gets a TraceResult, the death as data too (fail_kind "crash", "timeout" or
"exit", the phase, op and pass), and every result it already has is kept. A
child out of time in the timed passes, which only time what the checked passes
proved, has the checked result it left before them (timed_by_checked): the
trace stays valid, timed by its checked passes.
"""

from __future__ import annotations

import contextlib
import faulthandler
import fcntl
import json
import mmap
import os
import re
import select
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from mallocsim._native import ffi, lib
from mallocsim.allocators import AllocatorSpec, library_for
from mallocsim.constants import DEFAULT_TIMEOUT
from mallocsim.errors import GraderFault, UsageError
from mallocsim.progress import tick_active
from mallocsim.remote import (
    AGENT_WORD,
    PEAK_WORD,
    PHASE_WORD,
    WATCH_WORDS,
    SharedWords,
    replay_remote,
)
from mallocsim.replay import (
    IN_CHECKER,
    NO_OP,
    PHASE_CHECKED,
    PHASE_CHECKED_AGAIN,
    PHASE_KEYS,
    PHASE_NAMES,
    PHASE_TIMED,
    RESETTING,
    LoadedAllocator,
    ReplayOptions,
    failed_result,
    op_text,
    replay_trace,
    timed_by_checked,
    where,
)
from mallocsim.results import TraceResult
from mallocsim.safe_text import printable
from mallocsim.sandbox import (
    ASLEEP_SECONDS,
    ASLEEP_STATES,
    cpu_seconds,
    denied_action,
    enter_sandbox,
    resident_peak,
    stat_fields,
    untrusted,
)
from mallocsim.trace import Trace

PROGRESS_WORDS = 3  # phase, op index, timed pass
ENGINE_WORD = 1  # where the engine's two start (op index, timed pass: replay_trace's progress + 1)
DENIED_WORD = PROGRESS_WORDS  # then a sandboxed child's denied call, plus one (0: none)
# Then an agent's failed assert(): its message, NUL-ended (mallocsim.h's MS_ASSERT_BYTES).
ASSERTED_WORD = DENIED_WORD + 1
SHARED_WORDS = ASSERTED_WORD + lib.MS_ASSERT_BYTES // 8
# The watch's own words (remote.py's AGENT_WORD and PEAK_WORD) are apart: the agent maps these.
SIGSYS = signal.SIGSYS.value
UNNAMED_CALL = 1 << 63  # a denied call whose number the handler could not leave
UNNAMED = "make a call the sandbox denies (with its signals blocked, as system() does)"
ANSWER_LIMIT = 64 << 20  # bytes: a child's answer is kilobytes; past this it is garbage
OUTPUT_KEPT = 4096  # bytes: the end of what an agent wrote to stdout and stderr, kept
OUTPUT_PIPE_BYTES = 1 << 20  # what their pipe holds unread
OUTPUT_SHOWN = 300  # characters of it a failure shows: its last lines
GARBAGE = "\0"  # what _read_until returns for an answer past ANSWER_LIMIT
GARBAGE_ANSWER = {"garbage": "the allocator wrote garbage into the grader's pipe"}


def memory_limit(physical: int, container: int | None) -> int:
    """The resident bytes a sandboxed child may reach: half the memory it may have, the
    machine's or, when less, its container's (Gradescope's default 768 MB: at half the host's, an
    allocator grew until the container's OOM killer ended the grade, lab check run 11), and 8 GiB
    at most (a trace with tens of GiB live payload touches little of it: memlib reserves address
    space, not memory)."""
    return min(8 << 30, min(physical, container or physical) // 2)


def container_memory() -> int | None:
    """The least memory limit of this process's cgroup and those above it (cgroup v2's
    memory.max, v1's memory.limit_in_bytes), or None when none is set or can be read."""
    limits = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            root, name = Path("/sys/fs/cgroup"), "memory.max"
        elif "memory" in controllers.split(","):
            root, name = Path("/sys/fs/cgroup/memory"), "memory.limit_in_bytes"
        else:
            continue
        folder = root / path.lstrip("/")
        for level in (folder, *folder.parents):
            with contextlib.suppress(OSError, ValueError):
                limits.append(int((level / name).read_text().strip()))  # "max": none
            if level == root:
                break
    return min(limits, default=None)


# A sandboxed child resident in more memory than this is stopped (memory_limit).
MEMORY_LIMIT = memory_limit(
    os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), container_memory()
)
TICK_SECONDS = 0.25  # the longest wait for a child between two ticks of the progress lines
STALL_TICKS = 10  # a child watched for a hang is looked at this many times per stall limit
# A child whose words stand still this long in wall time, however little CPU time it used, is
# hung too (asleep), at WALL_MULTIPLE times its stall limit and never sooner than this: what it
# was with a 1 s stall limit. Honest checked passes of a class graded with -j 2 beside valgrind
# have stood still for 1 s of wall time (and, with the class's workers forked instead of started
# afresh, tried once and taken back, some for 20 s without running: not understood).
STALL_WALL_FLOOR = 20.0
RESET_STALL_SECONDS = 5.0  # CPU seconds the engine's reset of a heap may take (_Watch.must_stop)
WALL_MULTIPLE = 20.0  # wall seconds a child may take per second of its CPU-time limit
# The CPU time a trace's timed passes may run, as a share of what its checked passes ran: they are
# twice as many (a warm-up and three timed, where the graded time is under a second), each
# without the checks and the round trips, which the checked passes' time holds besides. Within
# one shared limit, an honest fast file whose checked passes took most of a course's fixed limit
# had its timed passes cut, and a slow one near its limit did under load (red-team passes 33 and
# 34). A file that spins where it is checked gets at most three times its limit so, and the wall
# bound stays the limit's.
TIMED_SHARE = 2.0


def kernel_cpu_limit(timeout: float) -> float:
    """The CPU seconds the kernel lets a child (or its agent) run (RLIMIT_CPU), a backstop should
    the watch fail: the most the watch allows it, `timeout` and its timed passes' share. At
    `timeout` alone, a file whose checked passes took over a third of it died of SIGXCPU in the
    timed passes the watch allowed, and a trace it had passed failed (lab check 22)."""
    return timeout * (1 + TIMED_SHARE)


@dataclass(frozen=True)
class ChildOutcome:
    """How a forked child ended: what it sent, or how it died and where it was."""

    payload: dict | None  # the child's JSON answer; None when it died or ran out of time
    timed_out: bool  # stopped: out of time, or hung (stalled)
    status: int  # os.waitpid's status
    progress: tuple[int, ...]  # the PROGRESS_WORDS shared words, as the child last left them
    stalled: float | None = None  # stopped as hung: the seconds its words had not moved
    idle: bool = False  # stopped at its wall-time bound, its CPU time not used up
    memory: int | None = None  # past the memory limit: its peak resident bytes (stopped, or ended)
    denied: str | None = None  # killed by the sandbox: what it tried ("start a process (fork)")
    asleep: float | None = None  # stopped as hung with nothing running: the seconds it slept
    asserted: str | None = None  # an agent's assert() that failed: its message, printable
    # the last answer the child left before its end (SharedWords.provisional), for a child
    # stopped out of time: a trace's checked result, left before its timed passes
    provisional: dict | None = None
    # the end of what its agent wrote to stdout and stderr (OUTPUT_KEPT bytes), None: no agent
    output: str | None = None
    limit: float | None = None  # the CPU-time limit in force at the end (_read_until)


def run_forked(
    work: Callable[..., dict],
    timeout: float,
    stall: float | None = None,
    sandboxed: bool = False,
    agent: bool = False,
) -> ChildOutcome:
    """work(progress) in a forked child with a time limit, its dict sent back
    as JSON. progress is PROGRESS_WORDS shared uint64 words the child keeps up
    to date, so that the parent knows where it was if it dies; with `stall`, a
    child whose words have not moved for that many seconds (an op that does not
    return) is stopped as hung before its time is up. `sandboxed`: the child
    enters the sandbox before work() (sandbox.py) and is stopped past
    MEMORY_LIMIT; with `agent` too, the child itself stays unconfined, since
    work(shared) starts the untrusted code in an agent that enters the sandbox
    (its pid left in the watch's AGENT_WORD, its memory watched as well), and maps the
    words itself: `shared` is a SharedWords, the words with their memfd, and its
    `provisional`, which leaves an answer for the parent to have should the child be
    stopped out of time (ChildOutcome.provisional; each one line, before the final
    answer). A UsageError, or
    any other exception, in the child comes back as {"usage_error": message} (a GraderFault
    as one again: "grader_fault" true);
    anything else it sends that is not a JSON object is garbage, reported as
    such."""
    # A memfd, mapped shared: seen by the child, and by an agent that maps the file itself.
    words_fd = os.memfd_create("mallocsim-progress")
    os.ftruncate(words_fd, 8 * SHARED_WORDS)
    shared = mmap.mmap(words_fd, 8 * SHARED_WORDS)
    progress = ffi.from_buffer(f"uint64_t[{SHARED_WORDS}]", shared)
    watch_map = mmap.mmap(-1, 8 * WATCH_WORDS)  # anonymous, shared with the child: no fd to pass on
    watched = ffi.from_buffer(f"uint64_t[{WATCH_WORDS}]", watch_map)
    read_fd, write_fd = os.pipe()
    # The agent's stdout and stderr: drained here as they come, the agent's end never blocking
    # (a flood is cut, not waited for). Before, they went to /dev/null: a heap checker that
    # printed its report and exit(0)ed was "exited with status 0", its report unseen.
    output = _Output(*os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)) if agent else None
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_fd)
        if output is not None:
            os.close(output.fd)
        # A crash must reach the parent as the signal it is, not as Python's
        # fault report (pytest turns faulthandler on).
        faulthandler.disable()
        status = 0
        try:
            if sandboxed and not agent:
                enter_sandbox(progress + DENIED_WORD, write_fd, kernel_cpu_limit(timeout))
            if agent:

                def provisional(answer: dict) -> None:
                    _write_all(write_fd, (json.dumps(answer) + "\n").encode())

                shared_words = SharedWords(
                    words_fd,
                    progress,
                    ENGINE_WORD,
                    DENIED_WORD,
                    watched,
                    provisional,
                    output.write_fd if output is not None else -1,
                )
                payload = work(shared_words)
            else:
                payload = work(progress)
        except UsageError as error:
            payload = {"usage_error": str(error), "grader_fault": isinstance(error, GraderFault)}
        except BaseException as error:  # report anything, the parent decides
            # Where no allocator's code runs in this process (an agent runs it, or it is ours),
            # an error here is the grader's, not a grade: a TypeError of the grader's own,
            # taken for "the library did not load", graded a file its driver gives 97 a 0 and
            # wrote the 0 into its record (lab check run 18).
            ours = (agent or not sandboxed) and not isinstance(error, KeyboardInterrupt)
            said = f"{type(error).__name__}: {error}"
            payload = {
                "usage_error": f"the grader failed ({said}): not the allocator's doing"
                if ours
                else said,
                "grader_fault": ours,
            }
            status = 1
        with os.fdopen(write_fd, "w") as out:
            out.write(json.dumps(payload))
        os._exit(status)

    os.close(write_fd)
    if output is not None:
        os.close(output.write_fd)
    finished = False
    watch = _Watch(progress, watched, pid, stall, MEMORY_LIMIT if sandboxed else None)
    try:
        data, timed_out = _read_until(read_fd, timeout, watch, output)
        finished = not timed_out and data != GARBAGE  # a flood runs on: it is killed
    finally:
        # Out of time, or interrupted while waiting (Ctrl-C): the child must
        # not run on after us, nor be left unreaped.
        os.close(read_fd)
        if not finished:
            os.kill(pid, signal.SIGKILL)
        _, status, usage = os.wait4(pid, 0)
        watch.end_agents()
        if output is not None:
            output.drain()  # what came after the last look
            os.close(output.fd)
    where_it_was = tuple(int(progress[i]) for i in range(PROGRESS_WORDS))
    if agent:  # the phase as the child wrote it (0 before the first), which no agent can reach
        where_it_was = (int(watched[PHASE_WORD]), *where_it_was[1:])
    # The memory limit's last look, at the peaks: a child (or agent) that went past it and ended
    # (or crashed) between two of the watch's looks did go past it.
    peak = max(usage.ru_maxrss * 1024, int(watched[PEAK_WORD]))
    over = sandboxed and not timed_out and data != GARBAGE and peak > MEMORY_LIMIT
    denied = int(progress[DENIED_WORD])
    said = shared[8 * ASSERTED_WORD : 8 * SHARED_WORDS].split(b"\0", 1)[0]
    asserted = printable(said.decode(errors="replace"), lines=False) if said else None
    if sandboxed and not denied and os.WIFSIGNALED(status) and os.WTERMSIG(status) == SIGSYS:
        denied = UNNAMED_CALL  # the call came with SIGSYS blocked: the kernel's default killed it
    stalled = watch.stalled_for if timed_out and watch.stall_stopped else None
    idle = timed_out and watch.wall_stopped
    memory = peak if over else watch.memory_stopped if timed_out else None
    asleep = watch.asleep_for if timed_out and watch.stall_stopped else None
    limit = watch.limit
    del progress, watched, watch  # the last views of the shared words, before they are unmapped
    shared.close()
    watch_map.close()
    os.close(words_fd)
    lines, _, final = data.rpartition("\n")  # the provisional answers' lines, then the answer
    left = _payload(lines.rpartition("\n")[2])
    return ChildOutcome(
        None if over or timed_out else _payload(final),
        timed_out,
        status,
        where_it_was,
        stalled,
        idle,
        memory,
        (denied_action(denied - 1) if denied != UNNAMED_CALL else UNNAMED) if denied else None,
        asleep,
        asserted,
        left if left is not GARBAGE_ANSWER else None,
        output.text() if output is not None else None,
        limit,
    )


class _Output:
    """An agent's stdout and stderr, read from their pipe (`fd`; `write_fd` is the agent's
    end) as they come: the last OUTPUT_KEPT bytes kept."""

    def __init__(self, fd: int, write_fd: int) -> None:
        self.fd, self.write_fd = fd, write_fd
        self.kept = bytearray()
        self.open = True  # no end of file seen yet
        # Room for a heap checker's whole listing between two looks (a write that finds the
        # pipe full is lost): 1 MiB, the system's default most, where it allows it.
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, OUTPUT_PIPE_BYTES)

    def drain(self) -> None:
        """Everything the pipe holds now, read without waiting."""
        while self.open:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return
            self.open = bool(chunk)
            self.kept += chunk
            del self.kept[:-OUTPUT_KEPT]

    def text(self) -> str | None:
        return self.kept.decode(errors="replace") if self.kept else None


def _write_all(fd: int, data: bytes) -> None:
    """All of `data` written to `fd` (a pipe's write may take part of it)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _payload(data: str) -> dict | None:
    """The child's answer, None when it sent nothing; anything that is not a
    JSON object (no child of ours writes that: the allocator wrote into the
    pipe) is GARBAGE_ANSWER, reported as such, never trusted nor raised."""
    if not data:
        return None
    try:
        payload = json.loads(data)
    except (ValueError, RecursionError):
        payload = None
    return payload if isinstance(payload, dict) else GARBAGE_ANSWER


class _Watch:
    """What a child has used (CPU time, its agent's included), and whether it must
    be stopped before its time is up: its progress words have stood still while it
    ran `stall` CPU seconds (a hung op; or WALL_MULTIPLE times that in wall time, and
    STALL_WALL_FLOOR at least, for one that sleeps), or it (or its agent) has been
    resident in more than `memory` bytes at its peak. CPU time, so that an op slowed
    by a loaded machine (a class graded with -j 2 beside valgrind counts: two correct
    submissions of 150 had an op pass 1 s of wall time) is not taken for a hung one."""

    def __init__(
        self, words: Any, watched: Any, pid: int, stall: float | None, memory: int | None
    ) -> None:
        self.words, self.watched, self.pid, self.stall, self.memory = (
            words,
            watched,
            pid,
            stall,
            memory,
        )
        self.last = self._read()
        self.since = time.monotonic()
        self.running = True  # at the last look, the child or its agent was running
        self.asleep_since: float | None = None  # since when neither was seen running
        # Before the first look: a child that started its agent before this watch was made
        # has that agent held at once (made after it, a grade died of an AttributeError, 3 in
        # some 25 on a loaded machine: lab check run 9).
        self.agents: dict[int, int] = {}  # each agent seen: its pid -> a pidfd held on it
        self.cpu_since = self.cpu_seconds()  # a child just forked: little or nothing
        self.stalled_for = 0.0  # the CPU seconds the words had stood still when stopped
        self.asleep_for: float | None = None  # stopped as asleep: the wall seconds it slept
        self.stall_stopped = False
        self.wall_stopped = False
        # How often to look: a hang is stopped within a tenth of the stall limit of it.
        self.tick = min(TICK_SECONDS, stall / STALL_TICKS) if stall else TICK_SECONDS
        self.memory_stopped: int | None = None
        self.limit = 0.0  # the CPU-time limit in force (_read_until sets it)

    def cpu_seconds(self) -> float:
        """CPU seconds the child and its agent, if it started one, have run; notes
        too whether either is running now (self.running)."""
        agent = int(self.watched[AGENT_WORD])
        cpu, state = _cpu_and_state(self.pid)
        running = state not in ASLEEP_STATES
        if agent:
            self._hold(agent)
            agent_cpu, agent_state = _cpu_and_state(agent)
            cpu += agent_cpu
            running = running or agent_state not in ASLEEP_STATES
        self.running = running
        return cpu

    def _hold(self, agent: int) -> None:
        """A pidfd on the agent, once it is seen to be the child's own (its parent is the child
        still: a pid taken up again later is no agent of ours), so that end_agents reaches it
        wherever it went."""
        if agent in self.agents:
            return
        try:
            held = os.pidfd_open(agent)
        except OSError:
            return  # gone already
        if _parent_of(agent) == self.pid:
            self.agents[agent] = held
        else:
            os.close(held)

    def end_agents(self) -> None:
        """Kill every agent seen, once the child is gone. An agent dies with its child (its
        death signal, which the sandbox keeps it from undoing); one that got out of that lived on
        after a hung grade, spinning through the next students' timed passes (red-team pass 11)."""
        for held in self.agents.values():
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(held, signal.SIGKILL)
            os.close(held)
        self.agents.clear()

    def _read(self) -> tuple[int, ...]:
        return tuple(int(self.words[i]) for i in range(PROGRESS_WORDS))

    def still_for(self, cpu: float) -> float:
        """CPU seconds the child and its agent have run since the words last moved, `cpu`
        being what they have run in all (cpu_seconds)."""
        now = self._read()
        if now != self.last:
            self.last, self.since, self.cpu_since = now, time.monotonic(), cpu
        return cpu - self.cpu_since

    def asleep(self) -> float:
        """Wall seconds for which every look found neither the child nor its agent
        running (0 when the last look did). Whether the words moved meanwhile does not
        count: the agent can write them, and one that moved them every 200 ms while
        asleep held a trace for its whole wall bound, 20 times its limit."""
        if self.running:
            self.asleep_since = None
            return 0.0
        now = time.monotonic()
        if self.asleep_since is None:
            self.asleep_since = now
        return now - self.asleep_since

    def must_stop(self, cpu: float) -> bool:
        """Whether to stop the child now, `cpu` being the CPU seconds it has run."""
        # Asleep is hung whatever the limits: with a fixed time limit (--timeout 5) and no
        # stall limit, an agent that stopped itself held its trace for 20 times that in wall time.
        still = self.still_for(cpu)
        asleep = self.asleep()
        if asleep >= ASLEEP_SECONDS:
            self.stall_stopped, self.stalled_for, self.asleep_for = True, still, asleep
        elif self.stall is not None:
            # The engine's reset of the heap gets RESET_STALL_SECONDS: the starter's realloc-bal
            # left 1.48 GB to give back, and the reset's CPU time was charged to the last pass's
            # last op, "hung" (lab check run 11). Bounded, since the agent can write the word:
            # unbounded, it held a spinning op 144 s (red-team pass 21).
            limit = self.stall
            if self.last[ENGINE_WORD] == RESETTING:
                limit = max(limit, RESET_STALL_SECONDS)
            wall = max(limit * WALL_MULTIPLE, STALL_WALL_FLOOR)
            if still >= limit or time.monotonic() - self.since >= wall:
                self.stall_stopped, self.stalled_for = True, still
        if self.memory is not None:
            agent = int(self.watched[AGENT_WORD])
            resident = max(resident_peak(self.pid), resident_peak(agent) if agent else 0)
            if resident > self.memory:
                self.memory_stopped = resident
        return self.stall_stopped or self.memory_stopped is not None


def _parent_of(pid: int) -> int | None:
    """The parent's pid of a process, None when its stat cannot be read."""
    try:
        return int(stat_fields(pid)[1])
    except (ValueError, IndexError):
        return None


def _cpu_and_state(pid: int) -> tuple[float, str]:
    """User and system CPU seconds of a process and its state letter ("R",
    "S", "T"...), from one read of /proc/PID/stat; (0.0, "?") when it cannot
    be read."""
    fields = stat_fields(pid)
    return cpu_seconds(fields), fields[0] if fields else "?"


def death_kind(outcome: ChildOutcome) -> str:
    """TraceResult.fail_kind of a child that sent nothing."""
    if outcome.denied is not None:
        return "sandbox"
    if outcome.payload is GARBAGE_ANSWER:
        return "garbage"
    if outcome.memory is not None:
        return "memory"
    if outcome.timed_out:
        return "timeout"
    asserted = _asserted(outcome)
    if asserted is not None:
        if _forbidden_call(asserted):
            return "forbidden_call"
        return "global_overrun" if _GLOBAL_OVERRUN.fullmatch(asserted) else "assertion"
    return "crash" if os.WIFSIGNALED(outcome.status) else "exit"


ASSERTION_SHOWN = 200  # characters of an assert()'s message a failure shows
# The failed assertion a call of a forbidden function makes (c/src/forbidden_calls.c: the build
# sends each such call there): "(forbidden call):0: free: Assertion `...' failed.".
_FORBIDDEN_CALL = re.compile(
    r"\(forbidden call\):0: (\w+): Assertion `an allocator may get memory only from mem_sbrk' "
    r"failed\."
)


# What the agent says when the bytes past the library's variables, or another object's, or the
# spare static TLS changed (remote.c, check_data_tail): "(global data):0: 48 of the 3800 bytes
# after its last variable changed, from +0", "(library data):0: ... after libmsheap.so's last
# variable ...", "(thread data):0: 24 of its 1712 bytes changed, from +0", or "(unused data):0:
# msg: 120 of its 1024 bytes changed, from +0", or "(watch data):0: its 8192 bytes read as given
# back to the kernel".
_GLOBAL_OVERRUN = re.compile(r"\((global|library|thread|unused|watch) data\):0: (.+)")
_UNCOUNTED = " (state kept there is global data no rule counts)"
# Each one's words: (what it did, what leads the agent's detail, why it matters).
_OVERRUN_SAID = {
    "global": (
        "wrote past the end of its global data", "",
        " (a lab's driver keeps its own variables there, memlib's heap among them: such a write "
        "breaks its heap or crashes it)",
    ),
    # past another library's: memory no count of mm.c's variables sees
    "library": ("wrote past the end of another library's data", "", _UNCOUNTED),
    "thread": (
        "wrote into the spare static thread-local storage", "",
        " (no object's variables are there: state kept there is global data no rule counts)",
    ),
    "unused": ("wrote into a variable of another library's that it does not use", "", _UNCOUNTED),
    "watch": ("undid the grader's watch of the memory no object owns", "the watch's table, ", ""),
}  # fmt: skip


def _forbidden_call(asserted: str) -> str | None:
    """The function a forbidden call's failed assertion names, else None."""
    found = _FORBIDDEN_CALL.fullmatch(asserted)
    return found.group(1) if found else None


def _asserted(outcome: ChildOutcome) -> str | None:
    """The agent's assert() message, believed only for the death an assertion makes (the words
    are shared, and the agent writes there whatever happened), cut to ASSERTION_SHOWN."""
    aborted = os.WIFSIGNALED(outcome.status) and os.WTERMSIG(outcome.status) == signal.SIGABRT
    if not aborted or outcome.asserted is None:
        return None
    said = outcome.asserted
    return said if len(said) <= ASSERTION_SHOWN else said[: ASSERTION_SHOWN - 3] + "..."


def death(outcome: ChildOutcome, timeout: float, at: str) -> str:
    """What ended a child that sent nothing, `at` saying where it was:
    "crashed with SIGSEGV at op 2 (a 2 8) in the checked pass"."""
    if outcome.denied is not None:
        return f"tried to {outcome.denied} at {at}: the sandbox allows no such thing"
    if outcome.payload is GARBAGE_ANSWER:
        return f"{GARBAGE_ANSWER['garbage']}: its answer was not the grader's, after {at}"
    if outcome.memory is not None:
        used, limit = outcome.memory / (1 << 30), MEMORY_LIMIT / (1 << 30)
        where = f"stopped at {at}" if outcome.timed_out else f"seen as it ended, after {at}"
        return f"used {used:.1f} GiB of memory, past the limit of {limit:.1f} GiB: {where}"
    if outcome.asleep is not None:
        return (
            f"hung: stopped at {at}, asleep for {outcome.asleep:.1f} s with nothing running "
            "(the allocator slept, waited for a lock it held, or stopped itself)"
        )
    if outcome.stalled is not None:
        return (
            f"hung: stopped at {at}, which had not returned after {outcome.stalled:.2f} s "
            "of CPU time"
        )
    if outcome.idle:
        return (
            f"did not finish within {timeout * WALL_MULTIPLE:g} s, most of it not running "
            f"(asleep, or waiting for a core): stopped at {at}"
        )
    if outcome.timed_out:  # a limit of 27.4703 s said so: 3 digits are its precision
        return f"did not finish within {timeout:.3g} s of CPU time: stopped at {at}"
    asserted = _asserted(outcome)
    called = _forbidden_call(asserted) if asserted is not None else None
    if called is not None:
        return (
            f"called {called} at {at}, which an allocator may not: it may get memory only from "
            "mem_sbrk (the system malloc family, sbrk, brk, mmap, and dlsym or syscall to reach "
            "them, are forbidden)"
        )
    overrun = _GLOBAL_OVERRUN.fullmatch(asserted) if asserted is not None else None
    if overrun is not None:
        what, lead, why = _OVERRUN_SAID[overrun.group(1)]
        return f"{what}, by {at}: {lead}{overrun.group(2)}{why}"
    if asserted is not None:  # in the allocator's words, file and line included: said so
        return f"assertion failed at {at}, as the allocator's assert() put it: {asserted}"
    if os.WIFSIGNALED(outcome.status):
        return f"crashed with {signal.Signals(os.WTERMSIG(outcome.status)).name} at {at}"
    return f"exited with status {os.waitstatus_to_exitcode(outcome.status)} at {at}"


def answer(outcome: ChildOutcome) -> dict | None:
    """The child's answer, None if it sent none or garbage, or if the sandbox denied a
    call meanwhile (death() says which); raises its UsageError. A denied call is the
    verdict even when the process lived on: a submission that pointed the engine's
    `signal` and `raise` at functions that return survived its denied calls, unnamed,
    with its honest grade (red-team pass 18)."""
    if outcome.payload is not None and "usage_error" in outcome.payload:
        fault = GraderFault if outcome.payload.get("grader_fault") is True else UsageError
        raise fault(outcome.payload["usage_error"])
    if outcome.payload is GARBAGE_ANSWER or outcome.denied is not None:
        return None
    return outcome.payload


def replay_isolated(
    trace: Trace,
    spec: AllocatorSpec,
    options: ReplayOptions | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    stall: float | None = None,
) -> TraceResult:
    """replay_trace in a child process with a time limit (and, with `stall`, a
    limit on how long one op may take); never raises for the allocator's
    misbehaviour (only for a spec that cannot be loaded at all)."""

    confined = untrusted(spec)

    def work(shared: Any) -> dict:
        # `shared`: the SharedWords when an agent runs the code, else the progress words.
        if confined:
            graded = replay_remote(
                trace, spec, options or ReplayOptions(), shared, kernel_cpu_limit(timeout)
            )
            return {"result": asdict(graded)}
        with LoadedAllocator(spec) as alloc:
            return {"result": asdict(replay_trace(trace, alloc, options, shared))}

    library_for(spec)  # built here: the compiler cannot run in the sandboxed child
    outcome = run_forked(work, timeout, stall, sandboxed=confined, agent=confined)
    payload = answer(outcome)
    if payload is None and (checked := _checked_in_time(outcome)) is not None:
        with contextlib.suppress(KeyError, TypeError):
            limit = outcome.limit or timeout
            return timed_by_checked(TraceResult(**checked["result"]), trace, limit)
    if payload is not None:
        try:
            return TraceResult(**payload["result"])
        except (KeyError, TypeError):  # a JSON object, but not one of ours
            outcome = replace(outcome, payload=GARBAGE_ANSWER)
    phase, index, which = outcome.progress
    origin, at = where_it_died(trace, phase, index, which)
    op = index if index == NO_OP else index & ~IN_CHECKER
    printed = last_printed(outcome.output)
    said = f"; its last output: {printed}" if printed else ""
    return failed_result(
        trace,
        spec.name,
        f"{origin}: {death(outcome, timeout, at)}{said}",
        fail_kind=death_kind(outcome),
        fail_phase=PHASE_KEYS.get(phase, "load"),
        fail_op=op if phase in PHASE_NAMES and op < trace.num_ops else None,
        fail_pass=which if phase == PHASE_TIMED else None,
    )


def last_printed(output: str | None) -> str | None:
    """The last lines of what an allocator wrote (OUTPUT_SHOWN characters at most, its
    newlines shown as " | ", every control character escaped), for a failure's line:
    printf-debugging, or a heap checker's report before it calls exit()."""
    lines = [line.strip() for line in (output or "").splitlines() if line.strip()]
    if not lines:
        return None
    shown = printable(" | ".join(lines), lines=False)
    return shown if len(shown) <= OUTPUT_SHOWN else "..." + shown[-(OUTPUT_SHOWN - 3) :]


def _checked_in_time(outcome: ChildOutcome) -> dict | None:
    """The checked result a child left before it ran out of time in the timed passes,
    or None. Those passes only time what the checked ones proved and measured: run out
    of the time they share, by a correct allocator near its limit on a loaded machine,
    they failed a trace under some loads and not others (an honest CMU file its driver
    grades 50: 49.9 or 0, lab check regrade 17). A hung op, memory past the limit or a
    denied call is still the trace's failure."""
    # Out of CPU time, not stopped at the wall bound: an agent that slept through its timed
    # passes, moving their words now and then, held a class's slot 20 times its limit and was
    # graded valid (red-team pass 34).
    stopped_out_of_time = outcome.timed_out and outcome.stalled is None and outcome.asleep is None
    if not stopped_out_of_time or outcome.idle:
        return None
    if outcome.memory is not None or outcome.denied is not None:
        return None
    return outcome.provisional if outcome.progress[0] == PHASE_TIMED else None


# Where a child was when it died before any pass: loading the library, or running its
# constructors once sealed (the team record's read included).
AT_START = "the start, loading the allocator"


def where_it_died(trace: Trace, phase: int, index: int, which: int) -> tuple[str, str]:
    """(origin, at) for a child's last progress words: origin the file, with
    the op's line when it was running one; at, for death(), e.g. "op 2 (a 2 8)
    in the checked pass", "mm_checkheap, called after op 2 (a 2 8) in the checked
    pass" or "mm_init in timed pass 3"."""
    origin = trace.path or trace.name
    if phase not in (PHASE_CHECKED, PHASE_CHECKED_AGAIN, PHASE_TIMED):
        return origin, AT_START
    if phase == PHASE_TIMED:
        stage = "the untimed warm-up pass" if which == 0 else f"timed pass {which}"
    else:
        stage = PHASE_NAMES[phase]
    if index == NO_OP:
        return origin, f"mm_init in {stage}"
    if index == RESETTING:
        return origin, f"the engine's reset of the heap before {stage}"
    checker = "mm_checkheap, called after " if index & IN_CHECKER else ""
    index &= ~IN_CHECKER
    if index >= trace.num_ops:  # carried passes: freeing the blocks a pass left
        return origin, f"the end of {stage}, freeing the blocks it left"
    return where(trace, index), f"{checker}op {index} ({op_text(trace, index)}) in {stage}"


def _read_until(
    fd: int, timeout: float, watch: _Watch, output: _Output | None = None
) -> tuple[str, bool]:
    """(everything the child writes, False), or (what it wrote so far, True) when its
    time runs out: `timeout` seconds of CPU time, or WALL_MULTIPLE times that of wall
    time (watch.wall_stopped says which), or the watch sees it hang. It waits
    watch.tick at most at a time, ticking the open progress reporters in between: this
    is where their time moves on (progress.py: no thread). An agent's `output` is
    drained meanwhile. Once the child has left a provisional answer (a trace's checked
    passes done), what is left of `timeout` grows to TIMED_SHARE times the CPU time
    run so far, if that is more; watch.limit is the limit in force."""
    start = time.monotonic()
    chunks: list[bytes] = []
    size = 0
    watch.limit = timeout
    wall = timeout * WALL_MULTIPLE  # the checked passes' limit's: not raised with the CPU's
    while True:
        wall_left = wall - (time.monotonic() - start)
        cpu = watch.cpu_seconds()  # read once a tick: two /proc files
        left = min(timeout - cpu, wall_left)
        watch.wall_stopped = wall_left <= 0
        if left <= 0 or watch.must_stop(cpu):
            return b"".join(chunks).decode(errors="replace"), True
        watched = [fd, output.fd] if output is not None and output.open else [fd]
        ready, _, _ = select.select(watched, [], [], min(left, watch.tick))
        if output is not None and output.fd in ready:
            output.drain()
        if fd not in ready:
            tick_active()
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks).decode(errors="replace"), False
        size += len(chunk)
        if size > ANSWER_LIMIT:  # no answer of ours is this long: the allocator is writing
            return GARBAGE, False
        chunks.append(chunk)
        if b"\n" in chunk and timeout == watch.limit:  # the first provisional answer
            ran = watch.cpu_seconds()  # now: the tick's reading is up to a tick old
            timeout = watch.limit = max(timeout, ran * (1 + TIMED_SHARE))
