"""stats.py against known values: the incomplete beta function, the t distribution
and Welch's t-test, each checked against what scipy 1.17 computed (the constants
below: scipy.special.betainc, scipy.stats.t, scipy.stats.ttest_ind with
equal_var=False), and the figures and warnings of a set of timed passes."""

from __future__ import annotations

import math
import statistics

import pytest

from mallocsim.stats import (
    TEST_NAME,
    describe,
    instability,
    regularized_incomplete_beta,
    t_two_sided_p,
    welch_t_test,
)

# (x, a, b, scipy.special.betainc(a, b, x))
BETA = [
    (0.3, 2.0, 3.0, 0.34829999999999994),
    (0.5, 0.5, 0.5, 0.5000000000000001),
    (0.9, 10.0, 0.5, 0.15164090963470994),
    (0.01, 0.5, 50.0, 0.6826956021258024),
    (0.7, 200.0, 100.0, 0.8911569343550899),
    (0.999, 4.5, 0.5, 0.9264613833688512),
    (0.9985, 1000.5, 0.5, 0.08311033635786452),
]

# (t, df, 2 * scipy.stats.t.sf(|t|, df))
STUDENT = [
    (2.228138851986274, 10, 0.050000000000000044),  # the table's 97.5% point
    (1.0, 1, 0.5000000000000001),  # Cauchy
    (-3.5, 4.2, 0.02299374245547738),
    (0.0, 7, 1.0),
    (12.0, 30, 5.580185415199261e-13),
    (2.5, 1998.7, 0.012498904383955733),
]

A = [0.0101, 0.0098, 0.0103, 0.0100, 0.0099, 0.0102]
B = [0.0107, 0.0104, 0.0111, 0.0106, 0.0109]
C = [0.0100, 0.0105, 0.0097, 0.0102, 0.0099, 0.0104, 0.0098]
# (sample, sample, scipy's statistic, pvalue, df)
WELCH = [
    (A, B, -4.827024252283902, 0.0019463617062194234, 6.947620456310317),
    (A, C, -0.15533411192356272, 0.8796164635287078, 10.106837273398922),
    (B, C, 4.010021219104839, 0.002813974832833494, 9.386628050794013),
]


@pytest.mark.parametrize(("x", "a", "b", "expected"), BETA)
def test_incomplete_beta_matches_scipy(x, a, b, expected):
    assert regularized_incomplete_beta(x, a, b) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_incomplete_beta_at_its_ends_and_outside():
    assert regularized_incomplete_beta(0.0, 2, 3) == 0.0
    assert regularized_incomplete_beta(1.0, 2, 3) == 1.0
    assert regularized_incomplete_beta(0.25, 2, 1) == pytest.approx(0.25**2)  # I_x(a, 1) = x^a
    with pytest.raises(ValueError, match="x must be in"):
        regularized_incomplete_beta(1.5, 2, 3)
    with pytest.raises(ValueError, match="must be positive"):
        regularized_incomplete_beta(0.5, 0, 3)


@pytest.mark.parametrize(("t", "df", "p"), STUDENT)
def test_t_distribution_matches_scipy(t, df, p):
    assert t_two_sided_p(t, df) == pytest.approx(p, rel=1e-11)


def test_t_distribution_refuses_no_degrees_of_freedom():
    with pytest.raises(ValueError, match="degrees of freedom"):
        t_two_sided_p(1.0, 0)


@pytest.mark.parametrize(("a", "b", "t", "p", "df"), WELCH)
def test_welch_matches_scipy(a, b, t, p, df):
    test = welch_t_test(a, b)
    assert test is not None
    assert test.t == pytest.approx(t, rel=1e-12)
    assert test.df == pytest.approx(df, rel=1e-12)
    assert test.p_value == pytest.approx(p, rel=1e-11)
    assert test.significant == (p < 0.05)
    assert test.name == TEST_NAME == "Welch's t-test, 95%"


def test_welch_with_too_few_values_or_no_variance():
    assert welch_t_test([1.0], [1.0, 2.0]) is None  # one value: no variance to test by
    assert welch_t_test([], [1.0, 2.0]) is None
    same = welch_t_test([2.0, 2.0], [2.0, 2.0, 2.0])
    assert same is not None and same.p_value == 1.0 and not same.significant
    apart = welch_t_test([2.0, 2.0], [3.0, 3.0])
    assert apart is not None and apart.significant and apart.t == -math.inf


def test_describe_gives_the_figures():
    stats = describe(A)
    assert stats is not None
    assert (stats.n, stats.minimum, stats.maximum) == (6, 0.0098, 0.0103)
    assert stats.mean == pytest.approx(0.01005) and stats.median == pytest.approx(0.01005)
    assert stats.stdev == pytest.approx(0.00018708286933869715)  # statistics.stdev
    assert describe([]) is None
    one = describe([5.0])
    assert one is not None and one.stdev == 0.0 and one.median == 5.0
    assert describe([3.0, 1.0, 2.0]).median == 2.0


def test_quartiles_are_the_inclusive_ones():
    for values in (A, [3.0, 1.0, 2.0], [1.0, 1.5, 1.0, 1.4], [7.0], [float(v) for v in range(10)]):
        stats = describe(values)
        expected = (
            statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else 3 * values
        )
        assert [stats.q1, stats.median, stats.q3] == pytest.approx(expected)


def test_instability_warns_when_the_middle_half_is_spread_out():
    assert instability(describe(A)) is None  # 1.9% of the mean
    noisy = describe([1.0, 1.5, 1.0, 1.4])
    assert instability(noisy) == (
        "unstable: the middle half of the passes spans 35.4% of the median (over 13.5%)"
    )
    # Passes in two speeds, a third of them slow (the series a noisy neighbour leaves).
    assert "unstable" in instability(describe([1.0] * 40 + [1.5] * 20))


def test_a_few_outlying_passes_are_no_instability():
    # A cold first pass 50 times the rest, and an interrupted one: the standard deviation is
    # 133% of the mean (pyperf's test would warn), but the median stands.
    values = [50.0, 1.0, 1.01, 0.99, 1.0, 8.0] + [1.0, 1.02, 0.98] * 50
    stats = describe(values)
    assert stats.stdev > stats.mean
    assert instability(stats) is None
    assert instability(describe([1.0, 1.0])) == "only 2 timed passes: too few for a spread"
    assert instability(describe([1.0])) == "only 1 timed pass: too few for a spread"
