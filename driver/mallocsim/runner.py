"""Every allocator on every trace: the loop `replay`, `compare` and the
grader share.

Each trace runs isolated in a child process with a time limit (isolate.py)
unless the caller asks otherwise (--no-isolate) for an allocator of ours: a
student's code (untrusted) is isolated whatever was asked; an allocator that cannot be built or
loaded is reported as one line and skipped, and every other result is kept.
Each replay is told to a Progress as it starts and ends (progress.py), under
its trace's name, after its allocator's when several run ("glibc: binary2-bal").
A production reference (jemalloc, mimalloc, tcmalloc: kind "reference")
replays each trace in a process of its own, through the worker `compare`
uses (references.py). A NULL for blocks the machine cannot hold is the
outcome "out of memory", not a failure (out_of_memory.py), except where a
lab's heap limit makes it the lab's failure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial

from mallocsim.allocators import AllocatorSpec, library_for
from mallocsim.errors import UsageError
from mallocsim.isolate import DEFAULT_TIMEOUT, replay_isolated
from mallocsim.labs import LabProfile
from mallocsim.out_of_memory import judged, memory_limit
from mallocsim.progress import Progress
from mallocsim.references import REFERENCES, replay_reference
from mallocsim.replay import LoadedAllocator, ReplayOptions, replay_trace
from mallocsim.results import TraceResult, trace_outcome
from mallocsim.sandbox import untrusted
from mallocsim.trace import Trace


def options_for_lab(lab: LabProfile, options: ReplayOptions | None = None) -> ReplayOptions:
    """`options` with the checks a lab's driver requires: its alignment, heap limit
    and no-shrink rule, its realloc(p, 0) rule, its fresh heap (poisoned: the labs'
    drivers reuse the last pass's bytes, and a fixed pattern makes that reproducible) and
    what its later passes start on."""
    return replace(
        options or ReplayOptions(),
        alignment=lab.alignment,
        heap_limit=lab.heap_limit,
        heap_shrinks=lab.heap_shrinks,
        realloc_zero_null=lab.realloc_zero_null,
        dirty_heap=lab.fresh_heap == "poisoned",
        zero_each_pass=lab.pass_heap == "zeroed",
    )


def progress_name(allocator: str, trace: str, with_allocator: bool) -> str:
    """A replay's name in the progress lines: the trace's, after its allocator's
    when several allocators run ("glibc: binary2-bal")."""
    return f"{allocator}: {trace}" if with_allocator else trace


def shown_replay(progress: Progress, name: str, replay: Callable[[], TraceResult]) -> TraceResult:
    """replay(), told to `progress` as item `name`: when it starts, and how it
    ends (its trace_outcome, or "error" when it raises a UsageError)."""
    progress.started(name)
    try:
        result = replay()
    except UsageError:
        progress.finished(name, "error")
        raise
    progress.finished(name, trace_outcome(result))
    return result


def replay_preloaded(
    spec: AllocatorSpec, trace: Trace, options: ReplayOptions, timeout: float
) -> TraceResult:
    """One trace replayed on a production reference, in the process of its own
    that `compare` runs it in (references.replay_reference), its library the
    one resolve found."""
    return replay_reference(REFERENCES[spec.name], trace, options, timeout, spec.path).result


def replay_all(
    specs: Sequence[AllocatorSpec],
    traces: Sequence[Trace],
    options: ReplayOptions,
    isolate: bool = True,
    timeout: float | Mapping[str, float] = DEFAULT_TIMEOUT,
    on_result: Callable[[TraceResult], None] | None = None,
    progress: Progress | None = None,
    name_allocators: bool | None = None,
    stall: float | None = None,
) -> tuple[list[TraceResult], list[str]]:
    """Every allocator on every trace, each isolated one with its time limit
    (`timeout`, or by trace name) and, with `stall`, hung ops stopped (isolate.py).
    Allocators that cannot be built or loaded are reported in the second list
    (one line each) and skipped; everything else is measured. Each replay is
    told to `progress`, named after its allocator too when name_allocators (by
    default, when there are several)."""
    results: list[TraceResult] = []
    problems: list[str] = []
    if isolate and any(untrusted(spec) for spec in specs):
        # A student's code runs in an agent, whose every pass is timed alone (its grader checks
        # each): so are the others', so that a trace too short for the clock costs all the same.
        options = replace(options, batch=False)
    shown = progress if progress is not None else Progress("replay", 0, mode="quiet")
    named = len(specs) > 1 if name_allocators is None else name_allocators

    def record(spec: AllocatorSpec, trace: Trace, replay: Callable[[], TraceResult]) -> None:
        limit = memory_limit(spec.kind not in ("reference", "system"), options.heap_limit)
        name = progress_name(spec.name, trace.name, named)
        result = shown_replay(shown, name, lambda: judged(replay(), trace, limit))
        results.append(result)
        if on_result:
            on_result(result)

    for spec in specs:
        try:
            library_for(spec)  # build an mm.c once, here, not in every child
            if spec.kind == "reference":  # always a process of its own
                for trace in traces:
                    limit = timeout if isinstance(timeout, float | int) else timeout[trace.name]
                    record(spec, trace, partial(replay_preloaded, spec, trace, options, limit))
            elif isolate or untrusted(spec):  # a student's code never runs in this process
                for trace in traces:
                    limit = timeout if isinstance(timeout, float | int) else timeout[trace.name]
                    replay = partial(replay_isolated, trace, spec, options, limit, stall)
                    record(spec, trace, replay)
            else:
                with LoadedAllocator(spec) as alloc:
                    for trace in traces:
                        record(spec, trace, partial(replay_trace, trace, alloc, options))
        except UsageError as error:
            problems.append(str(error))
    return results, problems
