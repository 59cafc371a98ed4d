"""What `mallocsim replay` prints for each allocator, in 80 columns.

The same figures as report.format_report (which `--wide` prints unchanged,
one line per trace at any width): a title, a table of the traces with their
totals, the failures, the throughput across traces and the definitions. Here
the table's last heading is short ("checked" for "checked Kops/s"), a trace
name too long for the width goes on a line of its own above its figures
(table.py), and the prose is wrapped, so that no line is longer than the
width. A trace that ran out of memory the machine does not have shows "oom"
(out_of_memory.py), is listed apart from the failures, and is left out of
the figures across traces as every trace that was not valid is.
"""

from __future__ import annotations

from collections.abc import Sequence

from mallocsim.numbers import count, duration, kops, percent
from mallocsim.out_of_memory import is_out_of_memory
from mallocsim.report import format_report, throughput_lines
from mallocsim.results import (
    TraceResult,
    past_break_note,
    reset_note,
    summarize,
    timed_heap_note,
    timing_cut_note,
)
from mallocsim.safe_text import printable
from mallocsim.table import WIDTH, fit, render_table

HEADER = ("trace", "valid", "util", "bound", "ops", "time", "Kops/s", "checked")
NOTES = (
    "util = peak live payload / heap high-water mark (a reference: its peak footprint "
    "by its own statistics); bound = peak payload / peak "
    "payload with each block rounded up to the lab's alignment (the best any "
    "allocator so aligned can do)",
    "time = median timed pass (no checks); Kops/s = ops / time; checked = Kops/s of "
    "the pass with every check, for what checking costs",
)
OOM_NOTE = (
    "oom = out of memory: the allocator returned NULL for blocks this machine cannot "
    "hold (not a failure); left out of the figures across traces"
)


def verdict(result: TraceResult) -> str:
    """A trace's word in the valid column: yes, NO, or oom."""
    if is_out_of_memory(result):
        return "oom"
    return "yes" if result.valid else "NO"


def format_replay(allocator: str, results: Sequence[TraceResult], width: int | None = WIDTH) -> str:
    """The report for one allocator in `width` columns; None: report.py's
    one-line-per-trace report, as it always was."""
    if width is None:
        return format_report(allocator, results)
    rows = [
        (
            r.trace,
            verdict(r),
            percent(r.utilization),
            percent(r.alignment_bound),
            count(r.ops),
            duration(r.seconds),
            kops(r.ops_per_sec),
            kops(r.ops / r.checked_seconds if r.checked_seconds else None),
        )
        for r in results
    ]
    summary = summarize(results)
    starved = [r for r in results if is_out_of_memory(r)]
    failed = [r for r in results if not r.valid and not is_out_of_memory(r)]
    total = (
        f"all ({summary.valid}/{summary.traces} valid)",
        "NO" if failed else "oom" if starved else "yes",
        percent(summary.mean_utilization),
        "",
        count(summary.total_ops),
        duration(summary.total_seconds),
        kops(summary.ops_per_sec_total),
        "",
    )
    table = render_table([HEADER], rows, [total], width=width)
    # a path may hold a newline or an escape (red-team pass 27): shown printable
    parts = [f"Results for {printable(allocator, lines=False)}:", table]
    sections = {
        "Failures:": [f"{r.trace}: {r.error}" for r in failed],
        "Out of memory:": [f"{r.trace}: {r.error}" for r in starved],
        "Heap past the break:": [n for n in map(past_break_note, results) if n],
        "Heap of the timed passes:": [n for n in map(timed_heap_note, results) if n],
        "Heap of the second run:": [n for n in map(reset_note, results) if n],
        "Timed passes out of time:": [n for n in map(timing_cut_note, results) if n],
    }
    for heading, lines in sections.items():
        if lines:
            parts.append(heading)
            parts.extend(f"  {line}" for line in lines)
    parts += throughput_lines(results)
    parts.extend(NOTES)
    if starved:
        parts.append(OOM_NOTE)
    return fit("\n".join(parts), width)
