"""One self-contained HTML report of a comparison: every table and every plot.

The file needs nothing else to open in any browser: the plots are embedded as
base64 PNG data URIs and the style sheet is inline. It holds the run's
metadata (a compact block: when, where, on what, how), the side-by-side table
(the best cell per trace in bold), each allocator's detailed table, the
failures, the missing references, the timed passes' statistics with the
measurements not to be trusted flagged, what every figure means, and the
plots of plots.py that there is data for.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from mallocsim.compare import (
    COMPARE_NOTE,
    OOM,
    TABLE_HEADER,
    Comparison,
    failures,
    means_note,
    not_measured,
    out_of_memory,
    rounds_spread,
    table_rows,
)
from mallocsim.files import write_text
from mallocsim.numbers import duration, kops, percent
from mallocsim.pictures import Pictures
from mallocsim.plots import all_plots
from mallocsim.references import REFERENCES
from mallocsim.report import (
    TIMING_HEADER,
    TIMING_NOTE,
    metadata_lines,
    timing_cells,
    timing_warnings,
    timings,
)
from mallocsim.rounds import SPREAD_GROUPS, SPREAD_HEADER, RoundsSpread, spread_lead, spread_rows

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 80em; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.best { font-weight: bold; background: #e8f4e8; }
td.fail { color: #b00; }
tr.mean td { border-top: 2px solid #888; }
img { max-width: 100%; display: block; margin: 1em 0; }
.note { color: #555; font-size: 0.9em; }
dl.metadata { display: grid; grid-template-columns: max-content auto; gap: 0.1em 1em;
              font-size: 0.85em; color: #444; margin: 1em 0; }
dl.metadata dt { font-weight: bold; }
dl.metadata dd { margin: 0; overflow-wrap: anywhere; }
td.warn { color: #b60; font-weight: bold; }
td.oom { color: #666; font-style: italic; }
@media (max-width: 60em) {
  body { margin: 0.6em; }
  table { font-size: 0.8em; }
  th, td { padding: 0.2em 0.35em; }
  dl.metadata { grid-template-columns: 1fr; }
}
"""

PLOT_CAPTIONS = {
    "utilization.png": "Utilization per trace (black bar: the alignment bound)",
    "throughput.png": "Throughput per trace: the median pass, with the passes' spread",
    "heap-over-time.png": "Heap size and live payload over one trace",
    "heap-map.png": "Heap maps, side by side: where the blocks were, op by op",
}


def comparison_table(comparison: Comparison) -> str:
    groups = "".join(f'<th colspan="2">{escape(a)}</th>' for a in comparison.allocators)
    header = "".join(
        f"<th>{h}</th>" for h in [*TABLE_HEADER[:2], *TABLE_HEADER[2:] * len(comparison.allocators)]
    )
    lines = [
        '<div class="scroll"><table class="comparison">',
        f'<tr><th colspan="2"></th>{groups}</tr>',
        f"<tr>{header}</tr>",
    ]
    rows = table_rows(comparison)
    for n, row in enumerate(rows):
        mean = ' class="mean"' if n == len(rows) - 1 else ""
        cells = []
        for cell in row:
            kind = (
                "best"
                if cell.best
                else "fail"
                if cell.text == "FAIL"
                else "oom"
                if cell.text == OOM
                else ""
            )
            attribute = f' class="{kind}"' if kind else ""
            cells.append(f"<td{attribute}>{escape(cell.text)}</td>")
        lines.append(f"<tr{mean}>{''.join(cells)}</tr>")
    lines.append("</table></div>")
    return "\n".join(lines)


def detail_table(comparison: Comparison, allocator: str) -> str:
    header = ("trace", "valid", "util", "bound", "footprint", "ops", "secs (min-max)", "Kops/s")
    if allocator in REFERENCES:
        header = (*header, "peak RSS")
    lines = [
        '<div class="scroll"><table>',
        "<tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr>",
    ]
    for trace in comparison.traces:
        r = comparison.cell(allocator, trace)
        if r is None:
            continue
        spread = (
            f"{duration(r.seconds)} ({duration(r.seconds_min)}-{duration(r.seconds_max)})"
            if r.seconds is not None
            else "-"
        )
        cells = [
            r.trace,
            "yes" if r.valid else "NO",
            percent(r.utilization),
            percent(r.alignment_bound),
            "-" if r.heap_size is None else f"{r.heap_size:,} B",
            f"{r.ops:,}",
            spread,
            kops(r.ops_per_sec),
        ]
        if allocator in REFERENCES:
            cells.append("-" if r.peak_rss is None else f"{r.peak_rss / 2**20:.1f} MiB")
        lines.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    lines.append("</table></div>")
    return "\n".join(lines)


def spread_table(rounds: RoundsSpread) -> str:
    """The rounds' spread (rounds.py) as a table, its column groups over it."""
    groups = "".join(f'<th colspan="{n}">{escape(t)}</th>' for t, n in SPREAD_GROUPS)
    lines = [
        '<div class="scroll"><table class="rounds">',
        f"<tr>{groups}</tr>",
        "<tr>" + "".join(f"<th>{h}</th>" for h in SPREAD_HEADER) + "</tr>",
    ]
    for row in spread_rows(rounds):
        lines.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>")
    lines.append("</table></div>")
    return "\n".join(lines)


def metadata_block(metadata: dict | None, version: int | None = None) -> str:
    """The run's metadata as a compact definition list (report.metadata_lines)."""
    items = "".join(
        f"<dt>{escape(name)}</dt><dd>{escape(text)}</dd>"
        for name, text in metadata_lines(metadata, version)
    )
    return f'<dl class="metadata">{items}</dl>'


def timing_table(comparison: Comparison) -> str:
    """Every timed result's passes as statistics (report.TIMING_HEADER)."""
    header = ("allocator", "trace", *TIMING_HEADER, "warning")
    lines = [
        '<div class="scroll"><table class="timing">',
        "<tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr>",
    ]
    for t in timings(list(comparison.cells.values())):
        cells = [t.result.allocator, t.result.trace, *timing_cells(t)]
        warn = f'<td class="warn">{escape(t.warning)}</td>' if t.warning else "<td></td>"
        lines.append(f"<tr>{''.join(f'<td>{escape(c)}</td>' for c in cells)}{warn}</tr>")
    lines.append("</table></div>")
    return "\n".join(lines)


def render_html(
    comparison: Comparison,
    pictures: Pictures,
    title: str = "mallocsim",
    metadata: dict | None = None,
    version: int | None = None,
) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}: allocator comparison</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}: allocator comparison</h1>",
        metadata_block(metadata, version),
        f'<p class="note">{escape(COMPARE_NOTE)}</p>',
        "<h2>Side by side</h2>",
        comparison_table(comparison),
        f'<p class="note">{escape(means_note(comparison))}</p>',
    ]
    rounds = rounds_spread(comparison)
    if rounds is not None:
        parts += ["<h2>Rounds</h2>", f"<p>{escape(spread_lead(rounds))}</p>", spread_table(rounds)]
    failed = failures(comparison)
    if failed:
        parts.append("<h2>Failures</h2><ul>")
        parts += [
            f"<li>{escape(r.allocator)} on {escape(r.trace)}: {escape(r.error or '')}</li>"
            for r in failed
        ]
        parts.append("</ul>")
    ran_out = out_of_memory(comparison)
    if ran_out:
        parts.append(
            '<h2>Out of memory</h2><p class="note">Requests this machine cannot hold: an '
            "outcome, not a failure, and left out of the means.</p><ul>"
        )
        parts += [
            f"<li>{escape(r.allocator)} on {escape(r.trace)}: {escape(r.error or '')}</li>"
            for r in ran_out
        ]
        parts.append("</ul>")
    unmeasured = not_measured(comparison)
    if unmeasured:
        parts.append("<h2>Not measured</h2><ul>")
        parts += [
            f"<li>{escape(a)} on {escape(', '.join(ts))}: {escape(why)}</li>"
            for a, ts, why in unmeasured
        ]
        parts.append("</ul>")
    if comparison.missing:
        parts.append("<h2>Missing</h2><ul>")
        parts += [f"<li>{escape(n)}: {escape(w)}</li>" for n, w in comparison.missing.items()]
        parts.append("</ul>")
    if timings(list(comparison.cells.values())):
        parts.append("<h2>Timed passes</h2>")
        parts.append(timing_table(comparison))
        warnings = timing_warnings(list(comparison.cells.values()))
        if warnings:
            parts.append("<ul>" + "".join(f"<li>{escape(w)}</li>" for w in warnings) + "</ul>")
        parts.append(f'<p class="note">{escape(TIMING_NOTE)}</p>')
    parts.append("<h2>Plots</h2>")
    for name, png in all_plots(comparison, pictures.series, pictures.heap_map).items():
        data = base64.b64encode(png).decode("ascii")
        caption = escape(PLOT_CAPTIONS.get(name, name))
        parts.append(f'<h3>{caption}</h3><img alt="{caption}" src="data:image/png;base64,{data}">')
    parts.append("<h2>Each allocator</h2>")
    for allocator in comparison.allocators:
        parts.append(f"<h3>{escape(allocator)}</h3>")
        if allocator in REFERENCES:
            measure = REFERENCES[allocator].footprint
            parts.append(
                f'<p class="note">footprint: {escape(measure)}, '
                "above what its process held before the trace</p>"
            )
        parts.append(detail_table(comparison, allocator))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_html(
    comparison: Comparison,
    pictures: Pictures,
    path: str | Path,
    title: str = "mallocsim",
    metadata: dict | None = None,
    version: int | None = None,
) -> None:
    """The report into `path`, with the run's metadata (None: the run kept
    none) and its results format version (None: this mallocsim's)."""
    write_text(path, render_html(comparison, pictures, title, metadata, version))
