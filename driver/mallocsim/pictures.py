"""The data behind a comparison's pictures, gathered for one focus trace.

Per allocator that passed the focus trace, its heap over time (timeline.py:
our heap's size, or a reference's footprint from its own process), and the
heap maps of the allocators on our heap, over the whole trace, to be drawn
side by side (heapmap.py, the op-by-op slow path).
Gathered after the comparison, on allocators that already passed the trace
in isolation, so the passes here meet no allocator known to fail. Someone
else's allocator (a student's mm.c, any .so) is observed in a sandboxed child
(isolate.py), as every replay of it is: its code never runs in this process.
An allocator whose observation fails there is left out of the pictures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TypeVar

from mallocsim.allocators import AllocatorSpec, resolve
from mallocsim.compare import Comparison
from mallocsim.constants import DEFAULT_TIMEOUT
from mallocsim.errors import UsageError
from mallocsim.heapmap import MAX_OPS, HeapMap, collect
from mallocsim.isolate import answer, run_forked
from mallocsim.labs import DEFAULT_LAB, lab_named
from mallocsim.references import REFERENCES, replay_reference
from mallocsim.replay import LoadedAllocator, ReplayOptions
from mallocsim.runner import options_for_lab
from mallocsim.sandbox import untrusted
from mallocsim.timeline import DEFAULT_POINTS, Series, heap_series
from mallocsim.trace import load_trace

Observation = TypeVar("Observation", Series, HeapMap)


@dataclass(frozen=True)
class Pictures:
    """The data behind the pictures of one focus trace (see plots.py)."""

    series: list[Series] = field(default_factory=list)  # one per allocator that passed it
    # The first allocator on the simulated heap, the others in its `beside`
    heap_map: HeapMap | None = None
    missing: str | None = None  # why a picture asked for is not there (one line), else None

    @property
    def heap_maps(self) -> list[HeapMap]:
        """Every heap map, in the order they are drawn side by side."""
        return self.heap_map.side_by_side if self.heap_map is not None else []


def choose_focus(comparison: Comparison, requested: str | None = None) -> str | None:
    """The trace to draw over time: the one named (by name or file), else the
    longest trace that every allocator passed (else the longest of all)."""
    if requested is not None:
        for trace in comparison.traces:
            if requested in (trace, comparison.trace_name(trace)):
                return trace
        raise UsageError(f"--focus {requested}: not one of the compared traces")
    candidates = comparison.common_traces() or comparison.traces
    if not candidates:
        return None

    def ops(trace: str) -> int:
        return max(
            (r.ops for a in comparison.allocators if (r := comparison.cell(a, trace))), default=0
        )

    return max(candidates, key=ops)


def gather_pictures(
    comparison: Comparison,
    focus: str | None,
    dialect: str | None = None,
    heap_map_allocator: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    heap_map_ops: int = MAX_OPS,
    lab: str = DEFAULT_LAB,
) -> Pictures:
    """Heap over time on the focus trace for every allocator that passed it,
    and the heap maps of the one named, else of every one on our heap."""
    if focus is None:
        return Pictures()
    lab_options = options_for_lab(lab_named(lab), ReplayOptions(timing=False))
    trace = load_trace(focus, lab_named(lab).trace_reading)
    passed = [
        a for a in comparison.allocators if (r := comparison.cell(a, focus)) is not None and r.valid
    ]
    series: list[Series] = []
    on_our_heap: list[AllocatorSpec] = []
    for name in passed:
        if name in REFERENCES:
            if comparison.cells[(name, focus)].utilization is None:
                continue  # its footprint was not measurable there: nothing true to draw
            run = replay_reference(
                REFERENCES[name],
                trace,
                ReplayOptions(timing=False),
                timeout,
                series_points=DEFAULT_POINTS,
            )
            if run.series is not None:
                series.append(run.series)
            continue
        spec = resolve(name, dialect, lab)
        if spec.kind == "system":
            continue
        on_our_heap.append(spec)
        seen = _observe(spec, lambda a: heap_series(trace, a, options=lab_options), Series, timeout)
        if seen is not None:
            series.append(seen)
    missing = None
    if heap_map_allocator is not None:
        chosen = [s for s in on_our_heap if s.name == heap_map_allocator]
        if not chosen:
            # Said, and everything else written: the run ended here once, its results unwritten
            # for want of one picture (red-team pass 27).
            missing = (
                f"--heap-map {heap_map_allocator}: no heap map: not an allocator on our heap that "
                f"passed {trace.name}"
            )
    else:
        chosen = on_our_heap
    maps = []
    for spec in chosen:
        seen = _observe(spec, lambda a: collect(trace, a, heap_map_ops), HeapMap, timeout)
        if seen is not None:
            maps.append(seen)
    heap_map = maps[0].alongside(maps[1:]) if maps else None
    return Pictures(series, heap_map, missing)


def _observe(
    spec: AllocatorSpec,
    observe: Callable[[LoadedAllocator], Observation],
    kind: type[Observation],
    timeout: float,
) -> Observation | None:
    """observe(alloc) with the allocator loaded: here for our own allocators, in
    a sandboxed child for anyone else's (its answer rebuilt as `kind`); None
    when it failed there or answered with something else."""
    if not untrusted(spec):
        with LoadedAllocator(spec) as alloc:
            return observe(alloc)

    def work(_progress: object) -> dict:
        with LoadedAllocator(spec) as alloc:
            return asdict(observe(alloc))

    try:
        fields = answer(run_forked(work, timeout, sandboxed=True))
        return kind(**fields) if fields is not None else None
    except (UsageError, TypeError):
        return None
