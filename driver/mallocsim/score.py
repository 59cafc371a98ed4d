"""Scores: the malloc labs' performance indexes, from measured results.

Both combine a utilization U and a throughput T against a reference T_ref,
with a weight w (0.6 in both labs):

  csapp  the CS:APP lab's index, linear and capped:
             P = 100 * (w * U + (1 - w) * min(1, T / T_ref))   (60*U + 40*min(1, T/T_ref))
  cmu    the CMU 15-213 lab's linear thresholds (mdriver's config.h: U between
         0.55 and 0.74, T between 0.50 and 0.90 of T_ref):
             u = clamp((U - min_util) / (max_util - min_util))
             t = clamp((T / T_ref - min_speed_ratio) / (max_speed_ratio - min_speed_ratio))
             P = 100 * (w * u + (1 - w) * t)

U is the mean (arithmetic, or harmonic if configured) of the per-trace
utilizations, weighted, over the traces that count for it. T is what the lab
computes over the traces that count for it: total ops / total cost (CS:APP),
or the harmonic mean of the per-trace throughputs (CMU). The cost of a trace
is its median timed pass in seconds (measure "time", the lab's own rule), or
the instructions valgrind counted in one cold pass (measure "instructions":
the same on every run, whatever the machine's load), and, under a lab whose
memlib passes each growth of the heap to the real sbrk, what those system calls
cost its driver (sbrk_cost.py); T_ref is measured the same way (uncharged), or
fixed by the lab or the course. Which traces count for which:
the lab's rules (labs.py) or the configuration's [[traces]].

Invalid traces (the documented penalty): with invalid = "zero" (the default,
what both lab drivers do) one invalid trace makes the index 0; with
invalid = "trace" an invalid trace counts as utilization 0 in the mean, and T
is multiplied by the fraction of throughput traces that are valid.

Points: correctness points are split evenly over the traces and earned by
the valid ones; performance points are earned in proportion to P / 100.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mallocsim.config import GradingConfig
from mallocsim.labs import TraceRule
from mallocsim.results import TraceResult
from mallocsim.sbrk_cost import growth_charge


@dataclass(frozen=True)
class TraceScore:
    """One trace's part in a score."""

    trace: str
    valid: bool
    utilization: float | None  # as measured (None when invalid)
    ops: int
    cost: float | None  # seconds or instructions of one pass, per the measure
    weight: float  # in the utilization mean
    counts_utilization: bool
    counts_throughput: bool
    points: float  # correctness points earned
    max_points: float
    error: str | None  # the diagnosis when invalid

    @property
    def throughput(self) -> float | None:
        """ops per unit of cost (ops/s, or ops per instruction)."""
        return self.ops / self.cost if self.cost else None


@dataclass(frozen=True)
class Score:
    """A grade: the index, how it was reached, and the points."""

    lab: str
    formula: str
    measure: str  # "time" or "instructions"
    valid: int  # traces valid
    traces: int  # traces graded
    utilization: float | None  # U (None when no trace counts for it)
    throughput: float | None  # T, ops per unit of cost (None when no trace counts for it)
    reference_throughput: float | None  # T_ref, the same unit
    reference_source: str  # "configured", "segfit, counted the same way", ...
    util_score: float  # 0..1: the utilization part before weighting
    throughput_score: float  # 0..1: the throughput part before weighting
    util_weight: float
    throughput_mean: str  # "total" or "harmonic"
    index: float  # 0..100, the performance index P (after the penalty)
    index_digits: int  # how the lab's driver prints it
    index_joiner: str  # what it prints between the two parts
    penalty: str | None  # why the index was cut, one line
    invalid: str  # the penalty rule: "zero" (the index is 0) or "trace" (an invalid one counts 0)
    points: float
    max_points: float
    per_trace: tuple[TraceScore, ...]
    global_data: int | None = None  # bytes of writable global data in mm.c (None: not measured)
    global_data_limit: int | None = None  # the bytes allowed before points come off
    deduction: float = 0.0  # index points taken for global data past that limit
    index_out_of: float = 100.0  # what the lab's driver prints the index out of
    count_scale: float = 1.0  # instructions: what the clock check multiplied them by (1: confirmed)
    count_checked: bool = True  # instructions: False when the clock could not check the count

    @property
    def lab_index(self) -> float:
        """The index on the scale the lab's driver prints it on (PKU 2025's: out of 80)."""
        return on_lab_scale(self.index, self.index_out_of)


def on_lab_scale(index: float, out_of: float) -> float:
    """An index of 0..100 on a lab's scale of 0..`out_of` (its driver's: 100, PKU 2025's 80)."""
    return index * out_of / 100


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def _mean(pairs: Sequence[tuple[float, float]], kind: str) -> float | None:
    """Weighted mean of (value, weight) pairs; None when the weights sum to 0."""
    total = sum(w for _, w in pairs)
    if total <= 0:
        return None
    if kind == "harmonic":
        if any(v <= 0 and w > 0 for v, w in pairs):
            return 0.0
        return total / sum(w / v for v, w in pairs if w > 0)
    return sum(v * w for v, w in pairs) / total


def _measured(cost: float | None) -> bool:
    """Whether a trace's cost is a measure: a finite number above 0."""
    return cost is not None and math.isfinite(cost) and cost > 0


def aggregate_throughput(pairs: Sequence[tuple[int, float]], mean: str = "total") -> float | None:
    """T from (ops, cost) pairs: total ops / total cost, or the harmonic mean of
    the per-trace ops / cost (CMU); None when nothing was measured."""
    measured = [(ops, cost) for ops, cost in pairs if _measured(cost) and ops > 0]
    if not measured:
        return None
    if mean == "harmonic":
        return len(measured) / sum(cost / ops for ops, cost in measured)
    return sum(ops for ops, _ in measured) / sum(cost for _, cost in measured)


def timed_cost(result: TraceResult) -> float | None:
    """A valid result's cost under the "time" measure: its median timed pass."""
    return result.seconds if result.valid else None


def performance_index(
    config: GradingConfig, utilization: float | None, ratio: float | None
) -> tuple[float, float, float]:
    """(index 0..100, utilization part 0..1, throughput part 0..1) for U and
    T/T_ref (a missing measure scores 0)."""
    u = utilization if utilization is not None else 0.0
    r = ratio if ratio is not None else 0.0
    if config.formula == "cmu":
        u_part = _clamp((u - config.min_util) / (config.max_util - config.min_util))
        t_part = _clamp(
            (r - config.min_speed_ratio) / (config.max_speed_ratio - config.min_speed_ratio)
        )
    else:
        u_part = _clamp(u)
        t_part = _clamp(r)
    w = config.util_weight
    return 100.0 * (w * u_part + (1.0 - w) * t_part), u_part, t_part


def score(
    results: Sequence[TraceResult],
    rules: Mapping[str, TraceRule],
    config: GradingConfig,
    reference_throughput: float | None,
    reference_source: str,
    costs: Mapping[str, float] | None = None,
    global_data: int | None = None,
    count_scale: float = 1.0,
    count_checked: bool = True,
) -> Score:
    """Score one allocator's results; `rules` maps each trace name to how it
    counts; `costs` maps a trace to its instructions (measure "instructions"),
    else each valid result's median seconds is its cost, and `count_scale` what
    the clock check multiplied those instructions by (`count_checked` False: it
    could not check them); `global_data` the bytes
    of writable global data its mm.c defines, when measured."""
    rule_of = {r.trace: rules.get(r.trace, TraceRule(r.trace)) for r in results}
    share = config.correctness_points / len(results) if results else 0.0
    per_trace_penalty = config.invalid == "trace"

    def cost_of(result: TraceResult) -> float | None:
        if not result.valid:
            return None
        cost = costs.get(result.trace) if costs is not None else timed_cost(result)
        if not _measured(cost):  # no measure, and no charge makes it one (a claim of 0 or less)
            return cost
        return cost + growth_charge(config.profile, result, config.throughput, reference_throughput)

    per_trace = tuple(
        TraceScore(
            trace=r.trace,
            valid=r.valid,
            utilization=r.utilization,
            ops=r.ops,
            cost=cost_of(r),
            weight=rule_of[r.trace].weight,
            counts_utilization=rule_of[r.trace].utilization,
            counts_throughput=rule_of[r.trace].throughput,
            points=share if r.valid else 0.0,
            max_points=share,
            error=r.error,
        )
        for r in results
    )
    util_pairs = [
        (t.utilization or 0.0, t.weight)
        for t in per_trace
        if t.counts_utilization and (t.valid or per_trace_penalty)
    ]
    thru = [t for t in per_trace if t.counts_throughput]
    utilization = _mean(util_pairs, config.mean)
    throughput = aggregate_throughput(
        [(t.ops, t.cost or 0.0) for t in thru], config.throughput_mean
    )
    # T is made of every valid trace marked T, or of none: one left out by a cost that is no
    # measure (a claim of NaN, red-team pass 16) made another trace's speed the whole of T.
    unmeasured = [t.trace for t in thru if t.valid and not _measured(t.cost)]
    partial = throughput is not None and bool(unmeasured)
    if partial:
        throughput = None
    if throughput is not None and per_trace_penalty:
        throughput *= sum(t.valid for t in thru) / len(thru)
    ratio = (
        throughput / reference_throughput
        if throughput is not None and reference_throughput
        else None
    )
    index, u_part, t_part = performance_index(config, utilization, ratio)
    invalid = [t for t in per_trace if not t.valid]
    penalty = None
    if invalid and not per_trace_penalty:
        index = 0.0
        penalty = (
            f"{len(invalid)} of {len(results)} traces invalid: the performance index is 0 "
            '(invalid = "zero", as the lab drivers do)'
        )
    elif invalid:
        penalty = (
            f"{len(invalid)} of {len(results)} traces invalid: each counts as utilization 0, "
            'and T is cut to the valid share (invalid = "trace")'
        )
    if partial:
        unmeasured_line = (
            f"T not measured: {', '.join(unmeasured)} had no cost to count, and T is made of "
            "every valid trace marked T or of none"
        )
        penalty = f"{penalty}; {unmeasured_line}" if penalty else unmeasured_line
    deduction = global_data_deduction(config, global_data) if index > 0 else 0.0
    if deduction:
        index = max(0.0, index - deduction)
        deducted = (
            f"{global_data} bytes of global data, past the {config.global_data_limit}-byte "
            f"limit: {deduction:.2f} points deducted from the index"
        )
        penalty = f"{penalty}; {deducted}" if penalty else deducted
    performance = config.performance_points * index / 100.0
    on_scale = on_lab_scale(index, config.index_out_of)
    if 0 < on_scale < config.zero_below:
        performance = 0.0
        below = (
            f"an index of {on_scale:.2f} of {config.index_out_of:g}, under the lab's threshold "
            f"of {config.zero_below:g}: no performance points (its autograder's PERF_THRESHHOLD)"
        )
        penalty = f"{penalty}; {below}" if penalty else below
    points = sum(t.points for t in per_trace) + performance
    return Score(
        lab=config.lab,
        formula=config.formula,
        measure="instructions" if costs is not None else "time",
        valid=len(results) - len(invalid),
        traces=len(results),
        utilization=utilization,
        throughput=throughput,
        reference_throughput=reference_throughput,
        reference_source=reference_source,
        util_score=u_part,
        throughput_score=t_part,
        util_weight=config.util_weight,
        throughput_mean=config.throughput_mean,
        index=index,
        index_digits=config.index_digits,
        index_joiner=config.index_joiner,
        penalty=penalty,
        invalid=config.invalid,
        points=points,
        max_points=config.correctness_points + config.performance_points,
        per_trace=per_trace,
        global_data=global_data,
        global_data_limit=config.global_data_limit,
        deduction=deduction,
        index_out_of=config.index_out_of,
        count_scale=count_scale,
        count_checked=count_checked,
    )


def global_data_deduction(config: GradingConfig, global_data: int | None) -> float:
    """Index points taken for writable global data past the configured limit, as
    the CMU lab's emulating driver takes them: one point per 8 bytes over 128,
    at most 20. 0 without a limit or a measure."""
    limit = config.global_data_limit
    if limit is None or global_data is None or global_data <= limit:
        return 0.0
    return min(
        config.global_data_max_deduction,
        (global_data - limit) / config.global_data_bytes_per_point,
    )


def failed_score(config: GradingConfig, why: str) -> Score:
    """The grade of an allocator that could not be run at all (does not compile,
    makes forbidden calls, cannot be loaded, fails the team check): zero, with the reason."""
    return Score(
        lab=config.lab,
        formula=config.formula,
        measure=config.throughput,
        valid=0,
        traces=0,
        utilization=None,
        throughput=None,
        reference_throughput=None,
        reference_source="",
        util_score=0.0,
        throughput_score=0.0,
        util_weight=config.util_weight,
        throughput_mean=config.throughput_mean,
        index=0.0,
        index_digits=config.index_digits,
        index_joiner=config.index_joiner,
        penalty=why,
        invalid=config.invalid,
        points=0.0,
        max_points=config.correctness_points + config.performance_points,
        per_trace=(),
        index_out_of=config.index_out_of,
    )
