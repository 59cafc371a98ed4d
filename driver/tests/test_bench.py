"""`mallocsim bench`: every allocator against glibc on the same traces, the
ratio column, the JSON summary, failures shown in place, callgrind counts."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from mallocsim.bench import BenchSummary, speed_ratio, summarize_bench
from mallocsim.results import TraceResult

from .conftest import fixture_allocator, fixture_variant

TRACE = "".join(f"a {i} {16 + i}\n" for i in range(50)) + "".join(f"f {i}\n" for i in range(50))


def result(allocator: str, trace: str, seconds: float | None, util: float | None = 0.5):
    return TraceResult(
        allocator=allocator,
        trace=trace,
        path=None,
        valid=seconds is not None,
        error=None if seconds is not None else "broken",
        ops=10,
        weight=1,
        utilization=util,
        seconds=seconds,
        ops_per_sec=10 / seconds if seconds else None,
    )


def test_speed_ratio_is_glibc_time_over_the_allocators():
    assert speed_ratio(result("segfit", "t", 1.0), result("glibc", "t", 2.0)) == 2.0
    assert speed_ratio(result("segfit", "t", None), result("glibc", "t", 2.0)) is None
    assert speed_ratio(result("segfit", "t", 1.0), None) is None


def test_summary_uses_geometric_means_and_valid_traces_only():
    results = [
        result("segfit", "a", 1.0, 0.9),
        result("glibc", "a", 4.0, None),
        result("segfit", "b", 4.0, 0.7),
        result("glibc", "b", 1.0, None),
        result("segfit", "c", None),
        result("glibc", "c", 1.0, None),
    ]
    segfit, glibc = summarize_bench(results)
    assert segfit == BenchSummary(
        allocator="segfit",
        valid=2,
        traces=3,
        mean_utilization=pytest.approx(0.8),
        ops_per_sec_geomean=pytest.approx(5.0),
        speed_vs_glibc_geomean=pytest.approx(1.0),
    )
    assert glibc.speed_vs_glibc_geomean == pytest.approx(1.0)


def test_bench_table_and_json(cli, write_trace, tmp_path):
    trace = write_trace("small", TRACE)
    out = tmp_path / "bench.json"
    run = cli(
        "bench", "-a", "implicit", "-a", "segfit", "--min-seconds", "0.001", "--json", out, trace
    )
    assert run.status == 0, run.err
    assert "implicit" in run.said and "segfit" in run.out and "glibc" in run.out
    assert "vs glibc" in run.said and "1.00x" in run.out  # glibc against itself
    document = json.loads(out.read_text())
    names = [s["allocator"] for s in document["bench"]["summary"]]
    assert names == ["implicit", "segfit", "glibc"]
    assert all(s["speed_vs_glibc_geomean"] > 0 for s in document["bench"]["summary"])
    assert document["bench"]["passes"].startswith("ours each from mm_init")


def bench_fixture(cli, fixture: str, trace, *options: str):
    """`mallocsim bench` on one of the allocator fixtures (classic dialect) and glibc."""
    return cli(
        "bench",
        "-a",
        fixture_allocator(fixture),
        "--dialect",
        "classic",
        "--min-seconds",
        "0.001",
        "--wide",  # failures whole, on the row's line: what these tests read
        *options,
        trace,
    )


def test_a_failing_allocator_shows_in_place_and_sets_status_1(cli, write_trace):
    trace = write_trace("small", TRACE)
    run = bench_fixture(cli, "misaligned", trace)
    assert run.status == 1
    assert "FAIL" in run.said and "not 16-byte aligned" in run.out


def test_a_crashing_allocator_is_reported_and_the_benchmark_goes_on(cli, write_trace):
    # It used to be timed in this process at once: SIGSEGV took the tool down.
    trace = write_trace("crash", "a 0 8\na 1 8\na 2 8\nf 0\n")  # segfault.c dies on its 3rd
    run = bench_fixture(cli, "segfault", trace)
    assert run.status == 1
    assert "crashed with SIGSEGV at op 2 (a 2 8)" in run.said
    glibc = next(line for line in run.out.splitlines() if line.startswith("crash")).split()
    assert glibc[-1].endswith("x")  # glibc was still measured on the trace


def test_timed_passes_alternate_between_allocators_in_rounds(write_trace):
    # Each allocator's passes on a trace are spread over ROUNDS rounds, so a
    # change of machine load during the trace cannot fall on one of them only.
    from mallocsim.allocators import resolve
    from mallocsim.bench import ROUNDS, run_bench
    from mallocsim.replay import ReplayOptions
    from mallocsim.trace import load_traces

    traces, _ = load_traces([write_trace("small", TRACE)])
    options = ReplayOptions(min_seconds=0.0, min_passes=1, max_passes=4 * ROUNDS)
    results = run_bench([resolve("segfit"), resolve("glibc")], traces, options)
    assert [r.allocator for r in results] == ["segfit", "glibc"]
    assert all(r.valid and r.passes == ROUNDS for r in results)  # one pass a round
    assert all(r.seconds_min <= r.seconds <= r.seconds_max for r in results)


def test_a_failure_in_the_timed_passes_is_reported_and_the_others_still_timed(cli, write_trace):
    trace = write_trace("small", TRACE)
    run = bench_fixture(cli, "init_runs_out", trace)
    assert run.status == 1
    assert "in the timed passes: mm_init failed (returned -1)" in run.said
    row = next(line for line in run.out.splitlines() if line.startswith("small")).split()
    assert row[2] == "FAIL" and row[-1] == "1.00x"  # glibc was timed all the same


def test_carried_passes_are_said_in_the_report(cli, write_trace):
    trace = write_trace("small", TRACE)
    run = cli(
        "bench", "-a", "segfit", "-a", "explicit", "--min-seconds", "0.001", "--carry-heap", trace
    )
    assert run.status == 0, run.err
    assert "passes: ours carried over like glibc's" in run.said
    fresh = cli("bench", "-a", "segfit", "--min-seconds", "0.001", trace)
    assert "passes: ours each from mm_init on an empty heap" in fresh.out


def test_carried_passes_refuse_an_allocator_that_never_reuses_memory(cli, write_trace):
    # good_bump.c never reuses a block: carried over, its heap grows every pass.
    trace = write_trace("small", TRACE)
    run = bench_fixture(cli, "good_bump", trace, "--carry-heap")
    assert run.status == 1
    assert "in the timed passes: the heap grew from" in run.said
    assert "it does not level off, so there is no steady state to time" in run.said
    row = next(line for line in run.out.splitlines() if line.startswith("small")).split()
    assert row[2] == "FAIL" and row[-1] == "1.00x"  # glibc was timed all the same
    assert bench_fixture(cli, "good_bump", trace).status == 0  # from mm_init each pass: fine


def test_a_crash_in_carried_passes_is_caught_in_the_child(cli, write_trace):
    # carried_crash.c passes every check from mm_init and crashes once its heap is carried over
    # an emptied heap: timed in this process first, it would take the benchmark down with it.
    trace = write_trace("small", TRACE)
    run = bench_fixture(cli, "carried_crash", trace, "--carry-heap")
    assert run.status == 1
    assert "small.rep:1: crashed with SIGSEGV at op 0 (a 0 16) in timed pass 1" in run.said
    row = next(line for line in run.out.splitlines() if line.startswith("small")).split()
    assert row[2] == "FAIL" and row[-1] == "1.00x"  # glibc was timed all the same
    assert bench_fixture(cli, "carried_crash", trace).status == 0


def test_a_timing_child_that_dies_is_blamed_on_the_allocator_it_was_timing(
    monkeypatch, write_trace
):
    # Each trace is timed in a child of its own. One that dies while it times an allocator (the
    # shared word says which) fails that allocator only and times the others again; one that dies
    # before it times anything fails them all, and the benchmark still ends.
    import signal

    from mallocsim import bench
    from mallocsim.allocators import resolve
    from mallocsim.isolate import ChildOutcome
    from mallocsim.replay import ReplayOptions
    from mallocsim.trace import load_traces

    traces, _ = load_traces([write_trace("small", TRACE)])
    deaths = [
        # while timing glibc, the second, at its op 1 in timed pass 3
        ChildOutcome(None, False, signal.SIGSEGV, (2, 1, 3)),
        ChildOutcome(None, True, 0, (0, 0, 0)),  # out of time before it timed anyone
    ]
    limits = []

    def dying(work, limit, sandboxed=False):
        limits.append(limit)
        return deaths.pop(0)

    monkeypatch.setattr(bench, "run_forked", dying)
    options = ReplayOptions(min_seconds=0.0, min_passes=1)
    segfit, glibc = bench.run_bench([resolve("segfit"), resolve("glibc")], traces, options, 10.0)
    assert limits == [20.0, 10.0]  # the time limit grows with the allocators timed
    assert not glibc.valid and glibc.error.endswith(
        "small.rep:2: crashed with SIGSEGV at op 1 (a 1 17) in timed pass 3"
    )
    assert (glibc.fail_kind, glibc.fail_op, glibc.fail_pass) == ("crash", 1, 3)
    assert not segfit.valid and segfit.error.endswith(
        "small.rep: did not finish within 10 s of CPU time: stopped at the checks before the timed "
        "passes"
    )


def test_instruction_counts_refuse_carried_passes(cli, write_trace):
    trace = write_trace("small", TRACE)
    run = cli("bench", "-a", "segfit", "--instructions", "--carry-heap", trace)
    assert run.status == 2 and run.out == ""
    assert run.err.strip().splitlines() == [
        "mallocsim bench: --instructions counts passes from mm_init: it cannot take --carry-heap"
    ]


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
def test_instruction_counts_come_from_callgrind(cli, write_trace):
    trace = write_trace("small", TRACE)
    run = cli("bench", "-a", "segfit", "--min-seconds", "0.001", "--instructions", "--wide", trace)
    assert run.status == 0, run.err
    assert "instr/op" in run.said
    row = next(line for line in run.out.splitlines() if line.startswith("small")).split()
    # Columns per allocator: util, Kops/s, vs glibc, instr/op; segfit then glibc.
    segfit_count, glibc_count = row[5], row[9]
    assert int(segfit_count) > 10 and int(glibc_count) > 10


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
def test_instruction_counts_run_the_policy_with_its_options(write_trace):
    # mscount used to open every policy with no options: implicit:best was
    # counted as first fit. An option the policy refuses must now fail.
    from mallocsim.allocators import resolve
    from mallocsim.errors import UsageError
    from mallocsim.instructions import count_instructions
    from mallocsim.trace import load_trace

    trace = load_trace(write_trace("small", TRACE))
    assert count_instructions(resolve("implicit:best"), [trace])["small"] > 10
    with pytest.raises(UsageError, match="unknown option 'bogus'"):
        count_instructions(resolve("implicit:bogus"), [trace])


def test_glibc_warm_is_said_in_the_report(cli, write_trace):
    # In a child process: keep_glibc_memory changes its process's glibc for good.
    import os
    import subprocess
    import sys

    import mallocsim

    trace = write_trace("small", TRACE)
    root = os.path.dirname(os.path.dirname(os.path.abspath(mallocsim.__file__)))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mallocsim",
            "bench",
            "-a",
            "segfit",
            "--min-seconds",
            "0.001",
            "--glibc-warm",
            str(trace),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": root},
    )
    assert done.returncode == 0, done.stderr
    assert "glibc: told to keep its pages between passes" in done.stdout
    run = cli("bench", "-a", "segfit", "--min-seconds", "0.001", trace)
    assert "glibc: its defaults" in run.said


def test_progress_is_a_line_per_check_and_per_timed_trace_on_stderr_unless_quiet(cli, write_trace):
    trace = write_trace("small", TRACE)
    loud = cli("bench", "-a", "segfit", "--min-seconds", "0.001", trace)
    quiet = cli("bench", "-a", "segfit", "--min-seconds", "0.001", "--quiet", trace)
    assert loud.status == quiet.status == 0, loud.err
    assert [re.sub(r" \(\d+\.\d s\)$", "", line) for line in loud.err.splitlines()] == [
        "bench [1/2] segfit: small: valid",  # checked (glibc, this process's malloc, is not)
        "bench [2/2] small, timed: valid",  # every allocator timed on it
    ]
    assert quiet.err == ""


@pytest.mark.parametrize("where", ["timed", "counted"])
def test_a_student_allocator_that_cheats_where_it_is_not_checked_fails(
    cli, write_trace, tmp_path, where
):
    # bench timed a student's code in a child of its own, unchecked: a file right while checked
    # and handing out one block for every call from its third mm_init on was reported valid at
    # 31 times glibc's speed, and counted by callgrind at 33 instructions an op against its
    # honest 6,048 (red-team pass 27). Its timed passes are checked in its agent now, and its
    # counted ones by mscount --verify.
    attack = "CHEAT_TIMED" if where == "timed" else "UNCHECKED_COUNT"
    defines = f'#define ATTACK {attack}\n#define ATTACK_PATH "any"\n#define ATTACK_PORT 0\n'
    source = fixture_variant("attacks", defines, tmp_path / "mm.c")
    out = tmp_path / "bench.json"
    args = ["--instructions"] if where == "counted" else []
    run = cli("bench", "-q", "-a", source, "--dialect", "classic", "--min-seconds", "0.01",
              *args, "--json", out, write_trace("t", TRACE))  # fmt: skip
    document = json.loads(out.read_text())
    [mine] = [s for s in document["bench"]["summary"] if s["allocator"] == str(source)]
    if where == "timed":
        assert run.status == 1, run.out
        assert "in the timed passes" in " ".join(run.out.split())
        assert mine["valid"] == 0 and mine["ops_per_sec_geomean"] is None
    else:
        assert mine["valid"] == 1  # right where checked and timed
        assert mine["instructions_per_op_geomean"] is None, mine  # its count left out


def test_a_hung_op_of_a_students_allocator_is_stopped_as_replay_stops_it(cli, write_trace):
    # bench had no stall limit: a hang waited out the CPU limit, minutes a trace, and was then
    # called "crashed with SIGXCPU" (red-team pass 27).
    run = cli("bench", "-q", "-a", fixture_allocator("hang"), "--dialect", "classic",
              "--min-seconds", "0.01", write_trace("t", "a 0 16\nf 0\n"))  # fmt: skip
    said = " ".join(run.out.split())
    assert run.status == 1 and "hung: stopped at op 1 (f 0) in the checked pass" in said, said
