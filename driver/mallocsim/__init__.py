"""mallocsim: replay malloc-lab traces on allocators, prove them correct, and
measure utilization and throughput.

The public API, for scripts and notebooks (the CLI is `mallocsim`):

    from mallocsim import load_trace, resolve, LoadedAllocator, replay_trace
    trace = load_trace("traces/random.rep")
    with LoadedAllocator(resolve("segfit")) as alloc:
        result = replay_trace(trace, alloc)
    print(result.utilization, result.ops_per_sec)

Results are plain frozen dataclasses (mallocsim.results) with a versioned
JSON form; errors meant for users are mallocsim.errors.UsageError.
"""

from mallocsim.allocators import AllocatorSpec, resolve
from mallocsim.errors import UsageError
from mallocsim.replay import LoadedAllocator, ReplayOptions, replay_trace
from mallocsim.results import Summary, TraceResult, read_json, summarize, write_json
from mallocsim.trace import Trace, TraceError, find_traces, load_trace, parse_trace_text

__all__ = [
    "AllocatorSpec",
    "LoadedAllocator",
    "ReplayOptions",
    "Summary",
    "Trace",
    "TraceError",
    "TraceResult",
    "UsageError",
    "find_traces",
    "load_trace",
    "parse_trace_text",
    "read_json",
    "replay_trace",
    "resolve",
    "summarize",
    "write_json",
]
