"""Scores: the two malloc-lab performance indexes, from measured results.

Both combine a utilization U and a throughput T against a reference T_ref
(glibc's, measured on the same machine in the same run unless the grading
configuration fixes it), with a weight w (0.6 in both labs):

  csapp  the CS:APP lab's index, linear and capped:
             P = 100 * (w * U + (1 - w) * min(1, T / T_ref))   (60*U + 40*min(1, T/T_ref))
  cmu    the CMU 15-213 lab's linear thresholds (mdriver's config.h: U between
         0.55 and 0.74, T between 0.50 and 0.90 of T_ref):
             u = clamp((U - min_util) / (max_util - min_util))
             t = clamp((T / T_ref - min_speed_ratio) / (max_speed_ratio - min_speed_ratio))
             P = 100 * (w * u + (1 - w) * t)

U is the mean (arithmetic, or harmonic if configured) of the per-trace
utilizations, weighted; T is total ops / total seconds, as both lab drivers
compute it. Which traces count for which: the configuration's [[traces]], or
else the trace header's weight in the CMU meaning (0 correctness only,
1 both, 2 utilization only, 3 throughput only; every classic trace says 1;
a headerless script counts for both).

Invalid traces (the documented penalty): with invalid = "zero" (the default,
what both lab drivers do) one invalid trace makes the index 0; with
invalid = "trace" an invalid trace counts as utilization 0 in the mean, and T
is multiplied by the fraction of throughput traces that are valid.

Points: correctness points are split evenly over the traces and earned by
the valid ones; performance points are earned in proportion to P / 100.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mallocsim.config import GradingConfig, TraceRule
from mallocsim.results import TraceResult
from mallocsim.trace import TraceInfo

# CMU header weights: (counted in utilization, counted in throughput).
_HEADER_WEIGHTS = {0: (False, False), 1: (True, True), 2: (True, False), 3: (False, True)}


@dataclass(frozen=True)
class TraceScore:
    """One trace's part in a score."""

    trace: str
    valid: bool
    utilization: float | None  # as measured (None when invalid)
    ops_per_sec: float | None
    weight: float  # in the utilization mean
    counts_utilization: bool
    counts_throughput: bool
    points: float  # correctness points earned
    max_points: float
    error: str | None  # the diagnosis when invalid


@dataclass(frozen=True)
class Score:
    """A grade: the index, how it was reached, and the points."""

    formula: str
    valid: int  # traces valid
    traces: int  # traces graded
    utilization: float | None  # U (None when no trace counts for it)
    throughput: float | None  # T, ops/s (None when no trace counts for it)
    reference_throughput: float | None  # T_ref, ops/s
    reference_source: str  # "configured", "glibc, measured in this run"
    util_score: float  # 0..1: the utilization part before weighting
    throughput_score: float  # 0..1: the throughput part before weighting
    util_weight: float
    index: float  # 0..100, the performance index P (after the penalty)
    penalty: str | None  # why the index was cut, one line
    points: float
    max_points: float
    per_trace: tuple[TraceScore, ...]


def header_rule(info: TraceInfo) -> TraceRule:
    """How a trace counts when the configuration lists no traces."""
    if info.format == "script":
        return TraceRule(info.name)
    utilization, throughput = _HEADER_WEIGHTS.get(info.weight, (True, True))
    return TraceRule(info.name, 1.0, utilization, throughput)


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


def aggregate_throughput(results: Sequence[TraceResult]) -> float | None:
    """Total ops / total seconds over timed results (None when none were timed)."""
    timed = [r for r in results if r.valid and r.seconds]
    seconds = sum(r.seconds or 0.0 for r in timed)
    return sum(r.ops for r in timed) / seconds if seconds > 0 else None


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
) -> Score:
    """Score one allocator's results; `rules` maps each trace name to how it counts."""
    rule_of = {r.trace: rules.get(r.trace, TraceRule(r.trace)) for r in results}
    share = config.correctness_points / len(results) if results else 0.0
    per_trace_penalty = config.invalid == "trace"
    util_pairs = [
        (r.utilization or 0.0, rule_of[r.trace].weight)
        for r in results
        if rule_of[r.trace].utilization and (r.valid or per_trace_penalty)
    ]
    thru = [r for r in results if rule_of[r.trace].throughput]
    utilization = _mean(util_pairs, config.mean)
    throughput = aggregate_throughput(thru)
    if throughput is not None and per_trace_penalty:
        throughput *= sum(r.valid for r in thru) / len(thru)
    ratio = (
        throughput / reference_throughput
        if throughput is not None and reference_throughput
        else None
    )
    index, u_part, t_part = performance_index(config, utilization, ratio)
    invalid = [r for r in results if not r.valid]
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
    per_trace = tuple(
        TraceScore(
            trace=r.trace,
            valid=r.valid,
            utilization=r.utilization,
            ops_per_sec=r.ops_per_sec,
            weight=rule_of[r.trace].weight,
            counts_utilization=rule_of[r.trace].utilization,
            counts_throughput=rule_of[r.trace].throughput,
            points=share if r.valid else 0.0,
            max_points=share,
            error=r.error,
        )
        for r in results
    )
    points = sum(t.points for t in per_trace) + config.performance_points * index / 100.0
    return Score(
        formula=config.formula,
        valid=len(results) - len(invalid),
        traces=len(results),
        utilization=utilization,
        throughput=throughput,
        reference_throughput=reference_throughput,
        reference_source=reference_source,
        util_score=u_part,
        throughput_score=t_part,
        util_weight=config.util_weight,
        index=index,
        penalty=penalty,
        points=points,
        max_points=config.correctness_points + config.performance_points,
        per_trace=per_trace,
    )


def failed_score(config: GradingConfig, why: str) -> Score:
    """The grade of an allocator that could not be run at all (does not compile,
    makes forbidden calls, cannot be loaded): zero, with the reason."""
    return Score(
        formula=config.formula,
        valid=0,
        traces=0,
        utilization=None,
        throughput=None,
        reference_throughput=None,
        reference_source="",
        util_score=0.0,
        throughput_score=0.0,
        util_weight=config.util_weight,
        index=0.0,
        penalty=why,
        points=0.0,
        max_points=config.correctness_points + config.performance_points,
        per_trace=(),
    )


def explain(result: Score) -> str:
    """The score's breakdown, for people: each factor and how it was combined."""
    w = result.util_weight
    if result.formula == "cmu":
        title = "CMU 15-213 linear thresholds"
    else:
        title = f"CS:APP index {100 * w:g}*U + {100 * (1 - w):g}*min(1, T/T_ref)"
    lines = [f"Score ({title}):"]
    if result.traces == 0:
        lines.append(f"  no trace was run: {result.penalty}")
        lines.append(f"  score               0 / {result.max_points:g}")
        return "\n".join(lines)

    def pct(value: float | None) -> str:
        return "- (no graded trace counts for it)" if value is None else f"{100 * value:.1f}%"

    def kops(value: float | None) -> str:
        return (
            "- (no graded trace counts for it)" if value is None else f"{value / 1000:,.0f} Kops/s"
        )

    in_u = sum(t.counts_utilization for t in result.per_trace)
    in_t = sum(t.counts_throughput for t in result.per_trace)
    lines += [
        f"  utilization U       {pct(result.utilization)}",
        f"  throughput T        {kops(result.throughput)}",
        f"  counted             U over {in_u} traces, T over {in_t} (total ops / total seconds)",
        f"  reference T_ref     {_reference(result)}",
        f"  utilization part    {result.util_score:.3f} x {100 * w:g}",
        f"  throughput part     {result.throughput_score:.3f} x {100 * (1 - w):g}",
        f"  performance index   {result.index:.1f} / 100",
        f"  valid traces        {result.valid} / {result.traces}",
    ]
    if result.penalty:
        lines.append(f"  penalty             {result.penalty}")
    lines.append(f"  score               {result.points:.1f} / {result.max_points:g}")
    return "\n".join(lines)


def _reference(result: Score) -> str:
    if result.reference_throughput is None:
        return f"- ({result.reference_source or 'not needed'})"
    return f"{result.reference_throughput / 1000:,.0f} Kops/s ({result.reference_source})"
