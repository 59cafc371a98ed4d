"""Heap maps drawn side by side: heap offset across, op down, for each allocator.

Every map covers its whole replayed trace, downsampled to the figure's own
pixels: a row is the heap after one op (the last of the row's stretch of ops,
so the bottom row is the heap at the trace's end), a column a stretch of heap
offsets whose colour mixes payload, overhead, free and outside bytes by
their share of it. All maps share one offset scale, so a heap that grew
larger is drawn wider, and one op scale, top to bottom.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from mallocsim.figures import FIGURE_WIDTH, FONT, footnote, label, new_figure, wrap
from mallocsim.heapmap import METADATA_GAP, HeapMap

PAYLOAD_COLOUR = (0.12, 0.35, 0.70)
OVERHEAD_COLOUR = (0.95, 0.55, 0.10)
FREE_COLOUR = (0.70, 0.88, 0.70)
OUTSIDE_COLOUR = (1.0, 1.0, 1.0)
MAP_ROWS = 400  # op rows of heap_map_image when the caller names no resolution
MAP_COLUMNS = 800  # address bins of heap_map_image when the caller names no resolution
MAP_HEIGHT = 4.6  # inches: the figure's height


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


def row_ops(ops: int, rows: int) -> np.ndarray:
    """The op each of `rows` rows shows: the last of its equal stretch of ops."""
    return np.array([(row + 1) * ops // rows - 1 for row in range(rows)], dtype=np.int64)


def heap_map_image(
    heap_map: HeapMap, rows: int | None = None, columns: int | None = None, top: int | None = None
) -> np.ndarray:
    """The map as an RGB array: `rows` op rows over the whole map (at most one
    per op), `columns` bins over heap offsets [0, top) (at most one per byte;
    top defaults to the map's own highest heap size)."""
    blocks = np.array([b[:5] for b in heap_map.blocks], dtype=np.int64).reshape(-1, 5)
    # In offset order once: the blocks live at any one op are disjoint, so each
    # row's selection is in offset order too, with no sort per row.
    blocks = blocks[np.argsort(blocks[:, 2], kind="stable")]
    lives = blocks[:, :2]
    top = top or max(heap_map.heap_sizes, default=0) or 1
    columns = min(columns or MAP_COLUMNS, top)
    edges = np.linspace(0, top, columns + 1)
    rows = max(1, min(rows or MAP_ROWS, heap_map.ops))
    picture = np.empty((rows, columns, 3))
    colours = np.array([PAYLOAD_COLOUR, OVERHEAD_COLOUR, FREE_COLOUR, OUTSIDE_COLOUR])
    for row, op in enumerate(row_ops(heap_map.ops, rows) if heap_map.ops else [0] * rows):
        alive = blocks[(lives[:, 0] <= op) & (lives[:, 1] > op)]
        start, payload_end, usable_end = (
            alive[:, 2],
            alive[:, 2] + alive[:, 3],
            alive[:, 2] + alive[:, 4],
        )
        gap_start = np.concatenate(([0], usable_end[:-1]))
        small = (start - gap_start > 0) & (start - gap_start <= METADATA_GAP)
        over_starts = np.concatenate((payload_end, gap_start[small]))
        over_ends = np.concatenate((usable_end, start[small]))
        order = np.argsort(over_starts, kind="stable")
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


def _unit(top: int) -> tuple[str, int]:
    """The unit of heap offsets that keeps the axis' numbers short."""
    if top >= 8 << 20:
        return "MiB", 1 << 20
    if top >= 8 << 10:
        return "KiB", 1 << 10
    return "bytes", 1


def heap_maps_figure(maps: Sequence[HeapMap]) -> Figure:
    """The maps side by side, one panel each, on shared offset and op scales."""
    figure = new_figure(FIGURE_WIDTH, MAP_HEIGHT)
    panels = figure.subplots(1, max(1, len(maps)), sharex=True, sharey=True, squeeze=False)[0]
    top = max((max(m.heap_sizes, default=0) for m in maps), default=0) or 1
    unit, scale = _unit(top)
    ops = max((m.ops for m in maps), default=0)
    total = max((m.total_ops for m in maps), default=0)
    trace = label(maps[0].trace) if maps else ""
    cut = "" if ops == total else f", its first {ops:,} of {total:,} ops"
    # The title heads the legend: a suptitle and a legend outside the panels
    # would be placed over each other, and the note takes the bottom.
    figure.legend(
        handles=[
            Patch(color=PAYLOAD_COLOUR, label="payload (requested bytes)"),
            Patch(color=OVERHEAD_COLOUR, label=f"overhead (padding, gaps <= {METADATA_GAP} B)"),
            Patch(color=FREE_COLOUR, label="free"),
            Patch(facecolor=OUTSIDE_COLOUR, edgecolor="grey", label="not part of the heap yet"),
        ],
        loc="outside upper center",
        ncols=2,
        frameon=False,
        title=f"Heap maps on {trace}{cut}: time runs down",
        title_fontproperties={"size": FONT + 1},
    )
    for axes, heap_map in zip(panels, maps, strict=False):
        axes.set_title(label(heap_map.allocator))
        axes.set_xlabel(f"heap offset ({unit})")
        axes.set_xlim(0, top / scale)
        axes.set_ylim(ops, 0)
    panels[0].set_ylabel("op")
    if not maps:
        panels[0].text(0.5, 0.5, "no heap map", ha="center", transform=panels[0].transAxes)
    note = footnote(figure, _note(ops, top, figure, panels[0]))
    # With the note in place the panels are a little smaller: say what they are now.
    note.set_text(wrap(_note(ops, top, figure, panels[0]), figure.get_figwidth() - 0.2))
    # Each map is drawn at its panel's resolution once the layout has placed
    # everything else: no finer (the file stays small), no coarser.
    for axes, heap_map in zip(panels, maps, strict=False):
        columns, rows = _pixels(figure, axes)
        axes.imshow(
            heap_map_image(heap_map, rows, columns, top),
            aspect="auto",
            interpolation="nearest",
            extent=(0, top / scale, heap_map.ops, 0),
        )
    return figure


def _note(ops: int, top: int, figure: Figure, axes: object) -> str:
    columns, rows = _pixels(figure, axes)
    return (
        f"Each row is the heap after one op, one row per {max(1, -(-ops // rows)):,} ops; each "
        f"pixel column covers about {top / min(columns, top):,.0f} bytes, its colour mixed by "
        "the share of each kind there. Overhead: the bytes between a request and its usable "
        "end (mm_usable_size, else the request rounded up to 16), and gaps between blocks "
        "small enough to be headers and footers."
    )


def _pixels(figure: Figure, axes: object) -> tuple[int, int]:
    """The panel's width and height in pixels, as the layout places it now."""
    figure.get_layout_engine().execute(figure)
    box = axes.get_window_extent(figure.canvas.get_renderer())
    return max(1, round(box.width)), max(1, round(box.height))
