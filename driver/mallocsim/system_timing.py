"""The system malloc's timed passes, for the clock check's reference: timed as
it is counted, in mscount's small clean process (c/src/count_main.c, --timed).

The reference's timing was once taken in a fork of the grader, whose heap holds
whatever the grader did before it (and which may run on another malloc, preloaded):
an honest allocator's clock check came out 1.0 or 1.7 on one trace by the tests
run before it. Here each trace's passes run in a child forked from a process that
has done nothing but read the traces, with no LD_PRELOAD, as its count's passes
do. Its figure is each trace's median timed pass (at least 3, until min_seconds
in all), as replay's.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path

from mallocsim._native import NATIVE_DIR
from mallocsim.errors import UsageError
from mallocsim.instructions import run_mscount
from mallocsim.trace import Trace, reading_arguments


def time_system_malloc(
    traces: Sequence[Trace], min_seconds: float, timeout: float, engine: Path = NATIVE_DIR
) -> tuple[dict[str, float], dict[str, str]]:
    """(each trace's median timed pass on the system's malloc, in seconds; each failed
    trace's reason), both by trace name, timed by the mscount in `engine` (the 32-bit
    one: the system's 32-bit malloc). Raises UsageError when mscount cannot run at
    all, or not within `timeout` s."""
    if not traces:
        return {}, {}
    with tempfile.TemporaryDirectory(prefix="mallocsim-timed-") as scratch:
        paths = [trace.path or _written(trace, Path(scratch) / f"{k}.rep") for k, trace in
                 enumerate(traces)]  # fmt: skip
        return _run_timed(traces, paths, min_seconds, timeout, engine)


def _written(trace: Trace, path: Path) -> str:
    """A trace parsed from text, written to `path` for mscount to read; the path."""
    path.write_text(trace.script_text())
    return str(path)


def _run_timed(
    traces: Sequence[Trace],
    paths: Sequence[str],
    min_seconds: float,
    timeout: float,
    engine: Path,
) -> tuple[dict[str, float], dict[str, str]]:
    command = [
        str(engine / "mscount"),
        f"--timed={min_seconds:g}",
        *reading_arguments(traces),
        *["system", "-", "", *paths],
    ]
    done = run_mscount(command, timeout, "the system malloc's timing")
    if done.returncode == 2:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(f"the system malloc could not be timed: {tail}")
    seconds: dict[str, float] = {}
    failures: dict[str, str] = {}
    for line in done.stdout.splitlines():
        index, _, rest = line.partition(" ")
        trace = traces[int(index)]
        if rest.startswith("failed: "):
            failures[trace.name] = f"{trace.path or trace.name}: {rest.removeprefix('failed: ')}"
        else:
            # each pass's nanoseconds, written by mscount by hand (no printf: c/src/count_main.c)
            seconds[trace.name] = statistics.median(int(word) / 1e9 for word in rest.split())
    for trace in traces:
        if trace.name not in seconds and trace.name not in failures:
            failures[trace.name] = f"{trace.path or trace.name}: its timing process died"
    return seconds, failures
