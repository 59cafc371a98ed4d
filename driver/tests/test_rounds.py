"""`mallocsim compare --rounds N`: every cell measured N times with the allocators' order
rotated, each cell its median round, a failure in any round a failure, and each
allocator's geometric mean, and the first allocator's over it, as min / median / max over
the rounds; kept in the JSON and shown again by `report`."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from mallocsim.compare import format_comparison, merged, rounds_spread, run_comparison
from mallocsim.out_of_memory import OUT_OF_MEMORY
from mallocsim.references import ReferenceMissing
from mallocsim.replay import ReplayOptions
from mallocsim.results import TraceResult
from mallocsim.rounds import median_round, rotated, spread

TWO_BLOCKS = "a 0 100\na 1 200\nf 0\na 2 50\nf 1\nf 2\n"
BIG_BLOCKS = "a 0 4000\na 1 4000\na 2 4000\na 3 4000\nf 1\nf 3\na 4 8000\nf 0\nf 2\nf 4\n"


def _result(allocator: str, trace: str, speed: float | None, valid: bool = True) -> TraceResult:
    return TraceResult(
        allocator=allocator, trace=trace, path=f"/t/{trace}.rep", valid=valid,
        error=None if valid else "boom", ops=10, weight=1, utilization=0.9,
        alignment_bound=0.99, ops_per_sec=speed,
    )  # fmt: skip


# ------------------------------------------------------------------ the rules


def test_each_allocator_comes_first_and_after_each_other_in_turn():
    names = ["segfit", "mimalloc", "tcmalloc"]
    orders = [rotated(names, i) for i in range(4)]
    assert orders == [
        ["segfit", "mimalloc", "tcmalloc"],
        ["mimalloc", "tcmalloc", "segfit"],
        ["tcmalloc", "segfit", "mimalloc"],
        ["segfit", "mimalloc", "tcmalloc"],
    ]
    assert rotated([], 3) == []


def test_a_cell_is_its_median_round_unchanged_never_a_mean():
    rounds = [_result("a", "x", s) for s in (300.0, 100.0, 200.0)]
    assert median_round(rounds) is rounds[2]
    even = [_result("a", "x", s) for s in (400.0, 100.0, 300.0, 200.0)]
    assert median_round(even) is even[3]  # the lower middle one: measured, not averaged
    untimed = [_result("a", "x", None), _result("a", "x", None)]
    assert median_round(untimed) is untimed[0]
    with pytest.raises(ValueError):
        median_round([])


def test_a_failure_in_any_round_fails_the_cell():
    failed = _result("a", "x", None, valid=False)
    starved = replace(_result("a", "x", None, valid=False), fail_kind=OUT_OF_MEMORY)
    fine = _result("a", "x", 100.0)
    assert median_round([fine, failed, fine]) is failed
    assert median_round([fine, starved, fine]) is starved
    assert median_round([starved, failed]) is failed  # a wrong answer outweighs a lack of memory
    comparison = merged([[fine, _result("b", "x", 90.0)], [failed, _result("b", "x", 80.0)]])
    row = next(line for line in format_comparison(comparison).splitlines() if line[:1] == "x")
    assert row.split()[2:4] == ["FAIL", "FAIL"]
    assert "a on x: boom" in format_comparison(comparison)


def test_ratios_are_taken_within_a_round_so_a_slow_spell_moves_both_sides():
    # Round 2 ran on a slow machine: both allocators at half speed. Its means halve, but the
    # ratio of one to the other, taken within the round, does not move.
    speeds = [
        {("a", "x"): 100.0, ("a", "y"): 400.0, ("b", "x"): 50.0, ("b", "y"): 200.0},
        {("a", "x"): 50.0, ("a", "y"): 200.0, ("b", "x"): 25.0, ("b", "y"): 100.0},
        {("a", "x"): 100.0, ("a", "y"): 400.0, ("b", "x"): 50.0, ("b", "y"): 200.0},
    ]
    result = spread(speeds, ["a", "b"], ["x", "y"])
    assert (result.rounds, result.measured, result.traces, result.first) == (3, 3, 2, "a")
    a, b = result.geomeans["a"], result.geomeans["b"]
    assert (a.minimum, a.median, a.maximum) == pytest.approx((100.0, 200.0, 200.0))
    assert (b.minimum, b.median, b.maximum) == pytest.approx((50.0, 100.0, 100.0))
    assert result.first_over["b"].minimum == pytest.approx(2.0)
    assert result.first_over["b"].maximum == pytest.approx(2.0)


def test_a_round_stopped_before_a_trace_counts_for_no_mean():
    speeds = [
        {("a", "x"): 100.0, ("a", "y"): 400.0, ("b", "x"): 50.0, ("b", "y"): 200.0},
        {("a", "x"): 10.0, ("b", "x"): 1.0},  # Ctrl-C before y
    ]
    result = spread(speeds, ["a", "b"], ["x", "y"])
    assert result.geomeans["a"].n == result.geomeans["b"].n == result.first_over["b"].n == 1
    assert (result.rounds, result.measured) == (1, 2)
    text = format_comparison(
        merged([[_result(*k, v) for k, v in r.items()] for r in [speeds[0], speeds[1]]])
    )
    assert "1 whole round of 2 begun" in " ".join(text.split())


def test_one_round_is_the_comparison_as_it_always_was():
    results = [_result("a", "x", 100.0), _result("b", "x", 50.0)]
    comparison = merged([results])
    assert comparison.round_speeds == () and rounds_spread(comparison) is None
    assert "order rotated" not in format_comparison(comparison)


# ------------------------------------------------------------------ the command


def test_rounds_rotate_the_order_and_each_cell_is_its_median_round(cli, write_trace, tmp_path):
    write_trace("two", TWO_BLOCKS)
    write_trace("big", BIG_BLOCKS)
    saved = tmp_path / "rounds.json"
    run = cli(
        "compare", "-a", "implicit", "-a", "segfit", "--rounds", "3", "--min-seconds", "0.001",
        "--json", saved, "--wide", tmp_path,
    )  # fmt: skip
    assert run.status == 0, run.err
    # A progress line per cell and round, the order turned each round.
    order = [re.match(r"compare \[\d+/12\] (\w+): (\w+)", line) for line in run.err.splitlines()]
    assert all(order) and len(order) == 12
    firsts = [m.group(1) for m in order[::4]]
    assert firsts == ["implicit", "segfit", "implicit"]
    document = json.loads(saved.read_text())
    assert len(document["rounds"]) == 3
    cells = {(t["allocator"], t["trace"]): t for r in document["runs"] for t in r["traces"]}
    for (allocator, _), cell in cells.items():
        speeds = sorted(
            c["ops_per_sec"]
            for r in document["rounds"]
            for c in r
            if c["allocator"] == allocator and c["trace"] == cell["path"]
        )
        assert len(speeds) == 3 and cell["ops_per_sec"] == speeds[1]
    said = " ".join(run.out.split())
    assert "3 rounds, the allocators' order rotated each round" in said
    spread_rows = {line.split()[0]: line.split()[1:] for line in run.out.splitlines()[-6:]}
    assert spread_rows["implicit"][3:] == ["-", "-", "-"]
    low, middle, high = (float(v.rstrip("x")) for v in spread_rows["segfit"][3:])
    assert 0 < low <= middle <= high  # implicit's mean over segfit's, round by round
    page = tmp_path / "rounds.html"
    again = cli("report", saved, "-o", page)
    assert again.status == 0 and "3 rounds, the allocators' order" in " ".join(again.out.split())
    html = page.read_text()
    assert "<h2>Rounds</h2>" in html
    segfit_row = re.search(r"<tr><td>segfit</td>((?:<td>[^<]*</td>){6})</tr>", html)
    assert segfit_row and segfit_row.group(1).count("x</td>") == 3


@pytest.mark.parametrize(
    ("count", "said"),
    [
        ("0", "must be from 1 to 100, not 0"),
        ("101", "must be from 1 to 100, not 101"),
        ("two", "not a whole number: 'two'"),
    ],
)
def test_a_round_count_out_of_range_is_a_usage_error(cli, capsys, write_trace, count, said):
    trace = write_trace("two", TWO_BLOCKS)
    with pytest.raises(SystemExit) as stop:  # argparse's own: its usage, then the error
        cli("compare", "-a", "segfit", "--rounds", count, trace)
    assert stop.value.code == 2
    assert f"argument --rounds: {said}" in capsys.readouterr().err


def test_rounds_without_timing_are_refused_in_one_line(cli, write_trace):
    trace = write_trace("two", TWO_BLOCKS)
    run = cli("compare", "-a", "segfit", "--rounds", "2", "--no-timing", trace)
    assert run.status == 2 and run.out == ""
    [line] = run.err.splitlines()
    assert "--rounds 2: rounds repeat the timing, which --no-timing skips" in line


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (lambda rounds: rounds[0][0].update(ops_per_sec="fast"), "ops_per_sec is 'fast'"),
        (lambda rounds: rounds[0][0].update(ops_per_sec=-1.0), "ops_per_sec is -1.0"),
        (lambda rounds: rounds[1][0].pop("trace"), "fields"),
        (lambda rounds: rounds.append(7), "7 is not a list"),
    ],
)
def test_hand_edited_rounds_are_one_line_never_a_traceback(cli, write_trace, tmp_path, edit, said):
    saved = tmp_path / "rounds.json"
    trace = write_trace("two", TWO_BLOCKS)
    argv = ["--rounds", "2", "--min-seconds", "0.001", "-q", "--json", saved, trace]
    assert cli("compare", "-a", "segfit", *argv).status == 0
    document = json.loads(saved.read_text())
    edit(document["rounds"])
    saved.write_text(json.dumps(document))
    run = cli("report", saved)
    assert run.status == 2 and run.err.count("\n") == 1, run.err
    assert "damaged series, heap map or rounds" in run.err and said in run.err


def test_rounds_stopped_keep_every_cell_measured_and_say_how_many_were_whole(write_trace, tmp_path):
    write_trace("two", TWO_BLOCKS)
    write_trace("big", BIG_BLOCKS)
    seen = []

    def stop_in_the_second_round(result: TraceResult) -> None:
        seen.append(result)
        if len(seen) == 6:  # round 2, segfit's second trace: implicit's turn never comes
            raise KeyboardInterrupt

    options = ReplayOptions(min_seconds=0.001)
    comparison, problems = run_comparison(
        ["implicit", "segfit"],
        [str(tmp_path)],
        options,
        on_result=stop_in_the_second_round,
        rounds=3,
    )
    assert not problems and comparison.interrupted
    assert len(comparison.cells) == 4 and len(comparison.round_speeds) == 2
    rounds = rounds_spread(comparison)
    assert (rounds.rounds, rounds.measured) == (1, 2)
    assert rounds.geomeans["implicit"].n == 1 and rounds.geomeans["segfit"].n == 2


def test_a_missing_reference_is_tried_once_and_left_out_of_every_round(
    write_trace, tmp_path, monkeypatch
):
    write_trace("two", TWO_BLOCKS)
    asked = []

    def not_installed(reference: object) -> None:
        asked.append(reference)
        raise ReferenceMissing("libjemalloc.so.2 is not installed (apt-get install libjemalloc2)")

    monkeypatch.setattr("mallocsim.compare.require", not_installed)
    options = ReplayOptions(min_seconds=0.001)
    names, paths = ["segfit", "jemalloc", "implicit"], [str(tmp_path)]
    comparison, problems = run_comparison(names, paths, options, rounds=3)
    assert len(asked) == 1 and not problems
    assert (
        list(comparison.missing) == ["jemalloc"]
        and "not installed" in comparison.missing["jemalloc"]
    )
    assert comparison.allocators == ["segfit", "implicit"]
    assert len(comparison.round_speeds) == 3
    rounds = rounds_spread(comparison)
    assert rounds.rounds == 3 and set(rounds.geomeans) == {"segfit", "implicit"}
