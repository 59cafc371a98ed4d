"""Figures of a comparison, as PNG, SVG or PDF bytes (matplotlib, Agg: no display).

  utilization_figure  utilization per trace: one point per allocator, and the
                      trace's alignment bound as a black bar, on 0-100%;
  throughput_figure   Kops/s per trace: one point per allocator (the median
                      timed pass) with its spread over the timed passes (a thick
                      bar from the first to the third quartile, a thin one from
                      the slowest pass to the fastest), on a linear axis, or a log
                      axis labelled so when the values span more than SPAN_FOR_LOG;
  series_figure       one trace: each allocator's heap size over the ops, and
                      the live payload (the trace's own, the same for everyone);
  heap maps           heapmap_figure.py: several allocators side by side.
A trace is a row (names read across, never turned), an allocator a colour
and a marker shape (so the figures read in black and white too), the same
in every figure. Each figure has a title, axis units, a legend and a note
on what it shows; figures.py gives them their print size, fonts and formats.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator

from mallocsim.compare import Comparison
from mallocsim.figures import FIGURE_WIDTH, footnote, label, new_figure, render, style
from mallocsim.files import write_bytes, writing
from mallocsim.heapmap import HeapMap
from mallocsim.heapmap_figure import heap_maps_figure
from mallocsim.results import TraceResult
from mallocsim.timeline import Series

MARKERS = ("o", "s", "^", "D", "v", "P", "<", "h", ">", "*")  # an allocator's, by its place
SPAN_FOR_LOG = 30.0  # throughput: a log axis when the highest / lowest shown exceeds this
MIN_QUARTILE_PASSES = 5  # timed passes it takes to draw their quartiles
ROW_PER_ALLOCATOR = 0.055  # inches of a trace's row per allocator in it
# Marks at the axis' start, for a cell with no figure:
FAIL_MARKER = "x"  # the allocator failed a check on the trace
OOM_MARKER = "$!$"  # it ran out of memory the machine does not have (an outcome, no failure)
UNMEASURED_MARKER = "$?$"  # valid, but this figure was not measured


@dataclass(frozen=True)
class Dot:
    """One allocator's figure on one trace, with its spread (low = high: none)
    and, when there were passes enough to have them, its quartiles."""

    value: float
    low: float
    high: float
    quartiles: tuple[float, float] | None = None


def colour(place: int) -> str:
    return f"C{place % 10}"


def marker(place: int) -> str:
    return MARKERS[place % len(MARKERS)]


def _dots(
    comparison: Comparison, dot: Callable[[TraceResult], Dot | None]
) -> dict[str, list[Dot | None]]:
    """Per allocator, its Dot on each trace (None: failed, missing or unmeasured)."""
    return {
        a: [dot(r) if (r := comparison.cell(a, t)) and r.valid else None for t in comparison.traces]
        for a in comparison.allocators
    }


def _status(result: TraceResult) -> str:
    """The mark of a cell with no figure."""
    if result.fail_kind == "out_of_memory":
        return OOM_MARKER
    return FAIL_MARKER if not result.valid else UNMEASURED_MARKER


def _dot_figure(comparison: Comparison, title: str) -> tuple[Figure, Axes]:
    rows = len(comparison.traces)
    row = max(0.26, ROW_PER_ALLOCATOR * len(comparison.allocators) + 0.08)
    figure = new_figure(FIGURE_WIDTH, 1.9 + row * max(rows, 1))
    figure.suptitle(title)
    axes = figure.add_subplot()
    axes.set_yticks(range(rows), [label(comparison.trace_name(t)) for t in comparison.traces])
    axes.set_ylim(rows - 0.5, -0.5)  # the first trace on top
    axes.tick_params(axis="y", length=0)
    for edge in range(1, rows):
        axes.axhline(edge - 0.5, color="0.85", linewidth=0.6)
    axes.grid(axis="x", alpha=0.3, which="major")
    return figure, axes


def _draw_dots(comparison: Comparison, axes: Axes, dots: dict[str, list[Dot | None]]) -> set[str]:
    """Each allocator's points, dodged apart within each trace's row, with their
    spread as error bars (and quartiles as a thicker bar); a cell with no
    figure as a mark at the axis' start. Returns the marks used."""
    count = len(comparison.allocators)
    step = 0.8 / max(count, 1)
    at_start = axes.get_yaxis_transform()  # x in axes fractions, y in rows
    marks = set()
    for k, name in enumerate(comparison.allocators):
        ys = np.arange(len(comparison.traces)) - 0.4 + step * (k + 0.5)
        shown = [(y, d) for y, d in zip(ys, dots[name], strict=True) if d is not None]
        if shown:
            values = np.array([d.value for _, d in shown])
            spread = np.array(
                [[d.value - d.low for _, d in shown], [d.high - d.value for _, d in shown]]
            )
            axes.errorbar(
                values,
                [y for y, _ in shown],
                xerr=spread if spread.any() else None,
                fmt=marker(k),
                color=colour(k),
                markersize=4,
                elinewidth=0.8,
                capsize=2,
                zorder=3,
            )
            boxed = [(y, d.quartiles) for y, d in shown if d.quartiles is not None]
            if boxed:
                axes.hlines(
                    [y for y, _ in boxed],
                    [q[0] for _, q in boxed],
                    [q[1] for _, q in boxed],
                    color=colour(k),
                    linewidth=3,
                    alpha=0.6,
                    zorder=2,
                )
        for y, trace, d in zip(ys, comparison.traces, dots[name], strict=True):
            result = comparison.cell(name, trace)
            if d is not None or result is None:
                continue
            marks.add(_status(result))
            axes.plot(
                0.012,
                y,
                linestyle="",
                marker=_status(result),
                color=colour(k),
                markersize=5,
                transform=at_start,
                clip_on=False,
                zorder=4,
            )
    return marks


def _legend(axes: Axes, comparison: Comparison, extra: Sequence[Line2D] = ()) -> None:
    """The allocators' marks, and what the other marks mean, in a band over the
    axes (under the figure's title: constrained layout keeps both in view)."""
    handles = [
        Line2D([], [], linestyle="", marker=marker(k), color=colour(k), label=label(name))
        for k, name in enumerate(comparison.allocators)
    ]
    handles += list(extra)
    axes.legend(
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.005),
        ncols=min(len(handles), 4),
        frameon=False,
    )


STATUS_LABELS = {
    FAIL_MARKER: "failed a check",
    OOM_MARKER: "out of memory",
    UNMEASURED_MARKER: "not measured",
}


def _status_marks(used: set[str]) -> list[Line2D]:
    """Legend entries for the marks used, in STATUS_LABELS' order."""
    return [
        Line2D([], [], linestyle="", marker=mark, color="black", label=text)
        for mark, text in STATUS_LABELS.items()
        if mark in used
    ]


def _status_note(used: set[str], unmeasured: str) -> str:
    """What the marks used mean, for a footnote ("" when none was used)."""
    notes = {
        FAIL_MARKER: "the allocator failed a check there",
        OOM_MARKER: "it ran out of memory the machine does not have",
        UNMEASURED_MARKER: unmeasured,
    }
    shown = [f"{mark.strip('$')}: {text}" for mark, text in notes.items() if mark in used]
    return " " + "; ".join(shown) + "." if shown else ""


def utilization_figure(comparison: Comparison) -> Figure:
    figure, axes = _dot_figure(
        comparison, "Utilization per trace: peak live payload / peak heap footprint"
    )

    def dot(r: TraceResult) -> Dot | None:
        return (
            Dot(r.utilization * 100, r.utilization * 100, r.utilization * 100)
            if r.utilization
            else None
        )

    marks = _draw_dots(comparison, axes, _dots(comparison, dot))
    bounds = [(y, b * 100) for y, t in enumerate(comparison.traces) if (b := comparison.bound(t))]
    extra = []
    if bounds:
        axes.scatter(
            [b for _, b in bounds],
            [y for y, _ in bounds],
            marker="|",
            s=(72 * 0.8 * (figure.get_figheight() - 1.9) / max(len(comparison.traces), 1)) ** 2,
            color="black",
            linewidths=1.5,
            zorder=2,
        )
        extra.append(
            Line2D([], [], linestyle="", marker="|", color="black", label="alignment bound")
        )
    axes.set_xlim(0, 101)
    axes.set_xlabel("utilization (%)")
    _legend(axes, comparison, extra + _status_marks(marks))
    footnote(
        figure,
        "Alignment bound: the best any 16-byte-aligned allocator can do on the trace."
        + _status_note(
            marks,
            "not measured (a reference whose footprint grew less than its own blocks need at "
            "the trace's peak: memory it already held served part of the trace)",
        ),
    )
    return figure


def _throughput_dot(r: TraceResult) -> Dot | None:
    """Kops/s of the median pass, from the slowest pass's to the fastest's, with
    the quartiles of the passes when there are at least MIN_QUARTILE_PASSES."""
    if not r.ops_per_sec:
        return None
    value = r.ops_per_sec / 1000
    low = r.ops / r.seconds_max / 1000 if r.seconds_max else value
    high = r.ops / r.seconds_min / 1000 if r.seconds_min else value
    quartiles = None
    rates = [r.ops / s / 1000 for s in r.pass_seconds if s > 0]
    if len(rates) >= MIN_QUARTILE_PASSES:
        q1, q3 = np.percentile(rates, [25, 75])
        quartiles = (float(q1), float(q3))
    return Dot(value, min(low, value), max(high, value), quartiles)


def _kops(value: float, _position: object = None) -> str:
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"


def throughput_figure(comparison: Comparison) -> Figure:
    figure, axes = _dot_figure(comparison, "Throughput per trace: ops / median timed pass")
    dots = _dots(comparison, _throughput_dot)
    marks = _draw_dots(comparison, axes, dots)
    shown = [d for row in dots.values() for d in row if d is not None]
    _legend(axes, comparison, _status_marks(marks))
    if not shown:
        axes.text(0.5, 0.5, "not timed in this run", transform=axes.transAxes, ha="center")
        axes.set_xticks([])
        axes.set_xlabel("throughput (Kops/s)")
        footnote(figure, "Run without --no-timing to measure throughput.")
        return figure
    if max(d.high for d in shown) > SPAN_FOR_LOG * min(d.low for d in shown):
        axes.set_xscale("log")
        axes.xaxis.set_major_locator(LogLocator(base=10))
        axes.xaxis.set_major_formatter(FuncFormatter(_kops))
        axes.set_xlabel("throughput (Kops/s), log scale: each gridline is 10x the one before")
    else:
        axes.set_xlim(0, max(d.high for d in shown) * 1.05)
        axes.xaxis.set_major_formatter(FuncFormatter(_kops))
        axes.set_xlabel("throughput (Kops/s), linear scale from 0")
    passes = sorted({r.passes for r in comparison.cells.values() if r.valid and r.ops_per_sec})
    counted = f"{passes[0]}" if len(passes) == 1 else f"{passes[0]} to {passes[-1]}"
    footnote(
        figure,
        f"Point: the median of the timed passes; thin bar: from the slowest pass to the fastest; "
        f"thick bar: the middle half of the passes, when there are {MIN_QUARTILE_PASSES} or more "
        f"({counted} passes a cell here)." + _status_note(marks, "not timed"),
    )
    return figure


def series_figure(series: Sequence[Series], allocators: Sequence[str] = ()) -> Figure:
    """Heap size per allocator and the live payload, over one trace's ops.
    An allocator's colour is the one it has in the other figures: its place in
    `allocators` (the comparison's order), else its place in `series`."""
    figure = new_figure(FIGURE_WIDTH, 4.2)
    axes = figure.add_subplot()
    mib = 1024 * 1024
    styles = ("-", "--", "-.", ":")
    order = [*allocators, *(one.allocator for one in series)]
    for n, one in enumerate(series):
        axes.plot(
            one.ops,
            [h / mib for h in one.heap],
            color=colour(order.index(one.allocator)),
            linestyle=styles[n % len(styles)],  # lines that coincide stay visible
            linewidth=1.6,
            label=f"{label(one.allocator)}: heap",
        )
    if series:
        longest = max(series, key=lambda s: len(s.ops))
        axes.plot(
            longest.ops,
            [v / mib for v in longest.live],
            color="black",
            linestyle=(0, (4, 2)),
            linewidth=1.1,
            label="live payload (the trace's)",
        )
        figure.suptitle(f"Heap size and live payload over {label(longest.trace)}")
    axes.set_xlabel("op")
    axes.set_ylabel("MiB")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.005), ncols=3, frameon=False)
    footnote(
        figure,
        "Heap: our heap's size, or a reference's footprint above what its process held before "
        "the trace; each point the highest of its stretch of ops, so no peak is lost.",
    )
    return figure


def _maps(heap_map: HeapMap | Sequence[HeapMap] | None) -> list[HeapMap]:
    """One map with those beside it, or a list of maps, as the list drawn."""
    if heap_map is None:
        return []
    if isinstance(heap_map, HeapMap):
        return heap_map.side_by_side
    return list(heap_map)


def all_plots(
    comparison: Comparison,
    series: Sequence[Series] = (),
    heap_map: HeapMap | Sequence[HeapMap] | None = None,
    fmt: str | Sequence[str] = "png",
) -> dict[str, bytes]:
    """Every figure there is data for, by file name ("throughput.png"), in the
    format or each of the formats given (figures.FORMATS): each figure is drawn
    once, then saved once per format."""
    makers: dict[str, Callable[[], Figure]] = {
        "utilization": lambda: utilization_figure(comparison),
        "throughput": lambda: throughput_figure(comparison),
    }
    if series:
        makers["heap-over-time"] = lambda: series_figure(series, comparison.allocators)
    maps = [m for m in _maps(heap_map) if m.ops > 0]
    if maps:
        makers["heap-map"] = lambda: heap_maps_figure(maps)
    formats = [fmt] if isinstance(fmt, str) else list(dict.fromkeys(fmt))
    files = {}
    with style():
        for name, make in makers.items():
            figure = make()
            for one in formats:
                files[f"{name}.{one}"] = render(figure, one)
    return files


def write_plots(
    folder: str | Path,
    comparison: Comparison,
    series: Sequence[Series] = (),
    heap_map: HeapMap | Sequence[HeapMap] | None = None,
    formats: Sequence[str] = ("png",),
) -> list[Path]:
    """Write every figure there is data for into folder (made if needed), once
    in each of `formats` (figures.FORMATS)."""
    folder = Path(folder)
    with writing(folder):
        folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in all_plots(comparison, series, heap_map, formats).items():
        write_bytes(folder / name, data)
        written.append(folder / name)
    return written
