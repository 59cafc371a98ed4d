"""Instruction counts per op with callgrind: a speed figure that machine noise
does not move.

One valgrind process per allocator runs mscount (c/src/count_main.c) on the
allocator with its run-time options (implicit:best is counted as best fit), which
replays every trace once through the engine's timed loop inside count_pass();
callgrind collects only inside that function and dumps a profile after each
call, so each dump holds one pass's count. Each trace is replayed twice and
the second (warm) pass counts: the first pays one-time costs such as lazy
symbol binding. The first trace is empty: its count, the fixed cost of a pass
(heap reset and mm_init), is subtracted from every trace's before dividing by
the trace's ops.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from mallocsim._native import NATIVE_DIR
from mallocsim.allocators import AllocatorSpec, library_for
from mallocsim.errors import UsageError
from mallocsim.trace import Trace

_TOTALS = re.compile(rb"^(?:totals|summary): (\d+)", re.M)


COUNT_TIMEOUT = 1800.0  # seconds for one allocator's callgrind run over all its traces


def require_valgrind(asked_by: str) -> str:
    """valgrind's path; a UsageError naming what asked for it when it is not installed."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise UsageError(f"{asked_by} needs valgrind (apt-get install valgrind)")
    return valgrind


def count_instructions(
    spec: AllocatorSpec,
    traces: Sequence[str | Path],
    timeout: float = COUNT_TIMEOUT,
    once: bool = False,
) -> dict[str, float]:
    """Instructions per op for each trace (by trace name) on one allocator; a
    trace the allocator fails under callgrind is left out. Raises UsageError
    when callgrind cannot run it at all (or not within `timeout` seconds)."""
    valgrind = require_valgrind("--instructions")
    library = library_for(spec)
    with tempfile.TemporaryDirectory(prefix="mallocsim-callgrind-") as scratch:
        out = Path(scratch) / "callgrind.out"
        command = [
            valgrind,
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            "--collect-atstart=no",
            "--toggle-collect=count_pass",
            "--dump-after=count_pass",
            str(NATIVE_DIR / "mscount"),
            *(["--once"] if once else []),
            spec.dialect,
            str(library) if library else "-",
            spec.options,
            *map(str, traces),
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, check=False, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise UsageError(
                f"callgrind run of {spec.name} did not finish within {timeout:g} s"
            ) from None
        if done.returncode < 0 or done.returncode > 2:
            raise UsageError(
                f"callgrind run of {spec.name} ended with status {done.returncode} "
                "(the allocator crashed under valgrind)"
            )
        if done.returncode == 2:
            # mscount's own last line, not valgrind's "==pid==" summary after it.
            lines = [line for line in done.stderr.splitlines() if not line.startswith("==")]
            tail = (lines or ["no output"])[-1]
            raise UsageError(f"callgrind run of {spec.name} failed: {tail}")
        dumps = sorted(Path(scratch).glob("callgrind.out.*"), key=lambda p: int(p.suffix[1:]))
        ops = [int(line) for line in done.stdout.split()]
        kept = dumps if once else dumps[1::2]  # with two passes, the warm one of each pair
        totals = [_total(dump) for dump in kept]
        if len(totals) != len(traces) + 1 or len(ops) != len(traces) + 1:
            raise UsageError(f"callgrind gave {len(totals)} profiles for {len(traces)} traces")
        baseline = totals[0]
        return {
            Path(trace).stem: (total - baseline) / n
            for trace, total, n in zip(traces, totals[1:], ops[1:], strict=True)
            if n  # 0 ops: the trace failed in mscount
        }


def _total(dump: Path) -> int:
    match = _TOTALS.search(dump.read_bytes())
    return int(match.group(1)) if match else 0


def pass_instructions(
    spec: AllocatorSpec, traces: Sequence[Trace], timeout: float = COUNT_TIMEOUT
) -> dict[str, float]:
    """Instructions of one pass of each trace (by name), without the fixed cost
    of a pass: the cost a deterministic throughput is computed from (one pass,
    not a warm second one: the same on every run, in half the time)."""
    paths = [trace.path for trace in traces if trace.path is not None]
    per_op = count_instructions(spec, paths, timeout, once=True) if paths else {}
    return {t.name: per_op[t.name] * t.num_ops for t in traces if t.name in per_op}
