"""Reports: the per-trace table (like the CS:APP mdriver's, only clearer), CSV, a
saved run's metadata as a compact block and its timed passes' statistics.

The table always says what its utilization means, so a reader never has to
guess which definition produced the figure; a measurement that should not be
trusted (too few passes, or passes too spread out: stats.py)
is said under it, never silently.
"""

from __future__ import annotations

import csv
import shlex
import textwrap
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from mallocsim.files import text_output
from mallocsim.numbers import duration, kops, percent
from mallocsim.results import Summary, TraceResult, summarize
from mallocsim.safe_text import printable
from mallocsim.stats import Stats, describe, instability
from mallocsim.table import WIDTH, fit, render_table

UTILIZATION_NOTE = (
    "util = peak live payload / heap high-water mark; bound = peak payload / peak payload "
    "rounded up to the lab's alignment per block (the best any allocator so aligned can do)\n"
    "time = median timed pass (no checks); Kops/s = ops / time; checked Kops/s = the pass "
    "with every check, for what checking costs"
)


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
    parts = [f"Results for {printable(allocator, lines=False)}:", format_table(results)]
    failures = [r for r in results if not r.valid]
    if failures:
        parts.append("Failures:")
        parts.extend(f"  {r.trace}: {r.error}" for r in failures)
    parts.extend(fit(line) for line in throughput_lines(results))
    parts.append(UTILIZATION_NOTE)
    return "\n".join(parts)


def throughput_lines(results: Sequence[TraceResult]) -> list[str]:
    """Under an allocator's table: its throughput over all ops and per trace, and a
    warning for every measurement not to be trusted."""
    summary = summarize(results)
    lines = []
    if summary.ops_per_sec_geomean is not None:
        lines.append(
            f"throughput: {kops(summary.ops_per_sec_total)} Kops/s over all ops, "
            f"{kops(summary.ops_per_sec_geomean)} Kops/s geometric mean per trace"
        )
    lines += [f"warning: {line}" for line in timing_warnings(results, with_allocator=False)]
    return lines


def write_csv(results: Sequence[TraceResult], path: str | Path) -> None:
    names = [f.name for f in fields(TraceResult)]
    with text_output(path, newline="") as out:
        writer = csv.DictWriter(out, fieldnames=names)
        writer.writeheader()
        for result in results:
            row = asdict(result)
            # One cell: every pass's seconds, space-separated (not a Python tuple's repr).
            row["pass_seconds"] = " ".join(repr(s) for s in result.pass_seconds)
            writer.writerow(row)


@dataclass(frozen=True)
class Timing:
    """One result's timed passes as statistics: from every pass's seconds
    when saved (format 2), else None with what the file still says."""

    result: TraceResult
    stats: Stats | None  # None: not timed, or a file before format 2
    warning: str | None  # stats.instability's phrase, or None


def timings(results: Sequence[TraceResult]) -> list[Timing]:
    """The timed results' statistics, in their order (untimed ones left out)."""
    out = []
    for r in results:
        if r.seconds is None and not r.pass_seconds:
            continue
        stats = describe(r.pass_seconds)
        out.append(Timing(r, stats, instability(stats) if stats else None))
    return out


def timing_warnings(results: Sequence[TraceResult], with_allocator: bool = True) -> list[str]:
    """One line per measurement not to be trusted: "segfit on t: unstable: ..."."""
    return [
        f"{f'{t.result.allocator} on ' if with_allocator else ''}{t.result.trace}: {t.warning}"
        for t in timings(results)
        if t.warning
    ]


TIMING_NOTE = (
    "per trace, the seconds of each timed pass: n passes, their median (what Kops/s is made "
    "from), interquartile range (the middle half's span, and as a share of the median), mean "
    "and range; a middle half spanning over 13.5% of the median, or fewer "
    "than 3 passes, is flagged '!' and listed; n x k: passes under 50 us, too short for the "
    "clock to time alone, timed k at a time, each of the n figures a batch's mean"
)
TIMING_HEADER = ("n", "median", "IQR", "mean", "min-max")


def timing_cells(t: Timing) -> list[str]:
    """One result's TIMING_HEADER cells: its statistics, or what a file saved before
    format 2 still says (passes, median and range)."""
    r, s = t.result, t.stats
    if s is None:
        return [str(r.passes or "-"), duration(r.seconds), "-", "-",
                _range(r.seconds_min, r.seconds_max)]  # fmt: skip
    return [
        f"{s.n} x {r.pass_repeats}" if r.pass_repeats > 1 else str(s.n),
        duration(s.median),
        f"{duration(s.q3 - s.q1)} ({100 * s.relative_iqr:.0f}%)",
        duration(s.mean),
        _range(s.minimum, s.maximum),
    ]


def format_timings(results: Sequence[TraceResult]) -> str:
    """The timed passes' statistics, one table per allocator, then the warnings."""
    parts = []
    allocators = list(dict.fromkeys(r.allocator for r in results))
    header = ("trace", *TIMING_HEADER, "!")
    for allocator in allocators:
        rows = [
            (t.result.trace, *timing_cells(t), "!" if t.warning else "")
            for t in timings([r for r in results if r.allocator == allocator])
        ]
        if rows:
            table = render_table([header], rows, width=WIDTH)  # its last column may be empty
            parts += [f"{allocator}:", "\n".join(line.rstrip() for line in table.splitlines()), ""]
    if not parts:
        # A timed run in which nothing passed has none either (red-team pass 27: "made with
        # --no-timing", of a run that was not).
        if any(r.valid for r in results):
            return "no timed passes (the run was made with --no-timing)"
        return "no timed passes (no trace was valid: nothing was timed)"
    if any(t.stats is None for t in timings(results)):
        parts.append("no per-pass times in this file (saved before format 2): median and range")
    parts += [fit(f"warning: {line}") for line in timing_warnings(results)]
    parts.append(fit(TIMING_NOTE))
    return "\n".join(parts)


def _range(low: float | None, high: float | None) -> str:
    return "-" if low is None or high is None else f"{duration(low)}-{duration(high)}"


def metadata_lines(metadata: dict | None, version: int | None = None) -> list[tuple[str, str]]:
    """A saved run's metadata as (label, text) pairs, compact: what a reader
    needs to know where and how the figures were made. Keys a file lacks
    (an older or hand-made one) show as "unknown"."""
    if metadata is None:
        return [("metadata", f"none (a results file of format {version or 1})")]
    m = metadata

    def get(key: str) -> str:
        value = m.get(key)
        return "unknown" if value is None or value == "" else str(value)

    def load(key: str) -> str:
        value = m.get(key)
        numbers = isinstance(value, list) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value
        )
        return " ".join(f"{v:.2f}" for v in value) if numbers and value else "unknown"

    versions = m.get("allocator_versions")
    allocators = (
        ", ".join(f"{name} {version}" for name, version in versions.items())
        if isinstance(versions, dict) and versions
        else "unknown"
    )
    command = m.get("command_line")
    command_text = shlex.join(map(str, command)) if isinstance(command, list) else "unknown"
    return [
        ("date", f"{get('date')} to {get('finished')} (UTC)"),
        ("command", command_text),
        ("mallocsim", f"{get('mallocsim')}, results format {version or '?'}"),
        (
            "host",
            f"{get('host')}: {get('cpu_model')} x {get('cpu_count')} "
            f"({get('cpus_usable')} usable), {get('kernel')} {get('machine')}",
        ),
        ("load", f"{load('load_start')} at start, {load('load_end')} at end (1, 5, 15 min)"),
        ("compiler", get("compiler")),
        ("python", get("python")),
        ("allocators", allocators),
        ("lab", get("lab")),
        ("throughput", get("throughput")),
    ]


def format_metadata(metadata: dict | None, version: int | None = None) -> str:
    """The metadata block: one "label: text" line each, a long text wrapped
    under itself (a word longer than the width, a path, stays whole)."""
    lines = metadata_lines(metadata, version)
    label = max(len(name) for name, _ in lines) + 2
    out = []
    for name, text in lines:
        out += textwrap.wrap(
            text,
            WIDTH,
            initial_indent=f"{name + ':':<{label}}",
            subsequent_indent=" " * label,
            break_long_words=False,
            break_on_hyphens=False,
        ) or [f"{name}:"]
    return "\n".join(out)
