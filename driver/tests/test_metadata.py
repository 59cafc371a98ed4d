"""A run's metadata: `--version`, what every saved run (replay, bench, compare)
carries with its per-pass times, and what `report` and the HTML show of it;
older files still load, a newer format is one clear line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from mallocsim import metadata
from mallocsim.metadata import allocator_versions, collect, glibc_version, throughput_measure
from mallocsim.results import TraceResult, read_json_document, write_json

TRACE = "a 0 100\na 1 2000\nf 0\na 2 40\nr 1 4000\nf 2\nf 1\n"
KEYS = {
    "date", "finished", "host", "cpu_model", "cpu_count", "cpus_usable", "kernel", "machine",
    "compiler", "python", "mallocsim", "allocator_versions", "command_line", "lab",
    "throughput", "load_start", "load_end",
}  # fmt: skip


def test_version_prints_the_package_version(capsys):
    from importlib.metadata import version

    from mallocsim.cli import main

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"mallocsim {version('mallocsim')}\n"


def test_version_from_the_installed_command():
    done = subprocess.run(
        [sys.executable, "-m", "mallocsim", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.startswith("mallocsim ") and not done.stderr


def test_collect_gives_every_key_of_the_right_kind(monkeypatch):
    metadata.begin_run(["replay", "t.rep"])
    meta = collect("cmu", "ops / median")
    assert set(meta) == KEYS
    assert meta["command_line"] == ["mallocsim", "replay", "t.rep"]
    assert meta["lab"] == "cmu" and meta["throughput"] == "ops / median"
    assert meta["date"].endswith("+00:00") and meta["date"] <= meta["finished"]
    assert meta["cpu_count"] == os.cpu_count() and meta["host"]
    assert meta["python"].startswith(f"{sys.version_info.major}.{sys.version_info.minor}.")
    assert len(meta["load_start"]) == 3 and len(meta["load_end"]) == 3
    assert set(meta["allocator_versions"]) == {"glibc", "jemalloc", "mimalloc", "tcmalloc"}
    json.dumps(meta, allow_nan=False)  # plain JSON, nothing else


def test_glibc_and_package_versions(monkeypatch):
    # This Debian machine's glibc says its version through confstr.
    assert glibc_version() == os.confstr("CS_GNU_LIBC_VERSION").split()[1]
    versions = allocator_versions({"glibc": None, "nothing": "no-such-package-mallocsim"})
    assert versions == {"glibc": glibc_version(), "nothing": "unknown"}
    monkeypatch.setenv("MALLOCSIM_NOTHING_LIBRARY", "/opt/lib.so")
    versions = allocator_versions({"nothing": "no-such-package-mallocsim"})
    assert versions == {"nothing": "unknown (MALLOCSIM_NOTHING_LIBRARY=/opt/lib.so)"}


def test_a_missing_compiler_or_dpkg_is_unknown_not_an_error(monkeypatch):
    monkeypatch.setenv("CC", "/nonexistent/cc")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert metadata.compiler_version() == "unknown"
    assert allocator_versions({"jemalloc": "libjemalloc2"}) == {"jemalloc": "unknown"}


def test_throughput_measure_in_words():
    options = SimpleNamespace(
        timing=True, min_seconds=0.2, min_passes=5, max_passes=2000, carry_heap=False
    )
    text = throughput_measure(options, rounds=5)
    assert "median timed pass" in text and "0.2 s and 5 passes" in text
    assert "5 alternating rounds" in text and "from mm_init" in text
    assert throughput_measure(SimpleNamespace(**{**vars(options), "timing": False})) == (
        "not measured (--no-timing)"
    )


def test_replay_saves_metadata_and_every_pass_then_report_shows_them(cli, write_trace, tmp_path):
    trace = write_trace("one", TRACE)
    saved = tmp_path / "run.json"
    run = cli("replay", "-q", "-a", "segfit", "--min-seconds", "0.001", "--json", saved, trace)
    assert run.status == 0, run.err
    document = json.loads(saved.read_text())
    assert document["version"] == 2 and set(document["metadata"]) == KEYS
    meta = document["metadata"]
    assert (
        meta["command_line"][:2] == ["mallocsim", "replay"] and str(saved) in meta["command_line"]
    )
    assert meta["lab"] == "mallocsim" and "median timed pass" in meta["throughput"]
    result = document["runs"][0]["traces"][0]
    assert len(result["pass_seconds"]) == result["passes"] >= 3
    assert min(result["pass_seconds"]) == result["seconds_min"]
    assert max(result["pass_seconds"]) == result["seconds_max"]
    run = cli("report", saved)
    assert run.status == 0, run.err
    assert "command:    mallocsim replay -q -a segfit" in run.out
    assert "results format 2" in run.said and meta["host"] in run.out
    assert f"glibc {glibc_version()}" in run.said
    stats_row = next(line for line in run.out.splitlines() if line.startswith("one "))
    assert f" {result['passes']} " in stats_row  # n, then mean, stdev (%), median, range
    assert "%)" in stats_row
    assert all(len(line) <= 80 for line in run.out.splitlines() if "/" not in line)


def test_bench_and_compare_save_metadata_too(cli, write_trace, tmp_path):
    write_trace("one", TRACE)
    bench, compare, html = tmp_path / "b.json", tmp_path / "c.json", tmp_path / "c.html"
    common = ("--min-seconds", "0.001", "-q", tmp_path / "one.rep")
    assert cli("bench", "-a", "segfit", "--json", bench, *common).status == 0
    assert cli("compare", "-a", "segfit", "--json", compare, "--html", html, *common).status == 0
    bench_meta = json.loads(bench.read_text())["metadata"]
    assert "5 alternating rounds" in bench_meta["throughput"] and bench_meta["lab"] == "mallocsim"
    document = json.loads(compare.read_text())
    assert set(document["metadata"]) == KEYS
    assert all(t["pass_seconds"] for r in document["runs"] for t in r["traces"])
    text = html.read_text()
    assert '<dl class="metadata">' in text and document["metadata"]["compiler"] in text
    assert "<h2>Timed passes</h2>" in text


def _old_file(tmp_path, version):
    result = TraceResult("a", "t", None, True, None, 10, 1, utilization=0.5, seconds=1e-3,
                         seconds_min=9e-4, seconds_max=2e-3, passes=4, ops_per_sec=1e4)  # fmt: skip
    path = tmp_path / f"v{version}.json"
    write_json([result], path)
    document = json.loads(path.read_text())
    for trace in document["runs"][0]["traces"]:
        del trace["pass_seconds"]
    if version is None:
        del document["version"]
    else:
        document["version"] = version
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize("version", [1, None])
def test_an_older_file_still_loads_and_reports(cli, tmp_path, version):
    path = _old_file(tmp_path, version)
    [result], document = read_json_document(path)
    assert result.pass_seconds == () and "metadata" not in document
    run = cli("report", path)
    assert run.status == 0, run.err
    assert "metadata: none (a results file of format 1)" in run.said
    assert "saved before format 2" in run.said and "1.00 ms" in run.out


def test_a_newer_format_is_one_clear_line(cli, tmp_path):
    path = _old_file(tmp_path, 3)
    for command, *files in (("report", path), ("diff", path, path)):
        run = cli(command, *files)
        assert run.status == 2 and "Traceback" not in run.err
        assert run.err.strip() == (
            f"mallocsim {command}: {path}: results format version 3 is newer than this "
            "mallocsim reads (1 to 2): upgrade mallocsim to read it"
        )
    path.write_text(path.read_text().replace('"version": 3', '"version": "two"'))
    run = cli("report", path)
    assert run.status == 2
    assert "results format version 'two' is not one this mallocsim reads (1 to 2)" in run.err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pass_seconds": "fast"}, "pass_seconds is 'fast'"),
        ({"pass_seconds": [0.1, "x"]}, "pass_seconds is [0.1, 'x']"),
        ({"pass_seconds": [-1.0]}, "pass_seconds is [-1.0]"),
    ],
)
def test_damaged_pass_seconds_are_one_line(cli, tmp_path, change, message):
    path = _old_file(tmp_path, 2)
    document = json.loads(path.read_text())
    document["runs"][0]["traces"][0].update(change)
    path.write_text(json.dumps(document))
    run = cli("report", path)
    assert run.status == 2 and message in run.err and "Traceback" not in run.err


def test_damaged_metadata_is_one_line(cli, tmp_path):
    path = _old_file(tmp_path, 2)
    document = json.loads(path.read_text())
    document["metadata"] = [1, 2]
    path.write_text(json.dumps(document))
    run = cli("report", path)
    assert run.status == 2 and "(metadata is [1, 2])" in run.err
