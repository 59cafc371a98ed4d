"""Run one trace's replay in a child process, so that no allocator can take
the tool down with it.

The child is forked, loads the allocator, replays, and sends its TraceResult
back through a pipe. While it runs it keeps two shared words up to date (the
phase and the op index), so when it crashes or hangs the parent still knows
where: "crashed with SIGSEGV at op 1234 (a 17 4096) in the checked pass". A
child past its time limit is killed. Whatever happens, the parent gets a
TraceResult, and every result it already has is kept.
"""

from __future__ import annotations

import faulthandler
import json
import mmap
import os
import select
import signal
import time
from dataclasses import asdict

from mallocsim._native import ffi
from mallocsim.allocators import AllocatorSpec
from mallocsim.errors import UsageError
from mallocsim.replay import (
    PHASE_NAMES,
    LoadedAllocator,
    ReplayOptions,
    failed_result,
    op_text,
    replay_trace,
    where,
)
from mallocsim.results import TraceResult
from mallocsim.trace import Trace

DEFAULT_TIMEOUT = 120.0  # seconds a trace may take before its child is killed
# The longest time limit: a day is plenty, and select() cannot wait past a time_t.
MAX_TIMEOUT = 86400.0


def replay_isolated(
    trace: Trace,
    spec: AllocatorSpec,
    options: ReplayOptions | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> TraceResult:
    """replay_trace in a child process with a time limit; never raises for the
    allocator's misbehaviour (only for a spec that cannot be loaded at all)."""
    shared = mmap.mmap(-1, 16)  # anonymous and MAP_SHARED: seen by both processes
    progress = ffi.from_buffer("uint64_t[2]", shared)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_fd)
        # A crash must reach the parent as the signal it is, not as Python's
        # fault report (pytest turns faulthandler on).
        faulthandler.disable()
        status = 0
        try:
            with LoadedAllocator(spec) as alloc:
                result = replay_trace(trace, alloc, options, progress)
            payload = {"result": asdict(result)}
        except UsageError as error:
            payload = {"usage_error": str(error)}
        except BaseException as error:  # report anything, the parent decides
            payload = {"usage_error": f"{type(error).__name__}: {error}"}
            status = 1
        with os.fdopen(write_fd, "w") as out:
            out.write(json.dumps(payload))
        os._exit(status)

    os.close(write_fd)
    finished = False
    try:
        data, timed_out = _read_until(read_fd, timeout)
        finished = not timed_out
    finally:
        # Out of time, or interrupted while waiting (Ctrl-C): the child must
        # not run on after us, nor be left unreaped.
        os.close(read_fd)
        if not finished:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    phase, index = int(progress[0]), int(progress[1])
    del progress
    shared.close()
    if data:
        payload = json.loads(data)
        if "usage_error" in payload:
            raise UsageError(payload["usage_error"])
        return TraceResult(**payload["result"])
    stage = PHASE_NAMES.get(phase, "loading the allocator")
    at = f"op {index} ({op_text(trace, index)})" if phase in (1, 2) else "an unknown op"
    if timed_out:
        what = f"did not finish within {timeout:g} s: stopped at {at} in {stage}"
    elif os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        what = f"crashed with {name} at {at} in {stage}"
    else:
        what = f"exited with status {os.waitstatus_to_exitcode(status)} at {at} in {stage}"
    origin = where(trace, index) if phase in (1, 2) else (trace.path or trace.name)
    return failed_result(trace, spec.name, f"{origin}: {what}")


def _read_until(fd: int, timeout: float) -> tuple[str, bool]:
    """Everything the child writes, or ("", True) when the time runs out."""
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return "", True
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks).decode(), False
        chunks.append(chunk)
