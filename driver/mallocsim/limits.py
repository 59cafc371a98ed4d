"""Time limits that fit the work: a trace's limit from how long a reference
allocator takes on it.

A flat limit is wrong both ways: a minute per trace makes a hanging
submission cost eleven minutes on the CS:APP traces, and a few seconds would
stop a correct but slow one on a big trace. So, unless a limit is fixed
(--timeout, or `timeout` in grading.toml), each trace may take LIMIT_MULTIPLE
times what the reference allocator took on it, with the same checks, and at
least LIMIT_FLOOR seconds; and a child whose op (or mm_init) has not returned
within STALL_SECONDS is stopped as hung at once (isolate.py watches the op
index the engine stores at every op), so a hang costs a fraction of a second a
trace wherever it is,
while a slow allocator that keeps making progress runs to its trace's limit.
The reference's times are measured once per machine and kept in the cache.

A student's allocator is graded from outside its process (remote.py): every op
of the checked passes is a round trip between two processes, which the
reference, replayed in one, never pays. Each limit allows ROUND_TRIP_SECONDS
for each of those (tens of microseconds measured). A limit counts CPU time, the
allocator's processes' (isolate.py), so a machine whose cores are all busy, where
each round trip waits for both processes to be scheduled, slows a grade but does
not change it. A limit is a trace's checked passes'; once they are done the timed
passes may run TIMED_SHARE times what they ran, if that is more than is left
(isolate.py: a file whose checked passes took most of a fixed limit had its timed
passes cut). A trace whose checked passes finished is not failed by the timed
passes running past that (they would only time what was proved: near the limit,
load decided whether an honest file its driver grades 50 got 49.9 or 0), but
timed by its checked passes (replay.timed_by_checked), which a note says.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from dataclasses import replace

from mallocsim import cache
from mallocsim.allocators import AllocatorSpec
from mallocsim.cache import code_digest, content_key, trace_parts
from mallocsim.constants import DEFAULT_TIMEOUT, MAX_TIMEOUT
from mallocsim.isolate import replay_isolated
from mallocsim.replay import ReplayOptions
from mallocsim.trace import Trace

LIMIT_MULTIPLE = 100.0  # a trace may take this many times the reference's time...
LIMIT_FLOOR = 5.0  # ...and at least this many seconds
# No op takes this long: one that has not returned is hung. Measured on a generated class of
# 300 (tools/make_class.py, -j 2, the watch read every 0.01 s): no correct or slow submission's
# words stood still for more than 0.02 s of CPU time, in either lab; a hanging one's for 0.25 s
# costs each of its traces about 0.4 s (it was 1.3 s with 1.0 here).
STALL_SECONDS = 0.25
CHECK_HEAP_MULTIPLE = 10.0  # a heap checker after every op: the reference has none
ROUND_TRIP_SECONDS = 100e-6  # a checked op of an allocator graded from outside its process
CHECKED_PASSES = 2  # the checked pass and its second run from a fresh heap


def trace_limits(
    traces: Sequence[Trace], reference: AllocatorSpec, options: ReplayOptions
) -> dict[str, float]:
    """Each trace's time limit (by name) for an allocator replayed with `options`:
    LIMIT_MULTIPLE times the reference's time with the same checks, at least
    LIMIT_FLOOR (both ten times more when a heap checker runs after every op). A
    trace the reference could not run gets DEFAULT_TIMEOUT."""
    seconds = reference_seconds(traces, reference, replace(options, check_heap=False))
    scale = CHECK_HEAP_MULTIPLE if options.check_heap else 1.0

    def limit(trace: Trace, reference_time: float) -> float:
        round_trips = CHECKED_PASSES * trace.num_ops * ROUND_TRIP_SECONDS
        return min(
            MAX_TIMEOUT, scale * max(LIMIT_FLOOR, LIMIT_MULTIPLE * reference_time) + round_trips
        )

    return {
        t.name: limit(t, seconds[t.name]) if seconds.get(t.name) else DEFAULT_TIMEOUT
        for t in traces
    }


def stall_limit(options: ReplayOptions) -> float:
    """How long one op may run before it is taken as hung (longer with a heap
    checker after every op)."""
    return STALL_SECONDS * (CHECK_HEAP_MULTIPLE if options.check_heap else 1.0)


def reference_seconds(
    traces: Sequence[Trace], reference: AllocatorSpec, options: ReplayOptions
) -> dict[str, float | None]:
    """Wall seconds the reference took on each trace with `options` (None where it
    failed), measured on this machine once and then read from the cache."""
    key = content_key(
        "reference-seconds", code_digest(), platform.node(), repr(reference), repr(options),
        *trace_parts(traces),
    )  # fmt: skip
    kept = cache.load("reference-seconds", key)
    if isinstance(kept, dict) and all(t.name in kept for t in traces):
        return kept
    measured: dict[str, float | None] = {}
    for trace in traces:
        start = time.monotonic()
        result = replay_isolated(trace, reference, options, DEFAULT_TIMEOUT)
        measured[trace.name] = time.monotonic() - start if result.valid else None
    cache.store("reference-seconds", key, measured)
    return measured
