"""`mallocsim replay` end to end: the report, JSON and CSV, exit statuses, one
clear line for bad input, and a broken allocator diagnosed while the tool
survives it (crash, hang) and keeps every other trace's results."""

from __future__ import annotations

import csv
import json

import pytest

from .conftest import BUG_SHOWN_BY, fixture_allocator

GOOD = "20000\n3\n6\n1\na 0 24\na 1 100\nr 0 300\nf 1\na 2 8\nf 0\n"


def test_report_table_json_and_csv(cli, write_trace, tmp_path):
    trace = write_trace("good", GOOD)
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    run = cli("replay", "-a", "implicit", "--json", out_json, "--csv", out_csv, trace)
    assert run.status == 0, run.err
    assert "Results for implicit:" in run.said
    assert "good" in run.said and "util = peak live payload" in run.out
    document = json.loads(out_json.read_text())
    assert document["format"] == "mallocsim-results" and document["version"] == 2
    [entry] = document["runs"][0]["traces"]
    assert document["runs"][0]["allocator"] == "implicit"
    for key in (
        "valid",
        "error",
        "utilization",
        "alignment_bound",
        "ops",
        "seconds",
        "ops_per_sec",
    ):
        assert key in entry
    assert entry["valid"] is True and entry["error"] is None and entry["ops"] == 6
    assert 0 < entry["utilization"] <= entry["alignment_bound"] <= 1
    assert entry["ops_per_sec"] == pytest.approx(6 / entry["seconds"])
    [row] = list(csv.DictReader(out_csv.open()))
    assert row["trace"] == "good" and row["valid"] == "True"


def test_directory_of_traces_and_several_allocators(cli, write_trace, tmp_path):
    write_trace("one", GOOD)
    write_trace("two", "a 0 10\nf 0\n")
    out_json = tmp_path / "r.json"
    run = cli(
        "replay", "-a", "implicit:best", "-a", "segfit", "--no-timing", "--json", out_json, tmp_path
    )
    assert run.status == 0, run.err
    runs = json.loads(out_json.read_text())["runs"]
    assert [r["allocator"] for r in runs] == ["implicit:best", "segfit"]
    assert all(len(r["traces"]) == 2 for r in runs)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("20000\n3\n2\n1\na 0 24\n", "header declares 2 ops"),
        ("20000\n3\nxyz\n1\n", "found 'xyz'"),
        ("a 0 24\nq 0\n", ":2:"),
        ("", "empty trace file"),
    ],
)
def test_a_bad_trace_is_one_line_and_status_2_and_the_others_still_run(
    cli, write_trace, tmp_path, text, message
):
    bad = write_trace("bad", text)
    write_trace("fine", GOOD)
    run = cli("replay", "-a", "implicit", "--no-timing", "--quiet", tmp_path)
    assert run.status == 2
    [line] = run.err.strip().splitlines()
    assert str(bad) in line and message in line
    assert "Traceback" not in run.err
    assert "fine" in run.said  # the good trace was still replayed and reported


def test_missing_path_and_unknown_allocator_are_usage_errors(cli, write_trace, tmp_path):
    run = cli("replay", tmp_path / "nope.rep")
    assert run.status == 2 and "nope.rep" in run.err and "Traceback" not in run.err
    run = cli("replay", "-a", "bogus", write_trace("t", GOOD))
    assert run.status == 2 and "unknown allocator 'bogus'" in run.err
    run = cli("replay", "-a", "explicit:bogus", "--quiet", write_trace("t", GOOD))
    assert run.status == 2  # named as typed, not as the library behind it
    assert run.err.startswith("mallocsim replay: explicit:bogus: explicit: unknown option 'bogus'")


@pytest.mark.parametrize("allocator", ["glibc", str(fixture_allocator("handout_classic"))])
def test_check_heap_on_an_allocator_without_mm_checkheap_is_a_usage_error(
    cli, write_trace, allocator
):
    # Refused before any trace runs, not every trace failed as a broken check.
    run = cli(
        "replay",
        "-a",
        "segfit",
        "-a",
        allocator,
        "--dialect",
        "classic",
        "--check-heap",
        write_trace("t", GOOD),
    )
    assert run.status == 2 and run.out == ""
    assert run.err == f"mallocsim replay: --check-heap: {allocator} has no mm_checkheap to call\n"


def test_an_mm_c_needs_its_dialect_said(cli, write_trace):
    run = cli("replay", "-a", fixture_allocator("good_bump"), write_trace("t", GOOD))
    assert run.status == 2
    assert "--dialect classic" in run.err and "--dialect cmu" in run.err


def test_a_good_student_allocator_passes(cli, write_trace):
    run = cli(
        "replay",
        "-a",
        fixture_allocator("good_bump"),
        "--dialect",
        "classic",
        write_trace("t", GOOD),
    )
    assert run.status == 0, run.out + run.err


@pytest.mark.parametrize(
    ("fixture", "diagnosis"),
    [
        ("misaligned", "not 16-byte aligned"),
        ("overlap", "overlaps block 1"),
        ("outside_heap", "not inside the heap"),
        ("metadata_overwrite", "payload"),
        ("realloc_drops_data", "realloc"),
        ("calloc_no_zero", "not zero"),
        ("init_no_reset", "fresh heap"),
    ],
)
def test_each_broken_allocator_gets_its_diagnosis(cli, write_trace, tmp_path, fixture, diagnosis):
    dialect, text = BUG_SHOWN_BY[fixture]
    trace = write_trace("probe", text)
    out_json = tmp_path / "r.json"
    run = cli(
        "replay",
        "-a",
        fixture_allocator(fixture),
        "--dialect",
        dialect,
        "--no-timing",
        "--json",
        out_json,
        trace,
    )
    assert run.status == 1, run.out + run.err
    [entry] = json.loads(out_json.read_text())["runs"][0]["traces"]
    assert entry["valid"] is False
    assert diagnosis in entry["error"]
    assert entry["error"].startswith(f"{trace}:")  # names the file (and the line)


def test_a_crashing_allocator_is_reported_with_its_signal_and_op(cli, write_trace, tmp_path):
    write_trace("a_crash", "a 0 8\na 1 8\na 2 8\nf 0\nf 1\nf 2\n")
    write_trace("b_survive", "a 0 8\na 1 8\nf 0\nf 1\n")
    out_json = tmp_path / "out.json"
    run = cli(
        "replay",
        "-a",
        fixture_allocator("segfault"),
        "--dialect",
        "classic",
        "--no-timing",
        "--json",
        out_json,
        tmp_path,
    )
    assert run.status == 1
    crash, survive = json.loads(out_json.read_text())["runs"][0]["traces"]
    assert "SIGSEGV" in crash["error"] and "op 2 (a 2 8)" in crash["error"]
    assert crash["error"].startswith(f"{tmp_path / 'a_crash.rep'}:3:")
    assert survive["valid"] is True  # the tool survived and went on


def test_a_hanging_allocator_is_stopped_at_its_time_limit(cli, write_trace):
    trace = write_trace("spin", "a 0 8\nf 0\n")
    run = cli(
        "replay",
        "-a",
        fixture_allocator("hang"),
        "--dialect",
        "classic",
        "--no-timing",
        "--timeout",
        "1",
        trace,
    )
    assert run.status == 1
    assert "did not finish within 1 s" in run.said and "op 1 (f 0)" in run.out


def test_an_output_file_that_cannot_be_written_is_one_line_and_status_2(cli, write_trace, tmp_path):
    trace = write_trace("good", GOOD)
    for option in ("--json", "--csv"):
        target = tmp_path / "missing-folder" / "out"
        run = cli("replay", "--no-timing", "--quiet", option, target, trace)
        assert run.status == 2, option
        assert (
            run.err.strip() == f"mallocsim replay: cannot write {target}: No such file or directory"
        )


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--timeout", "-1", "must be at least 0.01 seconds"),
        ("--timeout", "nan", "not a finite number"),
        ("--timeout", "1e300", "must be at most 86400 seconds"),
        ("--min-seconds", "-0.5", "must be 0 seconds or more"),
        ("--min-seconds", "soon", "not a number of seconds"),
    ],
)
def test_a_bad_time_is_a_usage_error_before_anything_runs(
    cli, write_trace, capsys, option, value, message
):
    with pytest.raises(SystemExit) as stop:
        cli("replay", option, value, write_trace("good", GOOD))
    assert stop.value.code == 2
    assert f"argument {option}: {message}" in capsys.readouterr().err


def test_an_interrupted_replay_leaves_no_child_running(write_trace, monkeypatch):
    # Ctrl-C while a child replays (here: one that spins forever) must stop
    # the child and reap it, not leave it running until its time limit.
    import os
    import signal

    from mallocsim import isolate
    from mallocsim.allocators import resolve
    from mallocsim.replay import ReplayOptions
    from mallocsim.trace import load_trace

    children = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            children.append(pid)
        return pid

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(isolate.os, "fork", fork)
    trace = load_trace(write_trace("spin", "a 0 8\nf 0\n"))
    spec = resolve(str(fixture_allocator("hang")), "classic")
    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 1.0)
    try:
        with pytest.raises(KeyboardInterrupt):
            isolate.replay_isolated(trace, spec, ReplayOptions(timing=False), timeout=60)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    [child] = children
    try:
        os.waitpid(child, os.WNOHANG)
    except ChildProcessError:
        return  # already reaped: no zombie, no runaway
    os.kill(child, signal.SIGKILL)  # do not leave it spinning after the test
    os.waitpid(child, 0)
    pytest.fail("the child was left running after the interrupt")


def test_an_allocator_failing_only_in_the_timed_passes_is_reported(cli, write_trace):
    # Both checked runs pass; the third mm_init, the first timed pass's, fails.
    run = cli(
        "replay",
        "-a",
        fixture_allocator("init_runs_out"),
        "--dialect",
        "classic",
        "--wide",  # the failure on one line
        write_trace("probe", "a 0 64\nf 0\n"),
    )
    assert run.status == 1, run.out + run.err
    assert "in the timed passes: mm_init failed (returned -1)" in run.said


def test_a_labs_lenient_reading_of_a_trace_is_said_and_a_strict_lab_still_refuses_it(
    cli, write_trace
):
    trace = write_trace("handout", "1\n2\n3\n0\na 0 24\na 1\nf 0\nf 1\n")
    run = cli("replay", "-q", "--no-timing", "--lab", "cmu", trace)
    assert run.status == 0, run.err
    assert (
        f"mallocsim replay: note: {trace}: 1 op without a size took the size read before "
        "(from line 6) and 1 line past the header's 3 ops not read (from line 8), as the "
        "lab's driver reads it"
    ) in run.err
    run = cli("replay", "-q", "--no-timing", trace)
    assert run.status == 2 and f"{trace}:6: expected a size in bytes" in run.err
