"""Reports: the per-trace table (like the CS:APP mdriver's, only clearer) and CSV.

The table always says what its utilization means, so a reader never has to
guess which definition produced the figure.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path

from mallocsim.results import Summary, TraceResult, summarize

UTILIZATION_NOTE = (
    "util = peak live payload / heap high-water mark; bound = peak payload / peak payload "
    "rounded up to 16 per block (the best any 16-byte-aligned allocator can do)"
)


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def kops(value: float | None) -> str:
    return "-" if value is None else f"{value / 1000:,.0f}"


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.6f}"


def format_table(results: Sequence[TraceResult]) -> str:
    """One allocator's results as a table with averages and totals."""
    header = ("trace", "valid", "util", "bound", "ops", "secs", "Kops/s")
    rows = [
        (
            r.trace,
            "yes" if r.valid else "NO",
            percent(r.utilization),
            percent(r.alignment_bound),
            f"{r.ops:,}",
            seconds(r.seconds),
            kops(r.ops_per_sec),
        )
        for r in results
    ]
    summary = summarize(results)
    rows.append(_summary_row(summary))
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [line(header), rule, *map(line, rows[:-1]), rule, line(rows[-1])]
    return "\n".join(out)


def _summary_row(summary: Summary) -> tuple[str, ...]:
    return (
        f"all ({summary.valid}/{summary.traces} valid)",
        "yes" if summary.valid == summary.traces else "NO",
        percent(summary.mean_utilization),
        "",
        f"{summary.total_ops:,}",
        seconds(summary.total_seconds),
        kops(summary.ops_per_sec_total),
    )


def format_report(allocator: str, results: Sequence[TraceResult]) -> str:
    """The full report for one allocator: title, table, failures, definitions."""
    summary = summarize(results)
    parts = [f"Results for {allocator}:", format_table(results)]
    failures = [r for r in results if not r.valid]
    if failures:
        parts.append("Failures:")
        parts.extend(f"  {r.trace}: {r.error}" for r in failures)
    if summary.ops_per_sec_geomean is not None:
        parts.append(
            f"throughput: {kops(summary.ops_per_sec_total)} Kops/s over all ops, "
            f"{kops(summary.ops_per_sec_geomean)} Kops/s geometric mean per trace"
        )
    parts.append(UTILIZATION_NOTE)
    return "\n".join(parts)


def write_csv(results: Sequence[TraceResult], path: str | Path) -> None:
    names = [f.name for f in fields(TraceResult)]
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=names)
        writer.writeheader()
        for result in results:
            writer.writerow(asdict(result))
