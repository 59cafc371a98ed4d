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

import importlib

# name -> module: imported on first use, so that importing the package (as
# pytest does for the plugin, in every run) loads nothing native.
_PUBLIC = {
    "AllocatorSpec": "allocators",
    "resolve": "allocators",
    "UsageError": "errors",
    "LoadedAllocator": "replay",
    "ReplayOptions": "replay",
    "replay_trace": "replay",
    "Summary": "results",
    "TraceResult": "results",
    "read_json": "results",
    "summarize": "results",
    "write_json": "results",
    "Trace": "trace",
    "TraceError": "trace",
    "find_traces": "trace",
    "load_trace": "trace",
    "parse_trace_text": "trace",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> object:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'mallocsim' has no attribute {name!r}")
    return getattr(importlib.import_module(f"mallocsim.{module}"), name)
