"""Scoring and its configuration: both lab formulas on hand-computed cases,
the trace weights, the invalid-trace penalty, and every kind of bad TOML as
one line naming the key."""

from __future__ import annotations

import pytest

from mallocsim.config import ConfigError, GradingConfig, for_lab, load_config, parse_config
from mallocsim.grade_report import explain
from mallocsim.labs import TraceRule, header_rule
from mallocsim.results import TraceResult
from mallocsim.score import failed_score, score
from mallocsim.trace import parse_trace_text


def result(name: str, util: float | None, ops: int, seconds: float | None, valid: bool = True):
    return TraceResult(
        allocator="mm.c",
        trace=name,
        path=None,
        valid=valid,
        error=None if valid else f"{name}.rep:5: op 1 (a 1 8): broken",
        ops=ops,
        weight=1,
        utilization=util if valid else None,
        seconds=seconds if valid else None,
        ops_per_sec=ops / seconds if valid and seconds else None,
    )


def rules(*names: str) -> dict[str, TraceRule]:
    return {n: TraceRule(n) for n in names}


CSAPP = GradingConfig()
CMU = GradingConfig(formula="cmu")


def test_csapp_index_by_hand():
    # U = (0.9 + 0.7) / 2 = 0.8; T = (3000 + 2000) ops / (0.5 + 0.5) s = 5000 ops/s;
    # T/T_ref = 0.5: P = 60 * 0.8 + 40 * 0.5 = 68.
    got = score(
        [result("a", 0.9, 3000, 0.5), result("b", 0.7, 2000, 0.5)],
        rules("a", "b"),
        CSAPP,
        10000.0,
        "configured",
    )
    assert got.utilization == pytest.approx(0.8)
    assert got.throughput == pytest.approx(5000.0)
    assert got.index == pytest.approx(68.0)
    assert got.points == pytest.approx(68.0) and got.max_points == 100
    assert got.penalty is None and (got.valid, got.traces) == (2, 2)


@pytest.mark.parametrize("cost", [float("nan"), float("inf"), 0.0, -1.0])
def test_t_is_made_of_every_valid_trace_or_of_none(cost):
    # A NaN claim dropped its trace out of T, which the other trace's speed then made: 363 ->
    # 286,373 Kops/s (red-team pass 16). A valid trace marked T without a cost that measures
    # leaves T unmeasured, and the score says why.
    got = score(
        [result("a", 0.9, 3000, 0.5), result("b", 0.7, 2000, cost)],
        rules("a", "b"),
        CSAPP,
        10000.0,
        "configured",
    )
    assert got.throughput is None and got.throughput_score == 0.0
    assert got.penalty is not None and got.penalty.startswith("T not measured: b had no cost")


def test_csapp_throughput_part_is_capped_at_one():
    # T = 2 T_ref counts as T_ref: P = 60 * 0.5 + 40 = 70.
    got = score([result("a", 0.5, 2000, 1.0)], rules("a"), CSAPP, 1000.0, "configured")
    assert got.throughput_score == 1.0
    assert got.index == pytest.approx(70.0)


def test_cmu_linear_thresholds_by_hand():
    # U = 0.645 is halfway between 0.55 and 0.74: 0.5. T/T_ref = 0.7 is halfway
    # between 0.5 and 0.9: 0.5. P = 60 * 0.5 + 40 * 0.5 = 50.
    got = score([result("a", 0.645, 7000, 1.0)], rules("a"), CMU, 10000.0, "configured")
    assert got.util_score == pytest.approx(0.5)
    assert got.throughput_score == pytest.approx(0.5)
    assert got.index == pytest.approx(50.0)


@pytest.mark.parametrize(
    ("util", "ops", "expected"),
    [
        (0.55, 5000, 0.0),  # both at their minimum: nothing
        (0.50, 1000, 0.0),  # below: still nothing, never negative
        (0.74, 9000, 100.0),  # both at their maximum: everything
        (0.99, 20000, 100.0),  # above: capped
        (0.74, 5000, 60.0),  # utilization only
        (0.55, 8000, 30.0),  # T/T_ref = 0.8: (0.8 - 0.5) / 0.4 = 0.75 of 40
    ],
)
def test_cmu_bounds(util, ops, expected):
    got = score([result("a", util, ops, 1.0)], rules("a"), CMU, 10000.0, "configured")
    assert got.index == pytest.approx(expected)


def test_weights_and_harmonic_mean_and_custom_weight():
    config = GradingConfig(util_weight=0.5, mean="harmonic")
    # Harmonic mean of 0.5 (weight 1) and 1.0 (weight 2): 3 / (1/0.5 + 2/1.0) = 0.75.
    # Only "b" counts for throughput: T = 4000 / 1 s, T_ref 8000: 0.5.
    # P = 50 * 0.75 + 50 * 0.5 = 62.5.
    got = score(
        [result("a", 0.5, 1000, 0.1), result("b", 1.0, 4000, 1.0)],
        {"a": TraceRule("a", 1.0, True, False), "b": TraceRule("b", 2.0, True, True)},
        config,
        8000.0,
        "configured",
    )
    assert got.utilization == pytest.approx(0.75)
    assert got.throughput == pytest.approx(4000.0)
    assert got.index == pytest.approx(62.5)


def test_an_invalid_trace_zeroes_the_index_by_default():
    got = score(
        [result("a", 0.9, 3000, 0.5), result("b", 0.7, 2000, 0.5, valid=False)],
        rules("a", "b"),
        GradingConfig(correctness_points=20, performance_points=80),
        10000.0,
        "configured",
    )
    assert got.index == 0.0
    assert "1 of 2 traces invalid" in got.penalty and "zero" in got.penalty
    assert got.points == pytest.approx(10.0)  # half the correctness points, nothing else
    assert got.max_points == 100
    assert [t.points for t in got.per_trace] == [10.0, 0.0]


def test_the_per_trace_penalty_counts_an_invalid_trace_as_zero():
    # U = (0.9 + 0) / 2 = 0.45; T = 3000 / 0.5 = 6000, times 1/2 valid = 3000;
    # T/T_ref = 0.3: P = 60 * 0.45 + 40 * 0.3 = 39.
    got = score(
        [result("a", 0.9, 3000, 0.5), result("b", 0.7, 2000, 0.5, valid=False)],
        rules("a", "b"),
        GradingConfig(invalid="trace"),
        10000.0,
        "configured",
    )
    assert got.utilization == pytest.approx(0.45)
    assert got.throughput == pytest.approx(3000.0)
    assert got.index == pytest.approx(39.0)
    assert "counts as utilization 0" in got.penalty


@pytest.mark.parametrize(("checked", "said"), [(True, "confirmed"), (False, "not checked")])
def test_a_count_the_clock_could_not_check_is_not_called_confirmed(checked, said):
    # With no trace timed (NaN claims, red-team pass 16) the count was believed and the score
    # said "confirmed by the clock" under a note saying it was not checked.
    got = score(
        [result("a", 0.9, 3000, 0.5)], rules("a"), CSAPP, 1.0, "configured", {"a": 3000.0},
        count_checked=checked,
    )  # fmt: skip
    assert f"instructions counted by valgrind, {said} by the clock" in explain(got)


def test_header_weights_say_how_a_trace_counts():
    def rule(text: str) -> TraceRule:
        info = parse_trace_text(text, "t").info
        return header_rule(info.name, info.format, info.weight)

    assert rule("0\n1\n1\n8\na 0 8\n") == TraceRule("t", 1.0, False, False)
    assert rule("1\n1\n1\n8\na 0 8\n") == TraceRule("t", 1.0, True, True)
    assert rule("2\n1\n1\n8\na 0 8\n") == TraceRule("t", 1.0, True, False)
    assert rule("3\n1\n1\n8\na 0 8\n") == TraceRule("t", 1.0, False, True)
    assert rule("20000\n1\n1\n1\na 0 8\n") == TraceRule("t", 1.0, True, True)
    assert rule("a 0 8\n") == TraceRule("t")


def test_explain_shows_each_factor():
    got = score([result("a", 0.8, 5000, 1.0)], rules("a"), CSAPP, 10000.0, "glibc, measured")
    text = explain(got)
    assert "60*U + 40*min(1, T/T_ref)" in text
    assert "80.0%" in text and "5 Kops/s" in text and "glibc, measured" in text
    assert "68.0 / 100" in text
    failed = explain(failed_score(CSAPP, "mm.c: does not compile"))
    assert "no trace was run: mm.c: does not compile" in failed and "0 / 100" in failed


@pytest.mark.parametrize(
    ("global_data", "deduction"),
    [(None, 0.0), (128, 0.0), (136, 1.0), (256, 16.0), (1 << 20, 20.0)],
)
def test_global_data_past_the_cmu_limit_costs_a_point_per_8_bytes_up_to_20(global_data, deduction):
    config = for_lab("cmu")
    got = score([result("a", 0.74, 5000, 1.0)], rules("a"), config, 10000.0, "c", None, global_data)
    assert got.deduction == deduction and got.index == pytest.approx(60.0 - deduction)
    assert (got.penalty is not None) == (deduction > 0)
    # No deduction from an index already 0 (the CMU autograder runs its emulating driver only
    # for a score above 0), nor in a lab without a limit.
    low = score([result("a", 0.5, 10, 1.0)], rules("a"), config, 1e9, "c", None, global_data)
    assert low.index == 0.0 and low.deduction == 0.0
    csapp = score([result("a", 0.74, 5000, 1.0)], rules("a"), for_lab("csapp"), 1e4, "c", None,
                  global_data)  # fmt: skip
    assert csapp.deduction == 0.0


def test_config_defaults_and_a_full_file(tmp_path):
    assert load_config(None) == GradingConfig()
    path = tmp_path / "grading.toml"
    path.write_text(
        "[grade]\nformula = 'cmu'\ndialect = 'cmu'\ntimeout = 5\n"
        "[score]\nutil_weight = 0.5\nreference_throughput = 1e7\nmin_util = 0.5\n"
        "max_util = 0.8\ninvalid = 'trace'\nmean = 'harmonic'\nglobal_data_limit = 64\n"
        "[points]\ncorrectness = 40\nperformance = 60\n"
        "[[traces]]\nname = 'syn-array.rep'\nweight = 2\n"
        "[[traces]]\nname = 'syn-mix'\nthroughput = false\n"
    )
    config = load_config(path)
    assert (config.formula, config.dialect, config.timeout) == ("cmu", "cmu", 5.0)
    assert (config.util_weight, config.reference_throughput) == (0.5, 1e7)
    assert (config.min_util, config.max_util, config.invalid) == (0.5, 0.8, "trace")
    assert config.global_data_limit == 64
    assert (config.correctness_points, config.performance_points) == (40, 60)
    assert config.traces == (
        TraceRule("syn-array", 2.0, True, True),
        TraceRule("syn-mix", 1.0, True, False),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[grade]\nformula = 'fast'\n", "[grade] formula: expected one of csapp, cmu, got 'fast'"),
        ("[score]\nutil_weigth = 0.5\n", "[score]: unknown key 'util_weigth'"),
        ("[score]\nutil_weight = 1.5\n", "[score] util_weight: expected a number in [0, 1]"),
        ("[score]\nutil_weight = 'x'\n", "[score] util_weight: expected a number, got 'x'"),
        ("[grade]\ncheck_heap = 1\n", "[grade] check_heap: expected true or false"),
        (
            "[score]\nglobal_data_limit = 1.5\n",
            "[score] global_data_limit: expected a whole number of bytes, got 1.5",
        ),
        ("[grade]\ntimeout = 0\n", "[grade] timeout: expected a number in [0.01,"),
        ("[scores]\n", "unknown key 'scores'"),
        ("[score]\nmin_util = 0.8\nmax_util = 0.7\n", "min_util must be below max_util"),
        ("[[traces]]\nweight = 1\n", "[[traces]] #1: no name"),
        ("[[traces]]\nname = 'a'\n[[traces]]\nname = 'a'\n", "names a more than once"),
        ("traces = 3\n", "traces must be an array of tables"),
        ("[grade\n", "not valid TOML"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(tmp_path, text, message):
    path = tmp_path / "grading.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    line = str(caught.value)
    assert "\n" not in line and line.startswith(str(path)) and message in line


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="No such file"):
        load_config(tmp_path / "none.toml")


def test_parse_config_from_a_document():
    assert parse_config({"points": {"correctness": 10}}).correctness_points == 10.0


def test_a_course_on_the_s15_handout_sets_its_throughput_floor():
    # cmu-2015 follows F15 (MIN_SPEED 0); S15's driver gives (T - 3,000) / 10,000 of the 39
    # throughput points: a public solution timed at 10,307 Kops/s got 28.5 there, 30.9 from F15's.
    f15 = for_lab("cmu-2015")
    s15 = parse_config({"score": {"min_speed_ratio": 0.2308}}, lab="cmu-2015")
    timed = [result("a", 0.92, 10_307_000, 1.0)]
    for config, points in ((f15, 39 * 10307 / 13000), (s15, 39 * 7307 / 10000)):
        got = score(timed, rules("a"), config, 13000e3, "configured")
        assert got.index == pytest.approx(61 + points, abs=0.01)


def test_the_peking_university_edition_scores_as_its_config_h_says():
    # Its config.h: MIN_SPACE 0.60, MAX_SPACE 0.91, MIN_SPEED 3000E3, MAX_SPEED 13750E3, UTIL_WEIGHT
    # .61. Graded as cmu-2015 (0.92, 0 to 13,000 Kops/s), a public file's util part was 50 where
    # its driver printed 52, and T under 3,000 Kops/s earned points (lab check run 16).
    pku = for_lab("cmu-pku")
    timed = [result("a", 0.885, 2_000_000, 1.0)]
    got = score(timed, rules("a"), pku, pku.reference_throughput, "configured")
    assert got.index == pytest.approx(61 * (0.885 - 0.60) / 0.31, abs=0.01)  # 56.1: no T points
    faster = score([result("a", 0.95, 8_375_000, 1.0)], rules("a"), pku, 13750e3, "configured")
    assert faster.index == pytest.approx(61 + 39 * (8375 - 3000) / 10750, abs=0.01)


def test_the_2025_peking_university_edition_scores_out_of_80_as_its_driver_prints():
    # Its mdriver.c: perfindex = (p1 + p2) * 80, printed "... = %.0f/80"; config.h: U 0.70-0.90,
    # T 3,000-12,000 Kops/s, UTIL_WEIGHT .6 (a public file: "48 (util) & 32 (thru) = 80/80").
    pku = for_lab("cmu-pku-2025")
    got = score([result("a", 0.88, 7_500_000, 1.0)], rules("a"), pku, 12000e3, "configured")
    u, t = (0.88 - 0.70) / 0.20, (7500 - 3000) / 9000
    assert got.index == pytest.approx(100 * (0.6 * u + 0.4 * t))  # 74.0 of 100
    assert (got.points, got.max_points) == (pytest.approx(80 * (0.6 * u + 0.4 * t)), 80)
    text = explain(got)
    assert "As the CMU 15-213 mdriver prints it: Perf index = 43 (util) & 16 (thru) = 59/80" in text
    assert "performance index   59.2 / 80" in text and "score               59.2 / 80" in text


@pytest.mark.parametrize(("lab", "threshold"), [("cmu-pku-2022", 50), ("cmu-pku-2025", 48)])
def test_an_index_under_the_peking_university_threshold_earns_no_points(lab, threshold):
    # config.h's PERF_THRESHHOLD: mdriver.c's autograder score is 0 below it (raw_score).
    config = for_lab(lab)
    scale = config.index_out_of / 100
    at = [result("a", config.min_util + 0.5 * (config.max_util - config.min_util), 1, 1.0)]
    below = score(at, rules("a"), config, config.reference_throughput, "configured")
    assert 0 < below.index * scale < threshold and below.points == 0
    assert f"under the lab's threshold of {threshold}: no performance points" in (
        below.penalty or ""
    )
    over = parse_config({"score": {"zero_below": 0}}, lab=lab)
    kept = score(at, rules("a"), over, config.reference_throughput, "configured")
    assert kept.points == pytest.approx(below.index * scale) and kept.penalty is None


def test_the_explanation_names_the_traces_each_measure_was_taken_over():
    from mallocsim.grade_report import explain

    got = score(
        [result("a", 0.9, 3000, 0.5), result("b", 0.7, 2000, 0.5, valid=False)],
        rules("a", "b"),
        CSAPP,
        10000.0,
        "configured",
    )
    text = explain(got)
    assert "90.0% (mean over the 1 valid traces of the 2 marked *)" in text
    assert "As the CS:APP mdriver prints it: Terminated with 1 errors" in text
