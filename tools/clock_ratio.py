"""How far the clock confirms each allocator's instruction count (make bench-clock).

    python tools/clock_ratio.py LAB TRACE_DIR ALLOCATOR...

For each allocator (a policy name or an mm.c), what a counted grade under LAB's
rules computes (grading.clock_check): its instructions counted by valgrind and
its timed passes, against glibc's counted and timed on the same traces, and the
ratio of their seconds per counted instruction. Honest code must stay well
below clock_check.TOLERANCE; the figures calibrate it. Also prints the spread
of the ratio over three timings of the same count (the clock moves, the count
does not). glibc's timing is the grade's: shared for
clock_check.CLOCK_TIMING_SECONDS, so the spread is the allocator's timings'.
One line per allocator; an allocator that cannot be built or run gets its
one-line reason.
"""

from __future__ import annotations

import statistics
import sys
from dataclasses import replace

from mallocsim.allocators import AllocatorError, resolve
from mallocsim.clock_check import CLOCK_REFERENCE, TOLERANCE
from mallocsim.config import for_lab
from mallocsim.errors import UsageError
from mallocsim.grading import clock_check, plan, replay_options
from mallocsim.instructions import pass_instructions
from mallocsim.isolate import replay_isolated
from mallocsim.labs import LABS

TIMINGS = 3  # timings of each count: the ratio's spread comes from the clock alone
BUDGET = 600.0  # seconds a count may take


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[1] not in LABS:
        print(f"usage: clock_ratio.py {{{','.join(LABS)}}} TRACE_DIR ALLOCATOR...", file=sys.stderr)
        return 2
    lab, folder, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    config = replace(for_lab(lab), throughput="instructions")
    try:
        traces = plan(config, [folder]).traces
    except UsageError as error:
        print(f"clock_ratio: {error}", file=sys.stderr)
        return 2
    options = replay_options(config, False)  # the timed passes as a counted grade runs them
    print(f"{len(traces)} traces, lab {lab}; believed up to {TOLERANCE:g} x {CLOCK_REFERENCE}'s")
    for name in names:
        try:
            spec = resolve(name, config.dialect, lab)
            costs = pass_instructions(spec, traces, BUDGET)
        except (AllocatorError, UsageError) as error:
            print(f"{name}: {str(error).splitlines()[0]}")
            continue
        ratios, compared, why = [], 0, ""
        for _ in range(TIMINGS):
            results = [replay_isolated(t, spec, options, 60.0) for t in traces]
            failed = [r for r in results if not r.valid]
            if len(failed) == len(results):  # nothing to time: say what the grade would
                why = f"every trace failed; {failed[0].trace}: {failed[0].error}"
                break
            check, why = clock_check(costs, traces, results, config, BUDGET)
            if check is None:
                break
            ratios.append(check.ratio)
            compared = check.traces
        if not ratios:
            print(f"{name}: no trace counted and timed ({why})")
            continue
        low, mid, high = min(ratios), statistics.median(ratios), max(ratios)
        print(f"{name:50s} ratio {mid:6.2f} [{low:.2f}-{high:.2f}]  over {compared} traces")
    return 0


if __name__ == "__main__":
    sys.exit(main())
