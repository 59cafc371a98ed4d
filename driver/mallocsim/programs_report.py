"""The real-program benchmark's report (programs.py runs it): a table per
configuration, each allocator's geometric means, the JSON document and the
figure of ratios to glibc. Every figure is formatted by numbers.py."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from mallocsim.errors import UsageError
from mallocsim.files import write_bytes
from mallocsim.numbers import duration, kops, ratio, size
from mallocsim.programs import (
    OPS,
    PROGRAMS,
    REFERENCE,
    Suite,
    memory_ratio,
    reference_cells,
    speed_ratio,
    summarize,
)
from mallocsim.stats import Stats
from mallocsim.table import WIDTH, fit, render_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def format_suite(suite: Suite, width: int | None = WIDTH) -> str:
    """A table per configuration (each allocator's median, min and max, peak
    RSS and ratios to glibc), then each allocator's geometric means, then
    what the figures mean; in `width` columns."""
    glibc = reference_cells(suite.cells)
    out = []
    for key in dict.fromkeys(c.key for c in suite.cells):
        cells = [c for c in suite.cells if c.key == key]
        program = PROGRAMS[key[0]]
        what = "Kops/s: higher is better" if program.unit == OPS else "time: lower is better"
        out.append(f"{program.label(key[1])}: {program.models}; {what}")
        title = "Kops/s" if program.unit == OPS else "time"
        header = ["allocator", "median", "min", "max", "median", "speed", "memory"]
        rows = []
        for cell in cells:
            if cell.figure is None:
                rows.append([cell.allocator, "FAIL", *["-"] * 5])
                continue
            rows.append(
                [
                    cell.allocator,
                    *(_number(program.unit, v) for v in _spread(cell.figure)),
                    size(round(cell.peak_rss.median) if cell.peak_rss else None),
                    ratio(speed_ratio(cell, glibc.get(key))),
                    ratio(memory_ratio(cell, glibc.get(key))),
                ]
            )
        groups = [("", 1), (title, 3), ("peak RSS", 1), ("vs glibc", 2)]
        out.append(render_table([header], rows, groups=groups, width=width))
        out += [f"  {c.allocator}: {c.error}" for c in cells if c.error]
        out.append("")
    summaries = summarize(suite)
    out.append("Geometric means of the ratios to glibc over the configurations")
    rows = [
        [s.allocator, f"{s.measured}/{s.configurations}", ratio(s.speed), ratio(s.memory)]
        for s in summaries
    ]
    out.append(render_table([["allocator", "measured", "speed", "memory"]], rows, width=width))
    out.append("")
    out += [
        "speed = glibc's median time / the allocator's (ops/s: the allocator's / glibc's); "
        "memory = glibc's median peak RSS / the allocator's: above 1 is better for both "
        "(faster, less memory)",
        f"each configuration ran {suite.repeat} time{'s' if suite.repeat != 1 else ''} per "
        "allocator, interleaved round-robin (the allocators' order rotated each round); "
        "median, min and max of the runs; peak RSS = the program's ru_maxrss, its whole "
        "process (program, libraries, allocator), started from a small launcher",
        "threads: larson and cache-* run T threads; xmalloc T producers and T consumers",
    ]
    if suite.scale != 1.0:
        out.append(f"work scaled by {suite.scale:g} (--scale)")
    if any(c.error for c in suite.cells):
        out.append(f"FAIL: a run crashed, failed or took over {suite.timeout:g} s (said above)")
    return fit("\n".join(out), width)


def _spread(stats: Stats) -> tuple[float, float, float]:
    return stats.median, stats.minimum, stats.maximum


def _number(unit: str, value: float) -> str:
    return kops(value) if unit == OPS else duration(value)


# ---------------------------------------------------------------------- JSON

JSON_FORMAT = "mallocsim-programs"
# Version history: 1 (the first).
JSON_VERSION = 1


def suite_json(suite: Suite, metadata: dict | None = None) -> dict:
    """The suite as a JSON-ready document: every run, each cell's figures and
    ratios, the summary, and the run's metadata when given."""
    glibc = reference_cells(suite.cells)

    def stats(s: Stats | None) -> dict | None:
        if s is None:
            return None
        return {"n": s.n, "median": s.median, "min": s.minimum, "max": s.maximum, "mean": s.mean}

    cells = [
        {
            "program": c.program,
            "threads": c.threads,
            "allocator": c.allocator,
            "unit": c.unit,
            "figure": stats(c.figure),
            "peak_rss": stats(c.peak_rss),
            "speed_vs_glibc": speed_ratio(c, glibc.get(c.key)),
            "memory_vs_glibc": memory_ratio(c, glibc.get(c.key)),
            "error": c.error,
            "runs": [
                {
                    "figure": r.figure,
                    "wall_seconds": r.wall_seconds,
                    "peak_rss": r.peak_rss,
                    "error": r.error,
                }
                for r in c.runs
            ],
        }
        for c in suite.cells
    ]
    return {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "metadata": metadata,
        "repeat": suite.repeat,
        "scale": suite.scale,
        "timeout": suite.timeout,
        "allocators": list(suite.allocators),
        "skipped": list(suite.skipped),
        "cells": cells,
        "summary": [asdict(s) for s in summarize(suite)],
    }


# -------------------------------------------------------------------- figure

ROW_INCHES = 0.32  # a configuration's row
DODGE = 0.14  # rows apart of two allocators' points in one configuration


def suite_figure(suite: Suite) -> Figure:
    """Each allocator's speed and memory ratio to glibc per configuration: two
    panels side by side, a configuration a row, an allocator a colour and a
    marker (plots.py's, by its place), on log axes centred on glibc's 1."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    from mallocsim.figures import FIGURE_WIDTH, footnote, label, new_figure
    from mallocsim.plots import colour, marker

    glibc = reference_cells(suite.cells)
    keys = list(dict.fromkeys(c.key for c in suite.cells))
    names = [n for n in suite.allocators if n != REFERENCE]
    by_key = {(c.allocator, c.key): c for c in suite.cells}
    figure = new_figure(FIGURE_WIDTH, 1.6 + ROW_INCHES * len(keys))
    panels = figure.subplots(1, 2, sharey=True)
    measures = (
        ("speed vs glibc (right of 1: faster)", speed_ratio),
        ("peak RSS vs glibc (right of 1: less memory)", memory_ratio),
    )
    for axes, (title, measure) in zip(panels, measures, strict=True):
        values = []
        for k, name in enumerate(names):
            place = suite.allocators.index(name)
            points = [
                (measure(cell, glibc.get(key)), row + (k - (len(names) - 1) / 2) * DODGE)
                for row, key in enumerate(keys)
                if (cell := by_key.get((name, key))) is not None
            ]
            shown = [(x, y) for x, y in points if x is not None]
            values += [x for x, _ in shown]
            axes.plot(
                [x for x, _ in shown],
                [y for _, y in shown],
                linestyle="none",
                marker=marker(place),
                color=colour(place),
                markersize=5,
                label=label(name),
            )
        axes.axvline(1.0, color="black", linewidth=0.8)
        axes.set_xscale("log")
        low, high = min([*values, 1.0]), max([*values, 1.0])
        axes.set_xlim(min(0.5, low / 1.3), max(2.0, high * 1.3))
        axes.xaxis.set_major_locator(LogLocator(base=2))
        axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}x"))
        axes.xaxis.set_minor_formatter(NullFormatter())
        axes.set_title(title)
        axes.grid(axis="x", color="0.9")
    labels = [PROGRAMS[p].label(t) for p, t in keys]
    panels[0].set_yticks(range(len(keys)), [label(text) for text in labels])
    panels[0].set_ylim(len(keys) - 0.5, -0.5)
    handles, names_shown = panels[0].get_legend_handles_labels()
    figure.legend(handles, names_shown, loc="outside upper center", ncols=max(1, len(names)))
    failed = sorted({c.allocator for c in suite.cells if c.error})
    footnote(
        figure,
        f"Each point: an allocator's ratio to glibc, from the medians of {suite.repeat} "
        "interleaved runs: glibc's time / its time (larson, xmalloc: its ops/s / glibc's); "
        "glibc's peak RSS / its peak RSS (the whole process's). "
        + (f"Missing points: {', '.join(failed)} failed there." if failed else ""),
    )
    return figure


def write_figure(suite: Suite, path: str | os.PathLike[str]) -> None:
    """suite_figure as a file, its format from the name's suffix (figures.FORMATS)."""
    from mallocsim.figures import render, style

    with style():
        data = render(suite_figure(suite), figure_format(path))
    write_bytes(path, data)


def figure_format(path: str | os.PathLike[str]) -> str:
    """The figure format a file name asks for, or UsageError."""
    from mallocsim.figures import FORMATS

    suffix = Path(path).suffix.lstrip(".").lower()
    if suffix not in FORMATS:
        raise UsageError(f"{os.fspath(path)}: a figure's name ends in .{', .'.join(FORMATS)}")
    return suffix
