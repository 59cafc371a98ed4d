"""The HTML report: one self-contained file holding every table and every
plot, the run's metadata and its timed passes' statistics, from `compare
--html` and from a saved run through `report`; a saved run that is truncated
or from another version is one clear line."""

from __future__ import annotations

import base64
import json
import re

from mallocsim.compare import Comparison
from mallocsim.html import render_html
from mallocsim.pictures import Pictures
from mallocsim.results import TraceResult

from .conftest import fixture_allocator

TRACE = "a 0 100\na 1 2000\nf 0\na 2 40\nr 1 4000\nf 2\nf 1\n"
PLOTS = ("utilization.png", "throughput.png", "heap-over-time.png", "heap-map.png")


def _images(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]


def _check_report(html: str, allocators: list[str], traces: list[str]) -> None:
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    # The side-by-side table, then one table per allocator.
    assert html.count("<table") == 1 + len(allocators)
    for name in allocators:
        assert f"<h3>{name}</h3>" in html and f'<th colspan="2">{name}</th>' in html
    for trace in traces:
        assert f"<td>{trace}</td>" in html
    images = _images(html)
    assert len(images) == len(PLOTS)
    assert all(image.startswith(b"\x89PNG") and len(image) > 5000 for image in images)
    outside_images = re.sub(r"base64,[^\"]+", "", html)
    assert "http" not in outside_images and "<link" not in outside_images  # nothing to fetch
    assert "peak live payload / peak heap footprint" in html
    # Narrow screens: the page scales to the device and a wide table scrolls in its own box.
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert html.count('<div class="scroll"><table') == html.count("<table")
    assert "@media (max-width" in html


def test_compare_writes_a_self_contained_report_and_the_plots(cli, write_trace, tmp_path):
    write_trace("one", TRACE)
    write_trace("two", "a 0 64\na 1 64\nf 1\na 2 128\nf 0\nf 2\n")
    html, plots = tmp_path / "report.html", tmp_path / "plots"
    run = cli(
        "compare", "-a", "implicit", "-a", "segfit", "--no-timing",
        "--html", html, "--plots", plots, "--focus", "one", tmp_path,
    )  # fmt: skip
    assert run.status == 0, run.err
    text = html.read_text()
    _check_report(text, ["implicit", "segfit"], ["one", "two"])
    assert sorted(p.name for p in plots.iterdir()) == sorted(PLOTS)
    assert "Heap map" in text and "implicit on one" not in text  # titles live in the PNGs
    assert {p.read_bytes() for p in plots.iterdir()} == set(_images(text))


def test_report_from_a_saved_run_has_every_table_and_plot(cli, write_trace, tmp_path):
    write_trace("one", TRACE)
    saved, html = tmp_path / "run.json", tmp_path / "out.html"
    run = cli(
        "compare", "-a", "implicit", "-a", fixture_allocator("misaligned"),
        "--dialect", "classic", "--no-timing", "--json", saved, tmp_path / "one.rep",
    )  # fmt: skip
    assert run.status == 1  # the fixture fails its check: shown as failed, the rest measured
    run = cli("report", saved, "-o", html)
    assert run.status == 0, run.err
    text = html.read_text()
    misaligned = str(fixture_allocator("misaligned"))
    assert text.count("<table") == 3 and "<h2>Failures</h2>" in text
    assert "not 16-byte aligned" in text and f"<h3>{misaligned}</h3>" in text
    # The failing allocator has no series; implicit's still makes every plot.
    assert len(_images(text)) == len(PLOTS)


def test_a_truncated_or_foreign_saved_run_is_one_clear_line(cli, write_trace, tmp_path):
    write_trace("one", TRACE)
    saved = tmp_path / "run.json"
    assert cli("compare", "-a", "segfit", "--no-timing", "--json", saved, tmp_path).status == 0
    text = saved.read_text()
    truncated = tmp_path / "truncated.json"
    truncated.write_text(text[: len(text) // 2])
    run = cli("report", truncated, "-o", tmp_path / "x.html")
    assert run.status == 2 and "truncated" in run.err and "Traceback" not in run.err
    document = json.loads(text)
    document["version"] = 99
    future = tmp_path / "future.json"
    future.write_text(json.dumps(document))
    run = cli("report", future, "-o", tmp_path / "x.html")
    assert run.status == 2 and "version 99" in run.err
    assert not (tmp_path / "x.html").exists()


def test_a_saved_run_without_results_is_refused(cli, tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"format": "mallocsim-results", "version": 1, "runs": []}))
    run = cli("report", empty, "-o", tmp_path / "x.html")
    assert run.status == 2
    assert run.err.strip() == f"mallocsim report: {empty}: holds no results to report"
    assert not (tmp_path / "x.html").exists()


def test_the_report_shows_the_metadata_and_the_timed_passes(cli, write_trace, tmp_path):
    write_trace("one", TRACE)
    saved, html = tmp_path / "run.json", tmp_path / "out.html"
    run = cli("compare", "-q", "-a", "segfit", "--min-seconds", "0.001", "--json", saved,
              tmp_path / "one.rep")  # fmt: skip
    assert run.status == 0, run.err
    document = json.loads(saved.read_text())
    document["metadata"]["host"] = "<b>lab-3</b>"  # what the page shows is escaped
    saved.write_text(json.dumps(document))
    assert cli("report", saved, "-o", html).status == 0
    text = html.read_text()
    block = re.search(r'<dl class="metadata">(.*?)</dl>', text).group(1)
    assert "<dt>command</dt><dd>mallocsim compare -q -a segfit" in block
    assert "&lt;b&gt;lab-3&lt;/b&gt;" in block and "<b>lab-3" not in text
    assert f"<dd>{document['metadata']['compiler']}</dd>" in block
    assert "<dt>load</dt>" in block and "results format 2" in block
    # The timed passes: n (x the passes a batch timed), median, IQR (share of the median), mean,
    # range per trace.
    table = re.search(r'<table class="timing">(.*?)</table>', text, re.S).group(1)
    timed = document["runs"][0]["traces"][0]
    n = (
        f"{timed['passes']} x {timed['pass_repeats']}"
        if timed["pass_repeats"] > 1
        else timed["passes"]
    )
    assert f"<td>segfit</td><td>one</td><td>{n}</td>" in table and "%)</td>" in table


def test_a_report_without_timed_passes_says_why(cli, write_trace, tmp_path):
    # A timed run in which nothing passed was said to be "made with --no-timing" (red-team
    # pass 27).
    trace = write_trace("t", "a 0 8\na 1 8\na 2 8\n")
    untimed, failed = tmp_path / "untimed.json", tmp_path / "failed.json"
    cli("compare", "-q", "-a", "segfit", "--no-timing", "--json", untimed, trace)
    cli("compare", "-q", "-a", fixture_allocator("segfault"), "--dialect", "classic",
        "--min-seconds", "0.001", "--json", failed, trace)  # fmt: skip
    assert "no timed passes (the run was made with --no-timing)" in cli("report", untimed).out
    assert "no timed passes (no trace was valid: nothing was timed)" in cli("report", failed).out


def test_a_report_of_an_older_file_says_it_kept_no_metadata(cli, write_trace, tmp_path):
    write_trace("one", TRACE)
    saved, html = tmp_path / "run.json", tmp_path / "out.html"
    assert cli("compare", "-a", "segfit", "--no-timing", "--json", saved, tmp_path).status == 0
    document = json.loads(saved.read_text())
    document["version"] = 1
    del document["metadata"]
    saved.write_text(json.dumps(document))
    assert cli("report", saved, "-o", html).status == 0
    text = html.read_text()
    assert "<dt>metadata</dt><dd>none (a results file of format 1)</dd>" in text
    assert "Timed passes" not in text  # --no-timing: nothing to show


def test_out_of_memory_is_shown_as_an_outcome_not_a_failure():
    common = {"trace": "big", "path": "big.rep", "ops": 2, "weight": 1}
    fine = TraceResult(allocator="segfit", valid=True, error=None, utilization=0.9, **common)
    oom = TraceResult(
        allocator="glibc",
        valid=False,
        error="big.rep:1: op 0 (a 0 99999999999999): malloc returned NULL for 99999999999999 "
        "bytes: out of memory: the blocks live then need 90.9 TiB, more than the 23.5 GiB "
        "this machine has (RAM + swap)",
        fail_kind="out_of_memory",
        **common,
    )
    cells = {("segfit", "big.rep"): fine, ("glibc", "big.rep"): oom}
    html = render_html(Comparison(["segfit", "glibc"], ["big.rep"], cells), Pictures())
    assert '<td class="oom">oom</td>' in html
    assert "<h2>Out of memory</h2>" in html and "<h2>Failures</h2>" not in html
