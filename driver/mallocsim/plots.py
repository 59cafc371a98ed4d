"""Pictures of a comparison, as PNG bytes (matplotlib, Agg: no display needed).

  utilization_png  utilization per trace, one bar per allocator, the trace's
                   alignment bound drawn as a black tick over its group;
  throughput_png   Kops/s per trace, one bar per allocator, log scale;
  series_png       one trace: each allocator's heap size over the ops, and the
                   live payload (the trace's own, the same for everyone);
  heap_map_png     one allocator on one trace: heap offset across, op down,
                   payload / overhead / free bytes in three colours.
Each figure has a title, axis units and a legend, so it reads without the
code. Figures are drawn on their own Figure objects (no pyplot state).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from mallocsim.compare import Comparison
from mallocsim.files import printable, write_bytes, writing
from mallocsim.heapmap import METADATA_GAP, HeapMap
from mallocsim.timeline import Series

DPI = 100
PAYLOAD_COLOUR = (0.12, 0.35, 0.70)
OVERHEAD_COLOUR = (0.95, 0.55, 0.10)
FREE_COLOUR = (0.70, 0.88, 0.70)
OUTSIDE_COLOUR = (1.0, 1.0, 1.0)
MAP_ROWS = 400  # at most this many op rows in a heap map
MAP_COLUMNS = 800  # address bins across a heap map


def _label(name: str) -> str:
    """A trace's or an allocator's name as a label matplotlib draws verbatim: a
    file name's undecodable bytes as "?" (its fonts take no lone surrogate), and
    "$" escaped (a pair of them would be read as a formula, a bad one an error)."""
    return printable(name).replace("$", r"\$")


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def _grouped_bars(
    comparison: Comparison, values: dict[str, list[float | None]], axes: object
) -> tuple[np.ndarray, float]:
    """Draw one bar per allocator in each trace's group; return the group centres
    and the bar width. A missing value leaves a gap; a failed cell is marked."""
    count = len(comparison.allocators)
    centres = np.arange(len(comparison.traces))
    width = 0.8 / max(count, 1)
    for k, name in enumerate(comparison.allocators):
        offsets = centres - 0.4 + width * (k + 0.5)
        heights = [v if v is not None else 0.0 for v in values[name]]
        axes.bar(offsets, heights, width, label=_label(name))
        for x, trace, value in zip(offsets, comparison.traces, values[name], strict=True):
            result = comparison.cell(name, trace)
            if result is None or value is not None:
                continue
            label = "fail" if not result.valid else "n/m"
            axes.text(
                x,
                0.01,
                label,
                rotation=90,
                ha="center",
                va="bottom",
                fontsize=6,
                transform=axes.get_xaxis_transform(),  # at the bottom, whatever the scale
            )
    axes.set_xticks(centres)
    axes.set_xticklabels(
        [_label(comparison.trace_name(t)) for t in comparison.traces],
        rotation=45,
        ha="right",
        fontsize=8,
    )
    return centres, width


def _bar_figure_size(comparison: Comparison) -> tuple[float, float]:
    wide = 0.12 * len(comparison.traces) * (len(comparison.allocators) + 1) + 3
    return (min(14.0, max(7.0, wide)), 4.8)


def _bar_note(figure: Figure) -> None:
    figure.text(
        0.01,
        0.01,
        "fail: the allocator failed a check there; n/m: not measured (a reference whose "
        "footprint grew less than its own blocks need at the trace's peak: memory it "
        "already held served part of the trace)",
        fontsize=7,
        color="dimgrey",
    )


def utilization_png(comparison: Comparison) -> bytes:
    figure = Figure(figsize=_bar_figure_size(comparison))
    axes = figure.add_subplot()
    values = {
        a: [
            r.utilization * 100
            if (r := comparison.cell(a, t)) and r.valid and r.utilization
            else None
            for t in comparison.traces
        ]
        for a in comparison.allocators
    }
    centres, _ = _grouped_bars(comparison, values, axes)
    bounds = [comparison.bound(t) for t in comparison.traces]
    shown = [(x, b * 100) for x, b in zip(centres, bounds, strict=True) if b is not None]
    if shown:
        axes.scatter(
            [x for x, _ in shown],
            [b for _, b in shown],
            marker="_",
            s=900,
            color="black",
            linewidths=2,
            zorder=3,
            label="alignment bound",
        )
    axes.set_ylim(0, 105)
    axes.set_ylabel("utilization (%)")
    axes.set_title("Utilization per trace: peak live payload / peak heap footprint")
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    _bar_note(figure)
    return _png(figure)


def throughput_png(comparison: Comparison) -> bytes:
    figure = Figure(figsize=_bar_figure_size(comparison))
    axes = figure.add_subplot()
    values = {
        a: [
            r.ops_per_sec / 1000
            if (r := comparison.cell(a, t)) and r.valid and r.ops_per_sec
            else None
            for t in comparison.traces
        ]
        for a in comparison.allocators
    }
    _grouped_bars(comparison, values, axes)
    if any(v for row in values.values() for v in row):
        axes.set_yscale("log")
    else:
        axes.text(0.5, 0.5, "not timed in this run", transform=axes.transAxes, ha="center")
    axes.set_ylabel("throughput (Kops/s, log scale)")
    axes.set_title("Throughput per trace: ops / median timed pass")
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    axes.grid(axis="y", alpha=0.3, which="both")
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    _bar_note(figure)
    return _png(figure)


def series_png(series: Sequence[Series], allocators: Sequence[str] = ()) -> bytes:
    """Heap size per allocator and the live payload, over one trace's ops.
    An allocator's colour is the one it has in the bar plots: its place in
    `allocators` (the comparison's order), else its place in `series`."""
    figure = Figure(figsize=(8, 4.6))
    axes = figure.add_subplot()
    mib = 1024 * 1024
    styles = ("-", "--", "-.", ":")
    order = [*allocators, *(one.allocator for one in series)]
    for n, one in enumerate(series):
        axes.plot(
            one.ops,
            [h / mib for h in one.heap],
            color=f"C{order.index(one.allocator) % 10}",
            linestyle=styles[n % len(styles)],  # lines that coincide stay visible
            linewidth=1.8,
            label=f"{_label(one.allocator)}: heap",
        )
    if series:
        longest = max(series, key=lambda s: len(s.ops))
        axes.plot(
            longest.ops,
            [v / mib for v in longest.live],
            color="black",
            linestyle=(0, (4, 2)),
            linewidth=1.2,
            label="live payload (the trace's)",
        )
        axes.set_title(f"Heap size and live payload over {_label(longest.trace)}")
    axes.set_xlabel("op")
    axes.set_ylabel("MiB")
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return _png(figure)


def _covered(starts: np.ndarray, ends: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bytes of the disjoint intervals [starts, ends) (sorted) inside each bin."""
    if starts.size == 0:
        return np.zeros(edges.size - 1)
    lengths = np.cumsum(ends - starts)
    index = np.searchsorted(starts, edges, side="right")
    below = np.where(index > 0, lengths[np.maximum(index - 1, 0)], 0)
    overshoot = np.where(index > 0, np.maximum(ends[np.maximum(index - 1, 0)] - edges, 0), 0)
    cumulative = below - overshoot
    return np.diff(cumulative)


def heap_map_image(heap_map: HeapMap) -> np.ndarray:
    """The map as an RGB array: one row per sampled op, one column per address bin."""
    blocks = np.array(heap_map.blocks, dtype=np.int64).reshape(-1, 5)
    top = max(heap_map.heap_sizes, default=0) or 1
    columns = min(MAP_COLUMNS, top)
    edges = np.linspace(0, top, columns + 1)
    rows = min(MAP_ROWS, max(heap_map.ops, 1))
    picture = np.empty((rows, columns, 3))
    colours = np.array([PAYLOAD_COLOUR, OVERHEAD_COLOUR, FREE_COLOUR, OUTSIDE_COLOUR])
    for row in range(rows):
        op = min(heap_map.ops - 1, row * heap_map.ops // rows) if heap_map.ops else 0
        alive = blocks[(blocks[:, 0] <= op) & (blocks[:, 1] > op)]
        alive = alive[np.argsort(alive[:, 2])]
        start, payload_end, usable_end = (
            alive[:, 2],
            alive[:, 2] + alive[:, 3],
            alive[:, 2] + alive[:, 4],
        )
        gap_start = np.concatenate(([0], usable_end[:-1]))
        small = (start - gap_start > 0) & (start - gap_start <= METADATA_GAP)
        over_starts = np.concatenate((payload_end, gap_start[small]))
        over_ends = np.concatenate((usable_end, start[small]))
        order = np.argsort(over_starts)
        payload = _covered(start, payload_end, edges)
        overhead = _covered(over_starts[order], over_ends[order], edges)
        heap = heap_map.heap_sizes[op] if heap_map.heap_sizes else 0
        inside = np.clip(np.minimum(edges[1:], heap) - edges[:-1], 0, None)
        free = np.clip(inside - payload - overhead, 0, None)
        outside = (edges[1:] - edges[:-1]) - inside
        shares = np.stack([payload, overhead, free, outside], axis=1)
        shares /= np.maximum(shares.sum(axis=1, keepdims=True), 1e-12)
        picture[row] = shares @ colours
    return picture


def heap_map_png(heap_map: HeapMap) -> bytes:
    figure = Figure(figsize=(8, 6))
    axes = figure.add_subplot()
    top = max(heap_map.heap_sizes, default=0)
    kib = 1024
    axes.imshow(
        heap_map_image(heap_map),
        aspect="auto",
        interpolation="nearest",
        extent=(0, top / kib, heap_map.ops, 0),
    )
    per_column = top / max(1, min(MAP_COLUMNS, top))
    axes.set_xlabel(
        f"heap offset (KiB); a pixel column is {per_column:,.0f} bytes, "
        "its colour mixed by the share of each kind"
    )
    axes.set_ylabel("op (time runs down)")
    part = "" if heap_map.ops == heap_map.total_ops else f" (first {heap_map.ops:,} ops)"
    title = f"Heap map: {_label(heap_map.allocator)} on {_label(heap_map.trace)}{part}"
    axes.set_title(title)
    axes.legend(
        handles=[
            Patch(color=PAYLOAD_COLOUR, label="payload (requested bytes)"),
            Patch(
                color=OVERHEAD_COLOUR,
                label=f"overhead (headers, padding, gaps <= {METADATA_GAP} B)",
            ),
            Patch(color=FREE_COLOUR, label="free"),
            Patch(facecolor=OUTSIDE_COLOUR, edgecolor="grey", label="not yet part of the heap"),
        ],
        fontsize=8,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncol=2,
    )
    figure.tight_layout()
    return _png(figure)


def all_plots(
    comparison: Comparison, series: Sequence[Series] = (), heap_map: HeapMap | None = None
) -> dict[str, bytes]:
    """Every plot there is data for, by file name."""
    plots = {
        "utilization.png": utilization_png(comparison),
        "throughput.png": throughput_png(comparison),
    }
    if series:
        plots["heap-over-time.png"] = series_png(series, comparison.allocators)
    if heap_map is not None and heap_map.ops > 0:
        plots["heap-map.png"] = heap_map_png(heap_map)
    return plots


def write_plots(
    folder: str | Path,
    comparison: Comparison,
    series: Sequence[Series] = (),
    heap_map: HeapMap | None = None,
) -> list[Path]:
    """Write every plot there is data for into folder (made if needed)."""
    folder = Path(folder)
    with writing(folder):
        folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, png in all_plots(comparison, series, heap_map).items():
        write_bytes(folder / name, png)
        written.append(folder / name)
    return written
