"""Every allocator on every trace: the loop `replay`, `compare` and the
grader share.

Each trace runs isolated in a child process with a time limit (isolate.py)
unless the caller trusts the allocator; an allocator that cannot be built or
loaded is reported as one line and skipped, and every other result is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from mallocsim.allocators import AllocatorSpec, library_for
from mallocsim.errors import UsageError
from mallocsim.isolate import DEFAULT_TIMEOUT, replay_isolated
from mallocsim.labs import LabProfile
from mallocsim.replay import LoadedAllocator, ReplayOptions, replay_trace
from mallocsim.results import TraceResult
from mallocsim.trace import Trace


def options_for_lab(lab: LabProfile, options: ReplayOptions | None = None) -> ReplayOptions:
    """`options` with the checks a lab's driver requires: its alignment, heap limit
    and no-shrink rule, its realloc(p, 0) rule, and its fresh heap (poisoned: the labs'
    drivers reuse the last pass's bytes, and a fixed pattern makes that reproducible)."""
    return replace(
        options or ReplayOptions(),
        alignment=lab.alignment,
        heap_limit=lab.heap_limit,
        heap_shrinks=lab.heap_shrinks,
        realloc_zero_null=lab.realloc_zero_null,
        dirty_heap=lab.fresh_heap == "poisoned",
    )


def replay_all(
    specs: Sequence[AllocatorSpec],
    traces: Sequence[Trace],
    options: ReplayOptions,
    isolate: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    on_result: Callable[[TraceResult], None] | None = None,
) -> tuple[list[TraceResult], list[str]]:
    """Every allocator on every trace. Allocators that cannot be built or
    loaded are reported in the second list (one line each) and skipped;
    everything else is measured."""
    results: list[TraceResult] = []
    problems: list[str] = []

    def record(result: TraceResult) -> None:
        results.append(result)
        if on_result:
            on_result(result)

    for spec in specs:
        try:
            library_for(spec)  # build an mm.c once, here, not in every child
            if isolate:
                for trace in traces:
                    record(replay_isolated(trace, spec, options, timeout))
            else:
                with LoadedAllocator(spec) as alloc:
                    for trace in traces:
                        record(replay_trace(trace, alloc, options))
        except UsageError as error:
            problems.append(str(error))
    return results, problems
