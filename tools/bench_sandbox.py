"""What the sandbox costs an honest allocator (make bench-sandbox).

    python tools/bench_sandbox.py MM_C TRACE_DIR [ROUNDS]

Replays one student-style mm.c on a folder of CS:APP traces, checked and timed
as a grade does, each trace in its own child, once graded from outside a
sandboxed agent (remote.py) and once in plain children, alternating for ROUNDS
rounds (5) so that a change of load falls on both; prints the median and range
of each, the ratios, and whether every trace's utilization was the same both
ways (it must be: the grade may not depend on where the code ran).
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import replace

from mallocsim import isolate
from mallocsim.allocators import resolve
from mallocsim.config import for_lab
from mallocsim.grading import plan, replay_options

UTILIZATIONS: dict[bool, set[tuple]] = {True: set(), False: set()}


def one_run(spec, traces, options, sandboxed: bool) -> tuple[float, float]:  # noqa: ANN001
    """(wall seconds for every trace, timed Kops/s over them)."""
    isolate.untrusted = lambda _spec: sandboxed  # what replay_isolated asks
    start, ops, seconds = time.monotonic(), 0, 0.0
    utilizations = []
    for trace in traces:
        result = isolate.replay_isolated(trace, spec, options, 60.0)
        if not result.valid:
            sys.exit(f"bench_sandbox: {result.error}")
        ops, seconds = ops + result.ops, seconds + (result.seconds or 0.0)
        utilizations.append((result.heap_size, result.peak_payload))
    UTILIZATIONS[sandboxed].add(tuple(utilizations))
    return time.monotonic() - start, ops / seconds / 1e3


def summary(values: list[float], digits: int) -> str:
    low, mid, high = (
        f"{v:,.{digits}f}" for v in (min(values), statistics.median(values), max(values))
    )
    return f"median {mid} [{low}-{high}]"


def main() -> None:
    source, folder = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    config = for_lab("csapp")
    traces = plan(config, [folder]).traces
    options = replace(replay_options(config, False), timing=True, min_seconds=0.05)
    spec = resolve(source, config.dialect, "csapp")
    runs: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for _ in range(rounds):
        for sandboxed in (True, False):
            runs[sandboxed].append(one_run(spec, traces, options, sandboxed))
    print(f"{source} on {len(traces)} traces, checked and timed, {rounds} rounds:")
    for sandboxed in (True, False):
        walls, kops = [w for w, _ in runs[sandboxed]], [k for _, k in runs[sandboxed]]
        label = "sandbox on " if sandboxed else "sandbox off"
        print(f"  {label}  wall s {summary(walls, 3)}  timed Kops/s {summary(kops, 0)}")
    wall = [statistics.median(w for w, _ in runs[s]) for s in (True, False)]
    kops = [statistics.median(k for _, k in runs[s]) for s in (True, False)]
    print(f"  on / off: wall {wall[0] / wall[1]:.3f}, timed Kops/s {kops[0] / kops[1]:.3f}")
    same = len(UTILIZATIONS[True]) == 1 and UTILIZATIONS[True] == UTILIZATIONS[False]
    print(f"  every trace's heap and peak payload the same in every run: {'yes' if same else 'NO'}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
