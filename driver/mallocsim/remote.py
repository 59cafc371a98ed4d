"""Replay a student's allocator from outside its process: what decides the
grade never shares an address space with the code being graded.

This runs in the child isolate.py forks for a trace (the grader, our code
only). It shares the heap (memlib's mem_share) and starts the agent, msagent
(c/src/agent_main.c): a program of its own, not a fork of this one, so that
nothing this process ever held is in the allocator's reach. The agent enters
the sandbox, loads the allocator and serves the grader's requests
(c/src/remote.c); then the ordinary replay runs here against a table whose
every call is a request to the agent. The checked passes, the heap's break and
high-water mark, and the check of every timed pass's pointers are the
grader's; the agent only answers calls and runs the timed passes, whose times
the kernel's count of its CPU time bounds (the two held to one CPU meanwhile:
shared_core.py). A student's -m32 build (the CS:APP
handout's) is served by the 32-bit msagent (_native/i386/, _native.engine_dir)
on a heap placed below 4 GiB; the link between the two is the same bytes in
both builds (remote.c's wire format).

What the agent can still do is fail: die (the grader dies the same way, so
isolate.py reports it as before), answer wrongly (the checker says so), break
the protocol or claim less time than it took (the trace fails, fail_kind
"forged", with the grader's line).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from mallocsim._native import NATIVE32_DIR, engine_dir, ffi, lib
from mallocsim.allocators import AllocatorSpec, library_for
from mallocsim.elf import writable_load_bytes
from mallocsim.errors import GraderFault, UsageError
from mallocsim.labs import LABS
from mallocsim.pattern_secret import pattern_seed
from mallocsim.replay import (
    PHASE_TIMED,
    ReplayOptions,
    failed_result,
    native_dialect,
    replay_trace,
)
from mallocsim.results import TraceResult
from mallocsim.safe_text import printable
from mallocsim.sandbox import cpu_seconds, resident_peak, stat_fields
from mallocsim.shared_core import one_core
from mallocsim.trace import Trace, parse_trace_text

FORGED = "forged"  # TraceResult.fail_kind of an agent the grader caught lying
SANDBOX = "sandbox"  # ... of one that did what the sandbox allows no one (isolate.death_kind's)
AGENT = "msagent"  # in the engine's folder for the library (_native.engine_dir)


class RemoteAllocator:
    """The agent's allocator as the engine sees it: a table of requests."""

    def __init__(self, spec: AllocatorSpec, link: Any, native: Any, pid: int) -> None:
        self.spec, self.link, self.native, self.pid = spec, link, native, pid

    def own_cpu_seconds(self) -> float:
        """The CPU time the agent's process has run (the kernel's count, in ticks)."""
        return cpu_seconds(stat_fields(self.pid))

    def run_timed(self, trace: Trace, timed: Any, check: Any, room: Any, result: Any) -> int:
        """The timed passes, run by the agent, each checked here as it ends."""
        return lib.ms_link_timed(self.link, trace.native, timed, check, room, result)


# The watch's own words (isolate.py), shared by the grader's process and its child, never the
# agent, which maps the progress words: one that wrote another pid into the agent's word there had
# its CPU time and memory read from that process, and could touch all of the heap's reservation
# unwatched.
AGENT_WORD = 0  # the pid of the child's agent, if it started one (0: none)
PEAK_WORD = 1  # its agents' peak resident memory, bytes, once they are gone
# The phase the child is in (replay.py's PHASE_*), as it wrote it: the progress words' own copy is
# the agent's to write too, and one that wrote "checked" there within its timed passes, then
# crashed, had the -m32 build graded after it had seen the whole trace (red-team pass 48).
PHASE_WORD = 2
WATCH_WORDS = 3


@dataclass
class SharedWords:
    """The words the grader shares with the process watching it (isolate.py):
    their memfd, for the agent to map, a pointer to them here, and where in them
    the engine's progress words and the sandbox's denied word go; and the
    watch's own two words (`watch`: the agent's pid, the agents' peak memory),
    which the agent never maps; `provisional`, which hands the watching process
    an answer to keep should this one be stopped out of time (a trace's checked
    result, before its timed passes); and `output_fd`, the pipe the agent's
    stdout and stderr go to, which the watching process drains. agents_peak is
    that peak as this process knows it, written to the watch once each agent is
    gone."""

    fd: int
    words: Any
    engine_at: int
    denied_at: int
    watch: Any
    provisional: Callable[[dict], None]
    output_fd: int
    agents_peak: int = 0


@dataclass(frozen=True)
class _Agent:
    """A started agent: its link, its pid, the library it loads and the name
    the user gave the allocator."""

    link: Any
    pid: int
    library: Path
    name: str


@contextmanager
def _started(
    trace: Trace, spec: AllocatorSpec, max_passes: int, shared: SharedWords, cpu_seconds: float
) -> Iterator[_Agent]:
    """The heap shared, a link made for `trace` and msagent started on the
    spec's library, limited to `cpu_seconds` of CPU time, its pid left in the
    shared words for the watching parent (its memory is watched too); stopped,
    reaped and the link unmapped on the way out."""
    library = library_for(spec)  # built already: the compiler cannot run in the sandbox
    if library is None:
        raise UsageError(f"{spec.name}: no library for the allocator's process to load")
    engine = engine_dir(library)
    # A 32-bit agent (a -m32 build) maps the heap where it can: below 4 GiB; a 64-bit one where
    # the lab's memlib puts it, when it fixes the place.
    lib.mem_place(LABS[spec.lab].heap_at or 0)
    if not lib.mem_share(engine == NATIVE32_DIR):
        raise UsageError("cannot share the heap with the allocator's process (memfd_create)")
    error = ffi.new("ms_error *")
    link = lib.ms_link_create(trace.native, max(max_passes, 1), error)
    if link == ffi.NULL:
        raise UsageError(ffi.string(error.message).decode(errors="replace"))
    try:
        # Named, so that the strings outlive the call that reads them.
        texts = (engine / AGENT, library, spec.options)
        program, path, settings = (ffi.new("char[]", str(text).encode()) for text in texts)
        setup = ffi.new(
            "ms_agent_setup *",
            {
                "program": program,
                "library": path,
                "dialect": native_dialect(spec),
                "options": settings,
                "cpu_seconds": cpu_seconds,
                "words_fd": shared.fd,
                "progress_at": shared.engine_at,
                "denied_at": shared.denied_at,
                "output_fd": shared.output_fd,
            },
        )
        pid = lib.ms_agent_spawn(link, setup, error)
        if pid < 0:  # whatever the allocator: msagent could not run
            raise GraderFault(ffi.string(error.message).decode(errors="replace"))
        shared.watch[AGENT_WORD] = pid
        try:
            yield _Agent(link, pid, library, spec.name)
        finally:
            # Its peak is read while it lives (a zombie has none), and handed to the watching
            # parent once it is dead: the parent's last look at the memory limit comes after.
            shared.agents_peak = max(shared.agents_peak, resident_peak(pid))
            lib.ms_link_stop(link)
            shared.watch[PEAK_WORD] = shared.agents_peak
    finally:
        lib.ms_link_destroy(link)


def replay_remote(
    trace: Trace,
    spec: AllocatorSpec,
    options: ReplayOptions,
    shared: SharedWords,
    cpu_seconds: float,
) -> TraceResult:
    """replay_trace with the allocator in a sandboxed agent process (_started)."""
    where = trace.path or trace.name
    with _started(trace, spec, options.max_passes, shared, cpu_seconds) as agent:
        native = ffi.new("ms_allocator *")
        if not _attach(agent, native):
            status = lib.ms_link_status(agent.link)
            kind = SANDBOX if status == lib.MS_LINK_MEMORY else FORGED
            return failed_result(
                trace, spec.name, f"{where}: {_verdict(agent)}", fail_kind=kind, fail_phase="load"
            )
        remote = RemoteAllocator(spec, agent.link, native, agent.pid)
        # The agent sees the payloads: a pattern it could work out, it could write back.
        seed = pattern_seed(library_for(spec), trace)
        keyed = replace(options, secret_pattern=True, pattern_seed=seed)

        def checked(result: TraceResult) -> None:
            # Left for a grader that stops this process in the timed passes, out of time;
            # only while the agent's answers stand (below).
            if lib.ms_link_status(agent.link) == lib.MS_LINK_OK:
                shared.provisional({"result": asdict(result)})

        with ExitStack() as timed_core:

            def entered(phase: int) -> None:
                shared.watch[PHASE_WORD] = phase
                if phase == PHASE_TIMED:  # the agent and this process take turns: one CPU
                    timed_core.enter_context(one_core(agent.pid))

            result = replay_trace(trace, remote, keyed, shared.words, checked, entered)
        if lib.ms_link_status(agent.link) == lib.MS_LINK_OK:
            return result
        # Whatever the replay concluded rests on answers the grader has voided.
        return replace(
            failed_result(trace, spec.name, f"{where}: {_verdict(agent)}", fail_kind=FORGED),
            fail_phase=result.fail_phase or "timed",
        )


def team_remote(spec: AllocatorSpec, shared: SharedWords, cpu_seconds: float) -> list[str | None]:
    """The CS:APP team record of the spec's library, read by a sandboxed agent
    (_started): its five fields, each cut to MS_TEAM_FIELD_BYTES - 1 bytes, None
    for a NULL pointer. Raises UsageError when the library has none or its
    process failed."""
    empty = parse_trace_text("0\n0\n0\n1\n", "team")
    with _started(empty, spec, 1, shared, cpu_seconds) as agent:
        if not _attach(agent, ffi.new("ms_allocator *")):
            raise UsageError(f"the team record could not be read: {_verdict(agent)}")
        room = ffi.new("char[]", lib.MS_TEAM_FIELDS * lib.MS_TEAM_FIELD_BYTES)
        if not lib.ms_link_team(agent.link, room):
            raise UsageError("cannot read the team record: the library has no ms_lab_team")
        fields = [room + i * lib.MS_TEAM_FIELD_BYTES for i in range(lib.MS_TEAM_FIELDS)]
        return [
            None
            if field[0] == b"\0" and field[1] == bytes([lib.MS_TEAM_FIELD_NULL])
            else ffi.string(field).decode(errors="replace")
            for field in fields
        ]


def _attach(agent: _Agent, native: Any) -> bool:
    """Wait for the agent to load its library, `native` then its table of
    requests; False when it failed (ms_link_status says how). Raises UsageError
    when it could not load the library at all, as loading it here would."""
    own_data = writable_load_bytes(agent.library)
    if lib.ms_link_attach(agent.link, agent.pid, own_data, native):
        return True
    if lib.ms_link_status(agent.link) == lib.MS_LINK_LOAD_FAILED:
        raise UsageError(_verdict(agent))
    return False


def _verdict(agent: _Agent) -> str:
    """The grader's line on the agent, naming the library as the user named it; printable,
    since the agent may have written it (the link's words are shared: a constructor wrote ESC[2J
    and a forged "score 100 / 100" there, which reached the terminal)."""
    line = ffi.string(lib.ms_link_message(agent.link)).decode(errors="replace")
    return printable(line.replace(str(agent.library), agent.name), lines=False)
