"""Reports: the per-trace table (like the CS:APP mdriver's, only clearer) and CSV.

The table always says what its utilization means, so a reader never has to
guess which definition produced the figure.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path

from mallocsim.files import text_output
from mallocsim.results import Summary, TraceResult, summarize
from mallocsim.table import render_table

UTILIZATION_NOTE = (
    "util = peak live payload / heap high-water mark; bound = peak payload / peak payload "
    "rounded up to the lab's alignment per block (the best any allocator so aligned can do)\n"
    "time = median timed pass (no checks); Kops/s = ops / time; checked Kops/s = the pass "
    "with every check, for what checking costs"
)


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def kops(value: float | None) -> str:
    return "-" if value is None else f"{value / 1000:,.0f}"


def duration(value: float | None) -> str:
    """Seconds in the unit that keeps three significant figures readable."""
    if value is None:
        return "-"
    if value < 1e-3:
        return f"{value * 1e6:.1f} us"
    if value < 1:
        return f"{value * 1e3:.2f} ms"
    return f"{value:.3f} s"


def format_table(results: Sequence[TraceResult]) -> str:
    """One allocator's results as a table with averages and totals."""
    header = ("trace", "valid", "util", "bound", "ops", "time", "Kops/s", "checked Kops/s")
    rows = [
        (
            r.trace,
            "yes" if r.valid else "NO",
            percent(r.utilization),
            percent(r.alignment_bound),
            f"{r.ops:,}",
            duration(r.seconds),
            kops(r.ops_per_sec),
            kops(r.ops / r.checked_seconds if r.checked_seconds else None),
        )
        for r in results
    ]
    return render_table([header], rows, [_summary_row(summarize(results))])


def _summary_row(summary: Summary) -> tuple[str, ...]:
    return (
        f"all ({summary.valid}/{summary.traces} valid)",
        "yes" if summary.valid == summary.traces else "NO",
        percent(summary.mean_utilization),
        "",
        f"{summary.total_ops:,}",
        duration(summary.total_seconds),
        kops(summary.ops_per_sec_total),
        "",
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
    with text_output(path, newline="") as out:
        writer = csv.DictWriter(out, fieldnames=names)
        writer.writeheader()
        for result in results:
            writer.writerow(asdict(result))
