"""Terminal output in 80 columns: every line replay, bench, compare and grade
print by default on the bundled traces, with several allocators, fits; --wide
keeps the one-line-per-trace layout; tables stack rather than cut; numbers
are written by one module; every output is checked before any work."""

from __future__ import annotations

import time

import pytest

from mallocsim.numbers import count, duration, kops, per_op, percent, ratio, size
from mallocsim.references import REFERENCES, ReferenceMissing, require
from mallocsim.table import fit, render_table, widest

from .conftest import FIXTURE_ALLOCATORS, REPO

TRACES = REPO / "traces"
WIDTH = 80


def installed_references() -> list[str]:
    names = []
    for name, reference in REFERENCES.items():
        try:
            require(reference)
        except ReferenceMissing:
            continue
        names.append(name)
    return names


def too_long(text: str) -> list[str]:
    return [line for line in text.splitlines() if len(line) > WIDTH]


def allocator_options(names: list[str]) -> list[str]:
    return [option for name in names for option in ("-a", name)]


def test_replay_fits_80_columns_with_several_allocators(cli):
    names = ["segfit", "implicit", "glibc", *installed_references()[1:2]]
    run = cli("replay", *allocator_options(names), "--min-seconds", "0", "-q", TRACES)
    assert run.status == 0, run.err
    assert run.out.count("Results for") == len(names)
    assert too_long(run.out) == []


def test_compare_fits_80_columns_with_every_allocator_stacked(cli):
    names = ["segfit", "implicit", "explicit", *installed_references()]
    traces = [TRACES / f"{name}.rep" for name in ("gcc-compile", "gen-random", "python-json")]
    run = cli("compare", *allocator_options(names), "--no-timing", "-q", *traces)
    assert run.status == 0, run.err
    assert too_long(run.out) == []
    for name in names:  # each allocator heads a column group of a block, none is lost
        assert run.out.split().count(name) >= 1
    # Each block repeats the traces: every trace is there once per block.
    blocks = run.out.split("\n\n")
    assert len(blocks) >= 2
    for block in blocks:
        assert "gen-random" in block and "geomean" in block


def test_compare_wide_keeps_one_line_per_trace(cli):
    names = ["segfit", "implicit", "explicit", "glibc"]
    run = cli(
        "compare", *allocator_options(names), "--no-timing", "-q", "--wide",
        TRACES / "gen-random.rep", TRACES / "gen-binary.rep",
    )  # fmt: skip
    assert run.status == 0, run.err
    rows = [line for line in run.out.splitlines() if line.startswith("gen-random")]
    assert len(rows) == 1 and len(rows[0].split()) == 2 + 2 * len(names)
    assert widest(run.out) > WIDTH  # the note is one line, as it was


def test_bench_fits_80_columns(cli):
    run = cli(
        "bench", "-a", "segfit", "-a", "implicit", "-a", "explicit", "--min-seconds", "0", "-q",
        TRACES / "gen-random.rep", TRACES / "gen-binary.rep", TRACES / "gen-realloc.rep",
    )  # fmt: skip
    assert run.status == 0, run.err
    assert too_long(run.out) == []
    assert "vs glibc" in run.said and "mean / geomean" in run.out


def test_grade_fits_80_columns(cli):
    run = cli(
        "grade", FIXTURE_ALLOCATORS / "labs" / "csapp_explicit.c", "--lab", "csapp",
        "--throughput", "time", "-q", TRACES / "gen-random.rep", TRACES / "gen-binary.rep",
    )  # fmt: skip
    assert run.status in (0, 1), run.err
    assert "score" in run.said
    assert too_long(run.out) == []


def test_grade_keeps_the_compilers_warnings_as_the_compiler_wrote_them(cli, write_trace, tmp_path):
    # Wrapped to 80 columns, gcc's caret lines under a long format string were split and
    # re-indented: "~^" no longer under the "%lu" it points at (lab check run 17).
    source = tmp_path / "mm.c"
    long_call = (
        '    printf("a format string long enough to push its caret past column 80: %lu\\n", 1);'
    )
    source.write_text(
        (FIXTURE_ALLOCATORS / "labs" / "csapp_implicit.c").read_text()
        + f"\nvoid chatty(void);\nvoid chatty(void) {{\n{long_call}\n}}\n"
    )
    run = cli("grade", source, "--lab", "csapp", "--throughput", "time", "-q",
              write_trace("small", "a 0 8\nf 0\n"))  # fmt: skip
    assert "Compiler warnings (1" in run.out, run.out
    caret_lines = [line for line in run.out.splitlines() if "~~^" in line]
    assert caret_lines and all(len(line) > WIDTH for line in caret_lines)
    assert long_call.strip() in run.out  # the quoted line whole
    warnings_end = run.out.index("Results for")
    assert too_long(run.out[warnings_end:]) == []  # the rest still fits


def test_a_wide_table_is_stacked_by_groups_and_nothing_is_cut():
    header = ["trace", "bound", *["util", "Kops/s"] * 6]
    body = [["gen-random", "100.0%", *[f"{i}.0%", f"{i},000"] * 6] for i in range(3)]
    groups = [("", 2)] + [(f"allocator{i}", 2) for i in range(6)]
    wide = render_table([header], body, groups=groups)
    assert widest(wide) > WIDTH
    narrow = render_table([header], body, groups=groups, width=WIDTH)
    assert widest(narrow) <= WIDTH
    for i in range(6):
        assert narrow.count(f"allocator{i}") == 1
    assert narrow.count("gen-random") == 3 * len(narrow.split("\n\n"))


def test_a_long_name_gets_a_line_of_its_own():
    name = "x" * 70
    text = render_table([["trace", "util", "Kops/s"]], [[name, "50.0%", "1,000"]], width=WIDTH)
    assert widest(text) <= WIDTH
    lines = text.splitlines()
    assert name in lines and any(line.split() == ["50.0%", "1,000"] for line in lines)


def test_fit_wraps_prose_at_spaces_and_keeps_long_words_whole():
    line = "  " + " ".join(["word"] * 40)
    wrapped = fit(line).splitlines()
    assert all(len(part) <= WIDTH for part in wrapped)
    assert wrapped[1].startswith("    word")  # continued two further in
    path = "/" + "p" * 100
    assert fit(f"see {path}") == f"see\n  {path}"
    assert fit(line, None) == line


def test_numbers_are_written_one_way():
    assert percent(0.93141) == "93.1%" and kops(42_409_000) == "42,409"
    assert duration(235.8e-6) == "235.8 us" and duration(0.0125) == "12.50 ms"
    assert duration(1.2345) == "1.234 s" and ratio(2.754) == "2.75x"
    assert count(10_000) == "10,000" and count(0) == "0"
    assert per_op(0.4) == "<1" and per_op(1234.4) == "1,234"
    assert size(512) == "512 B" and size(25_769_804_800) == "24.0 GiB"
    assert size(36 << 30) == "36.0 GiB" and size(300 << 20) == "300 MiB"
    for format_number in (percent, kops, duration, ratio, count, per_op, size):
        assert format_number(None) == "-"


@pytest.mark.parametrize(
    ("command", "option", "value"),
    [
        ("compare", "--html", "/nonexistent/r.html"),
        ("compare", "--json", "/nonexistent/r.json"),
        ("compare", "--csv", "/nonexistent/r.csv"),
        ("compare", "--plots", "/etc/hostname/plots"),
        ("replay", "--json", "/nonexistent/r.json"),
        ("replay", "--csv", "/proc/nonexistent/r.csv"),
        ("bench", "--json", "/nonexistent/b.json"),
    ],
)
def test_an_output_that_cannot_be_written_stops_the_command_before_any_work(
    cli, command, option, value
):
    start = time.monotonic()
    run = cli(command, "-a", "segfit", option, value, TRACES)
    assert time.monotonic() - start < 1
    assert run.status == 2 and run.out == ""
    [line] = run.err.splitlines()  # no progress line: nothing ran
    assert line.startswith(f"mallocsim {command}: cannot write {value}: ")


def test_a_folder_given_for_a_file_and_a_grade_output_are_checked_first(cli, tmp_path):
    run = cli("replay", "--json", tmp_path, TRACES / "gen-random.rep")
    assert run.status == 2 and run.err.strip() == (
        f"mallocsim replay: cannot write {tmp_path}: Is a directory"
    )
    source = FIXTURE_ALLOCATORS / "labs" / "csapp_explicit.c"
    for option in ("--gradescope", "--junit", "--json"):
        run = cli("grade", source, "--lab", "csapp", option, "/nonexistent/out", TRACES)
        assert run.status == 2 and run.out == ""
        assert run.err.strip() == (
            "mallocsim grade: cannot write /nonexistent/out: No such file or directory"
        )


def test_checking_an_output_leaves_nothing_behind(cli, tmp_path):
    existing = tmp_path / "kept.json"
    existing.write_text("old")
    run = cli(
        "compare", "-a", "segfit", "--json", tmp_path / "new.json", "--csv", existing,
        "--html", "/nonexistent/r.html", TRACES,
    )  # fmt: skip
    assert run.status == 2 and "cannot write /nonexistent/r.html" in run.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.json"]
    assert existing.read_text() == "old"
