"""The production allocators as references: glibc, jemalloc, mimalloc, tcmalloc.

Each reference replays a trace in a fresh Python process of its own started
with LD_PRELOAD naming its library (none for glibc), through the same C loop
as everything else (the engine's "system" allocator, i.e. whatever malloc the
process has: see reference_worker.py). Loading two of them into one process
would skew both their times and their memory, so they never share one.

Their heap is not ours, so their footprint comes from their own statistics,
sampled during the checked pass (at every op, so the peak is caught, not what
is left after the frees), minus what the interpreter itself held before the
first op:
  glibc     mallinfo2(): arena + hblkhd (its arenas' heaps, plus mmapped chunks),
            counted from what was in use at the first op
  jemalloc  mallctl("stats.arenas.<i>.pactive") of an arena made for the trace,
            after refreshing mallctl("epoch")
  tcmalloc  "generic.heap_size" - "tcmalloc.pageheap_unmapped_bytes"
  mimalloc  mi_process_info's current commit, with MIMALLOC_EAGER_COMMIT=0
The observed pass runs in a new thread, which glibc and mimalloc give a new
arena or heap, so the trace does not fill the interpreter's holes; jemalloc's
thread is moved, right before the first op, onto an arena that nothing else
uses, its thread cache emptied, so its footprint is the trace's alone. glibc's
counts as the trace's what the new arena and the thread's cache held free at
the first op (mostly the arena's padded top: up to 116 KiB), which the
trace's first blocks take with no growth. For the other two, what the
allocator held in reserve before the first op (partly used pages, tcmalloc's
caches: from 0.1 to about 2 MiB) may still serve part of the trace unseen, so
on small traces the footprint is understated.
Their utilization is peak live payload / that peak footprint; none, with the
reason in the result's not_measured, when the footprint grew by less than the
allocator's own blocks need at the trace's peak: the peak over the trace of
the live blocks' sizes, each request rounded as the allocator rounds it
  glibc     its chunk: the request + 8 rounded up to 16, at least 32
  jemalloc  nallocx(n, 0)
  tcmalloc  tc_nallocx(n, 0)
  mimalloc  mi_good_size(n)
(asked of the allocator in its own process, once per distinct size; a library
that exports no such function has its requests rounded up to 8, a multiple
of which every reference's blocks are). A utilization above that bound cannot
be real, so memory the process already held served part of the trace (too
small a trace to measure the allocator by). Each result also carries the
worker process's peak RSS (getrusage, interpreter included).

A reference whose library is not installed raises ReferenceMissing, whose
message is the apt-get command that installs it; callers report it and go on.
The library can be pointed elsewhere with MALLOCSIM_<NAME>_LIBRARY.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mallocsim.errors import UsageError
from mallocsim.replay import ReplayOptions, failed_result
from mallocsim.results import TraceResult
from mallocsim.timeline import Series
from mallocsim.trace import Trace

# Where Debian (and most distributions) put shared libraries.
LIBRARY_DIRS = (
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
)
PACKAGE_DIR = Path(__file__).absolute().parent.parent  # holds the mallocsim package


@dataclass(frozen=True)
class Reference:
    """A production allocator: where it lives and how its footprint is read."""

    name: str  # "jemalloc": the name users give with -a
    library: str | None  # file name of its shared library; None = the process's own (glibc)
    package: str | None  # the Debian package that installs it
    footprint: str  # how its footprint is measured, for reports
    env: tuple[tuple[str, str], ...] = ()  # extra environment for its process

    @property
    def library_variable(self) -> str:
        return f"MALLOCSIM_{self.name.upper()}_LIBRARY"


REFERENCES: dict[str, Reference] = {
    r.name: r
    for r in (
        Reference(
            "glibc",
            None,
            None,
            "mallinfo2() arena + hblkhd, from what was in use at the first op "
            "(its arena's and thread cache's free memory counted)",
        ),
        Reference(
            "jemalloc",
            "libjemalloc.so.2",
            "libjemalloc2",
            'mallctl("stats.arenas.<i>.pactive") of an arena of the trace\'s own, '
            'after mallctl("epoch")',
        ),
        Reference(
            "mimalloc",
            "libmimalloc.so.2",
            "libmimalloc2.0",
            "mi_process_info() current commit, MIMALLOC_EAGER_COMMIT=0",
            (("MIMALLOC_EAGER_COMMIT", "0"),),
        ),
        Reference(
            "tcmalloc",
            "libtcmalloc_minimal.so.4",
            "libtcmalloc-minimal4",
            '"generic.heap_size" - "tcmalloc.pageheap_unmapped_bytes"',
        ),
    )
}


class ReferenceMissing(UsageError):
    """A reference allocator whose library is not installed."""


@dataclass(frozen=True)
class ReferenceRun:
    """What a reference's process reports: its result, and its footprint over
    time when asked for (None otherwise, or when the trace failed)."""

    result: TraceResult
    series: Series | None


def require(reference: Reference, library: Path | None = None) -> Path | None:
    """The library to preload for `reference` (None for glibc), or
    ReferenceMissing saying how to install it. `library` overrides the search."""
    if reference.library is None:
        return None
    if library is None and os.environ.get(reference.library_variable):
        library = Path(os.environ[reference.library_variable])
    candidates = [library] if library else [Path(d) / reference.library for d in LIBRARY_DIRS]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    where = f" ({library} does not exist)" if library else ""
    raise ReferenceMissing(
        f"{reference.name} is not installed{where}: apt-get install {reference.package}"
    )


def process_environment(reference: Reference, preload: Path | None) -> dict[str, str]:
    """The environment of a Python process that runs on `reference`: this
    one's, with `preload` (from require) as the only LD_PRELOAD, the
    reference's own variables, and the mallocsim package importable."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env.update(reference.env)
    if preload is not None:
        env["LD_PRELOAD"] = str(preload)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_DIR), env.get("PYTHONPATH")]))
    return env


def replay_reference(
    reference: Reference,
    trace: Trace,
    options: ReplayOptions,
    timeout: float,
    library: Path | None = None,
    series_points: int = 0,
) -> ReferenceRun:
    """Replay one trace (read again from its file) on a reference, in a process
    of its own. Never raises for the allocator's behaviour: a crash, a hang or
    a failed check is an invalid result. Raises ReferenceMissing when the
    library is not installed, UsageError when its statistics are unreachable."""
    preload = require(reference, library)
    if trace.path is None:
        raise UsageError(f"{trace.name}: a reference replays traces from files only")
    request = {
        "reference": reference.name,
        "trace": trace.path,
        "reading": trace.info.reading,
        "timing": options.timing,
        "min_seconds": options.min_seconds,
        "min_passes": options.min_passes,
        "max_passes": options.max_passes,
        "sample_above": options.sample_above,
        "batch": options.batch,
        "series_points": series_points,
    }
    # -P: nothing from the working directory (a class folder, say) is imported in its place.
    command = [sys.executable, "-P", "-m", "mallocsim.reference_worker", json.dumps(request)]
    try:
        done = subprocess.run(
            command,
            env=process_environment(reference, preload),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return _failed(reference, trace, f"did not finish within {timeout:g} s")
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        return _failed(reference, trace, f"crashed with {name}")
    try:
        payload = json.loads(done.stdout)
    except json.JSONDecodeError:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        return _failed(reference, trace, f"its process failed: {lines[-1]}")
    if "usage_error" in payload:
        raise UsageError(payload["usage_error"])
    series = payload.get("series")
    return ReferenceRun(TraceResult(**payload["result"]), Series(**series) if series else None)


def _failed(reference: Reference, trace: Trace, what: str) -> ReferenceRun:
    error = f"{trace.path}: {reference.name} {what}"
    return ReferenceRun(failed_result(trace, reference.name, error), None)
