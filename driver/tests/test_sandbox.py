"""The sandbox around a student's code (sandbox.py, c/src/sandbox.c, isolate.py):
every attack in the corpus (allocators/attacks.c, one build per attack) is
stopped and named, graded as a failure, and leaves the machine as it was: no
file written, no process left, no connection made, the grader alive, nothing
the attack printed in the grader's output. Honest allocators grade the same."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from mallocsim import instructions, isolate, limits
from mallocsim._native import NATIVE_DIR
from mallocsim.allocators import library_for, resolve
from mallocsim.clock_check import TOLERANCE
from mallocsim.errors import UsageError
from mallocsim.instructions import pass_instructions
from mallocsim.sandbox import resident_peak, stat_fields
from mallocsim.trace import load_trace

from .conftest import BUG_SHOWN_BY, fixture_allocator, fixture_variant, handed_in_library
from .test_build import CSAPP_TEMPLATE

TRACE = "".join(f"a {i} {16 + i}\n" for i in range(8)) + "".join(f"f {i}\n" for i in range(8))
SECRET = "the-other-students-secret-line"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def attacker(tmp_path):
    """attacker(name, **defines) -> an mm.c that makes attack `name`; handed_in: built as a
    library handed in ready-made, whose constructors run as it loads, before the seal (a graded
    mm.c's run once it is: the defences of the load are for such a library)."""

    def build(
        name: str,
        path: Path | None = None,
        port: int = 0,
        secret: str = "",
        handed_in: bool = False,
    ) -> Path:
        defines = f'#define ATTACK {name}\n#define ATTACK_PATH "{path or tmp_path / "x"}"\n'
        defines += f'#define ATTACK_PORT {port}\n#define ATTACK_SECRET "{secret[::-1]}"\n'
        source = fixture_variant("attacks", defines, tmp_path / f"{name.lower()}.c")
        return handed_in_library(source, source.with_suffix(".so")) if handed_in else source

    return build


def replay(cli, source: Path, trace: Path, *extra: object):
    return cli("replay", "-a", source, "--dialect", "classic", "--no-timing", "-q", trace, *extra)


def _children_of_us() -> list[int]:
    """Processes whose parent is this one (what an attack might leave behind)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        fields = stat_fields(int(entry.name))
        if fields and int(fields[1]) == os.getpid() and fields[0] != "Z":
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize(
    "attack, said",
    [
        ("CONSTRUCTOR_WRITE", "tried to create or write a file (openat)"),
        # system() ignores SIGINT and SIGQUIT first: the seal stops a signal's new action there
        (
            "RUN_PROGRAM",
            "tried to set a signal's action (one for SIGSYS hides the calls the sandbox denies; "
            "any keeps data in the kernel) (rt_sigaction)",
        ),
        ("RAW_SYSCALL", "tried to create or write a file (openat)"),
        ("DETACHED_CHILD", "tried to start a process"),
    ],
)
@pytest.mark.parametrize("command", ["replay", "grade"])
def test_an_attack_on_the_files_is_stopped_named_and_writes_nothing(
    cli, attacker, write_trace, tmp_path, attack, said, command
):
    target = tmp_path / "pwned"
    source = attacker(attack, target)
    trace = write_trace("t", TRACE)
    if command == "replay":
        run = replay(cli, source, trace)
    else:
        run = cli("grade", source, "--dialect", "classic", "--throughput", "time", "-q", trace,
                  "--trust-built")  # fmt: skip
    assert run.status == 1, run.out + run.err
    assert said in run.said
    time.sleep(0.1 if attack != "DETACHED_CHILD" else 2.5)  # what a grandchild would have done
    assert not target.exists()
    assert _children_of_us() == []


def test_a_fork_bomb_is_stopped_at_its_first_fork(cli, attacker, write_trace):
    run = replay(cli, attacker("FORK_BOMB"), write_trace("t", TRACE))
    assert run.status == 1 and "tried to start a process" in run.said
    assert _children_of_us() == []


def test_a_connection_is_never_made(cli, attacker, write_trace):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        run = replay(
            cli, attacker("CONNECT", port=server.getsockname()[1]), write_trace("t", TRACE)
        )
        assert run.status == 1 and "tried to use the network (socket)" in run.said
        with pytest.raises(BlockingIOError):
            server.accept()


def test_the_grader_cannot_be_killed(cli, attacker, write_trace):
    run = replay(cli, attacker("KILL_PARENT"), write_trace("t", TRACE))
    assert run.status == 1 and "tried to signal another process (kill)" in run.said


def _replay_process(source: Path, trace: Path) -> subprocess.CompletedProcess:
    """replay in a process of its own: what reaches its real stdout and stderr."""
    command = [sys.executable, "-m", "mallocsim", "replay", "-a", str(source), "--dialect",
               "classic", "--no-timing", str(trace)]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_what_the_allocator_prints_never_reaches_the_output(attacker, write_trace):
    run = _replay_process(attacker("FAKE_TABLE"), write_trace("t", TRACE))
    assert run.returncode == 0  # printing is not forbidden: it only goes nowhere
    assert "score 100.0" not in run.stdout + run.stderr


def test_a_grader_with_few_descriptors_open_still_names_the_denied_call(
    attacker, write_trace, tmp_path
):
    # A process of its own opens few descriptors (the CLI; a class's grade per process): its
    # progress words' memfd was 3, the number the agent's link is moved onto, and the agent mapped
    # the link as its words: the call the sandbox denied never reached the watching parent, which
    # said "a call the sandbox denies", unnamed (nor did the timed passes' progress).
    source = attacker("CONSTRUCTOR_WRITE", tmp_path / "pwned")
    run = _replay_process(source, write_trace("t", TRACE))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "tried to create or write a file (openat)" in " ".join(run.stdout.split())
    assert not (tmp_path / "pwned").exists()


def test_another_students_file_read_goes_nowhere(attacker, write_trace, tmp_path):
    secret = tmp_path / "other_mm.c"
    secret.write_text(SECRET)
    run = _replay_process(attacker("READ_AND_PRINT", secret), write_trace("t", TRACE))
    assert SECRET not in run.stdout + run.stderr


def _grade(cli, source: Path, trace: Path, *extra: object):
    return cli("grade", source, "--dialect", "classic", "--throughput", "time", "-q", trace,
               "--trust-built", *extra)  # fmt: skip


# Attacks a constructor makes as the library loads, before the seal: patching the engine's code or
# the sandbox's, taking memory, reading the process's files. A graded mm.c's constructors run once
# its process is sealed, which stops each of these there
# (test_a_graded_files_constructors_run_only_once_its_process_is_sealed); the tests of the
# defences against them make them as a library handed in built, whose constructors run as it loads.
AT_LOAD = {
    "PATCH_CHECKER", "GROWSDOWN_MEMORY", "SILENT_SIGSYS", "FAKE_CLOCK", "SKEWED_CLOCK",
    "FEW_PASSES", "NAN_CLAIM",
}  # fmt: skip

# Each would raise the grade if the verdict were made in the allocator's process.
FORGERIES = [
    ("FORGE_ANSWER", "op 1 (a 1 17): block 1 [heap+0x10"),  # one block, a perfect answer sent
    ("CHEAT_TIMED", "in the timed passes: op 1 (a 1 17): block 1 [heap+0x10"),
    ("PATCH_CHECKER", "op 1 (a 1 17): block 1 [heap+0x10"),
]


@pytest.mark.parametrize("attack, said", FORGERIES)
@pytest.mark.parametrize("command", ["replay", "grade"])
def test_a_forged_grade_is_caught_and_scores_zero(
    cli, attacker, write_trace, attack, said, command
):
    trace, source = write_trace("t", TRACE), attacker(attack, handed_in=attack in AT_LOAD)
    if command == "replay":
        run = cli("replay", "-a", source, "--dialect", "classic", "-q", trace)
        assert run.status == 1 and said in run.said, run.out
        return
    run = _grade(cli, source, trace)
    assert run.status == 1, run.out
    assert said in run.said and "score 0.0 / 100" in run.said, run.out


def test_rewriting_the_heaps_records_leaves_utilization_as_it_was(cli, attacker, write_trace):
    trace = write_trace("t", TRACE)
    honest = cli("replay", "-a", attacker("HONEST"), "--dialect", "classic", "-q", trace)
    forged = cli("replay", "-a", attacker("HIGH_WATER"), "--dialect", "classic", "-q", trace)
    assert honest.status == forged.status == 0
    utilization = [line.split()[2] for line in (honest.out, forged.out) for line in
                   line.splitlines() if line.startswith("t ")]  # fmt: skip
    assert utilization[0] == utilization[1] != "-"


def _allocs(count: int, freed: bool = False) -> str:
    """`count` mallocs of 16 to 79 bytes, where `freed` each freed at once."""
    return "".join(f"a {i} {16 + i % 64}\n" + (f"f {i}\n" if freed else "") for i in range(count))


def _graded_kops(
    cli, source: Path, trace: Path, record: Path, seconds: str = "seconds"
) -> tuple[float | None, str]:
    """(the trace's graded Kops/s, None when it was not graded valid; the grade's output, its
    lines joined: where they wrap moves with the temporary folder's name) under --throughput
    time. `seconds`: the result's field the Kops/s are of (the graded median pass by default,
    "seconds_min" for the fastest)."""
    run = cli("grade", source, "--dialect", "classic", "--throughput", "time", trace,
              "--json", record, "--trust-built")  # fmt: skip
    result = json.loads(record.read_text())["grade"]["results"][0]
    said = " ".join(run.out.split())
    if not result["valid"]:
        return None, said
    return result["ops"] / result[seconds] / 1000, said


def _honest_best_pass_kops(
    cli, source: Path, trace: Path, tmp_path: Path, enough: float | None
) -> float:
    """The Kops/s of the fastest timed pass of up to three honest grades, stopping at one of
    `enough` or more. A grade takes its passes' median wall time, which a loaded machine's stops
    and a virtual machine's stolen time lengthen, while a forgery is held to the kernel's count of
    its CPU time, which they do not: in CI the best of three honest grades made 52,390 Kops/s
    beside a forgery held to its count at 166,631 (its passes some 60 us; an earlier run, 45,383
    against 168,952). An honest grade's fastest pass is what its code runs at when nothing stops
    it: that CPU time."""
    fastest = 0.0
    for attempt in range(3):
        record = tmp_path / f"honest{attempt}.json"
        kops, said = _graded_kops(cli, source, trace, record, seconds="seconds_min")
        assert kops is not None, said
        fastest = max(fastest, kops)
        if enough is None or fastest >= enough:
            break
    return fastest


def test_the_kernel_lets_the_allocator_run_what_the_watch_allows(cli, attacker, write_trace):
    # The allocator's process had the trace's CPU limit of the kernel, while the watch lets its
    # timed passes run twice what its checked passes ran: a file whose checked passes took over
    # a third of the limit died of SIGXCPU in a timed pass, and a checked trace failed (lab check
    # 22: an implicit list that spins in malloc, 0 here, 60/100 under its driver).
    trace = write_trace("t", TRACE)
    run = replay(cli, attacker("CPU_LIMIT_SEEN", port=30), trace, "--timeout", "10")
    assert run.status == 0 and "(1/1 valid)" in run.out, run.out


def test_a_slowed_clock_is_caught_by_the_kernels_count(cli, attacker, write_trace):
    # Passes of some 4 ms (4000 steps a malloc) claimed at a tenth of their time: short of the
    # kernel's count by far more than a pass's stops can cost (200 us).
    trace = write_trace("big", _allocs(1000))
    source = attacker("FAKE_CLOCK", port=4000, handed_in=True)
    run = cli("replay", "-a", source, "--dialect", "classic", "-q", trace)
    assert run.status == 1 and "the timing was tampered with" in run.said, run.out
    honest = cli("replay", "-a", attacker("HONEST"), "--dialect", "classic", "-q", trace)
    assert honest.status == 0, honest.out


def test_a_claim_that_no_clock_gives_is_caught(cli, attacker, write_trace, tmp_path):
    # NaN over every pass's claimed seconds: it passed every comparison, and the trace dropped out
    # of T (and, in a counted grade, out of the clock check): 363 -> 286,373 Kops/s, 68.6 -> 84.4
    # (red-team pass 16).
    trace = write_trace("big", _allocs(1000) + "".join(f"f {i}\n" for i in range(1000)))
    source = attacker("NAN_CLAIM", handed_in=True)
    kops, said = _graded_kops(cli, source, trace, tmp_path / "nan.json")
    assert kops is None and "claimed nan s for timed pass 1" in said, said
    assert "the timing was tampered with" in said, said


@pytest.mark.parametrize(
    "attack, steps, ops",
    [
        # Nine passes in ten claimed 0.1 us and the tenth the time they hid: the sum check held,
        # and the median, what a trace is graded by, made 159 Kops/s 56,940,000 (red-team pass
        # 5). A pass is graded at no less than the kernel's count of its CPU time, less 200 us.
        ("SKEWED_CLOCK", 4000, 1000),
        # The same on passes of some 65 us, which that floor does not reach: 30,639 -> 9,999,924
        # Kops/s (red-team pass 14). A claim now covers its own pass's count only.
        ("SKEWED_CLOCK", 100, 1000),
        # Four passes in five of some 65 us claimed as nothing, the fifth made long so that the
        # run ended after five: the sum's allowance covered the four (red-team pass 15: 30,611
        # -> 10,100,607 Kops/s). Each pass is now graded at no less than its count less 8 us.
        ("FEW_PASSES", 100, 1000),
        # A clock at a tenth of its speed on passes of some 30 us: short of the count by less
        # than a loaded machine's stops can make an honest pass's (three tries running, 3.4 us
        # passes were once counted 16 us more), so no verdict, and the grade says so (under
        # load, a verdict: below).
        ("FAKE_CLOCK", 0, 5000),
    ],
)
def test_a_clock_short_of_the_kernels_count_gains_no_throughput(
    cli, attacker, write_trace, tmp_path, attack, steps, ops
):
    trace = write_trace("big", _allocs(ops) + "".join(f"f {i}\n" for i in range(ops)))
    forged, said = _graded_kops(
        cli, attacker(attack, port=steps, handed_in=True), trace, tmp_path / "f.json"
    )
    fair = attacker("SKEWED_CLOCK", Path("honest"), port=steps, handed_in=True)
    honest = _honest_best_pass_kops(
        cli, fair, trace, tmp_path, enough=None if forged is None else forged / 3
    )
    if forged is None:  # short by far more than any stops (4 ms passes), or a claim below 0
        # (SKEWED_CLOCK's pairs of reads out of step with the passes): a verdict. FAKE_CLOCK's
        # too where load stretches its passes past what stops explain (CI, stop 52: claimed
        # 0.048 s of 0.49 counted, 3 tries): it gains nothing either way.
        assert "the timing was tampered with" in said, said
        return
    # What a pass's CPU count leaves out is what a claim can still hide: 8 us and 2% of a pass.
    # A run of this test, idle: the forgery graded at 168,955 Kops/s, the honest build's fastest
    # pass 100,464 and its median 50,665 (held to the median, the bound failed).
    assert forged < 3 * honest, (honest, forged)
    if attack == "FAKE_CLOCK":  # SKEWED_CLOCK's pattern can fall out of step with the passes
        assert "claimed less than the kernel's count" in said, said


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one CPU: nothing to hold it to")
def test_the_timed_passes_run_on_one_cpu_beside_their_grader(cli, attacker, write_trace, tmp_path):
    # On two cores each timed pass wrote log lines the grader's core had read at the pass before:
    # the same segfit code ran binary2-bal a third slower handed in than built in. The probe
    # works at every malloc while it may run on more than one CPU: the checked passes (any core)
    # slow, the timed ones (held to one) as fast as a bump pointer.
    trace = write_trace("probe", _allocs(200, freed=True))
    record = tmp_path / "probe.json"
    probe = attacker("ONE_CPU_PROBE", port=100_000, handed_in=True)
    run = cli("replay", "-a", probe, "--dialect", "classic", trace, "-q", "--json", record)
    assert run.status == 0, run.said
    result = run.json(record)["runs"][0]["traces"][0]
    assert result["valid"], result["error"]
    assert result["seconds"] < result["checked_seconds"] / 20, result


def test_the_checked_passes_cannot_read_the_ops_to_come(cli, attacker, write_trace):
    # The link held the whole trace from the agent's start: a hidden trace's future, for an
    # allocator to place its blocks offline in the passes utilization is made of. The ops are
    # sent with the first timed call.
    size = 98765  # in no other trace
    trace = write_trace("hidden", f"a 0 16\na 1 {size}\nf 0\nf 1\n")
    source = attacker("PEEK_TRACE", port=size)
    run = cli("replay", "-a", source, "--dialect", "classic", "-q", trace)  # timed passes too
    assert run.status == 0, run.out


def test_a_counted_grade_times_by_the_kernels_count_not_the_agents_clock(
    cli, attacker, write_trace, tmp_path
):
    # Where the agent's clock claims less than the kernel counted, the clock check of an
    # instruction count takes the kernel's count: a slowed clock does not help, and needs no
    # verdict (one that load could trip: a class graded with -j 2 saw an honest 2,000-pass
    # trace charged 13 us a pass over its claims, three tries running, and graded 0).
    ops = 5000
    trace = write_trace("big", _allocs(ops) + "".join(f"f {i}\n" for i in range(ops)))
    record = tmp_path / "grade.json"
    source = attacker("FAKE_CLOCK", handed_in=True)
    run = cli(
        "grade", source, "--dialect", "classic", "-q", trace, "--json", record, "--trust-built"
    )
    assert run.status == 0, run.out
    result = json.loads(record.read_text())["grade"]["results"][0]
    assert result["valid"] and result["cpu_seconds"] > 5 * result["seconds"], result


def _kernel_version() -> tuple[int, ...]:
    return tuple(int(part) for part in platform.release().split("-")[0].split(".")[:2])


@pytest.mark.skipif(
    (6, 6) <= _kernel_version() < (6, 12),
    reason="EEVDF before 6.12 lets no woken task preempt: a short slice cannot help there",
)
def test_a_checked_replay_sharing_its_core_with_a_busy_process_is_not_slowed_a_slice_an_op(
    cli, write_trace
):
    # Every checked op is two hand-overs between the grader and its agent. On a core a busy
    # process holds, a woken side that waited for the busy one's slice (as EEVDF lets it) made
    # binary2-bal take 101 s instead of 0.2; the short slice remote.c asks for lets it preempt.
    ops = 4000
    trace = write_trace("t", "".join(f"a {i} 16\nf {i}\n" for i in range(ops)))
    source = fixture_allocator("good_bump")
    assert replay(cli, source, trace).status == 0  # built and cached: only the replay is timed
    started = time.monotonic()
    assert replay(cli, source, trace).status == 0
    idle = time.monotonic() - started
    own = os.sched_getaffinity(0)
    core = {min(own)}
    busy = subprocess.Popen(
        [sys.executable, "-c", "while True: pass"],
        preexec_fn=lambda: os.sched_setaffinity(0, core),
    )
    try:
        os.sched_setaffinity(0, core)  # the grader and its agent inherit the one core
        started = time.monotonic()
        run = replay(cli, source, trace)
        shared = time.monotonic() - started
    finally:
        os.sched_setaffinity(0, own)
        busy.kill()
        busy.wait()
    assert run.status == 0, run.out
    # Half a core: about twice the idle time. A slice a hand-over: seconds per thousand ops.
    assert shared < 4 * idle + 1.0, (idle, shared)


def test_the_allocator_finds_nothing_of_the_graders_memory(cli, attacker, write_trace):
    # This process held the secret, as a grader can hold another student's code; the grader is
    # forked from it, but the agent is a program of its own, so nothing of it is there to find.
    secret = f"mallocsim-secret-{uuid.uuid4().hex}"
    held = secret.encode()
    source = attacker("FIND_SECRET", secret=secret, handed_in=True)  # searching as it loads
    run = replay(cli, source, write_trace("t", TRACE))
    assert run.status == 0, run.out
    # The search works: what the agent's own process holds (its program's path) it finds.
    own = attacker("FIND_SECRET", secret="_native/msagent", handed_in=True)
    control = replay(cli, own, write_trace("t", TRACE))
    assert control.status == 1 and "mm_init" in control.said, control.out
    assert held in secret.encode()


def test_the_agent_reads_its_library_but_not_the_sources_built_beside_it(
    cli, attacker, write_trace
):
    # The agent could read its build folder's mm.c, mm.i and mm.s: a comment of the source could
    # carry payload bytes an earlier grade's assert() had shown, for the same key (red-team pass
    # 19). Its library file alone is readable now.
    run = replay(cli, attacker("READ_OWN_SOURCE"), write_trace("t", TRACE))
    assert run.status == 0, run.out


def test_the_payload_pattern_cannot_be_worked_out_by_the_allocator(cli, attacker, write_trace):
    # A realloc that writes the pattern it expects instead of copying the data passes a checker
    # whose pattern follows from the block's first word; the grader's is keyed by its own secret.
    trace = write_trace("t", "a 0 64\nr 0 128\nf 0\n")
    run = replay(cli, attacker("REGENERATE"), trace)
    assert run.status == 1 and "realloc did not keep the data" in run.said, run.out
    assert replay(cli, attacker("HONEST"), trace).status == 0


def test_a_fault_under_the_keyed_pattern_is_told_alike_every_run(cli, write_trace):
    # The keyed pattern's bytes change every run: a message naming the expected byte would too.
    trace = write_trace("t", BUG_SHOWN_BY["metadata_overwrite"][1])
    runs = [replay(cli, fixture_allocator("metadata_overwrite"), trace) for _ in range(2)]
    assert all(run.status == 1 and "was overwritten while the block was live" in run.said
               for run in runs)  # fmt: skip
    assert runs[0].out == runs[1].out and "expected 0x" not in runs[0].said, (
        runs[0].out,
        runs[1].out,
    )


def test_the_graders_pipe_is_out_of_the_allocators_reach(cli, attacker, write_trace):
    # The agent holds no descriptor of the grader's: what it writes goes nowhere, and an
    # endless write is a hang like any other.
    start = time.monotonic()
    run = replay(cli, attacker("ENDLESS_WRITE"), write_trace("t", TRACE))
    assert run.status == 1 and "hung: stopped at op 1 (a 1 17)" in run.said, run.out
    assert time.monotonic() - start < 30
    garbage = replay(cli, attacker("PIPE_GARBAGE"), write_trace("t", TRACE))
    assert garbage.status == 0, garbage.out


def test_garbage_written_into_the_counters_output_costs_the_count_not_the_grader(
    cli, attacker, write_trace
):
    # A count runs the allocator inside mscount, whose output the grader reads: once, that
    # output's garbage ended the grade in a traceback. What it wrote is not shown: the code can
    # read the traces there, and quoted so, a hidden trace's first bytes reached the grade's
    # notes (red-team pass 20).
    run = cli("grade", attacker("PIPE_GARBAGE"), "--dialect", "classic", "-q",
              write_trace("t", TRACE))  # fmt: skip
    said = " ".join(run.said.split())
    assert run.status == 0 and "Traceback" not in run.err, run.err
    assert "throughput not counted: cachegrind run of" in said
    assert "the counter's output was written over (by the allocator" in said
    assert "forged" not in said and "line" not in said, said


def test_memory_from_the_kernel_is_denied_once_the_library_is_loaded(cli, attacker, write_trace):
    run = replay(cli, attacker("KERNEL_MEMORY"), write_trace("t", TRACE))
    assert run.status == 1
    assert "tried to take memory from the kernel (mmap) at op 1" in run.said, run.out


def test_read_only_memory_made_writable_is_denied_once_the_library_is_loaded(
    cli, attacker, write_trace
):
    run = replay(cli, attacker("WRITABLE_RODATA"), write_trace("t", TRACE))
    assert run.status == 1
    assert "tried to make read-only memory writable (mprotect) at op 1" in run.said, run.out


@pytest.mark.parametrize(
    "attack, said",
    [
        ("IO_URING", "tried to use io_uring (io_uring_setup) at op 1"),
        (
            "OUTLIVE",
            "tried to outlive the grader, hide from it, or keep data in its name (prctl) at op 1",
        ),
    ],
)
def test_ways_past_the_filters_are_denied(cli, attacker, write_trace, attack, said):
    # io_uring created, renamed and deleted files past every rule; an agent that undid its
    # death with the grader outlived a timed-out grade and, by io_uring, wrote its results.
    run = replay(cli, attacker(attack), write_trace("t", TRACE))
    assert run.status == 1 and said in run.said, run.out


# Red-team pass 10, as root: the agent owns root's files, and the filter named chmod but not
# fchmodat2 (Linux 6.6), nor utimes, lsetxattr, the flags' ioctl: a submission made files setuid and
# world-writable, and made msagent unexecutable for every student graded after it; AIO's rings
# were memory past the seal (headers off the heap: +3.6 points of utilization). Pass 11: a rule on
# an int argument bypassed by bit 32 (the agent undid its death with its grader and, out of its
# process group, outlived a hung grade, spinning through the next students' timed passes; a
# file's flags set); a stack raised to unlimited, a MAP_GROWSDOWN mapping, pipes and the LDT held
# tables off the heap. Pass 12: the page cache carried a trace from one agent to the next. Pass
# 14: an undumpable agent's maps are unreadable to a grader that is not root. Pass 17: a SIGSYS
# handler of its own left every denied call unnamed; pass 18: so did the sandbox's own handler,
# its `signal` and `raise` imports pointed at functions that return.
@pytest.mark.parametrize(
    "attack, said",
    [
        ("FILE_MODE", "tried to change a file's permissions (fchmodat2) at op 1"),
        ("FILE_TIMES", "tried to change a file's times (utimes) at op 1"),
        ("FILE_XATTR", "tried to change a file's attributes (lsetxattr) at op 1"),
        ("FILE_FLAGS", "tried to change a file's attributes (ioctl) at op 1"),
        ("FLAGS_WIDE", "tried to change a file's attributes (ioctl) at op 1"),
        ("AIO_MEMORY", "tried to use asynchronous I/O (io_setup) at op 1"),
        ("NEWER_CALL", "tried to make a system call newer than the sandbox knows (?) at op 1"),
        (
            "OUTLIVE_WIDE",
            "tried to outlive the grader, hide from it, or keep data in its name (prctl) at op 1",
        ),
        ("LEAVE_GROUP", "tried to leave the grader's process group (setsid) at op 1"),
        ("STACK_STORE", "crashed with SIGSEGV at op 1"),
        ("GROWSDOWN_MEMORY", "took 64.0 MiB of memory from the kernel while its library loaded"),
        ("PIPE_STORE", "tried to keep data in the kernel (pipe2) at op 1"),
        ("LDT_STORE", "tried to keep data in the kernel (modify_ldt) at op 1"),
        ("KERNEL_OBJECTS eventfd", "tried to keep data in the kernel (eventfd2) at op 1"),
        ("KERNEL_OBJECTS timer", "tried to keep data in the kernel (timer_create) at op 1"),
        ("KERNEL_OBJECTS timerfd", "tried to keep data in the kernel (timerfd_create) at op 1"),
        ("KERNEL_OBJECTS signalfd", "tried to keep data in the kernel (signalfd4) at op 1"),
        ("KERNEL_OBJECTS epoll", "tried to keep data in the kernel (epoll_create1) at op 1"),
        (
            "KERNEL_OBJECTS action",
            "tried to set a signal's action (one for SIGSYS hides the calls the sandbox denies; "
            "any keeps data in the kernel) (rt_sigaction) at op 1",
        ),
        ("KERNEL_OBJECTS itimer", "tried to keep data in the kernel (setitimer) at op 1"),
        ("KERNEL_OBJECTS altstack", "tried to keep data in the kernel (sigaltstack) at op 1"),
        (
            "KERNEL_OBJECTS name",
            "tried to outlive the grader, hide from it, or keep data in its name (prctl) at op 1",
        ),
        ("FILE_LOCK fcntl", "tried to lock, lease or watch a file (fcntl) at op 1"),
        ("FILE_LOCK ofd", "tried to lock, lease or watch a file (fcntl) at op 1"),
        ("FILE_LOCK flock", "tried to lock, lease or watch a file (flock) at op 1"),
        ("FILE_LOCK lease", "tried to lock, lease or watch a file (fcntl) at op 1"),
        ("OTHER_ABI", "tried to make a system call through another ABI than its own (getpid)"),
        ("PAGE_CACHE", "tried to watch the page cache (mincore) at op 1"),
        (
            "HIDE_MEMORY",
            "tried to outlive the grader, hide from it, or keep data in its name (prctl) at op 1",
        ),
        (
            "OWN_SIGSYS",
            "tried to set a signal's action (one for SIGSYS hides the calls the sandbox denies; "
            "any keeps data in the kernel) (rt_sigaction) at op 1",
        ),
        ("SILENT_SIGSYS", "tried to use the network (socket) at op 1"),
    ],
)
def test_no_file_changed_no_process_left_nothing_kept_beside_the_heap(
    cli, attacker, write_trace, tmp_path, attack, said
):
    target = tmp_path / "victim"
    target.write_text("x")
    before = os.stat(target)
    attack, _, which = attack.partition(" ")  # "KERNEL_OBJECTS eventfd": the attack, its object
    source = attacker(attack, which or target, handed_in=attack in AT_LOAD)
    run = replay(cli, source, write_trace("t", TRACE))
    assert run.status == 1 and said in " ".join(run.said.split()), run.out
    after = os.stat(target)
    assert (after.st_mode, after.st_mtime_ns) == (before.st_mode, before.st_mtime_ns)
    assert os.listxattr(target) == []
    assert _children_of_us() == []


@pytest.mark.parametrize("way", ["open", "kept", "readlink"])
def test_no_file_is_read_once_the_trace_is_in_sight(cli, attacker, write_trace, way):
    # A read sets a file's access time where it was stale: one bit a later process reads by
    # stat. A grade's x86-64 build left a hidden trace's shape in 24 system files' times for its
    # -m32 build, and one student's grade left it for a classmate's (red-team pass 35). mm_init
    # fails when its read works: by a path, by a descriptor a constructor opened, by readlink.
    run = replay(cli, attacker("READ_WHEN_SEALED", way), write_trace("t", TRACE))
    assert run.status == 0, run.out + run.err


def _counted(cli, source: Path, trace: Path) -> str:
    """What a counted grade of `source` says, in one line."""
    run = cli("grade", source, "--dialect", "classic", "--throughput", "instructions", "-q", trace,
              "--trust-built")  # fmt: skip
    assert run.status == 0, run.out + run.err
    return " ".join(run.said.split())


@pytest.mark.parametrize("way", ["open", "cmdline", "valgrind", "creat", "rdwr"])
def test_the_counted_pass_reads_no_file_once_the_trace_is_in_sight(cli, attacker, write_trace, way):
    # valgrind's pass sees the trace too: a read there would leave its bits for a later grade,
    # and /proc/self/cmdline, which valgrind answers with a writable file of its own, carried
    # what one pass wrote to the next (red-team pass 36), as did that file reached by its number
    # (pass 37); an open "to read or create" read a stale file, and a file opened to read and
    # write stood in for the traces' socket (pass 46). The attack's mm_init fails, and the count
    # with it, when its read works.
    said = _counted(cli, attacker("READ_WHEN_SEALED", way), write_trace("t", TRACE))
    assert "not counted" not in said and "instructions counted by valgrind" in said, said


def test_the_counted_pass_opens_no_file_for_neither_reading_nor_writing(cli, attacker, write_trace):
    # Access mode 3 asks Landlock for no right: the counted pass leased a file it may not read
    # and turned the grader's terminal's echo off (red-team pass 36). The count is killed.
    said = _counted(cli, attacker("READ_WHEN_SEALED", "mode3"), write_trace("t", TRACE))
    assert "throughput not counted" in said, said


@pytest.mark.parametrize(
    ("attack", "way", "did"),
    [
        ("READ_WHEN_SEALED", "stdin", "put another file in place of descriptor 0, 1 or 2 as"),
        ("SEAL_BLOCKED", "agent", "installed a system-call filter of its own (seccomp), or hid"),
    ],
)
def test_a_library_that_changes_what_the_seal_relies_on_as_it_loads_is_refused(
    cli, attacker, write_trace, attack, way, did
):
    # Descriptors 0-2 stay open past the seal: one a constructor put there would read its file.
    # And a constructor's seccomp filter answered the seal's installation with success and
    # installed nothing: every sealed call worked after it, and an allocator that kept its
    # bookkeeping in kernel memory graded 93.9 where the same file without the filter gets 0
    # (red-team pass 39). The agent holds itself to what it was before the load.
    source, trace = attacker(attack, way, handed_in=True), write_trace("t", TRACE)
    said = f"its library {did}"
    run = replay(cli, source, trace)
    assert run.status == 2 and said in run.err, run.out + run.err
    graded = _grade(cli, source, trace, "--lab", "csapp")
    assert said in " ".join(graded.said.split()), graded.out
    assert re.search(r"score +0 / 100", graded.out), graded.out


def test_a_seal_the_agent_skipped_is_seen_by_the_grader(cli, attacker, write_trace):
    # A constructor may rewrite the agent's memory before the seal, and point the calls that check
    # the load and seal it at functions that say all is well: the grader holds the kernel's count
    # of the agent's filters, read from outside, to one more than before the load.
    source, trace = attacker("SEAL_SKIPPED", handed_in=True), write_trace("t", TRACE)
    run = replay(cli, source, trace)
    said = (
        r"was not sealed: its process has (\d+) system-call filters where the sandbox stacks (\d+)"
    )
    found = re.search(said, " ".join(run.out.split()))
    assert run.status == 1 and found, run.out + run.err
    assert int(found[2]) == int(found[1]) + 1  # the seal, missing


@pytest.mark.parametrize(
    ("attack", "way"), [("SEAL_BLOCKED", "count"), ("READ_WHEN_SEALED", "lowered")]
)
def test_the_count_refuses_a_library_that_loaded_past_its_seal(
    cli, attacker, write_trace, attack, way
):
    # The same filter undid the count's seal of reads, and so did descriptors kept past a limit
    # the constructor lowered, out of the closes' reach and in numbers that filled the list of
    # valgrind's own: the counted pass read files once the trace was in sight, and left its first
    # sizes in their access times for a classmate's grade (red-team pass 39). mscount refuses the
    # load (status 2; what it says is not shown, as the allocator shares its process).
    counted = _counted(cli, attacker(attack, way, handed_in=True), write_trace("t", TRACE))
    assert "throughput not counted" in counted and "failed (status 2;" in counted, counted


# Where an allocator kept its state out of every count of mm.c's data, under CMU's rule 80.0 ->
# 100.0 each: the rest of the last data page of the engine's own libraries (red-team pass 42);
# the 1.5 KiB of static TLS ld.so reserves and no object loaded uses, below the lowest block
# (pass 43); the drivers' msg, defined by the heap's library and counted as mm.c's global data
# where mm.c names it, found instead by that library's symbol table, and the C library's resolver
# state, through its own thread-local pointer to it with no call of the trapped __res_state
# (pass 44). The agent watches each as it watches the rest of mm.c's own last data page.
@pytest.mark.parametrize(
    ("way", "what", "detail"),
    [
        ("libmsheap", "wrote past the end of another library's data",
         r"1 of the \d+ bytes after libmsheap\.so's last variable changed"),
        ("static TLS", "wrote into the spare static thread-local storage",
         r": 1 of its \d+ bytes changed, from \+\d+ \(no object's"),
        ("msg", "wrote into a variable of another library's that it does not use",
         r": msg: 1 of its 1024 bytes changed, from \+100"),
        ("_res", "wrote into a variable of another library's that it does not use",
         r": _res: 1 of its 568 bytes changed, from \+100"),
    ],
)  # fmt: skip
def test_state_kept_where_no_count_of_mm_cs_data_sees_it_is_seen(
    cli, attacker, write_trace, way, what, detail
):
    run = replay(cli, attacker("STASH_ELSEWHERE", Path(way)), write_trace("t", TRACE))
    said = " ".join(run.said.split())
    assert run.status == 1, said
    assert f"{what}, by mm_init" in said, said
    assert re.search(detail, said), said


@pytest.mark.parametrize(
    ("way", "said"),
    [("write", "crashed with SIGSEGV at op 1 (a 1 "),
     ("madvise", "undid the grader's watch of the memory no object owns, by op 1 (a 1 ")],
)  # fmt: skip
def test_the_watch_of_memory_no_object_owns_cannot_be_written(
    cli, attacker, write_trace, way, said
):
    # Its table and pattern were writable: an allocator set the table's count to 0 and kept its
    # state in any page rest, or kept 4 KiB in the pattern (red-team pass 44, 80.0 -> 100.0 under
    # CMU's rule). They are read-only once set; and a read-only page given back to the kernel
    # reads as zeros, its count 0 (pass 45): a table that reads so fails the check.
    run = replay(cli, attacker("WATCH_TABLE", Path(way)), write_trace("t", TRACE))
    assert run.status == 1 and said in " ".join(run.said.split()), run.said


@pytest.mark.parametrize(
    ("way", "outcome"),
    [("said", "1/1 valid"), ("log", "crashed with SIGBUS"), ("words", "1/1 valid"),
     ("phase", "1/1 valid"), ("timed pass", "1/1 valid"), ("padding", "1/1 valid"),
     ("denied", "(0/1 valid)")],
)  # fmt: skip
def test_no_state_is_kept_in_the_link_with_the_grader(cli, attacker, write_trace, way, outcome):
    # The agent's link with its grader kept an allocator's state from one call to the next: 512
    # bytes of the agent's words, and the timed passes' megabytes, which no checked pass writes
    # (red-team pass 46: 80.0 -> 100.0 under CMU's rule, no global data counted), and the page
    # of the parent's progress words past them. The words, and that page, are cleared before
    # every call, and the timed passes' areas lie past the link's file until the first timed
    # call: a touch there ends the checked pass. Then the progress words before and after the op
    # index, which only a pass's start rewrites, and the link's padding after `pass` kept 20
    # bytes (red-team pass 47): put back, or cleared, at every call. The denied word kept 8 more,
    # cleared before the end: it keeps what was first written there, a denied call.
    run = replay(cli, attacker("LINK_STASH", Path(way)), write_trace("t", TRACE))
    assert outcome in " ".join(run.said.split()), run.said


def test_a_crash_in_the_timed_passes_is_reported_there_whatever_the_agent_wrote(
    cli, attacker, write_trace
):
    # The phase word is the agent's to write too: within its timed passes one wrote "the checked
    # pass" there and crashed, and a crash in a checked pass has the -m32 build graded, after
    # the x86-64 one had seen the whole trace (red-team pass 48). The phase is taken from the
    # child's own copy, which no agent maps.
    attack = attacker("LINK_STASH", Path("forged phase"))
    run = cli("replay", "-a", attack, "--dialect", "classic", "-q", write_trace("t", TRACE))
    said = " ".join(run.said.split())
    assert "crashed with SIGSEGV" in said and "in timed pass" in said, said
    assert "checked pass" not in said, said


@pytest.mark.parametrize("where", ["agent", "count"])
def test_no_access_time_is_set_by_the_allocators_lookups(
    cli, attacker, write_trace, tmp_path, where
):
    # Walking a path through a symbolic link sets the link's access time where it is a day old:
    # one agent looked up stale links of /usr by a hidden trace's first sizes, and a classmate's
    # read them back with lstat (red-team pass 46). The agent and the count see every mount
    # noatime.
    if subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode != 0:
        pytest.skip("a mount namespace of the sandbox's own needs CAP_SYS_ADMIN")
    target, link = tmp_path / "target", tmp_path / "link"
    target.write_text("x")
    link.symlink_to(target)
    stale = time.time() - 3 * 86400
    os.utime(link, (stale, stale), follow_symlinks=False)
    attack = attacker("STAT_THROUGH_LINK", link, port=int(where == "count"))
    if where == "agent":
        replay(cli, attack, write_trace("t", TRACE))
    else:
        _counted(cli, attack, write_trace("t", TRACE))
    assert link.lstat().st_atime == pytest.approx(stale, abs=1), where


def test_the_agent_walks_no_path_once_sealed(cli, attacker, write_trace, tmp_path):
    # The kernel's cache of names not found is the machine's: a stat of a new name takes about
    # five times a second one's time, a bit any later process reads by timing. An agent sent a
    # hidden trace's first sizes so to a later grade's, and its answers to its count's
    # constructor (red-team pass 48: 57.4 -> 93.6). Sealed, the agent's stat, access and fstatat
    # (with AT_EMPTY_PATH too, which walks a path that is not empty) are refused, no walk made.
    attack = attacker("WALKS_A_PATH", tmp_path / "never-made")
    run = replay(cli, attack, write_trace("t", TRACE))
    assert run.status == 0 and "(1/1 valid)" in run.said, run.said


def test_the_counts_paths_reach_no_name_outside_its_folder(cli, attacker, write_trace, tmp_path):
    # The count's seal keeps path walks (valgrind writes its profiles by path): a counted pass
    # stat()ed new names by a hidden trace's sizes, and a later grade's count read them back by
    # timing the same stats (red-team pass 49: a file graded twice was counted at 53.7
    # instructions an op on cp-decl against 14,060). Sealed, the count's root is its own folder:
    # the attack's mm_init, which fails where its stat finds a file that exists, is counted.
    there = tmp_path / "there"
    there.write_text("x")
    counted = _counted(cli, attacker("WALKS_A_PATH", there), write_trace("t", TRACE))
    assert "instructions counted by valgrind" in counted and "not counted" not in counted, counted


@pytest.mark.parametrize("way", ["fork", "exit", "printf"])
def test_no_handler_of_the_allocators_runs_outside_the_counted_passes(
    cli, attacker, write_trace, way
):
    # A started allocator registered a fork handler, which ran in the count with every trace
    # parsed before each counted child (46.3 -> 81.2), and an exit handler, which rewrote the
    # results still buffered (failed passes counted: red-team pass 43). The count forks without
    # them and leaves by _exit, its results flushed. A handler of printf's %d ran as each trace's
    # header was read, the trace whole in memory (46.3 -> 81.2 again), and as the results were
    # printed (pass 44): the count reads and writes them with no call of the printf family.
    headed = "1000\n8\n16\n1\n" + TRACE  # its header lines are what a %d was printed for
    counted = _counted(cli, attacker("HANDLERS_OUTSIDE", Path(way)), write_trace("t", headed))
    assert "not counted" not in counted and "instructions counted by valgrind" in counted, counted


@pytest.mark.parametrize("way", ["mprotect", "remap", "memfd"])
def test_no_memory_is_made_writable_once_the_count_is_sealed(cli, attacker, write_trace, way):
    # A started allocator made a page of mscount's code writable, after which any check of
    # mscount's could be rewritten (red-team pass 42), and again by moving a writable copy over
    # it; and made a file of memory whose empty reads hid a helper process from the count's look
    # at its children, the helper running every counted op (pass 44: 46.3 -> 81.2). The count's
    # seal refuses each, as the agent's traps them: the allocator's mm_init, which needs it,
    # fails in every counted pass.
    counted = _counted(cli, attacker("WRITABLE_CODE", Path(way)), write_trace("t", TRACE))
    assert "throughput not counted" in counted, counted


@pytest.mark.parametrize("way", ["peek", "refeed"])
def test_the_count_takes_the_traces_from_the_graders_socket_alone(cli, attacker, write_trace, way):
    # A started allocator read the preamble through the count's own stream and set its buffer
    # back: mscount found it there, the grader had sent the traces, and a peek saw them uncounted
    # (red-team pass 42). The count reads the socket itself now: the preamble is gone, the count
    # is refused. Then one read the traces whole and put a pipe holding them in the grader's
    # place, the identity the count kept of the socket rewritten on the stack (pass 46): the
    # count asks the kernel whether it reads a socket (its sandbox makes none: the one there is
    # the grader's), and refuses the pipe.
    attack = attacker("PEEK_PAST_THE_PREAMBLE", Path(way))
    counted = _counted(cli, attack, write_trace("t", TRACE))
    assert "throughput not counted" in counted and "failed (status 2;" in counted, counted


@pytest.mark.parametrize("signal", [33, 34])
def test_no_signal_reaches_the_counted_code_outside_its_passes(cli, attacker, write_trace, signal):
    # glibc's sigfillset leaves out the two signals it keeps for its threads: a handler for 33,
    # called by the traces' socket as they came, ran outside any pass (red-team pass 40). Every
    # signal is blocked now; 34 is the control.
    counted = _counted(cli, attacker("SIGNAL_OUTSIDE", port=signal), write_trace("t", TRACE))
    assert "not counted" not in counted and "instructions counted by valgrind" in counted, counted


def test_an_agent_that_cannot_start_is_the_graders_failure_not_a_grade(
    cli, attacker, write_trace, monkeypatch
):
    # A submission made msagent unexecutable (red-team pass 10): every student graded after it
    # got "0/100, the team record could not be read: exited with status 127 at load", and a class
    # run cached those zeros. A failed start is now said as the grader's, and grades nothing.
    from mallocsim import remote

    monkeypatch.setattr(remote, "AGENT", "msagent-not-there")
    run = _grade(cli, attacker("HONEST"), write_trace("t", TRACE), "--lab", "csapp")
    assert run.status == 2 and "score" not in run.out, run.out
    assert "the grader cannot start the allocator's process (" in run.err, run.err
    assert "msagent-not-there: No such file or directory): check the installation" in run.err


def test_the_allocator_reads_no_file_of_the_graders(cli, attacker, write_trace, tmp_path):
    # Reads were allowed: a constructor put another student's file, /etc/shadow or the grader's
    # environment (/proc/PPID/environ) in the team record, which the grade prints (Landlock).
    secret = tmp_path / "other_mm.c"
    secret.write_text(SECRET)
    for path in (secret, Path(f"/proc/{os.getpid()}/environ")):
        source = attacker("READ_INTO_TEAM", path)
        run = cli("grade", source, "--dialect", "classic", "--lab", "csapp", "-q",
                  write_trace("t", TRACE))  # fmt: skip
        assert "Team Name:nothing read" in run.out, run.out
        assert SECRET not in run.out + run.err


def test_the_instruction_count_reads_no_file_of_the_graders_nor_its_environment(
    cli, attacker, write_trace, tmp_path, monkeypatch
):
    # valgrind ran the student's constructors with reads open and the grader's whole environment:
    # one that printed a file on stderr and exited 2 put /etc/shadow, another student's file or
    # the grader's secrets in the grade, as the count's error ("cachegrind run ... failed: root:").
    monkeypatch.setenv("MY_GRADER_SECRET", SECRET)
    secret = tmp_path / "other_mm.c"
    secret.write_text(SECRET)
    # A hidden trace, which the count could read: its lines were shown (red-team pass 10). It is
    # not the count's to open any more (its pipe: red-team pass 30).
    trace = write_trace("t", TRACE.replace("a 7 23", "a 7 123457"))
    for path in (secret, Path("/proc/self/environ"), trace):
        source = attacker("LEAK_BY_ERROR", path, handed_in=True)
        run = cli("grade", source, "--dialect", "classic", "--lab", "csapp", "--no-cache",
                  "--throughput", "instructions", trace, "--trust-built")  # fmt: skip
        assert SECRET not in run.out + run.err, (path, run.out)
        assert "123457" not in run.out + run.err, (path, run.out)
        assert "\x1b" not in run.out + run.err, run.out
        # The other student's file and the trace cannot be opened: the constructor gives up, the
        # count runs.
        unreadable = path in (secret, trace)
        assert not unreadable or "throughput not counted" not in run.out, run.out
        assert unreadable or "what was said there is not shown" in run.out, run.out


def test_words_the_agent_wrote_for_the_grader_are_shown_escaped(cli, attacker, write_trace):
    # The link's words are shared: a constructor wrote ESC[2J, a green "score 100 / 100" and
    # ESC[8m as the grader's verdict on it, and they reached the terminal as they were.
    run = cli("grade", attacker("FORGE_VERDICT", handed_in=True), "--dialect", "classic",
              "--lab", "csapp", "--throughput", "time", write_trace("t", TRACE),
              "--trust-built")  # fmt: skip
    assert run.status != 0
    assert "\x1b" not in run.out + run.err
    assert "\\x1b[2J" in run.out + run.err, run.out + run.err


def _escapees() -> list[int]:
    """Live processes named ms-escapee (HOSTILE_COUNT's children): killed ones may stay zombies
    a moment, until whoever adopted them reaps them."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            name, rest = stat.read_text().split(" (", 1)[1].rsplit(") ", 1)
            if name == "ms-escapee" and rest.split()[0] != "Z":
                found.append(int(stat.parent.name))
    return found


def test_what_the_counted_code_does_around_the_count_leaves_the_grader_standing(
    cli, attacker, write_trace
):
    # Its output: a traceback for a byte that is no UTF-8, another for a digit int() refuses;
    # its children outlived the grade; a FIFO for a profile hung the grader for good.
    started = time.monotonic()
    run = cli("grade", attacker("HOSTILE_COUNT"), "--dialect", "classic", "--lab", "csapp",
              "--throughput", "instructions", write_trace("t", TRACE))  # fmt: skip
    assert "Traceback" not in run.err and time.monotonic() - started < 60, run.err
    assert "throughput not counted" in run.out, run.out
    assert _escapees() == []


@pytest.mark.parametrize("attack", ["COUNT_FORKS", "COUNT_ZOMBIES", "COUNT_THREADS"])
def test_processes_started_in_the_count_stop_it(cli, attacker, write_trace, attack):
    # Root has no RLIMIT_NPROC: a fork bomb in the count took every pid on the machine, and the
    # classmates graded beside it got "Resource temporarily unavailable" (red-team pass 12); so
    # did zombies left unreaped, which hold their pids, and threads, which /proc does not list,
    # past a watch of live processes (pass 13). The sealed count refuses a thread (red-team pass
    # 46), so the threads are a trusted library's, started as it loads, before the seal.
    threads = attack == "COUNT_THREADS"
    started = time.monotonic()
    run = cli("grade", attacker(attack, handed_in=threads), "--dialect", "classic",
              "--lab", "csapp", "--throughput", "instructions", write_trace("t", TRACE),
              *(["--trust-built"] if threads else []))  # fmt: skip
    said = " ".join(run.said.split())
    assert "its process group held more than 64 processes or threads" in said, said
    assert time.monotonic() - started < 25 and _children_of_us() == []


def test_a_count_makes_no_folder_in_its_scratch(cli, attacker, write_trace, tmp_path, monkeypatch):
    # 3,000 nested folders in the count's scratch folder: its clean-up recursed past Python's
    # limit, the grade ended in a traceback and the tree stayed (red-team pass 18). The count
    # may make regular files there only.
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    run = cli("grade", attacker("COUNT_LITTER"), "--dialect", "classic", "--lab", "csapp",
              write_trace("t", TRACE))  # fmt: skip
    assert run.status == 0 and "Traceback" not in run.err, run.err
    assert "throughput T" in run.out and "not counted" not in run.out, run.out
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize(
    "how, said",
    [
        ("files", "wrote more than 256 MiB, or 1000 files, in its folder"),
        ("inodes", "wrote more than 256 MiB, or 1000 files, in its folder"),
        ("tmpfile", "throughput not counted"),
    ],
)
def test_a_count_that_fills_its_folder_is_stopped(
    cli, attacker, write_trace, tmp_path, monkeypatch, how, said
):
    # Files of 64 MiB each, within the count's RLIMIT_FSIZE, until the disk was full: every
    # classmate graded meanwhile got "does not compile", some of them cached (red-team pass 20).
    # Then (pass 21) the same with files that have no name (O_TMPFILE), which the watch of the
    # folder cannot see (denied now), and empty files until no inode was left.
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    before = shutil.disk_usage(scratch).free
    run = cli("grade", attacker("COUNT_LITTER", path=how, handed_in=True), "--dialect",
              "classic", "--lab", "csapp", write_trace("t", TRACE), "--trust-built")  # fmt: skip
    assert "Traceback" not in run.err, run.err
    assert said in " ".join(run.said.split()), run.said
    assert list(scratch.iterdir()) == []
    assert shutil.disk_usage(scratch).free > before - (512 << 20)


@pytest.mark.parametrize(
    ("attack", "path"), [("COUNT_SLEEP", None), ("COUNT_STOP", None), ("COUNT_SLEEP", "zombie")]
)
def test_a_count_that_sleeps_or_stops_is_stopped_within_seconds(
    cli, attacker, write_trace, attack, path
):
    # The count's watch saw only its deadline and its tasks: one that slept or stopped held the
    # grade for its whole budget, a minute or more of a class's slot (red-team pass 17); so did
    # one that slept beside a child it never reaped, a zombie taken for a process that runs
    # (pass 18).
    started = time.monotonic()
    source = attacker(attack, Path(path) if path else None)
    run = cli("grade", source, "--dialect", "classic", "--lab", "csapp",
              "--throughput", "instructions", write_trace("t", TRACE))  # fmt: skip
    said = " ".join(run.said.split())
    assert "none of its processes ran for 1 s (the allocator's code slept or stopped)" in said
    assert "throughput not counted" in said and "confirmed by the clock" not in said, said
    assert time.monotonic() - started < 25 and _children_of_us() == []


def test_a_count_whose_grader_is_killed_ends_with_it(tmp_path):
    # A class worker past its limit is killed, and the count it started, in a process group of
    # its own, lived on: a process of it that sleeps outlasts any CPU limit (red-team pass 12).
    # msconfine stays as the count's supervisor, and kills the group when its grader dies.
    confine = str(NATIVE_DIR / "msconfine")
    count = [confine, str(tmp_path), "30", "--", "sh", "-c", "sleep 60 & echo $!; wait"]
    grader_code = (
        "import subprocess, time\n"
        f"count = subprocess.Popen({count!r}, stdout=subprocess.PIPE, start_new_session=True, "
        "text=True)\n"
        "print(count.stdout.readline().strip(), flush=True)\n"
        "time.sleep(60)\n"
    )
    grader = subprocess.Popen([sys.executable, "-c", grader_code], stdout=subprocess.PIPE,
                              text=True)  # fmt: skip
    sleeper = int(grader.stdout.readline())
    grader.kill()
    grader.wait()

    def gone() -> bool:
        try:
            return Path(f"/proc/{sleeper}/stat").read_text().rsplit(") ", 1)[1][0] == "Z"
        except OSError:
            return True

    for _ in range(100):
        if gone():
            break
        time.sleep(0.02)
    assert gone()


def test_a_memory_bomb_is_stopped_at_the_memory_limit(cli, attacker, write_trace, monkeypatch):
    monkeypatch.setattr(isolate, "MEMORY_LIMIT", 256 << 20)
    # The bomb is one op: on a loaded machine, its first 256 MiB of page faults took more than
    # the stall limit's CPU time, and it was stopped as hung first (this test failed in 7 runs of
    # 7 beside two busy loops). The stall watch has its own tests.
    monkeypatch.setattr(limits, "STALL_SECONDS", 60.0)
    run = replay(cli, attacker("MEMORY_BOMB"), write_trace("t", TRACE))
    assert run.status == 1 and "of memory, past the limit of 0.2 GiB" in run.said, run.out


def test_a_memory_bomb_that_names_another_process_to_the_watch_is_stopped(
    cli, attacker, write_trace, monkeypatch
):
    # The agent maps the progress words, where the watch read the agent's pid: one that wrote 1
    # there had pid 1's memory taken for its own, and its GiB ran on unstopped.
    monkeypatch.setattr(isolate, "MEMORY_LIMIT", 256 << 20)
    monkeypatch.setattr(limits, "STALL_SECONDS", 60.0)
    run = replay(cli, attacker("FORGE_WATCH"), write_trace("t", TRACE))
    said = " ".join(run.said.split())
    assert run.status == 1 and "past the limit of 0.2 GiB: stopped at" in said, run.out


def test_a_memory_bomb_over_between_two_looks_is_still_past_the_limit(
    cli, attacker, write_trace, monkeypatch
):
    # The watch looks at the start and when the answer comes, by which time the agent that
    # touched the GiB is gone: its peak, read by the grader's side before it is stopped, counts.
    # Under load the bomb may still be touching its GiB at a look in between (the watch looks
    # each time the agent sends anything): then it is stopped there, past the limit all the same
    # (a fresh clone's CI once; with 3 busy loops on the 2 cores, 1 run in 8).
    monkeypatch.setattr(isolate, "MEMORY_LIMIT", 256 << 20)
    monkeypatch.setattr(isolate, "TICK_SECONDS", 60.0)
    monkeypatch.setattr(limits, "STALL_SECONDS", 600.0)
    run = replay(cli, attacker("MEMORY_BOMB"), write_trace("t", TRACE))
    said = " ".join(run.said.split())
    past = re.search(
        r"used [0-9.]+ GiB of memory, past the limit of 0\.2 GiB: (seen as it ended|stopped at)",
        said,
    )
    assert run.status == 1 and past, said


def test_exiting_early_with_status_0_is_a_failure(cli, attacker, write_trace):
    run = replay(cli, attacker("EXIT_EARLY"), write_trace("t", TRACE))
    assert run.status == 1 and "exited with status 0 at op 2" in run.said


def test_an_honest_allocator_grades_the_same_in_the_sandbox(cli, write_trace, monkeypatch):
    # 400 ops a pass: on a pass of a few ops the clock check under load measures the hand-overs
    # around it, and may scale the count (test_lab_rules.py says more).
    trace = write_trace("t", "".join(f"a {i} {16 + 24 * (i % 7)}\nf {i}\n" for i in range(200)))
    source = fixture_allocator("good_bump")
    sandboxed = cli("grade", source, "--dialect", "classic", "-q", trace)
    monkeypatch.setattr(isolate, "untrusted", lambda spec: False)
    monkeypatch.setattr(instructions, "untrusted", lambda spec: False)  # no msconfine
    plain = cli("grade", source, "--dialect", "classic", "-q", trace)
    assert sandboxed.status == plain.status == 0
    assert sandboxed.out == plain.out  # instructions: the same score, to the digit


@pytest.mark.parametrize(
    "include, said",
    [
        ('"/etc/passwd"', "includes /etc/passwd: a submission may include only"),
        ('"/dev/ptmx"', "includes /dev/ptmx"),  # refused before the compiler blocks on it
        ("<../../../../../../../etc/hostname>", "includes ../../../../../../../etc/hostname"),
        # through a macro, past the scan of the text: what the confined compiler cannot read
        ('ZERO\n#define ZERO "/dev/zero"', "includes /dev/zero"),
    ],
)
def test_an_include_outside_the_headers_is_refused_and_never_shown(
    cli, write_trace, tmp_path, include, said
):
    if include.startswith("ZERO"):
        text = '#define ZERO "/dev/zero"\n#include ZERO\n'
    else:
        text = f"#include {include}\n"
    source = fixture_variant("good_bump", text, tmp_path / "mm.c")
    start = time.monotonic()
    run = replay(cli, source, write_trace("t", TRACE))
    assert run.status == 2 and time.monotonic() - start < 50
    assert (said or "does not compile") in run.err
    assert "root:" not in run.err + run.out  # no line of /etc/passwd


def _loaded_here(source: Path) -> bool:
    """Whether this process has mapped the library built from `source`."""
    library = str(library_for(resolve(str(source), "classic")))
    return library in Path("/proc/self/maps").read_text()


@pytest.mark.parametrize(
    "command",
    [
        ("bench", "-q"),
        ("compare", "-q", "--plots", "{tmp}/plots"),
        ("grade", "-q", "--throughput", "time"),
        ("replay", "-q"),
    ],
)
def test_a_students_code_never_runs_in_the_tools_own_process(
    cli, attacker, write_trace, tmp_path, command
):
    source = attacker("HONEST")
    name, *flags = command
    flags = [flag.format(tmp=tmp_path) for flag in flags]
    chosen = [source] if name == "grade" else ["-a", source]
    run = cli(name, *chosen, "--dialect", "classic", *flags, write_trace("t", TRACE))
    assert run.status == 0, run.out + run.err
    assert not _loaded_here(source)


@pytest.mark.parametrize("attack", ["RAW_SYSCALL", "KILL_PARENT", "CONNECT"])
def test_the_instruction_count_runs_the_code_confined(attacker, write_trace, tmp_path, attack):
    # valgrind must start its tool and fork a child per pass, and writes its profiles itself:
    # msconfine lets it, and confines files to its folder, signals to itself, and no network.
    target = tmp_path / "pwned"
    spec = resolve(str(attacker(attack, target)), "classic")
    trace = load_trace(write_trace("t", TRACE))
    try:
        pass_instructions(spec, [trace])
    except UsageError:
        pass  # killed for its connection: the count fails, which only costs the student
    assert not target.exists()  # and this process, the one it tried to kill, is still here


def _counted_score(cli, source: Path, trace: Path, record: Path, *extra: str) -> tuple[str, dict]:
    """A grade by instructions (the default): what it said, and its score as recorded."""
    run = cli("grade", source, "--dialect", "classic", "-q", trace, "--json", record,
              "--trust-built", *extra)  # fmt: skip
    assert run.status == 0, run.out + run.err
    return run.said, json.loads(record.read_text())["grade"]["score"]


def _believed(cli, source: Path, trace: Path, record: Path, first: dict, bound: float) -> float:
    """The throughput a forgery's count is believed at: its `first` grade's, or, past `bound`, a
    second grade's, made afresh. The clock check scales a count by a glibc timing of its own,
    now and then 1.7 times slow on this machine (16 grades of UNCOUNTED gave 7.9 to 25.3 times
    the honest throughput); a count believed past the clock is past it both times."""
    if first["throughput"] < bound:
        return first["throughput"]
    return _counted_score(cli, source, trace, record, "--no-cache")[1]["throughput"]


@pytest.mark.parametrize("attack", ["UNCOUNTED", "CHEAT_COUNTED"])
def test_work_hidden_from_the_instruction_count_is_seen_by_the_clock(
    cli, attacker, write_trace, tmp_path, attack
):
    ops = 300  # every malloc does 4,000 steps of work, hidden from the count in the forgery
    trace = write_trace("t", _allocs(ops))
    said, honest = _counted_score(cli, attacker(attack, Path("honest")), trace, tmp_path / "h")
    assert honest["count_scale"] == 1.0 and "not confirmed by the clock" not in said
    source = attacker(attack)
    said, forged = _counted_score(cli, source, trace, tmp_path / "f")
    assert "instruction count not confirmed by the clock" in said, said
    assert forged["count_scale"] > 2.0
    # Unchecked, the forgery's count claimed some 50 times the honest throughput; believed up
    # to TOLERANCE times the clock, it gains at most TOLERANCE over its honest clock ratio (6.2
    # here), with a factor for the clock's noise: a factor 2 (24 times) failed three runs of some
    # 25 on 2026-12-04, at 25.0, 25.8 and 27.5 times the honest figure.
    bound = honest["throughput"] * TOLERANCE * 3
    assert _believed(cli, source, trace, tmp_path / "f", forged, bound) < bound


@pytest.mark.parametrize("command", ["replay", "compare"])
def test_no_isolate_still_isolates_a_students_code(cli, attacker, write_trace, tmp_path, command):
    # --no-isolate loaded a student's library into the tool's own process: its exit(0) ended the
    # tool with status 0, nothing printed, nothing written, segfit's results lost (red-team
    # pass 27). It speeds up our own allocators only.
    out = tmp_path / "out.json"
    source = attacker("EXIT_EARLY")
    run = cli(command, "-a", "segfit", "-a", source, "--dialect", "classic", "--no-isolate",
              "-q", "--json", out, write_trace("t", TRACE))  # fmt: skip
    assert run.status == 1, run.out + run.err
    assert "exited with status 0 at op" in " ".join(run.out.split())
    assert {r["allocator"] for r in json.loads(out.read_text())["runs"]} == {"segfit", str(source)}


def test_a_count_of_code_that_places_blocks_otherwise_is_believed_only_as_the_clock_says(
    cli, attacker, write_trace, tmp_path
):
    # Told where it is counted (mscount's name, or valgrind's CPU), a file ran a bump pointer
    # there and a slow, better-placed policy where it was checked and timed: a true count of
    # other code, which the clock believed up to TOLERANCE times (red-team pass 18: 57.4 ->
    # 93.6). The counted pass's heap is held to the measured checked pass's: both a first run,
    # from a fresh process, which cannot have seen the trace before.
    ops = 300  # every malloc does 4,000 steps of work where it is checked and timed
    trace = write_trace("t", _allocs(ops, freed=True))
    said, honest = _counted_score(
        cli, attacker("PLACED_WHEN_COUNTED", Path("honest")), trace, tmp_path / "h"
    )
    assert "did not place its blocks" not in said and honest["count_scale"] == 1.0
    source = attacker("PLACED_WHEN_COUNTED")
    said, forged = _counted_score(cli, source, trace, tmp_path / "f")
    said = " ".join(said.split())
    assert "the code counted did not place its blocks as the code checked" in said, said
    assert "at most 1 is believed" in said
    # Believed up to TOLERANCE, it claimed about 10 times the honest throughput; now about what
    # the honest file gets, with a factor for the clock's noise.
    bound = honest["throughput"] * 3
    assert _believed(cli, source, trace, tmp_path / "f", forged, bound) < bound


@pytest.mark.parametrize("how", ["paths", "peek"])
def test_the_counted_process_cannot_read_the_traces_before_its_passes(
    cli, attacker, write_trace, tmp_path, how
):
    # mscount was given the traces' paths, and the count's sandbox let it read them: a
    # constructor replayed them on a heap of its own, and the counted passes answered from its
    # log (red-team pass 30: 57.4 -> 93.6, the hidden cost within the clock's tolerance). Sent
    # down a socket at once, they lay there for a constructor to peek at (pass 32). The traces
    # now reach mscount once the allocator is loaded and checked, and only there.
    ops = 300
    trace = write_trace("t", _allocs(ops, freed=True))
    said, honest = _counted_score(
        cli, attacker("SEES_TRACE_WHEN_LOADED", Path("honest")), trace, tmp_path / "h"
    )
    forger = attacker("SEES_TRACE_WHEN_LOADED", *([Path("peek")] if how == "peek" else []))
    said, forged = _counted_score(cli, forger, trace, tmp_path / "f")
    assert forged["throughput"] is not None, said
    assert forged["count_scale"] == 1.0 and "not confirmed by the clock" not in said, said
    # The work it would have left out is counted: the same count as the file that never looks.
    assert forged["throughput"] == pytest.approx(honest["throughput"], rel=0.05)


def test_what_an_allocator_does_in_mm_init_is_counted(cli, attacker, write_trace, tmp_path):
    # The empty passes whose count mscount takes off every pass's ran the allocator's own
    # mm_init: work there was never counted, and work done in the empty passes alone came off
    # every trace's count (red-team pass 30). They run a stand-in mm_init now.
    trace = write_trace("t", _allocs(100, freed=True))
    _, honest = _counted_score(cli, attacker("BUSY_INIT", Path("honest")), trace, tmp_path / "h")
    _, busy = _counted_score(cli, attacker("BUSY_INIT"), trace, tmp_path / "b")
    # 100,000 steps of a few instructions over 200 ops: some thousands of instructions an op.
    assert busy["throughput"] < honest["throughput"] / 10, (honest, busy)


@pytest.mark.parametrize("how", ["drain", "process", "sibling"])
def test_a_count_whose_allocator_takes_the_traces_or_leaves_code_running_is_no_count(
    cli, attacker, write_trace, tmp_path, how
):
    # What an allocator could still do to work uncounted: read the traces' socket before mscount
    # (what is left does not parse), or leave a thread or a process running beside the passes
    # (red-team pass 31: a process answered each op of the counted passes through shared
    # memory, 46.3 -> 78.0, confirmed by the clock). mscount goes on with no thread but its
    # own and no process of the allocator's, however far from it: the count is refused.
    trace = write_trace("t", _allocs(50, freed=True))
    said, score = _counted_score(
        cli, attacker("SEES_TRACE_WHEN_LOADED", Path(how)), trace, tmp_path / "s"
    )
    assert "throughput not counted" in " ".join(said.split()), said
    assert score["throughput"] is None or score["throughput"] == 0


@pytest.mark.parametrize(
    "how", ["thread", "vm process", "quiet process", "pass process", "pass reaped", "pass unseen"]
)
def test_no_thread_or_unseen_process_of_the_allocators_starts_in_the_count(
    cli, attacker, write_trace, tmp_path, how
):
    # A thread left beside the passes was seen by its count in /proc/self/status, and the count
    # refused; then one forged that file, held glibc's heap lock while it read and replayed the
    # traces, and handed them to mscount on a descriptor of its own (red-team pass 46: 57.4 ->
    # 93.6, confirmed by the clock). Then a process sharing mscount's memory (CLONE_VM), or one
    # with no exit signal, which a wait reports only when asked for every child, did the same
    # with the list of mscount's children pointed at an empty file (red-team pass 47, 57.4 ->
    # 93.6). Then a pass's own process, reaped by the kernel with SIGCHLD ignored, unseen by
    # the count's look at its children and by the pass's RUSAGE_CHILDREN (pass 48, 57.4 ->
    # 93.6). The count's seals refuse each, a pass's any process at all: the attack's mm_init,
    # which fails once its helper started, runs honestly, and the count stands; a pass that
    # left a process running, or reaped one, was seen, and now never starts one.
    trace = write_trace("t", _allocs(50, freed=True))
    said, score = _counted_score(
        cli, attacker("SEES_TRACE_WHEN_LOADED", Path(how)), trace, tmp_path / "s"
    )
    assert "not counted" not in " ".join(said.split()) and score["throughput"], said


def test_valgrinds_own_preloaded_code_offers_no_way_out_of_the_count(
    cli, attacker, write_trace, tmp_path
):
    # valgrind preloads vgpreload_core into the counted process, and a function of it ends in a
    # client request and a return: jumping there with a request of its own ran an allocator's
    # work on the real CPU, uncounted, from a file that holds no request of its own (red-team
    # pass 17: an explicit list's counted grade 57.4 -> 93.6, "confirmed by the clock"). mscount
    # turns that object's code into returns before it loads the allocator: the work is counted.
    ops = 300  # every malloc does 4,000 steps of work, which the forgery sends to the gadget
    trace = write_trace("t", _allocs(ops))
    said, honest = _counted_score(cli, attacker("UNCOUNTED", Path("honest")), trace, tmp_path / "h")
    said, forged = _counted_score(cli, attacker("UNCOUNTED", Path("gadget")), trace, tmp_path / "f")
    assert "not confirmed by the clock" not in said, said
    assert forged["count_scale"] == 1.0
    assert forged["throughput"] == pytest.approx(honest["throughput"], rel=0.05)


def test_a_trace_left_out_of_the_instruction_count_leaves_no_count(
    cli, attacker, write_trace, tmp_path
):
    # The code ended valgrind's pass of the long trace: T was made of the short one alone and
    # the grade rose from 53.0 to 89.6. Every trace of T is counted, or none is.
    short = write_trace("short", "a 0 16\nf 0\n")
    long = write_trace("long", _allocs(300))
    _, honest = _counted_score(
        cli, attacker("DROP_FROM_COUNT", Path("honest")), short, tmp_path / "h"
    )
    record = tmp_path / "forged"
    run = cli("grade", attacker("DROP_FROM_COUNT"), "--dialect", "classic", "-q", short, long,
              "--json", record)  # fmt: skip
    said = " ".join(run.said.split())
    assert "throughput not counted: valgrind's pass of long left no count" in said, said
    assert json.loads(record.read_text())["grade"]["score"]["throughput"] is None
    assert honest["throughput"] is not None  # the honest file, counted


def test_an_allocator_cannot_make_the_empty_passes_dearer(cli, attacker, write_trace):
    # The fixed cost taken off every trace came from the student's own empty passes: made dear,
    # it left the second trace's count negative, which T passed over (53.0 -> 89.6); refused
    # since, as "left no count above the empty passes'". The empty passes run none of the
    # allocator's code now (a stand-in mm_init, red-team pass 30): the file's burns land in the
    # passes it counts for, and both traces are counted.
    short = write_trace("short", "a 0 16\nf 0\n")
    long = write_trace("long", _allocs(300))
    run = cli("grade", attacker("NEGATIVE_COUNT"), "--dialect", "classic", "-q", short, long)
    said = " ".join(run.said.split())
    assert "left no count" not in said and "throughput not counted" not in said, said
    assert "(total ops / total instructions over the 2 traces marked T)" in said, said


def test_a_counted_pass_whose_pointers_no_allocator_could_give_leaves_no_count(
    cli, attacker, write_trace
):
    # mscount's passes were checked for NULL alone: one block for every call was counted as the
    # cheapest allocator there is. They are checked as the agent's timed passes are.
    trace = write_trace("t", _allocs(300))
    run = cli("grade", attacker("UNCHECKED_COUNT"), "--dialect", "classic", "-q", trace)
    said = " ".join(run.said.split())
    assert "throughput not counted: valgrind's pass of t left no count" in said, said


def test_a_grade_does_not_depend_on_the_malloc_the_grader_runs_on(
    cli, attacker, write_trace, tmp_path
):
    # glibc, the clock check's reference, was timed in a fork of the grader and counted
    # with its LD_PRELOAD: on our drop-in, the honest allocator's counts were graded 3.4
    # times higher; and in a fork, glibc's time depended on the tests run before.
    trace = write_trace("t", _allocs(300))
    source = attacker("UNCOUNTED", Path("honest"))
    _, here = _counted_score(cli, source, trace, tmp_path / "here")
    record = tmp_path / "preloaded"
    command = [sys.executable, "-m", "mallocsim", "grade", source, "--dialect", "classic", "-q"]
    done = subprocess.run(
        [*command, trace, "--json", record],
        env={**os.environ, "LD_PRELOAD": str(NATIVE_DIR / "libmallocsim.so")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    preloaded = json.loads(record.read_text())["grade"]["score"]
    assert here["count_scale"] == preloaded["count_scale"] == 1.0
    assert preloaded["points"] == here["points"]


def test_a_heap_grown_only_where_it_is_not_checked_is_the_heap_measured(
    cli, attacker, write_trace, tmp_path
):
    # Checked, the allocator reuses the block just freed (one block of heap); timed, it never
    # reuses anything: a bump allocator's speed with the checked passes' utilization.
    trace = write_trace("t", "".join(f"a {i} 32\nf {i}\n" for i in range(2000)))
    said, honest = _counted_score(cli, attacker("BUMP_WHEN_TIMED", Path("honest")), trace,
                                  tmp_path / "h")  # fmt: skip
    assert honest["utilization"] == pytest.approx(32 / 48) and "timed passes' blocks" not in said
    said, forged = _counted_score(cli, attacker("BUMP_WHEN_TIMED"), trace, tmp_path / "f")
    assert "t: the timed passes used the heap up to 96,000 bytes above its start" in said, said
    assert forged["utilization"] == pytest.approx(32 / 96_000)


def test_memory_touched_only_where_it_is_not_checked_is_heap(cli, attacker, write_trace):
    # The timed passes may use the lab's whole heap limit: 1 MiB of tables written 8 MiB up in
    # them, no block there, and the checked heap was the only measure (red-team pass 22).
    trace = write_trace("t", "".join(f"a {i} 32\nf {i}\n" for i in range(200)))
    timed = ("--throughput", "time", "--dialect", "classic", "-q", trace)
    run = cli("grade", attacker("TOUCH_WHEN_TIMED", Path("honest-name")), *timed)
    assert run.status == 0, run.said
    said = " ".join(run.said.split())
    assert "t: the timed passes used the heap up to 9,437,184 bytes above its start" in said, said
    for remove in ("remove", "remove-high"):  # the advice as an int, whatever its upper bits
        run = cli("grade", attacker("TOUCH_WHEN_TIMED", Path(remove)), *timed)
        assert run.status == 1
        assert "tried to give memory pages back (madvise)" in run.said, run.said


@pytest.mark.parametrize(
    ("attack", "said"),
    [
        ("CONSTRUCTOR_MEMORY", "took 64.0 MiB of memory from the kernel while its library loaded"),
        ("SHARED_MEMORY", "mapped 64.0 MiB of shared memory while its library loaded"),
    ],
)
def test_memory_a_constructor_takes_before_the_seal_is_seen(
    cli, attacker, write_trace, attack, said
):
    run = replay(cli, attacker(attack, handed_in=True), write_trace("t", TRACE))
    assert run.status == 1
    assert said in run.said, run.said


TAKES_MEMORY = "tried to take memory from the kernel (mmap) at the start, loading the allocator"
PATCHES = "tried to make read-only memory writable (mprotect) at the start, loading the allocator"


@pytest.mark.parametrize(
    ("attack", "said"),
    [
        ("CONSTRUCTOR_MEMORY", TAKES_MEMORY),
        ("SHARED_MEMORY", TAKES_MEMORY),
        ("PATCH_CHECKER", PATCHES),
        ("SEAL_SKIPPED", PATCHES),
        ("FAKE_CLOCK", PATCHES),
        ("SEAL_BLOCKED", "installed a system-call filter of its own (seccomp): its process has"),
    ],
)
def test_a_graded_files_constructors_run_only_once_its_process_is_sealed(
    cli, attacker, write_trace, attack, said
):
    # A constructor ran as the library loaded, with the whole process writable to it: one that
    # pointed the sandbox library's own jump slot for `syscall` at code that installed an allow-
    # everything filter left the seal open, and an allocator kept its bookkeeping off the heap:
    # 93.9 where the same file gets 0 (red-team pass 39, with three more ways past the checks of
    # the load). The build takes mm.c's constructors from the loader and the agent runs them
    # once sealed: each attack the tests above make as it loads is stopped where it starts.
    run = replay(cli, attacker(attack), write_trace("t", TRACE))
    assert run.status == 1 and said in " ".join(run.said.split()), run.out + run.err


def test_a_constructor_stopped_as_the_team_record_is_read_is_said_where_it_ran(
    cli, attacker, write_trace
):
    # The team record's read is the first to start a csapp file, sealed: its failure said "at
    # load", where the constructor ran (red-team pass 40).
    run = cli("grade", attacker("CONSTRUCTOR_MEMORY"), "--dialect", "classic", "--lab", "csapp",
              "-q", write_trace("t", TRACE))  # fmt: skip
    said = " ".join(run.said.split())
    assert run.status == 1 and f"the team record could not be read: {TAKES_MEMORY}" in said, said


def test_a_library_refused_at_load_runs_none_of_its_code_before_the_seal(
    cli, write_trace, tmp_path
):
    # A file that hid one of the mm_ names was closed again at once, and the close ran its
    # destructors unsealed, from where one rewrote the agent into loading it after all: 93.9
    # (red-team pass 41). The library stays loaded and the agent leaves by _exit: the destructor's
    # denied call never happens.
    text = CSAPP_TEMPLATE.replace(
        "void *mm_realloc(void *ptr, size_t size) {",
        "#include <sys/socket.h>\n"
        "__attribute__((destructor)) static void unsealed(void) { socket(AF_INET, 1, 0); }\n"
        '__attribute__((visibility("hidden"))) void *mm_realloc(void *ptr, size_t size) {',
    )
    source = tmp_path / "hidden.c"
    source.write_text(text)
    run = cli(
        "replay", "-a", source, "--lab", "csapp", "--no-timing", "-q", write_trace("t", TRACE)
    )
    said = " ".join(run.said.split())
    assert run.status == 2 and "does not export mm_realloc" in said, said
    assert "tried to use the network" not in said, said


def test_a_library_whose_symbols_cannot_be_read_is_refused(cli, write_trace, tmp_path):
    # Stripped section headers hid a library's imports from the check.
    library = tmp_path / "stripped.so"
    built = library_for(resolve(str(fixture_allocator("good_bump")), "classic"))
    data = bytearray(built.read_bytes())
    data[0x3C:0x3E] = (0).to_bytes(2, "little")  # e_shnum = 0: no section headers
    library.write_bytes(bytes(data))
    run = cli(
        "grade", library, "--dialect", "classic", "-q", write_trace("t", TRACE), "--trust-built"
    )
    assert run.status != 0
    assert "no dynamic symbol table to check (section headers stripped?)" in run.said


@pytest.fixture
def bystander():
    """A process of the grader's uid that no grade has any business with: its pid."""
    process = subprocess.Popen(["sleep", "60"])
    yield process.pid
    process.kill()
    process.wait()


def _limits_and_cpus(pid: int) -> tuple[str, str]:
    limits = Path(f"/proc/{pid}/limits").read_text()
    status = Path(f"/proc/{pid}/status").read_text()
    files = next(line for line in limits.splitlines() if line.startswith("Max open files"))
    cpus = next(line for line in status.splitlines() if line.startswith("Cpus_allowed_list"))
    return files, cpus


@pytest.mark.parametrize(
    "attack, said",
    [
        ("OTHER_PROCESS", "tried to act on another process (prlimit64)"),
        ("IPC_QUEUE", "tried to use IPC objects (msgget)"),
        ("FANOTIFY", "tried to watch the file system (fanotify_init)"),
    ],
)
def test_the_allocators_process_reaches_no_other_process_nor_the_machine(
    cli, attacker, write_trace, bystander, attack, said
):
    # Red-team pass 8, as root: a constructor lowered a class run's coordinator's limits (the
    # run ended in a traceback), left a message queue that the -m32 build graded next read the
    # checked pass's requests from, and refused every open of a file on the machine.
    before = _limits_and_cpus(bystander)
    run = replay(cli, attacker(attack, port=bystander), write_trace("t", TRACE))
    assert run.status == 1 and said in run.said, run.said
    assert _limits_and_cpus(bystander) == before
    if attack == "IPC_QUEUE":
        queues = Path("/proc/sysvipc/msg").read_text()
        assert f"{0x6D616C6C:>10}" not in queues


@pytest.mark.skipif(os.geteuid() != 0, reason="only root reads another user's private folder")
def test_a_grader_run_as_root_still_reads_what_it_was_given_in_a_users_private_folder(
    cli, write_trace, tmp_path
):
    # With every capability dropped, the agent and the count could not read a library or traces
    # in another user's folder of mode 700 (a build cache under a user's home: every grade 0;
    # traces there: T silently left out, red-team pass 9). Reading past permissions is kept;
    # Landlock bounds the paths.
    private = tmp_path / "private"
    private.mkdir()
    library = private / "mm.so"
    shutil.copy(library_for(resolve(str(fixture_allocator("good_bump")), "classic")), library)
    trace = private / "t.rep"
    trace.write_text(TRACE)
    os.chown(private, 65534, 65534)
    private.chmod(0o700)
    try:
        run = cli("grade", library, "--dialect", "classic", "--json", tmp_path / "r.json", trace,
                  "--trust-built")  # fmt: skip
        assert run.status == 0, run.said
        assert "throughput not counted" not in run.said and "Permission denied" not in run.said
    finally:
        os.chown(private, 0, 0)


@pytest.mark.skipif(os.geteuid() != 0, reason="only a grader run as root has capabilities")
def test_the_allocators_code_runs_without_any_capability(cli, attacker, write_trace):
    # Uid 0 with every capability: fanotify, the clock, real-time priority, a terminal's
    # hang-up were the student's code's as well. Its process gives them all up, in the agent and
    # in the program valgrind counts (mm_init fails where it holds any).
    source, path = attacker("CAPABILITIES", handed_in=True), write_trace("t", TRACE)
    run = replay(cli, source, path)
    assert run.status == 0, run.said
    assert pass_instructions(resolve(str(source), "classic"), [load_trace(path)]) != {}


# A process renames itself with any bytes (prctl PR_SET_NAME), and /proc/PID/stat and status carry
# the name as they are.
RENAMED_SLEEPER = """
import ctypes, sys, time
ctypes.CDLL(None).prctl(15, ctypes.c_char_p(b"\\xff\\xfe\\xfd mm"), 0, 0, 0)  # PR_SET_NAME
print("renamed", flush=True)
time.sleep(30)
"""


def test_a_process_named_in_bytes_that_are_not_utf8_leaves_the_watches_reading(tmp_path):
    # Read as text, such a name raised UnicodeDecodeError in the count's watch, which reads every
    # process on the machine: one process anywhere, a classmate's among them, so named ended an
    # honest grade in a traceback (red-team pass 48).
    sleeper = subprocess.Popen([sys.executable, "-c", RENAMED_SLEEPER], stdout=subprocess.PIPE,
                               start_new_session=True)  # fmt: skip
    try:
        assert sleeper.stdout.readline() == b"renamed\n"
        assert Path(f"/proc/{sleeper.pid}/comm").read_bytes() == b"\xff\xfe\xfd mm\n"
        fields = stat_fields(sleeper.pid)
        assert fields[0] in "SR" and int(fields[2]) == sleeper.pid, fields  # its own group
        assert resident_peak(sleeper.pid) > 0
        assert instructions._group_tasks(sleeper.pid)[0] == 1
    finally:
        sleeper.kill()
        sleeper.wait()
