"""Replay a student's allocator from outside its process: what decides the
grade never shares an address space with the code being graded.

This runs in the child isolate.py forks for a trace (the grader, our code
only). It shares the heap (memlib's mem_share), forks the agent, which enters
the sandbox, loads the allocator and serves the grader's requests
(c/src/remote.c); then the ordinary replay runs here against a table whose
every call is a request to the agent. The checked passes, the heap's break and
high-water mark, and the check of every timed pass's pointers are the
grader's; the agent only answers calls and runs the timed passes, whose times
the kernel's count of its CPU time bounds.

What the agent can still do is fail: die (the grader dies the same way, so
isolate.py reports it as before), answer wrongly (the checker says so), break
the protocol or claim less time than it took (the trace fails, fail_kind
"forged", with the grader's line).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from mallocsim._native import ffi, lib
from mallocsim.allocators import AllocatorSpec, library_for
from mallocsim.errors import UsageError
from mallocsim.forbidden import writable_load_bytes
from mallocsim.replay import LoadedAllocator, ReplayOptions, failed_result, replay_trace
from mallocsim.results import TraceResult
from mallocsim.sandbox import enter_sandbox
from mallocsim.trace import Trace

FORGED = "forged"  # TraceResult.fail_kind of an agent the grader caught lying
SANDBOX = "sandbox"  # ... of one that did what the sandbox allows no one (isolate.death_kind's)


class RemoteAllocator:
    """The agent's allocator as the engine sees it: a table of requests."""

    def __init__(self, spec: AllocatorSpec, link: Any, native: Any) -> None:
        self.spec, self.link, self.native = spec, link, native

    def run_timed(self, trace: Trace, timed: Any, check: Any, room: Any, result: Any) -> int:
        """The timed passes, run by the agent, each checked here as it ends."""
        return lib.ms_link_timed(self.link, trace.native, timed, check, room, result)


def replay_remote(
    trace: Trace,
    spec: AllocatorSpec,
    options: ReplayOptions,
    progress: Any,
    denied: Any,
    agent_word: Any,
    cpu_seconds: float,
) -> TraceResult:
    """replay_trace with the allocator in a sandboxed agent process; `progress`
    the three progress words, `denied` the sandbox's word, `agent_word` where
    the agent's pid is left for the watching parent (its memory is watched)."""
    if not lib.mem_share():
        raise UsageError("cannot share the heap with the allocator's process (memfd_create)")
    error = ffi.new("ms_error *")
    link = lib.ms_link_create(trace.native, max(options.max_passes, 1), error)
    if link == ffi.NULL:
        raise UsageError(ffi.string(error.message).decode(errors="replace"))
    library = library_for(spec)  # built already (isolate.py): found once, for both processes
    try:
        pid = os.fork()
        if pid == 0:
            _agent(link, trace, spec, library, denied, cpu_seconds)  # never returns
        agent_word[0] = pid
        try:
            return _grade(link, pid, trace, spec, library, options, progress)
        finally:
            lib.ms_link_stop(link)
    finally:
        lib.ms_link_destroy(link)


def _agent(
    link: Any,
    trace: Trace,
    spec: AllocatorSpec,
    library: Path | None,
    denied: Any,
    cpu_seconds: float,
) -> None:
    """The agent: sandboxed before the allocator's first instruction, then
    serving the grader until it is stopped. Between the loading mark and the
    library's load nothing else runs, so that what the agent's private memory
    gains there is the library's doing (ms_link_attach)."""
    lib.ms_agent_begin()
    try:
        enter_sandbox(denied, None, cpu_seconds)
        lib.ms_agent_loading(link)
        alloc = LoadedAllocator(spec, library)
    except Exception as error:  # any refusal goes to the grader, as one line
        lib.ms_agent_refuse(link, str(error).encode(errors="replace"))
    lib.ms_agent_serve(link, alloc.native, trace.native)
    os._exit(1)  # not reached: serving ends the process


def _grade(
    link: Any,
    pid: int,
    trace: Trace,
    spec: AllocatorSpec,
    library: Path | None,
    options: ReplayOptions,
    progress: Any,
) -> TraceResult:
    native = ffi.new("ms_allocator *")
    own_data = writable_load_bytes(library) if library is not None else 0
    if not lib.ms_link_attach(link, pid, own_data, native):
        verdict = _verdict(link)
        status = lib.ms_link_status(link)
        if status == lib.MS_LINK_LOAD_FAILED:
            raise UsageError(verdict)
        kind = SANDBOX if status == lib.MS_LINK_MEMORY else FORGED
        where = trace.path or trace.name
        return failed_result(
            trace, spec.name, f"{where}: {verdict}", fail_kind=kind, fail_phase="load"
        )
    result = replay_trace(trace, RemoteAllocator(spec, link, native), options, progress)
    if lib.ms_link_status(link) == lib.MS_LINK_OK:
        return result
    # Whatever the replay concluded rests on answers the grader has voided.
    where = trace.path or trace.name
    return replace(
        failed_result(trace, spec.name, f"{where}: {_verdict(link)}", fail_kind=FORGED),
        fail_phase=result.fail_phase or "timed",
    )


def _verdict(link: Any) -> str:
    return ffi.string(lib.ms_link_message(link)).decode(errors="replace")
