"""Agreement with the labs' own drivers: each test allocator in its lab's style
(allocators/labs/) graded under its lab's profile gets, trace by trace, the
verdict and the utilization that lab's real driver printed, and the
utilization part of the driver's index; where the driver is wrong, mallocsim
stays right and says so.

The drivers' verdicts are data (labs_driver_verdicts.json, "how" says how they
were recorded: the handouts' own mdriver.c and memlib.c built here, on the
reference traces beside the checkout). Throughput figures depend on the
machine and are not compared.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest

from mallocsim.allocators import resolve
from mallocsim.config import for_lab
from mallocsim.grade_report import driver_line
from mallocsim.labs import LABS, trace_rules
from mallocsim.replay import ReplayOptions
from mallocsim.results import TraceResult
from mallocsim.runner import options_for_lab, replay_all
from mallocsim.score import score
from mallocsim.trace import load_trace

from .conftest import FIXTURE_ALLOCATORS, SHARED_TRACES, TESTS, fixture_variant

VERDICTS = json.loads((TESTS / "labs_driver_verdicts.json").read_text())
LAB_FIXTURES = FIXTURE_ALLOCATORS / "labs"
DRIVER_LINE = re.compile(r"line (\d+)\]")
# How each driver prints a utilization.
UTIL_DIGITS = {"csapp": 0, "cmu": 1, "cmu-2015": 0}


@cache
def results(lab: str, fixture: str, folder: str) -> dict[str, TraceResult]:
    """The fixture's results on every trace of a shared folder, checked under
    the lab's rules (no timing: only verdicts and utilizations are compared)."""
    paths = sorted((SHARED_TRACES / folder).glob("*.rep"))
    spec = resolve(str(LAB_FIXTURES / f"{fixture}.c"), None, lab)
    options = options_for_lab(LABS[lab], ReplayOptions(timing=False))
    measured, problems = replay_all([spec], [load_trace(p) for p in paths], options)
    assert not problems, problems
    return {r.trace: r for r in measured}


def shown(util: float | None, lab: str) -> str:
    return "-" if util is None else f"{100 * util:.{UTIL_DIGITS[lab]}f}%"


def expected_traces(lab_key: str, fixture: str, part: str | None = None) -> dict[str, dict]:
    entry = VERDICTS[lab_key][fixture]
    return (entry[part] if part else entry)["traces"]


@pytest.fixture(autouse=True)
def _needs_shared(shared_traces: Path) -> None:
    """Every test here replays the reference traces beside the checkout."""


@pytest.mark.parametrize("fixture", ["csapp_implicit", "csapp_explicit", "csapp_naive"])
def test_csapp_verdicts_and_utilizations_match_the_handout_driver(fixture):
    mine = results("csapp", fixture, "classic")
    for trace, driver in expected_traces("csapp", fixture).items():
        ours = mine[trace]
        assert ours.valid == driver["valid"], (trace, ours.error, driver)
        if driver["valid"]:
            assert shown(ours.utilization, "csapp") == driver["util"], trace
        else:  # the same op fails: the driver names its line, we name it too
            line = DRIVER_LINE.search(driver["error"]).group(1)
            assert f"{trace}.rep:{line}: " in ours.error, (ours.error, driver["error"])
            assert "returned NULL" in ours.error and "20.0 MiB limit" in ours.error


@pytest.mark.parametrize("fixture", ["csapp_implicit", "csapp_explicit", "csapp_naive"])
def test_the_csapp_index_is_the_handout_drivers(fixture):
    mine = results("csapp", fixture, "classic")
    graded = [mine[name] for name in LABS["csapp"].traces]
    config = replace(for_lab("csapp"), throughput="time")
    got = score(graded, {}, config, None, "")  # no rules: every trace counts, as in the lab
    summary = VERDICTS["csapp"][fixture]["summary"]
    if summary["index"].startswith("Terminated"):
        assert driver_line(got) == summary["index"]
        assert summary["correct"] == f"correct:{got.valid}"
    else:  # the utilization part; the throughput part is the machine's
        util_part = re.search(r"= (\d+) \(util\)", summary["index"]).group(1)
        assert re.search(r"= (\d+) \(util\)", driver_line(got)).group(1) == util_part
        total = re.search(r"(\d+)%", summary["total"]).group(1)
        assert f"{100 * got.utilization:.0f}" == total


@pytest.mark.parametrize(
    "switch, word_size",
    # Pointers cut to ints: the x86-64 build warns, and "auto" builds it -m32. Whole pointers 4
    # bytes apart: no warning, so "auto" builds it for x86-64, where every trace fails, and a
    # grade then grades it -m32 (test_word_size.py); here the word size is asked for.
    [("LINKS_AS_32_BIT_POINTERS", None), ("LINKS_AS_ADJACENT_POINTERS", "32")],
)
def test_an_m32_file_gets_the_verdicts_of_the_handout_driver_built_as_it_ships(
    switch, word_size, tmp_path
):
    # The handout's own Makefile builds -m32: code written for it runs there, and here.
    source = fixture_variant("labs/csapp_explicit", f"#define {switch}\n", tmp_path / "m32.c")
    spec = resolve(str(source), None, "csapp", word_size=word_size)
    paths = sorted((SHARED_TRACES / "classic").glob("*.rep"))
    options = options_for_lab(LABS["csapp"], ReplayOptions(timing=False))
    measured, problems = replay_all([spec], [load_trace(p) for p in paths], options)
    assert not problems, problems
    mine = {r.trace: r for r in measured}
    driver = VERDICTS["csapp-m32"][f"csapp_explicit+{switch}"]
    for trace, verdict in driver["traces"].items():
        assert mine[trace].valid == verdict["valid"], (trace, mine[trace].error)
        assert shown(mine[trace].utilization, "csapp") == verdict["util"], trace
    config = replace(for_lab("csapp"), throughput="time")
    got = score([mine[name] for name in LABS["csapp"].traces], {}, config, None, "")
    util_part = re.search(r"= (\d+) \(util\)", driver["summary"]["index"]).group(1)
    assert re.search(r"= (\d+) \(util\)", driver_line(got)).group(1) == util_part


def test_an_allocator_that_trusts_a_zeroed_heap_fails_where_the_driver_runs_it_again(cli):
    # Its mm_init takes the list heads' room from the heap but never writes it. The handout's
    # driver gives the first pass a zeroed heap and every later one the bytes the last left: its
    # first trace's passes ran, ten of the others failed with overlaps, the run died. Here each
    # trace's checked pass starts zeroed, as that first pass (valid, as the driver's -f runs of
    # one trace are), and the timed passes run on what it left: the grade fails there, 0 as the
    # driver's "Terminated with errors".
    driver = expected_traces("csapp", "csapp_uninit")
    assert sum(v["valid"] is False for v in driver.values()) >= 6
    alone = results("csapp", "csapp_uninit", "classic")  # checked passes only, zeroed heaps
    assert all(alone[trace].valid for trace in LABS["csapp"].traces)
    source = LAB_FIXTURES / "csapp_uninit.c"
    run = cli("grade", source, "--lab", "csapp", "--throughput", "time", SHARED_TRACES / "classic")
    assert run.status == 1 and "in the timed passes" in run.said, run.said
    assert "score               0.0 / 100" in run.out


def test_where_the_csapp_driver_is_wrong_we_stay_right_and_say_why(cli):
    # Its realloc check compares a signed char with index & 0xFF: every allocator fails the
    # first realloc of an id of 128 or more (syn-mix-realloc line 317). Ours passes, with a note.
    for fixture, driver in VERDICTS["csapp_on_cmu_syn-mix-realloc"].items():
        assert "line 317]: mm_realloc did not preserve the data" in driver["error"]
        trace = SHARED_TRACES / "cmu" / "syn-mix-realloc.rep"
        run = cli(
            "grade", LAB_FIXTURES / f"{fixture}.c", "--lab", "csapp", "--throughput", "time",
            trace,
        )  # fmt: skip
        assert run.status == 0, run.err
        assert (
            f"{trace}:317: the CS:APP driver would wrongly fail this realloc of id 132" in run.said
        )


def test_cmu_f20_verdicts_and_utilizations_match_its_driver():
    mine = results("cmu", "cmu_segregated", "cmu")
    for trace, driver in expected_traces("cmu-f20", "cmu_segregated").items():
        ours = mine[trace]
        assert ours.valid == driver["valid"], (trace, ours.error, driver)
        if driver["valid"]:
            assert shown(ours.utilization, "cmu") == driver["util"], trace
        else:  # syn-largemem-short: past the 100 MB dense heap at the same line
            line = DRIVER_LINE.search(driver["error"]).group(1)
            assert f"{trace}.rep:{line}: " in ours.error and "100.0 MiB limit" in ours.error


def test_cmu_2015_utilizations_match_the_fall_2015_driver():
    part = "classic_traces_header_rewritten"  # that driver reads only its own header format
    mine = results("cmu-2015", "cmu2015_implicit", "classic")
    for trace, driver in expected_traces("cmu-2015", "cmu2015_implicit", part).items():
        assert mine[trace].valid == driver["valid"], (trace, mine[trace].error)
        assert shown(mine[trace].utilization, "cmu-2015") == driver["util"], trace


def _driver_timed(result: TraceResult, thru: str, seconds_per_unit: float) -> TraceResult:
    """Our result with the driver's own time for the trace ("ops time Kops", as it printed): the
    whole of it, its memlib's brk calls included, so none are charged on top (sbrk_cost.py)."""
    _, time, _ = thru.split()
    seconds = float(time) * seconds_per_unit
    return replace(
        result,
        seconds=seconds,
        ops_per_sec=result.ops / seconds,
        growth_calls=None,
        growth_new_pages=None,
    )


@pytest.mark.parametrize("fixture", ["csapp_implicit", "csapp_explicit"])
def test_the_csapp_formula_gives_the_drivers_index_from_its_own_times(fixture):
    # The throughput part too: our utilizations (equal to the driver's, above) and the times the
    # driver measured give the index it printed, to its last digit.
    mine = results("csapp", fixture, "classic")
    driver = expected_traces("csapp", fixture)
    graded = [_driver_timed(mine[name], driver[name]["thru"], 1.0) for name in LABS["csapp"].traces]
    got = score(graded, {}, replace(for_lab("csapp"), throughput="time"), 600e3, "the lab's")
    assert driver_line(got) == VERDICTS["csapp"][fixture]["summary"]["index"]


def test_the_cmu_formula_gives_the_f20_drivers_index_from_its_own_times():
    # Each trace was a run of its own, against the placeholder reference the driver was given
    # (10,000 Kops/s, see "how"); its time is printed in milliseconds.
    mine = results("cmu", "cmu_segregated", "cmu")
    config = replace(for_lab("cmu"), throughput="time")
    for name, driver in expected_traces("cmu-f20", "cmu_segregated").items():
        if not driver["valid"]:
            continue
        trace = load_trace(SHARED_TRACES / "cmu" / f"{name}.rep")
        rules = trace_rules(LABS["cmu"], [(name, trace.info.format, trace.info.weight)])
        timed = _driver_timed(mine[name], driver["thru"], 1e-3)
        got = score([timed], rules, config, 10000e3, "the placeholder")
        assert driver_line(got) == driver["index"], name


def test_the_cmu_2015_formula_gives_the_f15_drivers_index_from_its_own_times():
    # Each classic trace alone (its header rewritten to weight 1 for that driver), against the
    # handout's absolute 13,000 Kops/s: "Perf index = 59 (util) & 12 (thru) = 71/100".
    part = "classic_traces_header_rewritten"
    mine = results("cmu-2015", "cmu2015_implicit", "classic")
    config = replace(for_lab("cmu-2015"), throughput="time")
    for name, driver in expected_traces("cmu-2015", "cmu2015_implicit", part).items():
        timed = _driver_timed(mine[name], driver["thru"], 1.0)
        got = score([timed], {}, config, config.reference_throughput, "the lab's")
        assert driver_line(got) == driver["index"], name
