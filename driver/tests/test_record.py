"""The recorder (libmsrecord.so + `mallocsim record`) and the mtrace importer:
a program whose allocations are known records exactly those, a threaded and
forking program records a trace with nothing lost, and recorded traces replay
valid on every policy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mallocsim._native import NATIVE_DIR
from mallocsim.allocators import builtin_policies
from mallocsim.commands.record import summary
from mallocsim.errors import UsageError
from mallocsim.mtrace import import_mtrace
from mallocsim.record import TraceBuilder, convert_logs
from mallocsim.trace import load_trace

from .conftest import REPO

STRESS_SOURCE = REPO / "c" / "tests" / "test_dropin_threads.c"

# Every allocation call a program can make, each once, with known sizes; the
# NULL is volatile so the compiler cannot drop free(NULL).
KNOWN_PROGRAM = r"""
#include <malloc.h>
#include <stdlib.h>
int main(void) {
    void *volatile nothing = NULL;
    char *a = malloc(100);
    char *b = calloc(3, 40);
    a = realloc(a, 1000);
    void *c = NULL;
    if (posix_memalign(&c, 64, 200) != 0)
        return 1;
    void *d = aligned_alloc(128, 256);
    void *e = memalign(32, 48);
    void *f = valloc(10);
    void *g = reallocarray(NULL, 5, 8);
    free(b);
    free(a);
    free(c);
    free(d);
    free(e);
    free(f);
    free(g);
    free(nothing);
    return 0;
}
"""

KNOWN_TRACE = """4096
7
15
1
a 0 100
c 1 3 40
r 0 1000
a 2 200
a 3 256
a 4 48
a 5 10
a 6 40
f 1
f 0
f 2
f 3
f 4
f 5
f 6
"""

# mtrace() starts after one allocation, whose free is then "from before".
MTRACE_PROGRAM = r"""
#include <mcheck.h>
#include <stdlib.h>
int main(void) {
    void *early = malloc(10);
    mtrace();
    char *a = malloc(100);
    char *b = calloc(4, 25);
    a = realloc(a, 5000);
    free(b);
    free(early);
    void *c = realloc(NULL, 7);
    c = realloc(c, 0);
    free(a);
    muntrace();
    return 0;
}
"""

MTRACE_TRACE = """8192
2
7
1
a 0 100
a 1 100
r 0 5000
f 1
a 1 7
f 1
f 0
"""


def compile_c(tmp_path: Path, source: str | Path, name: str, *flags: str) -> Path:
    """Build a C program from text or a file, with the project's C dialect."""
    c_file = source if isinstance(source, Path) else tmp_path / f"{name}.c"
    if not isinstance(source, Path):
        c_file.write_text(source)
    binary = tmp_path / name
    command = ["gcc", "-std=c11", "-D_GNU_SOURCE", "-O0", "-o", binary, c_file, *flags]
    subprocess.run(command, check=True)
    return binary


def test_known_program_records_exactly_its_calls(tmp_path, cli):
    binary = compile_c(tmp_path, KNOWN_PROGRAM, "known")
    out = tmp_path / "known.rep"
    run = cli("record", "-o", out, "--log", tmp_path / "calls.log", "--", binary)
    assert run.status == 0, run.err
    assert out.read_text() == KNOWN_TRACE
    assert "1 free(NULL)" in run.err and "1 process images" in run.err


@pytest.mark.parametrize("behind", ["glibc", "drop-in", "re-entrant"])
def test_a_program_on_another_malloc_records_exactly_its_calls(tmp_path, interposer, behind):
    # The recorder in front of another malloc: our drop-in, or a library whose realloc(NULL, n)
    # calls malloc back through the dynamic linker, i.e. the recorder's, while the recorder
    # holds its lock (it waited for itself for ever; now the inner call is the outer one's).
    binary = compile_c(tmp_path, KNOWN_PROGRAM, "known")
    log = tmp_path / "calls.log"
    next_malloc = {
        "glibc": "",
        "drop-in": str(NATIVE_DIR / "libmallocsim.so"),
        "re-entrant": str(interposer),
    }[behind]
    preload = " ".join(filter(None, [str(NATIVE_DIR / "libmsrecord.so"), next_malloc]))
    env = dict(MALLOCSIM_RECORD=str(log), LD_PRELOAD=preload, INTERPOSER_REENTER="1")
    run = subprocess.run([binary], env=env, capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    if behind == "re-entrant":
        # It did call back: one malloc is the program's, the other reallocarray's realloc's.
        assert "interposer: malloc 2 free 8 calloc 1 realloc 2\n" in run.stderr
    convert_logs([log], tmp_path / "known.rep")
    assert (tmp_path / "known.rep").read_text() == KNOWN_TRACE


def test_mtrace_log_imports_exactly_its_calls(tmp_path):
    debug = Path("/lib/x86_64-linux-gnu/libc_malloc_debug.so.0")
    binary = compile_c(tmp_path, MTRACE_PROGRAM, "traced")
    log = tmp_path / "mtrace.log"
    env = {"MALLOC_TRACE": str(log), "LD_PRELOAD": str(debug)}
    subprocess.run([binary], env=env, check=True)
    stats = import_mtrace(log, tmp_path / "out.rep")
    assert (tmp_path / "out.rep").read_text() == MTRACE_TRACE
    assert stats.foreign_frees == 1


@pytest.fixture(scope="module")
def threaded_trace(tmp_path_factory) -> Path:
    """The drop-in stress test (threads, cross-thread frees, fork) recorded on glibc."""
    tmp = tmp_path_factory.mktemp("threaded")
    binary = compile_c(tmp, STRESS_SOURCE, "stress", "-O2", "-pthread")
    log = tmp / "calls.log"
    env = {"MALLOCSIM_RECORD": str(log), "LD_PRELOAD": str(NATIVE_DIR / "libmsrecord.so")}
    subprocess.run([binary, "3", "6000"], env=env, check=True, capture_output=True)
    out = tmp / "threaded.rep"
    stats = convert_logs([log], out)
    # Nothing lost or out of order across threads: every free matched a block.
    assert stats.lost_frees == 0 and stats.foreign_reallocs == 0
    assert stats.images >= 2  # the program and the children it forked
    return out


def test_threaded_recording_is_a_valid_trace(threaded_trace):
    trace = load_trace(threaded_trace)
    assert trace.num_ops > 10000
    assert {op[0] for op in trace.ops()} >= {"a", "c", "r", "f"}


@pytest.mark.parametrize("policy", builtin_policies())
def test_recorded_trace_replays_valid_on_every_policy(policy, threaded_trace, cli):
    run = cli("replay", "-a", policy, "--no-timing", threaded_trace)
    assert run.status == 0, run.out + run.err


def test_child_processes_are_separate_heaps(tmp_path, cli):
    out = tmp_path / "tree.rep"
    script = "python3 -c 'x = [bytes(100) for _ in range(50)]'; echo done"
    run = cli("record", "-o", out, "--", "sh", "-c", script)
    assert run.status == 0, run.err
    assert load_trace(out).num_ops > 100
    assert "process images" in run.err


def test_builder_meanings_of_null_and_zero():
    builder = TraceBuilder()
    builder.realloc(1, 0, 16, 0x1000)  # realloc(NULL, 16) allocates
    builder.realloc(1, 0x1000, 32, 0)  # a failed realloc leaves the block
    builder.realloc(1, 0x1000, 0, 0)  # realloc(p, 0) frees
    builder.free(1, 0x2000)  # never allocated while recording
    builder.alloc(1, 0, 64)  # a failed malloc
    builder.alloc(1, 0x1000, 8)
    builder.alloc(1, 0x1000, 8)  # same pointer again: its free was missed
    builder.realloc(1, 0x3000, 24, 0x4000)  # of a block from before recording
    text = builder.text()
    assert text.splitlines()[4:] == ["a 0 16", "f 0", "a 0 8", "f 0", "a 0 8", "a 1 24"]
    stats = builder.stats
    assert (stats.failed_calls, stats.foreign_frees, stats.lost_frees) == (2, 1, 1)
    assert stats.foreign_reallocs == 1
    # What was changed is said, not only what was dropped.
    line = summary(stats)
    assert "1 reallocs of blocks from before recording made allocations" in line
    assert "1 frees the log missed supplied" in line


def test_bad_log_line_is_a_usage_error(tmp_path, cli):
    log = tmp_path / "bad.log"
    log.write_text("12 s\n12 m 10\n")
    run = cli("import-mtrace", tmp_path / "missing.log", "-o", tmp_path / "x.rep")
    assert run.status == 2 and "missing.log: No such file or directory" in run.err
    with pytest.raises(UsageError, match=r"bad.log:2: not a recorder log line"):
        convert_logs([log], tmp_path / "x.rep")


def test_a_program_stopped_by_ctrl_c_still_leaves_its_trace(tmp_path):
    # Ctrl-C goes to the whole foreground process group: the program stops,
    # and `record` (which ignores it while the program runs) writes the trace.
    import os
    import signal
    import sys

    out = tmp_path / "stopped.rep"
    program = (
        "import time; kept = [bytes(100) for _ in range(50)]; "
        "print('ready', flush=True); time.sleep(60)"
    )
    command = [
        sys.executable,
        "-m",
        "mallocsim",
        "record",
        "-o",
        out,
        "--",
        sys.executable,
        "-c",
        program,
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO / "driver")}
    with subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # as from a terminal: a test run started in the background (`make test &`, whose shell
        # ignores SIGINT in what it starts) passed SIG_IGN on to the program, which slept on
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as recording:
        try:
            assert recording.stdout.readline() == "ready\n"
            os.killpg(recording.pid, signal.SIGINT)
            _, err = recording.communicate(timeout=60)
        finally:
            if recording.poll() is None:
                os.killpg(recording.pid, signal.SIGKILL)
    assert recording.returncode == 128 + signal.SIGINT, err
    assert f"{out}: " in err and " ops, " in err
    assert load_trace(out).num_ops > 0


def test_an_output_in_a_missing_folder_is_refused_before_the_program_runs(tmp_path, cli):
    marker = tmp_path / "ran"
    for option in ("-o", "--log"):
        target = tmp_path / "missing" / "x"
        other = ["--log", tmp_path / "calls.log"] if option == "-o" else ["-o", tmp_path / "x.rep"]
        run = cli("record", option, target, *other, "--", "sh", "-c", f"touch {marker}")
        assert run.status == 2, option
        assert run.err.strip() == f"mallocsim record: {target}: no such folder to write into"
        assert not marker.exists()  # the program never ran


def test_a_program_that_never_allocates_records_an_empty_trace(tmp_path, cli):
    binary = compile_c(tmp_path, "int main(void) { return 3; }", "idle")
    out = tmp_path / "idle.rep"
    run = cli("record", "-o", out, "--", binary)
    assert run.status == 3, run.err  # the program's own status
    assert run.err.strip().startswith(f"{out}: 0 ops, 0 ids,")
    assert load_trace(out).num_ops == 0


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_to_record_reaches_the_program_and_the_trace_is_written(tmp_path, stop):
    # SIGTERM killed record alone: the program ran on, orphaned, no trace was written, and the
    # recorder's temporary folder stayed in /tmp (red-team pass 27).
    out = tmp_path / "stopped.rep"
    program = "import time; print('ready', flush=True); time.sleep(60)"
    command = [sys.executable, "-m", "mallocsim", "record", "-o", out, "--",
               sys.executable, "-c", program]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO / "driver")}
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, start_new_session=True) as recording:  # fmt: skip
        try:
            assert recording.stdout.readline() == "ready\n"
            os.kill(recording.pid, stop)  # record alone, as a batch system or `kill` does
            _, err = recording.communicate(timeout=60)
        finally:
            if recording.poll() is None:
                os.killpg(recording.pid, signal.SIGKILL)
    assert recording.returncode == 128 + stop, err
    assert load_trace(out).num_ops >= 0  # written, and a trace


def test_a_program_that_closes_every_descriptor_it_inherited_is_recorded_whole(tmp_path, cli):
    # closefrom(3) closed the recorder's log with the rest: 201 calls became a 1-op trace, exit 0
    # (red-team pass 27). The recorder opens its log again.
    source = tmp_path / "closefds.c"
    source.write_text(
        "#include <stdlib.h>\n#include <unistd.h>\n"
        "int main(void) {\n    void *a = malloc(100);\n"
        "    for (int fd = 3; fd < 1024; fd++) close(fd);\n"
        "    void *p[100];\n    for (int i = 0; i < 100; i++) p[i] = malloc(32 + i);\n"
        "    for (int i = 0; i < 100; i++) free(p[i]);\n    free(a);\n    return 0;\n}\n"
    )
    program = tmp_path / "closefds"
    subprocess.run(["cc", "-o", program, source], check=True)
    out = tmp_path / "closefds.rep"
    assert cli("record", "-o", out, "--", program).status == 0
    assert load_trace(out).num_ops == 202


def test_a_statically_linked_program_is_refused_before_it_runs(tmp_path, cli):
    # LD_PRELOAD cannot reach a static program's malloc: record wrote an empty trace, "0 ops",
    # exit 0 (red-team pass 27).
    source = tmp_path / "st.c"
    source.write_text("int main(void) { return 0; }\n")
    program = tmp_path / "st"
    built = subprocess.run(["cc", "-static", "-o", program, source], capture_output=True)
    if built.returncode != 0:
        pytest.skip("no static C library here")
    run = cli("record", "-o", tmp_path / "st.rep", "--", program)
    assert run.status == 2 and "statically linked: LD_PRELOAD cannot reach its malloc" in run.err
    assert not (tmp_path / "st.rep").exists()
