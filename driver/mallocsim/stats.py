"""Statistics of timed passes, as a benchmark tool keeps them: the figures and a test.

  describe(values)        n, mean, standard deviation (n - 1), median, quartiles, min
                          and max
  instability(stats)      why a measurement should not be trusted, or None: fewer than
                          MIN_VALUES values, or an interquartile range above
                          UNSTABLE_IQR of the median (pyperf's two warnings, the
                          second made robust: see below)
  welch_t_test(a, b)      Welch's two-sample t-test (unequal variances), two-sided, at
                          95%: "significant" when p < 0.05

Guarantees: pure Python (math only: no scipy, nothing native), plain frozen data
results, deterministic. The t-distribution's CDF comes from the regularized
incomplete beta function (a continued fraction, Numerical Recipes' betacf with
Lentz's method), accurate to about 1e-12 for the degrees of freedom timings give;
test_stats.py checks it against values scipy computed.

Why the interquartile range and not pyperf's standard deviation: a figure here is
the median of the passes, and what says whether a median can be trusted is how
far apart the middle half of the passes lies. A standard deviation is the mean's
spread, and one pass in hundreds that a timer interrupt or a cold first pass
stretched tenfold pushes it over any bound: the main job's ten traces were flagged
seven times on an idle machine, their middle halves within 1.5% of the median
(random-bal: a standard deviation of 114% of the mean from its first pass alone,
IQR 1.5%). The bound, 13.5%, is pyperf's 10% for normally spread values (whose
IQR is 1.349 standard deviations). Passes that run in two speeds, a third of them
at 1.5 times the rest, still are flagged (IQR 35-42% of the median).

Why Welch's and not pyperf's Student's t with pooled variance: two runs of one
allocator on a shared machine rarely have equal variances (the noisy run is
noisier), and Welch's test keeps its error rate then, where the pooled test does not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MIN_VALUES = 3  # fewer values than this give no spread worth the name
UNSTABLE_IQR = 0.135  # pyperf's 10% of the mean, as an IQR of normally spread values
CONFIDENCE = 0.95  # the test's level: significant when p < 1 - CONFIDENCE
TEST_NAME = "Welch's t-test, 95%"


@dataclass(frozen=True)
class Stats:
    """One measurement's values summarized (stdev 0.0 for a single value)."""

    n: int
    mean: float
    stdev: float  # sample standard deviation (n - 1 in the denominator)
    median: float
    q1: float  # the first and third quartiles (linear between order statistics, as
    q3: float  # numpy's default and statistics.quantiles(method="inclusive"))
    minimum: float
    maximum: float

    @property
    def relative_iqr(self) -> float:
        """The interquartile range as a fraction of the median (0 for a median of 0)."""
        return (self.q3 - self.q1) / self.median if self.median else 0.0


def describe(values: Sequence[float]) -> Stats | None:
    """The figures of `values`, or None when there are none."""
    n = len(values)
    if n == 0:
        return None
    ordered = sorted(values)
    mean = math.fsum(ordered) / n
    variance = math.fsum((v - mean) ** 2 for v in ordered) / (n - 1) if n > 1 else 0.0
    stdev = math.sqrt(variance)
    q1, median, q3 = (_quantile(ordered, q) for q in (0.25, 0.5, 0.75))
    return Stats(n, mean, stdev, median, q1, q3, ordered[0], ordered[-1])


def _quantile(ordered: Sequence[float], q: float) -> float:
    """The q-quantile of sorted values, linear between the two nearest."""
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def instability(stats: Stats) -> str | None:
    """Why these figures are not to be trusted (one phrase), or None."""
    if stats.n < MIN_VALUES:
        return f"only {stats.n} timed pass{'' if stats.n == 1 else 'es'}: too few for a spread"
    if stats.relative_iqr > UNSTABLE_IQR:
        return (
            f"unstable: the middle half of the passes spans {100 * stats.relative_iqr:.1f}% of "
            f"the median (over {100 * UNSTABLE_IQR:.1f}%)"
        )
    return None


@dataclass(frozen=True)
class TTest:
    """A two-sample test's outcome; `name` says which test, for every output."""

    t: float  # (mean a - mean b) / its standard error; +-inf when neither sample varies
    df: float  # Welch-Satterthwaite degrees of freedom
    p_value: float  # two-sided
    significant: bool  # p_value < 1 - CONFIDENCE
    name: str = TEST_NAME


def welch_t_test(a: Sequence[float], b: Sequence[float]) -> TTest | None:
    """Welch's two-sided t-test of mean(a) == mean(b), or None when either
    sample has fewer than two values (no variance to test with)."""
    first, second = describe(a), describe(b)
    if first is None or second is None or first.n < 2 or second.n < 2:
        return None
    va, vb = first.stdev**2 / first.n, second.stdev**2 / second.n
    difference = first.mean - second.mean
    df_floor = float(min(first.n, second.n) - 1)
    if va + vb == 0.0:  # neither varies: any difference is certain, none is none
        if difference == 0.0:
            return TTest(0.0, df_floor, 1.0, False)
        return TTest(math.copysign(math.inf, difference), df_floor, 0.0, True)
    t = difference / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (first.n - 1) + vb**2 / (second.n - 1))
    p = t_two_sided_p(t, df)
    return TTest(t, df, p, p < 1 - CONFIDENCE)


def t_two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t distribution with df degrees of freedom."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, not {df}")
    if math.isinf(t):
        return 0.0
    return regularized_incomplete_beta(df / (df + t * t), df / 2, 0.5)


def regularized_incomplete_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b), for 0 <= x <= 1 and a, b > 0."""
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x must be in [0, 1], not {x}")
    if a <= 0 or b <= 0:
        raise ValueError(f"a and b must be positive, not {a} and {b}")
    if x == 0.0 or x == 1.0:
        return x
    # x^a (1-x)^b / (a B(a, b)), in logs so that large a and b do not overflow.
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    # The continued fraction converges fast only below this point; use the symmetry
    # I_x(a, b) = 1 - I_{1-x}(b, a) above it.
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(x, a, b) / a
    return 1.0 - front * _beta_fraction(1.0 - x, b, a) / b


_TINY = 1e-300
_EPSILON = 1e-15
_MAX_TERMS = 10_000


def _beta_fraction(x: float, a: float, b: float) -> float:
    """The continued fraction of I_x(a, b), by the modified Lentz method."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_TERMS + 1):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),  # the even step
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),  # the odd step
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            step = d * c
            h *= step
        if abs(step - 1.0) < _EPSILON:
            return h
    raise ArithmeticError(f"incomplete beta: no convergence for x={x}, a={a}, b={b}")
