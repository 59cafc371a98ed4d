"""`mallocsim compare` on built-in policies: the table, its winners and means,
the JSON and CSV, and a failing allocator shown as failed while every other
cell is still measured."""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import replace

import pytest

from mallocsim.compare import SPEED, UTILIZATION, build, format_comparison, geomeans
from mallocsim.results import TraceResult

from .conftest import fixture_allocator

# Peak live payload 300 bytes (ids 0 and 1 together); rounded up to 16 each
# they take 112 + 208 = 320 bytes: the alignment bound is 300 / 320 = 93.75%.
TWO_BLOCKS = "a 0 100\na 1 200\nf 0\na 2 50\nf 1\nf 2\n"
# Peak 4 * 4000 = 16000 bytes, already multiples of 16: the bound is 100%.
BIG_BLOCKS = "a 0 4000\na 1 4000\na 2 4000\na 3 4000\nf 1\nf 3\na 4 8000\nf 0\nf 2\nf 4\n"


def test_two_policies_table_and_json(cli, write_trace, tmp_path):
    write_trace("two", TWO_BLOCKS)
    write_trace("big", BIG_BLOCKS)
    out = tmp_path / "cmp.json"
    run = cli(
        "compare", "-a", "implicit", "-a", "segfit", "--min-seconds", "0.001",
        "--json", out, "--csv", tmp_path / "cmp.csv", tmp_path,
    )  # fmt: skip
    assert run.status == 0, run.err
    document = json.loads(out.read_text())
    assert document["format"] == "mallocsim-results" and document["version"] == 2
    assert [r["allocator"] for r in document["runs"]] == ["implicit", "segfit"]
    results = {(t["allocator"], t["trace"]): t for r in document["runs"] for t in r["traces"]}
    assert len(results) == 4
    for (_, trace), entry in results.items():
        assert entry["valid"] and entry["error"] is None
        expected_peak = {"two": 300, "big": 16000}[trace]
        assert entry["peak_payload"] == expected_peak
        assert entry["utilization"] == pytest.approx(expected_peak / entry["heap_size"])
        assert entry["alignment_bound"] == pytest.approx({"two": 300 / 320, "big": 1.0}[trace])
        assert entry["ops_per_sec"] > 0
    lines = run.out.splitlines()
    assert "implicit" in lines[0] and "segfit" in lines[0]
    assert lines[1].split() == ["trace", "bound", "util", "Kops/s", "util", "Kops/s"]
    two = next(line for line in lines if line.startswith("two"))
    assert "93.8%" in two  # the bound
    for allocator in ("implicit", "segfit"):
        assert f"{100 * results[(allocator, 'two')]['utilization']:.1f}%" in two
    # The better utilization on each trace, as shown (0.1%), carries the mark.
    for trace in ("two", "big"):
        row = next(line for line in lines if line.startswith(trace)).split()
        shown = {
            a: round(1000 * results[(a, trace)]["utilization"]) for a in ("implicit", "segfit")
        }
        cells = {"implicit": row[2], "segfit": row[4]}
        for allocator, value in shown.items():
            assert cells[allocator].endswith("*") == (value == max(shown.values()))
    mean_row = next(line for line in lines if line.startswith("geomean")).split()
    for column, allocator in ((1, "implicit"), (3, "segfit")):
        mean = math.sqrt(
            results[(allocator, "two")]["utilization"] * results[(allocator, "big")]["utilization"]
        )
        assert mean_row[column].rstrip("*") == f"{100 * mean:.1f}%"
    rows = list(csv.DictReader((tmp_path / "cmp.csv").open()))
    assert {(r["allocator"], r["trace"]) for r in rows} == set(results)


def test_a_failing_allocator_is_failed_there_and_the_rest_is_measured(cli, write_trace, tmp_path):
    write_trace("two", TWO_BLOCKS)
    out = tmp_path / "cmp.json"
    # --wide: the failure whole, on one line, for the assertions below.
    run = cli(
        "compare", "-a", "implicit", "-a", fixture_allocator("misaligned"),
        "--dialect", "classic", "--no-timing", "--json", out, "--wide", tmp_path / "two.rep",
    )  # fmt: skip
    assert run.status == 1, run.err
    row = next(line for line in run.out.splitlines() if line.startswith("two")).split()
    assert row[-1] == "FAIL" and row[-2] == "FAIL"
    assert "not 16-byte aligned" in run.said
    runs = {r["allocator"]: r["traces"] for r in json.loads(out.read_text())["runs"]}
    [good] = runs["implicit"]
    assert good["valid"] and good["utilization"] > 0


def test_an_allocator_named_twice_or_unknown_is_a_usage_error(cli, write_trace):
    trace = write_trace("two", TWO_BLOCKS)
    run = cli("compare", "-a", "segfit", "-a", "segfit", trace)
    assert run.status == 2 and "only once" in run.err
    run = cli("compare", "-a", "bogus", trace)
    assert run.status == 2 and "unknown allocator 'bogus'" in run.err


def test_a_bad_focus_or_heap_map_is_refused_before_anything_runs(cli, write_trace, tmp_path):
    trace = write_trace("two", TWO_BLOCKS)
    out = tmp_path / "run.json"
    run = cli("compare", "-a", "segfit", "--focus", "nosuch", "--json", out, trace)
    assert run.status == 2 and run.err.strip() == (
        "mallocsim compare: --focus nosuch: not one of the compared traces"
    )
    assert run.out == ""  # refused up front, not after a whole comparison
    run = cli("compare", "-a", "segfit", "--heap-map", "implicit", "--json", out, trace)
    assert run.status == 2 and "--heap-map implicit: not one of the compared allocators" in run.err
    assert run.out == ""
    run = cli("compare", "-a", "segfit", "--no-timing", "--focus", "two", "--json", out, trace)
    assert run.status == 0, run.err  # a trace may be named by its stem


def test_a_heap_map_of_an_allocator_that_failed_the_trace_is_said_and_the_rest_written(
    cli, write_trace, tmp_path
):
    # Everything was measured, then the run ended "--heap-map mm.c: not an allocator ... that
    # passed", exit 2, and no --json, --html or plot was written (red-team pass 27).
    trace = write_trace("t", "a 0 8\na 1 8\na 2 8\n")
    source = fixture_allocator("segfault")
    out, page = tmp_path / "run.json", tmp_path / "run.html"
    run = cli("compare", "-a", "segfit", "-a", source, "--dialect", "classic", "--heap-map",
              source, "--json", out, "--html", page, trace)  # fmt: skip
    assert run.status == 1, run.err  # a cell failed; nothing else went wrong
    assert f"--heap-map {source}: no heap map: not an allocator on our heap that passed t" in (
        run.err
    )
    assert {r["allocator"] for r in json.loads(out.read_text())["runs"]} == {"segfit", str(source)}
    assert page.read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(("option", "value"), [("--focus", "two"), ("--heap-map", "segfit")])
def test_focus_or_heap_map_without_an_output_that_draws_is_refused(
    cli, write_trace, tmp_path, option, value
):
    trace = write_trace("two", TWO_BLOCKS)
    run = cli("compare", "-a", "segfit", option, value, "--csv", tmp_path / "run.csv", trace)
    assert run.status == 2 and run.out == ""  # refused up front, not silently ignored
    assert run.err == (
        f"mallocsim compare: {option} {value}: only --plots, --html or --json use it, "
        "and none was given\n"
    )


def test_heap_checks_of_an_allocator_without_mm_checkheap_are_refused_up_front(cli, write_trace):
    # As in replay: it used to fail every cell as if each had broken a check.
    # The references are not ours to check and run unchecked.
    source = fixture_allocator("handout_classic")
    trace = write_trace("two", TWO_BLOCKS)
    run = cli(
        "compare", "-a", "segfit", "-a", source, "--dialect", "classic", "--check-heap", trace
    )
    assert run.status == 2 and run.out == ""
    assert run.err == f"mallocsim compare: --check-heap: {source} has no mm_checkheap to call\n"
    run = cli("compare", "-a", "segfit", "-a", "glibc", "--check-heap", "--no-timing", trace)
    assert run.status == 0, run.err


def _result(allocator: str, trace: str, util: float | None, speed: float | None, valid=True):
    return TraceResult(
        allocator=allocator, trace=trace, path=f"/t/{trace}.rep", valid=valid,
        error=None if valid else "boom", ops=10, weight=1, utilization=util,
        alignment_bound=0.99, ops_per_sec=speed,
    )  # fmt: skip


def test_means_are_over_the_traces_every_allocator_has_the_figure_for():
    comparison = build(
        [
            _result("a", "x", 0.5, 100.0),
            _result("a", "y", 0.8, 400.0),
            _result("a", "z", 0.9, 1000.0),
            _result("b", "x", 0.6, 200.0),
            _result("b", "y", None, 100.0),  # e.g. a reference whose footprint was not measurable
            _result("b", "z", None, None, valid=False),
        ]
    )
    assert geomeans(comparison, UTILIZATION) == {"a": 0.5, "b": 0.6}  # only x has both
    speeds = geomeans(comparison, SPEED)  # x and y
    assert speeds["a"] == pytest.approx(200.0) and speeds["b"] == pytest.approx(math.sqrt(2e4))
    text = format_comparison(comparison)
    z_row = next(line for line in text.splitlines() if line.startswith("z")).split()
    assert z_row[2] == "90.0%*" and z_row[-1] == "FAIL"
    assert "b on z: boom" in text


def test_cells_equal_as_shown_tie_for_the_mark():
    comparison = build(
        [_result("a", "x", 0.91814, 123_400.0), _result("b", "x", 0.91836, 123_200.0)]
    )
    row = next(line for line in format_comparison(comparison).splitlines() if line.startswith("x"))
    assert row.split()[2:] == ["91.8%*", "123*", "91.8%*", "123*"]


def test_cells_not_measured_are_listed_with_their_reason_once_per_reason():
    held = "its footprint did not grow: the trace fit in memory its process already held"
    below = "its footprint grew by 9,000 B, less than its own blocks need at the peak (9,600 B)"
    comparison = build(
        [
            replace(_result("glibc", "x", None, 100.0), not_measured=held),
            _result("glibc", "y", 0.5, 100.0),
            replace(_result("glibc", "z", None, 100.0), not_measured=held),
            replace(_result("jemalloc", "x", None, 100.0), not_measured=below),
            _result("jemalloc", "y", 0.6, 100.0),
            _result("jemalloc", "z", 0.7, 100.0),
        ]
    )
    text = format_comparison(comparison, width=None)  # one line per trace and per reason
    x_row = next(line for line in text.splitlines() if line.startswith("x")).split()
    assert x_row[2] == "-" and x_row[4] == "-"
    assert f"Not measured:\n  glibc on x, z: {held}\n  jemalloc on x: {below}\n" in text


def test_progress_is_a_line_per_cell_on_stderr_unless_quiet(cli, write_trace):
    trace = write_trace("two", TWO_BLOCKS)
    loud = cli("compare", "-a", "segfit", "-a", "glibc", "--no-timing", trace)
    quiet = cli("compare", "-a", "segfit", "-a", "glibc", "--no-timing", "-q", trace)
    assert loud.status == quiet.status == 0, loud.err
    assert [re.sub(r" \(\d+\.\d s\)$", "", line) for line in loud.err.splitlines()] == [
        "compare [1/2] segfit: two: valid",
        "compare [2/2] glibc: two: valid",  # a reference, in a process of its own
    ]
    assert quiet.err == ""
