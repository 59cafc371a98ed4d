"""A saved run's metadata: when, where, on what and how it was made (pyperf keeps the same).

collect() gives a plain JSON-ready dict, the "metadata" of results format 2
(results.py), with these keys:
  date, finished        the run's start and end, UTC, ISO 8601
  host                  the host name
  cpu_model, cpu_count  /proc/cpuinfo's model name; os.cpu_count(); cpus_usable: the
                        CPUs this process may run on (its affinity)
  kernel, machine       "Linux 6.1.0-18-amd64", "x86_64"
  compiler              the first line of `$CC --version` (cc by default: what builds mm.c)
  python, mallocsim     their versions (mallocsim's from the package metadata)
  allocator_versions    each reference's: glibc from gnu_get_libc_version (confstr),
                        jemalloc, mimalloc and tcmalloc the Debian package's version
                        (dpkg-query) when installed; "unknown" where not knowable
  command_line          the arguments, "mallocsim" first
  lab, throughput       the lab profile's name; how throughput was measured, in words
  load_start, load_end  os.getloadavg() (1, 5, 15 minutes) when the run began and ended
  interrupted           true when the run was stopped (Ctrl-C, SIGTERM) before all was
                        measured, its results the ones that were; absent otherwise
Every value is a string, a number, a list of them or None: what could not be
found is "unknown" (or None for the load), never an exception.

Guarantees: imports nothing native at import time (the reference table is read
lazily, inside collect), so a saved file's metadata can be read and shown without
the engine; the subprocesses it runs (cc, dpkg-query) are bounded by a timeout.
"""

from __future__ import annotations

import os
import platform
import shlex
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from mallocsim.errors import UsageError

UNKNOWN = "unknown"
COMMAND_TIMEOUT = 10.0  # seconds for `cc --version` and dpkg-query: a hung tool costs no more


@dataclass(frozen=True)
class RunStart:
    """What is known when a command begins: its time, its arguments, the load."""

    date: str
    command_line: tuple[str, ...]
    load: tuple[float, ...] | None


_start: RunStart | None = None


def begin_run(argv: Sequence[str]) -> RunStart:
    """Note that a command starts now, with these arguments (cli.main calls it)."""
    global _start
    _start = RunStart(_now(), ("mallocsim", *argv), _load())
    return _start


def run_start() -> RunStart:
    """The run begun by begin_run, or one that begins now (a library caller)."""
    return _start if _start is not None else RunStart(_now(), tuple(sys.argv), _load())


class TimingOptions(Protocol):
    """What throughput_measure reads of replay.ReplayOptions (not imported: native)."""

    timing: bool
    min_seconds: float
    min_passes: int
    max_passes: int
    carry_heap: bool


def throughput_measure(options: TimingOptions, rounds: int | None = None) -> str:
    """How these options measure throughput, in words, for the metadata."""
    if not options.timing:
        return "not measured (--no-timing)"
    heap = (
        "each pass on the heap the last one left (after a warm-up pass)"
        if options.carry_heap
        else "each pass from mm_init on an empty heap"
    )
    alternating = f", in {rounds} alternating rounds" if rounds else ""
    return (
        "ops / median timed pass (wall clock, no checks): each trace timed for at least "
        f"{options.min_seconds:g} s and {options.min_passes} passes (at most "
        f"{options.max_passes}){alternating}, {heap}"
    )


def collect(
    lab: str | None = None, throughput: str | None = None, interrupted: bool = False
) -> dict:
    """The run's metadata (the keys above), at the end of the run; `interrupted`: it was
    stopped (Ctrl-C, SIGTERM) before all was measured, and its results are those measured."""
    start = run_start()
    return {
        **({"interrupted": True} if interrupted else {}),
        "date": start.date,
        "finished": _now(),
        "host": socket.gethostname() or UNKNOWN,
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "kernel": f"{platform.system()} {platform.release()}".strip() or UNKNOWN,
        "machine": platform.machine() or UNKNOWN,
        "compiler": compiler_version(),
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "mallocsim": mallocsim_version(),
        "allocator_versions": allocator_versions(),
        "command_line": list(start.command_line),
        "lab": lab,
        "throughput": throughput,
        "load_start": list(start.load) if start.load else None,
        "load_end": list(load) if (load := _load()) else None,
    }


def mallocsim_version() -> str:
    """This package's version, from its installed metadata."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mallocsim")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return UNKNOWN


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                # x86 says "model name"; ARM kernels "Model" or "Hardware"; others "cpu model".
                if key.strip() in ("model name", "Model", "Hardware", "cpu model"):
                    return value.strip() or UNKNOWN
    except OSError:
        pass
    return platform.processor() or UNKNOWN


def compiler_version(compiler: str | None = None) -> str:
    """The first line of `COMPILER --version`, by default `$CC --version` (the compiler mm.c is
    built with)."""
    command = shlex.split(compiler or os.environ.get("CC", "cc")) or ["cc"]
    output = _run([*command, "--version"])
    return output.splitlines()[0].strip() if output and output.strip() else UNKNOWN


def allocator_versions(packages: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """Each reference allocator's version: glibc's own, the others' Debian
    package's. `packages` maps a name to its package (default: references.py's)."""
    if packages is None:
        packages = _reference_packages()
    versions: dict[str, str] = {}
    installed = _dpkg_versions([p for p in packages.values() if p])
    for name, package in packages.items():
        override = os.environ.get(f"MALLOCSIM_{name.upper()}_LIBRARY")
        if override:  # not the package's library: its version cannot be told
            versions[name] = f"{UNKNOWN} (MALLOCSIM_{name.upper()}_LIBRARY={override})"
        elif package is None:  # the process's own malloc: glibc
            versions[name] = glibc_version()
        else:
            versions[name] = installed.get(package, UNKNOWN)
    return versions


def glibc_version() -> str:
    """gnu_get_libc_version(), through confstr: "2.36"."""
    try:
        value = os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.36"
    except (ValueError, OSError):  # not glibc (musl, macOS)
        value = None
    return value.removeprefix("glibc ").strip() if value else UNKNOWN


def _reference_packages() -> dict[str, str | None]:
    try:  # lazily: references.py loads the engine
        from mallocsim.references import REFERENCES
    except (ImportError, OSError, UsageError):  # no engine: glibc's version alone
        return {"glibc": None}
    return {name: reference.package for name, reference in REFERENCES.items()}


def _dpkg_versions(packages: Sequence[str]) -> dict[str, str]:
    """The installed version of each of these Debian packages (those dpkg knows)."""
    if not packages:
        return {}
    output = _run(
        ["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status} ${Version}\n", *packages]
    )
    versions = {}
    for line in (output or "").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "installed":
            versions[parts[0]] = parts[2]
    return versions


def _run(command: list[str]) -> str | None:
    """A command's stdout (whatever its status: dpkg-query fails when one
    package is unknown and still lists the others), or None when it cannot run."""
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=COMMAND_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _load() -> tuple[float, ...] | None:
    try:
        return tuple(round(v, 2) for v in os.getloadavg())
    except OSError:  # no load average on this system
        return None
