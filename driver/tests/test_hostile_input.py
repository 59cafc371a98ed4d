"""Hostile input to the tool itself (issue 13, item 4): each case is one clear
line on stderr and a non-zero status (2 for bad usage), never a traceback nor
a hang, and a bad input never stops the other traces' work.

The cases: FIFOs given as traces, configurations or results; sizes gen cannot
finish; write errors on every output and on stdout; file names that are not
UTF-8; JSON that only Python reads; folders, symbolic link loops and missing
files among traces; block ids beyond the engine's books; mtrace logs no trace
can hold; time limits too short to start a child. What could block runs in a
subprocess with a timeout, so that a regression fails instead of hanging.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mallocsim.constants import MAX_TRACE_IDS, MAX_TRACE_SIZE
from mallocsim.errors import UsageError
from mallocsim.mtrace import import_mtrace
from mallocsim.trace import TraceError, load_trace, parse_trace_text

from .conftest import REPO, fixture_allocator

pytest_plugins = ["pytester"]

GOOD = "a 0 8\na 1 100\nf 1\nf 0\n"
REPLAY = ("replay", "-q", "--no-timing", "--timeout", "10")
COMPARE = ("compare", "-a", "segfit", "-q", "--no-timing", "--timeout", "10")
BENCH = ("bench", "-a", "segfit", "--min-seconds", "0", "-q")
GRADE = ("grade", "segfit", "--throughput", "time", "-q")
DEV_FULL = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(not DEV_FULL.exists(), reason="no /dev/full here")
FULL = "No space left on device"


def run_tool(*args: object, stdout: int = subprocess.DEVNULL) -> subprocess.CompletedProcess:
    """`python -m mallocsim ARGS` in a child, stopped (and the test failed) after
    30 s: for what would block the test's own process."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "driver")}
    return subprocess.run(
        [sys.executable, "-m", "mallocsim", *map(str, args)],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=30,
        env=env,
    )


def write_log(folder: Path, text: str) -> Path:
    """An mtrace log of these lines."""
    log = folder / "mtrace.log"
    log.write_text("= Start\n" + text + "= End\n")
    return log


@pytest.fixture
def results_json(cli, write_trace, tmp_path) -> Path:
    """A results file `replay --json` wrote."""
    path = tmp_path / "results.json"
    assert cli(*REPLAY, "--json", path, write_trace("good", GOOD)).status == 0
    return path


# ------------------------------------------------------------ 1. FIFOs


@pytest.mark.parametrize(
    "command",
    ["replay", "bench", "grade-trace", "grade-config", "diff", "report", "mm.c", "grade-mm.c"],
)
def test_a_fifo_is_refused_without_blocking(command, tmp_path, write_trace):
    good = write_trace("good", GOOD)
    names = {"grade-config": "grading.toml", "diff": "r.json", "report": "r.json"}
    fifo = tmp_path / names.get(command, "mm.c" if command.endswith("mm.c") else "f.rep")
    os.mkfifo(fifo)
    args = {
        "replay": [*REPLAY, fifo, good],
        "bench": [*BENCH, fifo],
        "grade-trace": [*GRADE, fifo],
        "grade-config": [*GRADE, good, "--config", fifo],
        "diff": ["diff", fifo, fifo],
        "report": ["report", fifo, "-o", tmp_path / "r.html"],
        "mm.c": ["replay", "-a", fifo, "--dialect", "classic", "-q", good],  # a submission
        "grade-mm.c": ["grade", fifo, "--dialect", "classic", "-q", good],
    }[command]
    done = run_tool(*args)
    assert done.returncode == 2, done.stderr
    assert f"{fifo}: not a regular file (a FIFO)" in done.stderr
    assert "Traceback" not in done.stderr


# ------------------------------------------------------------ 2. gen sizes


def test_gen_refuses_an_op_count_it_could_never_finish(cli, capsys, monkeypatch, tmp_path):
    def endless(*args: object) -> str:
        raise AssertionError("gen started a trace it would never finish")

    monkeypatch.setattr("mallocsim.commands.gen.generate", endless)
    with pytest.raises(SystemExit) as stop:
        cli("gen", "random", "--ops", 10**13, "-o", tmp_path / "x.rep")
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "argument --ops: must be from 2 to 100,000,000, not 10000000000000" in err


def test_running_out_of_memory_is_one_line(cli, monkeypatch, tmp_path):
    def exhausted(*args: object) -> str:
        raise MemoryError

    monkeypatch.setattr("mallocsim.commands.gen.generate", exhausted)
    run = cli("gen", "random", "--ops", 100, "-o", tmp_path / "x.rep")
    assert (run.status, run.err) == (2, "mallocsim gen: out of memory\n")


# ------------------------------------------------------------ 3. write errors

# output -> its command line, from (a trace, a results file, an mtrace log,
# OUT: the failing file, or for --plots the folder it is in)
OUTPUTS = {
    "replay --json": lambda t, r, log, out: [*REPLAY, "--json", out, t],
    "replay --csv": lambda t, r, log, out: [*REPLAY, "--csv", out, t],
    "compare --json": lambda t, r, log, out: [*COMPARE, "--json", out, t],
    "compare --csv": lambda t, r, log, out: [*COMPARE, "--csv", out, t],
    "compare --html": lambda t, r, log, out: [*COMPARE, "--html", out, t],
    "compare --plots": lambda t, r, log, out: [*COMPARE, "--plots", out.parent, t],
    "bench --json": lambda t, r, log, out: [*BENCH, "--json", out, t],
    "grade --json": lambda t, r, log, out: [*GRADE, t, "--json", out],
    "grade --gradescope": lambda t, r, log, out: [*GRADE, t, "--gradescope", out],
    "grade --junit": lambda t, r, log, out: [*GRADE, t, "--junit", out],
    "report -o": lambda t, r, log, out: ["report", r, "-o", out],
    "report --plots": lambda t, r, log, out: ["report", r, "-o", out.with_suffix(".html"),
                                              "--plots", out.parent],
    "gen -o": lambda t, r, log, out: ["gen", "random", "--ops", 100, "-o", out],
    "import-mtrace -o": lambda t, r, log, out: ["import-mtrace", log, "-o", out],
}  # fmt: skip


@needs_dev_full
@pytest.mark.parametrize("output", list(OUTPUTS))
def test_a_full_disk_under_an_output_is_one_line_naming_it(
    output, cli, write_trace, results_json, tmp_path
):
    out = DEV_FULL
    if "--plots" in output:  # a folder whose files are on the full disk
        (tmp_path / "plots").mkdir()
        for name in ("utilization.png", "throughput.png"):
            (tmp_path / "plots" / name).symlink_to(DEV_FULL)
        out = tmp_path / "plots" / "utilization.png"
    trace, log = write_trace("good", GOOD), write_log(tmp_path, "+ 0x10 0x8\n")
    run = cli(*OUTPUTS[output](trace, results_json, log, out))
    assert run.status == 2, run.err
    command = output.split()[0]
    assert run.err.splitlines() == [f"mallocsim {command}: cannot write {out}: {FULL}"]


@pytest.mark.parametrize("slip", ["forgotten name", "an input", "twice"])
def test_an_output_never_writes_over_an_input_or_another_output(cli, write_trace, tmp_path, slip):
    # `replay --json traces/*.rep`, the output's name forgotten, replayed the first trace and then
    # wrote JSON over it, exit 0; --json and --csv naming one file kept the CSV alone (red-team
    # pass 27).
    first, second = write_trace("first", GOOD), write_trace("second", GOOD)
    kept = first.read_bytes()
    if slip == "forgotten name":
        argv, said = ["--json", first, second], f"--json {first}: a trace's name"
    elif slip == "an input":
        alias = tmp_path / "alias.json"
        alias.symlink_to(first)
        argv, said = ["--json", alias, first], f"--json {alias}: an input of this command"
    else:
        out = tmp_path / "out.txt"
        argv, said = ["--json", out, "--csv", out, first], f"--csv {out}: also --json {out}"
    run = cli(*REPLAY, *argv)
    assert (run.status, run.out) == (2, ""), run.err
    assert run.err.count("\n") == 1 and said in run.err, run.err
    assert first.read_bytes() == kept


def test_record_never_writes_over_the_program_it_records(cli, tmp_path):
    program = tmp_path / "prog"
    program.write_bytes(Path("/bin/true").read_bytes())
    program.chmod(0o755)
    run = cli("record", "-o", program, "--", program)
    assert run.status == 2 and "the program this records" in run.err
    assert program.read_bytes() == Path("/bin/true").read_bytes()


@needs_dev_full
def test_a_full_disk_under_the_gradebook_is_one_line_naming_it(cli, write_trace, tmp_path):
    record, book = tmp_path / "alice.json", tmp_path / "book.csv"  # the suffix says the format
    assert cli(*GRADE, write_trace("good", GOOD), "--json", record).status == 0
    book.symlink_to(DEV_FULL)
    run = cli("gradebook", "merge", record, "-o", book)
    assert (run.status, run.err) == (2, f"mallocsim gradebook: cannot write {book}: {FULL}\n")


@needs_dev_full
@pytest.mark.parametrize("command", ["replay", "grade"])
def test_a_full_disk_under_stdout_is_one_line(command, write_trace):
    trace = write_trace("good", GOOD)
    args = [*REPLAY, trace] if command == "replay" else [*GRADE, trace]
    with DEV_FULL.open("w") as full:
        done = run_tool(*args, stdout=full.fileno())
    assert (done.returncode, done.stderr) == (
        2,
        f"mallocsim {command}: cannot write the standard output: {FULL}\n",
    )


def test_a_closed_stdout_is_one_line_and_a_command_that_prints_nothing_works(write_trace, tmp_path):
    # Started with no standard output (`>&-`, some cron set-ups) Python has sys.stdout None:
    # a traceback ("'NoneType' object has no attribute 'flush'"), red-team pass 27.
    def without_stdout(*args: object) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(REPO / "driver")}
        return subprocess.run(
            [sys.executable, "-m", "mallocsim", *map(str, args)],
            preexec_fn=lambda: os.close(1),
            stderr=subprocess.PIPE,
            text=True,
            timeout=30,
            env=env,
        )

    done = without_stdout(*REPLAY, write_trace("good", GOOD))
    assert (done.returncode, done.stderr) == (
        2,
        "mallocsim replay: cannot write the standard output: the standard output is closed\n",
    )
    recorded = tmp_path / "true.rep"
    done = without_stdout("record", "-o", recorded, "--", "/bin/true")
    assert done.returncode == 0 and recorded.exists(), done.stderr


def test_a_reader_that_went_away_ends_the_run_quietly(write_trace):
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will ever read: every write is EPIPE
    try:
        done = run_tool(*REPLAY, write_trace("good", GOOD), stdout=write_end)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, "")


# ------------------------------------------------------------ 4. file names

UNDECODABLE = os.fsdecode(b"\xff\xfe")  # what Python makes of a file name that is no UTF-8


@pytest.fixture
def undecodable_trace(tmp_path) -> Path:
    path = tmp_path / f"{UNDECODABLE}.rep"
    path.write_text(GOOD)
    return path


def test_an_allocator_named_with_a_newline_is_one_title_line(cli, write_trace, tmp_path):
    # The title printed the path raw: a newline in a folder's name split it (red-team pass 27).
    folder = tmp_path / "nl\nx"
    folder.mkdir()
    source = folder / "mm.c"
    source.write_text(fixture_allocator("good_bump").read_text())
    run = cli("replay", "-q", "--no-timing", "-a", source, "--dialect", "classic",
              write_trace("good", GOOD))  # fmt: skip
    assert run.status == 0, run.err
    assert "nl\\x0ax/mm.c:" in run.out  # the title may wrap at 80 columns, at a space
    assert not any(line.startswith("x/mm.c") for line in run.out.splitlines())


def test_a_file_name_that_is_not_utf8_is_written_to_csv_with_replacements(
    cli, undecodable_trace, tmp_path
):
    out = tmp_path / "out.csv"
    run = cli(*REPLAY, "--csv", out, undecodable_trace)
    assert run.status == 0, run.err
    text = out.read_bytes().decode("utf-8")  # valid UTF-8 throughout
    assert "??.rep" in text  # the path, with replacements
    assert "\\xff\\xfe" in run.said  # the trace's name, each byte shown as an escape


def test_a_trace_named_outside_utf8_is_graded_and_cached(cli, undecodable_trace, tmp_path):
    # A grade's cache key encoded the trace's name, and stopped at its first byte outside UTF-8
    # with a traceback (red-team pass 10).
    source = fixture_allocator("good_bump")
    for _ in range(2):  # the second from the cache
        run = cli("grade", source, "--dialect", "classic", "--throughput", "time", "-q",
                  undecodable_trace)  # fmt: skip
        assert run.status == 0 and "Traceback" not in run.err, run.err


@pytest.mark.parametrize("stem", [UNDECODABLE, "a$\\lfoo$"], ids=["not-utf8", "dollars"])
def test_names_no_font_or_formula_can_draw_are_plotted_as_text(cli, tmp_path, stem):
    trace = tmp_path / f"{stem}.rep"
    trace.write_text(GOOD)
    saved, page = tmp_path / "run.json", tmp_path / "run.html"
    run = cli(*COMPARE, "--plots", tmp_path / "plots", "--html", page, "--json", saved, trace)
    assert run.status == 0, run.err
    assert (tmp_path / "plots" / "utilization.png").stat().st_size > 0
    page.read_bytes().decode("utf-8")
    run = cli("report", saved, "-o", tmp_path / "again.html", "--plots", tmp_path / "again")
    assert run.status == 0, run.err


# ------------------------------------------------------------ 5. JSON only Python reads

BAD_JSON = {
    "nan": '{"format": "mallocsim-results", "version": NaN}',
    "infinity": '[{"score": -Infinity}]',
    "deep": "[" * 100000 + "]" * 100000,
}


@pytest.mark.parametrize("kind", list(BAD_JSON))
@pytest.mark.parametrize("command", ["report", "diff", "gradebook"])
def test_json_only_python_reads_is_one_line(command, kind, cli, results_json, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(BAD_JSON[kind])
    args = {
        "report": ["report", bad, "-o", tmp_path / "r.html"],
        "diff": ["diff", bad, results_json],
        "gradebook": ["gradebook", "merge", bad, "-o", tmp_path / "book.csv"],
    }[command]
    run = cli(*args)
    assert run.status == 2
    [line] = run.err.splitlines()
    assert line.startswith(f"mallocsim {command}: {bad}: ")
    assert "not a JSON number" in line or "nested too deeply" in line


# ------------------------------------------------------------ 6. bad traces among others


DELETE = object()  # a hand edit that takes the field out


@pytest.mark.parametrize(
    ("where", "value", "said"),
    [
        (("series", 0, "live"), None, "damaged series, heap map or rounds (live is None)"),
        (("series", 0, "ops"), [], "ops, live and heap are not one sample each"),
        (("heap_map", "blocks"), None, "damaged series, heap map or rounds (blocks is None)"),
        (("heap_map", "heap_sizes", 0), DELETE, "heap_sizes is not one size an op replayed"),
        (("runs", 0, "traces", 0, "utilization"), 1e308, "out of any measure's range"),
        (("metadata", "load_start"), [None, 1, 2], None),  # shown as unknown
    ],
)
@pytest.mark.parametrize("output", ["text", "html"])
def test_a_hand_edited_saved_comparison_is_one_line_never_a_traceback(
    cli, write_trace, tmp_path, where, value, said, output
):
    # A results file's series, heap map and metadata were read unchecked: 16 tracebacks from
    # hand-edited fields (red-team pass 27).
    saved = tmp_path / "run.json"
    trace = write_trace("good", GOOD)
    assert cli("compare", "-q", "--no-timing", "-a", "segfit", "--json", saved, trace).status == 0
    document = json.loads(saved.read_text())
    field = document
    for key in where[:-1]:
        field = field[key]
    if value is DELETE:
        del field[where[-1]]
    else:
        field[where[-1]] = value
    saved.write_text(json.dumps(document))
    extra = ["-o", tmp_path / "run.html"] if output == "html" else []
    run = cli("report", saved, *extra)
    if said is None:
        assert run.status == 0 and "Traceback" not in run.err, run.err
    else:
        assert run.status == 2 and run.err.count("\n") == 1 and said in run.err, run.err


@pytest.mark.parametrize("kind", ["folder-named-rep", "folder-in-a-folder", "link-loop", "missing"])
def test_a_bad_trace_among_others_is_one_line_and_the_others_still_run(kind, cli, tmp_path):
    folder = tmp_path / "traces"
    folder.mkdir()
    (folder / "good.rep").write_text(GOOD)
    bad = tmp_path / "bad.rep"
    named = [bad, folder]
    if kind == "folder-named-rep":
        bad.mkdir()
        why = "is a folder, not a trace file (and holds no .rep trace files)"
    elif kind == "folder-in-a-folder":
        bad = folder / "sub.rep"
        bad.mkdir()
        named = [folder]
        why = "is a folder, not a trace file"
    elif kind == "link-loop":
        bad.symlink_to(bad)
        why = "cannot open the file: Too many levels of symbolic links"
    else:
        why = "cannot open the file: No such file or directory"
    run = cli(*REPLAY, *named)
    assert run.status == 2
    assert run.err == f"mallocsim replay: {bad}: {why}\n"
    assert "all (1/1 valid)" in run.said  # the good trace ran


@pytest.mark.parametrize("command", ["replay", "bench", "compare"])
def test_only_bad_traces_give_their_lines_and_no_empty_table(command, cli, tmp_path):
    # bench and compare printed an empty table and its legend under the error (stop 60).
    bad = tmp_path / "missing.rep"
    run = cli(command, "-q", "-a", "segfit", bad)
    assert run.status == 2
    why = "cannot open the file: No such file or directory"
    assert run.err == f"mallocsim {command}: {bad}: {why}\n"
    assert run.out == ""


# ------------------------------------------------------------ 7. block ids


def test_a_block_id_beyond_the_engines_books_is_a_malformed_trace(cli, tmp_path):
    trace = tmp_path / "huge-id.rep"
    trace.write_text("a 4294967294 8\nf 4294967294\n")  # 28 bytes asking for 140 GB of books
    run = cli(*REPLAY, trace)
    assert run.status == 2  # bad input, not the allocator's failure
    assert run.err == (
        f"mallocsim replay: {trace}:1: block id 4294967294 is too large (at most 16777215)\n"
    )


def test_what_trace_writers_hold_to_is_what_the_parser_accepts():
    biggest = MAX_TRACE_IDS - 1
    assert parse_trace_text(f"a {biggest} {MAX_TRACE_SIZE}\n").num_ids == MAX_TRACE_IDS
    with pytest.raises(TraceError, match=rf"block id {MAX_TRACE_IDS} is too large"):
        parse_trace_text(f"a {MAX_TRACE_IDS} 1\n")
    with pytest.raises(TraceError, match="larger than any heap"):
        parse_trace_text(f"a 0 {MAX_TRACE_SIZE + 1}\n")


# ------------------------------------------------------------ 8. import-mtrace


@pytest.mark.parametrize(
    "lines, why",
    [
        ("+ 0x20 0x1000000000001", "a block of 281474976710657 bytes: no trace holds one"),
        ("+ 0x20 -0x8", "a block of -8 bytes: no trace holds one"),
        ("< 0x10\n> 0x20 0x10000000000000000", "a block of 18446744073709551616 bytes: no trace"),
    ],
    ids=["above-2^48", "negative", "realloc-beyond-64-bits"],
)
def test_import_mtrace_refuses_a_size_no_trace_holds_naming_the_line(cli, tmp_path, lines, why):
    log = write_log(tmp_path, f"+ 0x10 0x8\n{lines}\n")
    run = cli("import-mtrace", log, "-o", tmp_path / "out.rep")
    assert run.status == 2
    [message] = run.err.splitlines()
    last = 3 + lines.count("\n")  # after "= Start" and the first allocation
    assert message.startswith(f"mallocsim import-mtrace: {log}:{last}: {why}")


def test_import_mtrace_refuses_more_live_blocks_than_a_trace_holds(tmp_path, monkeypatch):
    monkeypatch.setattr("mallocsim.record.MAX_TRACE_IDS", 2)
    log = write_log(tmp_path, "+ 0x10 0x8\n+ 0x20 0x8\n+ 0x30 0x8\n")
    with pytest.raises(UsageError, match=r"mtrace\.log:4: more than 2 blocks live at once"):
        import_mtrace(log, tmp_path / "out.rep")


def test_import_mtrace_of_an_empty_log_writes_a_trace_that_loads(tmp_path):
    out = tmp_path / "out.rep"
    import_mtrace(write_log(tmp_path, ""), out)
    assert load_trace(out).num_ops == 0


POINTERS = st.sampled_from(["(nil)", "0x10", "0x20", "0x30"])
SIZES = st.one_of(
    st.integers(0, 64),
    st.sampled_from([MAX_TRACE_SIZE, MAX_TRACE_SIZE + 1, 1 << 64, -1]),
)
EVENTS = st.one_of(
    st.tuples(st.just("+"), POINTERS, SIZES),
    st.tuples(st.just("-"), POINTERS),
    st.tuples(st.just("<>"), POINTERS, POINTERS, SIZES),
    st.tuples(st.just("!"), POINTERS, SIZES),
)


def _mtrace_line(event: tuple) -> str:
    def size(n: int) -> str:
        return hex(n)  # "-0x1" for a negative one, as a damaged log might have it

    if event[0] == "+":
        return f"@ ./prog:[0x401136] + {event[1]} {size(event[2])}\n"
    if event[0] == "-":
        return f"- {event[1]}\n"
    if event[0] == "<>":
        return f"< {event[1]}\n> {event[2]} {size(event[3])}\n"
    return f"! {event[1]} {size(event[2])}\n"


@settings(max_examples=150, deadline=None)
@given(st.lists(EVENTS, max_size=30))
def test_import_mtrace_writes_a_trace_that_loads_or_refuses_in_one_line(events):
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        log = write_log(folder, "".join(map(_mtrace_line, events)))
        out = folder / "out.rep"
        try:
            stats = import_mtrace(log, out)
        except UsageError as error:
            assert str(error).startswith(f"{log}:") and "\n" not in str(error)
            return
        assert load_trace(out).num_ops == stats.ops


# ------------------------------------------------------------ 9. time limits


@pytest.mark.parametrize("command", ["replay", "compare", "grade"])
def test_a_time_limit_too_short_to_start_a_child_is_a_usage_error(
    command, cli, capsys, write_trace
):
    trace = write_trace("good", GOOD)
    args = {
        "replay": ["replay", trace],
        "compare": ["compare", "-a", "segfit", trace],
        "grade": ["grade", "segfit", trace],
    }[command]
    with pytest.raises(SystemExit) as stop:
        cli(*args, "--timeout", "1e-300")
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "argument --timeout: must be at least 0.01 seconds, not 1e-300" in err


def test_the_pytest_plugins_time_limit_has_the_same_minimum(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO / "driver"))
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makefile(".rep", good=GOOD)
    result = pytester.runpytest_subprocess(
        "-p", "mallocsim.pytest_plugin",
        f"--mallocsim-allocator={fixture_allocator('good_bump')}",
        "--mallocsim-dialect=classic",
        f"--mallocsim-traces={pytester.path}",
        "--mallocsim-timeout=1e-300",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: mallocsim: --mallocsim-timeout must be at least 0.01 seconds, not 1e-300"]
    )
