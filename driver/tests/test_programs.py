"""`mallocsim programs`: the benchmark programs of c/bench/ build, print their
one line under glibc and under our drop-in, are measured from a small
launcher, and are run interleaved; a crashing or missing allocator is one
line and the rest is kept; bad arguments are one line and exit 2.

Every run here is tiny (--scale 0.001: a few milliseconds a program), and no
test needs jemalloc, mimalloc or tcmalloc installed.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mallocsim import programs
from mallocsim.programs import (
    DROPIN,
    OPS,
    PROGRAMS,
    SECONDS,
    Allocator,
    Cell,
    Run,
    build_programs,
    configurations,
    memory_ratio,
    parse_figure,
    pinned,
    resolve_allocators,
    run_program,
    run_suite,
    speed_ratio,
)
from mallocsim.stats import describe

TINY = 0.001  # --scale of every run here
SMALL_RSS = 64 << 20  # a program's peak RSS is its own, far below the interpreter's


@pytest.fixture(scope="module")
def built() -> programs.Built:
    return build_programs()


@pytest.fixture(scope="module")
def under() -> dict[str, Allocator]:
    allocators, skipped = resolve_allocators(["glibc", DROPIN])
    assert not skipped, skipped
    return {a.name: a for a in allocators}


# A drop-in must define malloc and free (programs refuses any other library): the fixtures'
# malloc is glibc's.
GLIBCS_MALLOC = (
    "#include <stddef.h>\nvoid *__libc_malloc(size_t n);\n"
    "void *malloc(size_t n) { return __libc_malloc(n); }\n"
)


@pytest.fixture(scope="module")
def crashing_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A drop-in whose free crashes on any block: every program dies on it."""
    folder = tmp_path_factory.mktemp("crash")
    source = folder / "crash.c"
    source.write_text(GLIBCS_MALLOC + "void free(void *p) { if (p) *(volatile int *)0 = 0; }\n")
    library = folder / "libcrash.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", library, source], check=True)
    return library


def test_every_program_and_the_launcher_build(built):
    assert set(built.programs) == set(PROGRAMS)
    for path in [built.launcher, *built.programs.values()]:
        assert path.is_file() and path.stat().st_mode & 0o111


def test_a_program_is_compiled_again_only_when_its_flags_change(tmp_path):
    churn = PROGRAMS["churn"]
    first = build_programs([churn], tmp_path).programs["churn"].stat().st_mtime_ns
    assert build_programs([churn], tmp_path).programs["churn"].stat().st_mtime_ns == first
    (tmp_path / "churn.flags").write_text("cc -O0")
    assert build_programs([churn], tmp_path).programs["churn"].stat().st_mtime_ns != first


@pytest.mark.parametrize("allocator", ["glibc", DROPIN])
@pytest.mark.parametrize("name", list(PROGRAMS))
def test_each_program_prints_its_figure_under_glibc_and_ours(built, under, name, allocator):
    program = PROGRAMS[name]
    arguments = program.arguments(2 if program.threaded else None, TINY)
    run = run_program(program, built, arguments, under[allocator])
    assert run.error is None
    assert run.figure is not None and run.figure > 0
    assert 0 < run.peak_rss < SMALL_RSS  # the program's own, not the launching interpreter's
    assert 0 < run.wall_seconds < 10


def test_our_drop_in_runs_from_a_copy_taken_at_the_start(under, tmp_path):
    other = Allocator("mine", tmp_path / "libmine.so")  # given by path: left where it is
    glibc, ours, mine = pinned([under["glibc"], under[DROPIN], other], tmp_path)
    assert (glibc, mine) == (under["glibc"], other)
    assert ours.name == DROPIN and ours.preload == tmp_path / "libmallocsim.so"
    assert ours.preload.read_bytes() == under[DROPIN].preload.read_bytes()


def test_a_bad_option_is_one_line_and_exit_2(built):
    done = subprocess.run(
        [built.programs["larson"], "-t", "0"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "-t 0: not a whole number from 1 to 64" in done.stderr


@pytest.mark.parametrize(
    ("printed", "expected"),
    [
        ("churn 0.25 s\n", 0.25),
        ("churn 2.5e-01 s", 0.25),
        ("larson 0.25 s\n", None),  # another program's name
        ("churn 0.25 ops/s\n", None),  # another unit
        ("churn 0.25 s\nchurn 0.25 s\n", None),  # two lines
        ("churn nan s\n", None),
        ("churn -1 s\n", None),
        ("", None),
    ],
)
def test_the_figure_is_exactly_one_line(printed, expected):
    assert parse_figure(PROGRAMS["churn"], printed) == expected


def test_a_hang_is_stopped_at_the_time_limit(built, under):
    larson = PROGRAMS["larson"]
    run = run_program(larson, built, ["-s", "30"], under["glibc"], timeout=0.3)
    assert run.error == "did not finish within 0.3 s"
    assert run.figure is None and run.wall_seconds < 5


def _cell(allocator: str, unit: str, figures: list[float], rss: list[int]) -> Cell:
    runs = tuple(Run(f, 1.0, r) for f, r in zip(figures, rss, strict=True))
    return Cell("p", None, allocator, unit, runs, describe(figures), describe(rss), None)


def test_both_ratios_are_higher_when_better():
    glibc_time = _cell("glibc", SECONDS, [2.0, 2.0, 9.0], [400, 400, 400])
    fast_small = _cell("x", SECONDS, [1.0, 1.0, 0.5], [100, 200, 200])
    assert speed_ratio(fast_small, glibc_time) == 2.0  # medians: 2 s against 1 s
    assert memory_ratio(fast_small, glibc_time) == 2.0  # 400 against 200
    glibc_ops = _cell("glibc", OPS, [100.0], [1])
    assert speed_ratio(_cell("x", OPS, [300.0], [1]), glibc_ops) == 3.0
    assert speed_ratio(fast_small, None) is None


def test_runs_are_interleaved_and_a_failed_cell_is_not_run_again(monkeypatch, built):
    calls = []

    def fake(program, _built, _arguments, allocator, _timeout):
        calls.append((program.name, allocator.name))
        if allocator.name == "bad":
            return Run(None, 0.1, None, "crashed with SIGSEGV")
        return Run(1.0, 1.0, 1 << 20)

    monkeypatch.setattr(programs, "run_program", fake)
    allocators = [Allocator("glibc", None), Allocator("ours", None), Allocator("bad", None)]
    configs = configurations(["churn", "large"])
    cells = run_suite(configs, allocators, built, repeat=3)
    churn = [a for p, a in calls if p == "churn"]
    # each round rotates the order, so that no allocator always runs first
    assert churn == ["glibc", "ours", "bad", "ours", "glibc", "glibc", "ours"]
    bad = [c for c in cells if c.allocator == "bad"]
    assert [c.error for c in bad] == ["crashed with SIGSEGV in run 1 of 3 (not run again)"] * 2
    assert all(c.figure is not None and c.figure.n == 3 for c in cells if c.allocator != "bad")


def test_a_crashing_allocator_is_one_line_and_the_rest_kept(cli, crashing_library, tmp_path):
    out = tmp_path / "out.json"
    run = cli(
        "programs", "-q", "-a", crashing_library, "-p", "churn", "--repeat", "2",
        "--scale", TINY, "--json", out,
    )  # fmt: skip
    assert run.status == 1, run.err
    assert run.out.count("libcrash: crashed with SIGSEGV in run 1 of 2 (not run again)") == 1
    assert max(map(len, run.out.splitlines())) <= 80
    document = json.loads(out.read_text())
    assert document["format"] == "mallocsim-programs"
    cells = {c["allocator"]: c for c in document["cells"]}
    assert len(cells["libcrash"]["runs"]) == 1
    assert cells["glibc"]["error"] is None and cells["glibc"]["figure"]["n"] == 2


def test_what_a_failing_library_printed_is_shown_escaped(cli, tmp_path):
    # Anyone's library may print terminal escapes; its last line is the run's diagnosis.
    source = tmp_path / "shout.c"
    source.write_text(
        "#include <stdio.h>\n#include <unistd.h>\n"
        + GLIBCS_MALLOC
        + 'void free(void *p) { (void)p; dprintf(2, "\\x1b[8mhidden\\n"); _exit(3); }\n'
    )
    library = tmp_path / "libshout.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", library, source], check=True)
    run = cli("programs", "-q", "-a", library, "-p", "churn", "--repeat", "1", "--scale", TINY)
    assert run.status == 1, run.err
    assert "\x1b" not in run.out + run.err and "\\x1b[8mhidden" in run.out, run.out


def test_libraries_of_one_file_name_are_two_allocators_shown_by_path(cli, under, tmp_path):
    copies = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        copies.append(tmp_path / folder / "libmallocsim.so")
        copies[-1].write_bytes(under[DROPIN].preload.read_bytes())
    out = tmp_path / "out.json"
    run = cli(
        "programs", "-q", "-a", copies[0], "-a", copies[1], "-p", "churn", "--repeat", "2",
        "--scale", TINY, "--json", out,
    )  # fmt: skip
    assert run.status == 0, run.err
    document = json.loads(out.read_text())
    assert document["allocators"] == ["glibc", str(copies[0]), str(copies[1])]
    assert [len(c["runs"]) for c in document["cells"]] == [2, 2, 2]
    assert str(copies[0]) in run.out and str(copies[1]) in run.out


def test_a_library_is_shown_by_its_stem_unless_another_allocator_has_that_name(
    crashing_library, tmp_path
):
    (tmp_path / "glibc.so").write_bytes(crashing_library.read_bytes())
    (tmp_path / "libmine.so").write_bytes(crashing_library.read_bytes())
    named = [str(tmp_path / "glibc.so"), str(tmp_path / "libmine.so")]
    allocators, _ = resolve_allocators(named)
    assert [a.name for a in allocators] == ["glibc", named[0], "libmine"]
    assert allocators[0].preload is None and allocators[1].preload == tmp_path / "glibc.so"


def test_a_missing_allocator_is_skipped_in_one_line(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("MALLOCSIM_JEMALLOC_LIBRARY", str(tmp_path / "none.so"))
    plot = tmp_path / "ratios.svg"
    run = cli(
        "programs", "-q", "-a", "jemalloc", "-a", DROPIN, "-p", "large", "--repeat", "1",
        "--scale", TINY, "--plot", plot,
    )  # fmt: skip
    assert run.status == 0, run.err
    assert run.err.splitlines() == [
        f"mallocsim programs: jemalloc skipped: jemalloc is not installed ({tmp_path}/none.so "
        "does not exist): apt-get install libjemalloc2"
    ]
    assert "glibc" in run.out and DROPIN in run.out and "jemalloc" not in run.out
    assert plot.read_text().startswith("<?xml")


@pytest.mark.parametrize(
    ("library", "said"),
    [
        ("notelf", "not an ELF file"),
        ("bits32", "a 32-bit library: the benchmark programs are 64-bit"),
        ("nomalloc", "defines no malloc or free: not a drop-in malloc library"),
        ("program", "a program, not a library: the loader will not preload it"),
    ],
)
def test_a_library_the_loader_would_ignore_is_refused_before_any_run(cli, tmp_path, library, said):
    # LD_PRELOAD of a file the loader cannot use is ignored with a warning: the programs ran on
    # glibc and glibc's figures were shown under the library's name, exit 0 (red-team pass 27).
    path = tmp_path / f"{library}.so"
    if library == "notelf":
        path.write_text("not a library\n")
    else:
        source = tmp_path / "lib.c"
        source.write_text(GLIBCS_MALLOC + "void free(void *p) { (void)p; }\n")
        if library == "nomalloc":
            source.write_text("int not_a_malloc;\n")
        kind = {"bits32": ["-m32", "-shared"], "program": ["-pie", "-rdynamic"]}
        if library == "program":
            source.write_text(source.read_text() + "int main(void) { return 0; }\n")
        flags = kind.get(library, ["-shared"])
        subprocess.run(["cc", *flags, "-fPIC", "-o", path, source], check=True)
    run = cli("programs", "-q", "-a", path, "-p", "churn", "--repeat", "1", "--scale", TINY)
    assert (run.status, run.out) == (2, "")
    assert run.err == f"mallocsim programs: {path}: {said}\n"


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["-a", "nosuch"], "unknown allocator 'nosuch'"),
        (["-a", "missing.so"], "missing.so: no such library"),
        (["--plot", "ratios.gif"], "ratios.gif: a figure's name ends in .png, .svg, .pdf"),
        (["--json", "/no/such/folder/out.json"], "cannot write /no/such/folder/out.json"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_before_any_run(cli, argv, said):
    run = cli("programs", "-q", *argv)
    assert run.status == 2 and run.out == ""
    assert run.err.count("\n") == 1 and said in run.err


@pytest.mark.parametrize(
    "argv",
    [["--repeat", "0"], ["-t", "0"], ["-p", "nosuch"], ["--scale", "x"], ["--timeout", "-1"]],
)
def test_bad_arguments_are_argparses_one_line_and_exit_2(cli, capsys, argv):
    with pytest.raises(SystemExit) as stop:
        cli("programs", *argv)
    assert stop.value.code == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith("mallocsim programs: error: ")
