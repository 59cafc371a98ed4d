"""A grade as text: the lab's table, the score and how the lab computes it.

The table's total row and the score are computed on the same basis (the
Score's per-trace parts), so they cannot disagree: U is the mean over the
traces that count for utilization, T the lab's aggregate over the traces that
count for throughput, each column marked with what it counts, as the CMU
driver marks its weighted traces. The index is printed as well in the lab
driver's own words ("Perf index = 45 (util) + 40 (thru) = 85/100"), so that
a course can compare it line for line.
"""

from __future__ import annotations

from mallocsim.grading import Grade
from mallocsim.labs import LABS
from mallocsim.numbers import kops, percent
from mallocsim.safe_text import printable
from mallocsim.score import Score, on_lab_scale
from mallocsim.table import fit, render_table

DEFINITIONS = "util = peak live payload / heap size at the end; * = counted in U, T = counted in T"


def _speed(measure: str, throughput: float | None) -> str:
    """A throughput as the table shows it: instructions per op (the inverse of ops per
    instruction), or Kops/s."""
    if not throughput:
        return "-"
    if measure == "instructions":
        return f"{1 / throughput:,.1f}"
    return kops(throughput)


def throughput_text(measure: str, value: float | None) -> str:
    """A throughput with its unit, as the score gives it: instructions/op or Kops/s."""
    unit = "instructions/op" if measure == "instructions" else "Kops/s"
    return "-" if not value else f"{_speed(measure, value)} {unit}"


def format_table(score: Score) -> str:
    """The per-trace table with the lab's totals as its last row."""
    speed = "instr/op" if score.measure == "instructions" else "Kops/s"
    header = ("trace", "valid", "util", "", "ops", speed, "")
    rows = [
        (
            part.trace,
            "yes" if part.valid else "NO",
            percent(part.utilization),
            "*" if part.counts_utilization else "",
            f"{part.ops:,}",
            _speed(score.measure, part.throughput),
            "T" if part.counts_throughput else "",
        )
        for part in score.per_trace
    ]
    in_u = sum(p.counts_utilization for p in score.per_trace)
    in_t = sum(p.counts_throughput for p in score.per_trace)
    total = (
        f"{score.lab} ({score.valid}/{score.traces} valid)",
        "yes" if score.valid == score.traces else "NO",
        percent(score.utilization),
        f"{in_u}*",
        f"{sum(p.ops for p in score.per_trace if p.counts_throughput):,}",
        _speed(score.measure, score.throughput),
        f"{in_t}T",
    )
    return render_table([header], rows, [total])


def explain(score: Score) -> str:
    """The score's breakdown: each factor, how the lab combines them, and the
    index in the lab driver's own words."""
    w = score.util_weight
    lab = LABS.get(score.lab)
    title = lab.title if lab else score.lab
    if score.formula == "cmu":
        formula = "CMU 15-213 linear thresholds"
    else:
        formula = f"{100 * w:g}*U + {100 * (1 - w):g}*min(1, T/T_ref)"
    lines = [f"Score (lab {score.lab}: {title}; {formula}):"]
    if score.traces == 0:
        lines.append(f"  no trace was run: {score.penalty}")
        lines.append(f"  score               0 / {score.max_points:g}")
        return "\n".join(lines)
    in_u = _counted(score, "counts_utilization")
    in_t = _counted(score, "counts_throughput")
    aggregate = (
        "harmonic mean of the per-trace throughputs"
        if score.throughput_mean == "harmonic"
        else "total ops / total "
        + ("instructions" if score.measure == "instructions" else "seconds")
    )
    if score.measure != "instructions":
        measure = "seconds of the timed passes, as the lab's driver measures"
    elif score.throughput is None:
        measure = "instructions counted by valgrind: not counted (see the notes)"
    elif score.count_scale > 1.0:
        measure = (
            f"instructions counted by valgrind, times {score.count_scale:.1f}: "
            "the clock did not confirm the count (see the notes)"
        )
    elif not score.count_checked:
        measure = "instructions counted by valgrind, not checked by the clock (see the notes)"
    else:
        measure = "instructions counted by valgrind, confirmed by the clock: the same on every run"
    ratio = "-"
    if score.throughput is not None and score.reference_throughput:
        ratio = f"{score.throughput / score.reference_throughput:.3f}"
        if score.measure == "instructions":  # T/T_ref of two costs reads upside down unsaid
            ratio += (
                f" (T_ref's {_speed(score.measure, score.reference_throughput)} instructions/op "
                f"over T's {_speed(score.measure, score.throughput)})"
            )
    out_of = score.index_out_of  # the lab's scale: PKU 2025's index is out of 80
    index = score.lab_index
    lines += [
        f"  utilization U       {percent(score.utilization)} (mean over {in_u} marked *)",
        f"  throughput T        {throughput_text(score.measure, score.throughput)} "
        f"({aggregate} over {in_t} marked T)",
        f"  measured in         {measure}",
        f"  reference T_ref     {throughput_text(score.measure, score.reference_throughput)} "
        f"({score.reference_source or 'not needed'})",
        f"  T / T_ref           {ratio}",
        f"  utilization part    {score.util_score:.3f} x {out_of * w:g}",
        f"  throughput part     {score.throughput_score:.3f} x {out_of * (1 - w):g}",
        f"  performance index   {index:.{max(score.index_digits, 1)}f} / {out_of:g}",
        f"  valid traces        {score.valid} / {score.traces}",
    ]
    if score.penalty:
        lines.append(f"  penalty             {score.penalty}")
    lines.append(f"  score               {score.points:.1f} / {score.max_points:g}")
    driver = "CMU 15-213" if score.formula == "cmu" else "CS:APP"
    lines.append(f"As the {driver} mdriver prints it: {driver_line(score)}")
    if score.deduction:
        lines.append(
            f"As its emulating driver prints it: {score.global_data_limit}-byte global data limit "
            f"exceeded (using {score.global_data} bytes), deducting {score.deduction:.2f} points!"
        )
    return "\n".join(lines)


def _counted(score: Score, mark: str) -> str:
    """ "the 11 traces" a measure is taken over, or "the 6 valid traces of the 11" when
    invalid ones count for nothing (invalid = "zero": the index is 0 anyway)."""
    marked = [t for t in score.per_trace if getattr(t, mark)]
    valid = sum(t.valid for t in marked)
    if valid == len(marked) or score.invalid == "trace":
        return f"the {len(marked)} traces"
    return f"the {valid} valid traces of the {len(marked)}"


def driver_line(score: Score) -> str:
    """The index line the lab's own driver prints ("Terminated with N errors" when invalid)."""
    errors = score.traces - score.valid
    if errors:
        return f"Terminated with {errors} errors"
    digits, out_of = score.index_digits, score.index_out_of
    u = out_of * score.util_weight * score.util_score
    t = out_of * (1 - score.util_weight) * score.throughput_score
    joiner = score.index_joiner
    index = on_lab_scale(score.index + score.deduction, out_of)
    return (
        f"Perf index = {u:.{digits}f} (util) {joiner} {t:.{digits}f} (thru) "
        f"= {index:.{digits}f}/{out_of:g}"
    )


# Warnings shown in a grade, the dangerous ones first: 20,000 #warning lines made 1.1 MB of
# output and of Gradescope's JSON. The count says how many there were.
WARNINGS_SHOWN = 50


def format_grade(grade: Grade, width: int | None = None) -> str:
    """Everything `mallocsim grade` prints on standard output for one grade, its lines
    wrapped to `width` (None: as they are) but the compiler's warnings, whose caret
    lines point at columns (wrapped, gcc's `~^` and `%lu` under a format string were
    split and re-indented: lab check run 17)."""
    parts: list[str] = []
    if grade.team is not None:
        parts.extend(grade.team.lines())
    head = [fit("\n".join(parts), width)] if parts else []
    parts = []
    if grade.warnings:
        head.append(
            fit(f"Compiler warnings ({len(grade.warnings)}, the dangerous ones first):", width)
        )
        shown = grade.warnings[:WARNINGS_SHOWN]
        head.extend("  " + w.replace("\n", "\n  ") for w in shown)
        if len(grade.warnings) > len(shown):
            head.append(f"  ... and {len(grade.warnings) - len(shown)} more, not shown")
    if grade.problem is None:
        parts.append(f"Results for {printable(grade.allocator, lines=False)}:")
        parts.append(format_table(grade.score))
        failures = [r for r in grade.results if not r.valid]
        if failures:
            parts.append("Failures:")
            parts.extend(f"  {r.trace}: {r.error}" for r in failures)
        parts.append(DEFINITIONS)
    if grade.notes:
        parts.append("Notes:")
        parts.extend(f"  {note}" for note in grade.notes)
    parts.append("")
    parts.append(explain(grade.score))
    return "\n".join([*head, fit("\n".join(parts), width)])
