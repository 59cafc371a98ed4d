"""`mallocsim grade` over a class: submissions found in folders or named, graded
in parallel by their own processes, the gradebook and per-student autograder
files, the content-keyed cache (a re-run grades only what changed), Ctrl-C
keeping every finished grade, and bad input as one line."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from mallocsim.batch import (
    STUDENT_FILE_BYTES,
    allocator_in_folder,
    find_submissions,
    split_arguments,
    student_file,
)
from mallocsim.errors import UsageError

from .conftest import fixture_allocator
from .test_gradescope import SCHEMA

TRACE = "".join(f"a {i} {16 + 8 * i}\n" for i in range(20)) + "".join(f"f {i}\n" for i in range(20))
# A T_ref of 1 Kops/s: any allocator that finishes is at the cap, so a score never rests on a
# three-pass timing of a tiny trace on a loaded machine (two gradings must agree to the digit).
FAST = '[grade]\nmin_seconds = 0.0\nthroughput = "time"\n[score]\nreference_throughput = 1e3\n'
BROKEN = '#include "mm.h"\nint mm_init(void) { return oops; }\n'


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test starts from an empty cache of its own (the workers inherit it)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def course(tmp_path, write_trace):
    """A class of three (a correct one, one that crashes, one that does not
    compile), the traces and a fast grading.toml: (class folder, traces, toml)."""
    folder = tmp_path / "class"
    for student, source in (("alice", "good_bump"), ("bob", "segfault")):
        (folder / student).mkdir(parents=True)
        shutil.copy(fixture_allocator(source), folder / student / "mm.c")
    (folder / "carol").mkdir()
    (folder / "carol" / "mm.c").write_text(BROKEN)
    traces = tmp_path / "traces"
    traces.mkdir()
    write_trace("t1", TRACE).rename(traces / "t1.rep")
    write_trace("t2", TRACE).rename(traces / "t2.rep")
    toml = tmp_path / "grading.toml"
    toml.write_text(FAST)
    return folder, traces, toml


def grade_class(cli, course, *extra: object):
    folder, traces, toml = course
    return cli("grade", folder, traces, "--dialect", "classic", "--config", toml, "-q", *extra)


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    with path.open() as rows:
        return {row["student"]: row for row in csv.DictReader(rows)}


def test_a_class_folder_is_graded_into_a_gradebook_and_a_summary(cli, course, tmp_path):
    book = tmp_path / "book.csv"
    run = grade_class(cli, course, "--gradebook", book, "--gradebook", tmp_path / "book.json")
    assert run.status == 1  # bob and carol failed
    rows = read_csv(book)
    assert sorted(rows) == ["alice", "bob", "carol"]
    assert rows["alice"]["passed"] == "True" and float(rows["alice"]["score"]) > 0
    assert rows["alice"]["valid"] == "2" and rows["alice"]["first_failure"] == ""
    assert rows["bob"]["valid"] == "0" and "SIGSEGV" in rows["bob"]["first_failure"]
    assert rows["carol"]["score"] == "0.0" and "does not compile" in rows["carol"]["first_failure"]
    assert [r["student"] for r in json.loads((tmp_path / "book.json").read_text())] == [
        "alice", "bob", "carol",
    ]  # fmt: skip
    assert "1 of 3 submissions passed every trace" in run.said
    assert "3 graded now, 0 from the cache" in run.said
    assert all(len(line) <= 80 for line in run.out.splitlines()[:5])


def test_a_rerun_takes_unchanged_grades_from_the_cache_and_regrades_a_changed_one(
    cli, course, tmp_path
):
    book = tmp_path / "book.csv"
    first = grade_class(cli, course, "--gradebook", book)
    before = read_csv(book)
    again = grade_class(cli, course, "--gradebook", book)
    assert "0 graded now, 3 from the cache" in again.out
    assert read_csv(book)["alice"]["score"] == before["alice"]["score"]
    assert read_csv(book)["alice"]["cached"] == "True"
    folder = course[0]
    with (folder / "alice" / "mm.c").open("a") as source:
        source.write("/* a late change */\n")
    third = grade_class(cli, course, "--gradebook", book)
    assert "1 graded now, 2 from the cache" in third.out
    assert read_csv(book)["alice"]["cached"] == "False"
    assert first.status == again.status == third.status == 1


def test_a_changed_setting_is_not_served_from_the_cache(cli, course, tmp_path):
    grade_class(cli, course)
    run = grade_class(cli, course, "--check-heap")
    assert "3 graded now" in run.said


def test_each_student_gets_a_gradescope_and_a_junit_file(cli, course, tmp_path):
    results, junit = tmp_path / "results", tmp_path / "junit"
    grade_class(cli, course, "--gradescope", results, "--junit", junit)
    assert sorted(p.name for p in results.iterdir()) == ["alice.json", "bob.json", "carol.json"]
    for written in results.iterdir():  # a passing, a crashing and a non-compiling one
        jsonschema.validate(json.loads(written.read_text()), SCHEMA)
    alice = json.loads((results / "alice.json").read_text())
    assert alice["score"] > 0 and all(t["status"] == "passed" for t in alice["tests"])
    carol = json.loads((results / "carol.json").read_text())
    assert carol["score"] == 0 and "does not compile" in carol["tests"][0]["output"]
    assert (junit / "bob.xml").read_text().count("<failure") >= 1


def test_cached_grades_still_write_their_autograder_files(cli, course, tmp_path):
    grade_class(cli, course)
    results = tmp_path / "results"
    run = grade_class(cli, course, "--gradescope", results)
    assert "3 from the cache" in run.said
    assert json.loads((results / "alice.json").read_text())["score"] > 0


def test_one_grade_as_a_record_merges_into_the_same_gradebook(cli, course, tmp_path):
    folder, traces, toml = course
    records = tmp_path / "records"
    records.mkdir()
    for student in ("alice", "bob", "carol"):
        cli(
            "grade", folder / student / "mm.c", traces, "--dialect", "classic", "--config", toml,
            "-q", "--json", records / f"{student}.json", "--student", student,
        )  # fmt: skip
    merged = tmp_path / "merged.csv"
    run = cli("gradebook", "merge", records, "-o", merged)
    assert run.status == 0 and "1 of 3 submissions passed every trace" in run.said
    direct = tmp_path / "direct.csv"
    grade_class(cli, course, "--gradebook", direct)
    assert _graded(read_csv(merged)) == _graded(read_csv(direct))


def test_a_records_student_name_cannot_draw_over_the_merged_summary(cli, course, tmp_path):
    # grade --student takes the name as given (a script names records after folders): its
    # cursor moves and CR drew a forged row over alice's in `gradebook merge`'s summary.
    folder, traces, toml = course
    record = tmp_path / "mallory.json"
    forged = "mallory\x1b[1A\r\x1b[2Kalice      100.0    2/2"
    cli("grade", folder / "alice" / "mm.c", traces, "--dialect", "classic", "--config", toml,
        "-q", "--json", record, "--student", forged)  # fmt: skip
    run = cli("gradebook", "merge", record, "-o", tmp_path / "merged.csv")
    assert run.status == 0 and not any(c in run.said for c in "\x1b\r"), run.said
    assert "mallory\\x1b[1A\\x0d" in run.said


def _graded(rows: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The rows without what depends on when and how the grade was made."""
    ignore = {"seconds", "cached", "key", "submission", "throughput_ratio"}  # timed
    return {s: {k: v for k, v in r.items() if k not in ignore} for s, r in rows.items()}


def test_merging_keeps_the_last_record_of_a_student(cli, course, tmp_path):
    folder, traces, toml = course
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    common = ("--dialect", "classic", "--config", toml, "-q", "--student", "dave")
    cli("grade", folder / "carol" / "mm.c", traces, "--json", first, *common)
    cli("grade", folder / "alice" / "mm.c", traces, "--json", second, *common)
    book = tmp_path / "book.csv"
    cli("gradebook", "merge", first, second, "-o", book)
    assert read_csv(book)["dave"]["passed"] == "True"


@pytest.mark.parametrize(
    "content, said",
    [
        ("{", "not JSON"),
        ('{"format": "something else"}', "not a mallocsim grade record"),
        ('{"format": "mallocsim-grade", "version": 99}', "version 99 grade record"),
    ],
)
def test_merging_a_file_that_is_not_a_record_is_one_line(cli, tmp_path, content, said):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    run = cli("gradebook", "merge", bad, "-o", tmp_path / "book.csv")
    assert run.status == 2 and said in run.err and len(run.err.strip().splitlines()) == 1


def test_a_record_that_cannot_be_read_leaves_out_its_student_only(cli, course, tmp_path):
    # One record holding NaN (written by a grade whose timing a submission forged) made `merge`
    # refuse the whole class: no gradebook for anyone (red-team pass 16).
    folder, traces, toml = course
    records = tmp_path / "records"
    records.mkdir()
    cli(
        "grade", folder / "alice" / "mm.c", traces, "--dialect", "classic", "--config", toml,
        "-q", "--json", records / "alice.json", "--student", "alice",
    )  # fmt: skip
    (records / "mallory.json").write_text('{"format": "mallocsim-grade", "score": NaN}')
    book = tmp_path / "book.csv"
    run = cli("gradebook", "merge", records, "-o", book)
    assert run.status == 2, run.said
    assert list(read_csv(book)) == ["alice"]
    assert run.err.strip() == (
        f"mallocsim gradebook: {records / 'mallory.json'}: not JSON (NaN is not a JSON number): "
        "left out"
    ), run.err
    assert cli("gradebook", "merge", records / "mallory.json", "-o", book).status == 2


@pytest.mark.parametrize("measure", ["time", "instructions"])
def test_a_class_graded_by_time_gets_a_core_a_grade_pair_by_default(cli, course, measure):
    # Timed passes need a core each, and a grade's grader waits on another: with -j 2 on 2 cores
    # two honest copies lost 6-11 points (red-team pass 16). By time the default is one grade
    # for every two cores, and more is said to cost that; counted grades keep one a core.
    from mallocsim.batch import default_jobs

    cores = os.cpu_count() or 1
    assert default_jobs(measure) == (max(1, cores // 2) if measure == "time" else cores)
    crowded = default_jobs(measure) + 1
    run = grade_class(cli, course, "--throughput", measure, "-j", crowded, "--no-cache")
    warned = f"-j {crowded} with --throughput time: each grade's timed passes need a core"
    assert (warned in run.said) == (measure == "time"), run.said
    quiet = grade_class(cli, course, "--throughput", measure, "--no-cache")
    assert "timed passes need a core" not in quiet.said
    assert f"with -j {default_jobs(measure)}:" in quiet.said


def test_a_gradebook_must_be_csv_or_json(cli, course, tmp_path):
    run = grade_class(cli, course, "--gradebook", tmp_path / "book.xlsx")
    assert run.status == 2 and "a .csv or a .json file" in run.err


def test_one_record_flag_is_refused_for_a_class(cli, course):
    run = grade_class(cli, course, "-g")
    assert run.status == 2 and "are for one allocator" in run.err


def test_arguments_are_sorted_into_submissions_and_traces(course):
    folder, traces, _ = course
    assert split_arguments([str(folder), str(traces)]) == ([str(folder)], [str(traces)])
    with pytest.raises(UsageError, match="no traces"):
        split_arguments([str(folder)])
    with pytest.raises(UsageError, match="no allocator to grade"):
        split_arguments([str(traces)])


def test_submissions_are_named_for_their_folders_or_files(course, tmp_path):
    folder = course[0]
    assert [s.student for s in find_submissions([str(folder)])] == ["alice", "bob", "carol"]
    assert [s.student for s in find_submissions([str(folder / "bob" / "mm.c")])] == ["bob"]
    other = tmp_path / "zed.c"
    other.write_text("")
    assert [s.student for s in find_submissions([str(other)])] == ["zed"]


def test_a_student_folder_without_one_allocator_is_graded_zero_with_the_reason(cli, course):
    folder = course[0]
    (folder / "erin").mkdir()
    (folder / "erin" / "a.c").write_text("")
    (folder / "erin" / "b.c").write_text("")
    (folder / "frank").mkdir()
    submissions = {s.student: s for s in find_submissions([str(folder)])}
    assert "holds 2 .c files and no mm.c" in (submissions["erin"].problem or "")
    assert "holds no .c file" in (submissions["frank"].problem or "")
    run = grade_class(cli, course)
    assert "holds 2 .c files" in run.said


def test_links_out_of_a_students_folder_are_graded_zero_and_never_read(cli, course, tmp_path):
    # erin's mm.c is a link to a file of the grader's, frank's folder a link to alice's: the
    # compiler would quote the first in erin's messages, and grade alice's file as frank's.
    folder = course[0]
    secret = tmp_path / "answers.c"
    secret.write_text("the-answer-key\n")
    (folder / "erin").mkdir()
    (folder / "erin" / "mm.c").symlink_to(secret)
    (folder / "frank").symlink_to(folder / "alice")
    submissions = {s.student: s for s in find_submissions([str(folder)])}
    assert submissions["frank"].problem == "frank/ is a symbolic link, not a folder"
    run = grade_class(cli, course, "--gradescope", tmp_path / "gs")
    assert "a symbolic link" in run.said and "answer-key" not in run.said
    assert "answer-key" not in (tmp_path / "gs" / "erin.json").read_text()


def test_students_named_as_options_formulas_escapes_or_at_length_are_graded_alike(
    cli, course, tmp_path
):
    # Folder names are whoever made them: "-x" was read by the worker as an option (zero for a
    # correct file), a formula ran in the gradebook's spreadsheet, ESC and CR reached the terminal
    # and made the JUnit file ill-formed, and a 252-character name stopped every student's files.
    import xml.dom.minidom

    folder = course[0]
    # and a name not in UTF-8 ended the class run in a traceback (red-team pass 10)
    names = ["-x", '=HYPERLINK("evil","click")', "eve\x1b[31m\rFAKE", "a" * 252,
             os.fsdecode(b"caf\xff")]  # fmt: skip
    for name in names:
        (folder / name).mkdir()
        shutil.copy(fixture_allocator("good_bump"), folder / name / "mm.c")
    book = tmp_path / "book.csv"
    run = grade_class(cli, course, "--gradebook", book, "--junit", tmp_path / "ju",
                      "--gradescope", tmp_path / "gs")  # fmt: skip
    assert "\x1b" not in run.out + run.err and "\r" not in run.out
    rows = read_csv(book)
    shown = ["-x", '=HYPERLINK("evil","click")', "eve\\x1b[31m\\x0dFAKE", "a" * 252, "caf\\xff"]
    for name in shown:
        key = "'" + name if name[0] in "=-" else name
        assert rows[key]["valid"] == "2", (name, rows[key])
    for report in (tmp_path / "ju").iterdir():
        xml.dom.minidom.parse(str(report))
    assert len(list((tmp_path / "gs").iterdir())) == 3 + len(names)


def test_students_who_hand_in_the_same_file_each_get_their_own_row(cli, course, tmp_path):
    # Same file, same key: their workers wrote one record file, and one student's row stood for
    # both (the other missing from the gradebook), as two students handing in the starter code do.
    folder = course[0]
    (folder / "dave").mkdir()
    shutil.copy(folder / "alice" / "mm.c", folder / "dave" / "mm.c")
    book = tmp_path / "book.csv"
    grade_class(cli, course, "--gradebook", book, "--no-cache", "-j", "2")
    rows = read_csv(book)
    assert {"alice", "bob", "carol", "dave"} == set(rows)
    assert rows["dave"]["submission"].endswith("dave/mm.c")


def test_a_grade_from_the_cache_names_its_own_students_file(cli, course, tmp_path):
    # dave's file is alice's: on the second run dave's grade comes from the cache entry made for
    # alice, and its output said "Results for .../alice/mm.c" to dave, in his Gradescope file.
    folder = course[0]
    (folder / "dave").mkdir()
    shutil.copy(folder / "alice" / "mm.c", folder / "dave" / "mm.c")
    for run in range(2):
        gradescope = tmp_path / f"gs{run}"
        grade_class(cli, course, "--gradescope", gradescope, "-j", "1")
        for student, other in (("alice", "dave"), ("dave", "alice")):
            output = (gradescope / f"{student}.json").read_text()
            assert f"{student}/mm.c" in output and f"{other}/mm.c" not in output, (run, student)


def test_a_class_holds_only_each_students_own_sources(cli, course, tmp_path, monkeypatch):
    # A link to another student's file was given that student's (cached) grade; a library skips
    # what the build checks; a 4 GiB file was read whole to be hashed.
    import mallocsim.build

    folder = course[0]
    (folder / "erin").mkdir()
    (folder / "erin" / "mm.c").symlink_to(folder / "alice" / "mm.c")
    (folder / "fay").mkdir()
    (folder / "fay" / "mm.so").write_bytes(b"\x7fELF")
    (folder / "gus").mkdir()
    (folder / "gus" / "mm.c").write_text("/*" + "x" * 100_000 + "*/")
    monkeypatch.setattr(mallocsim.build, "SOURCE_BYTES", 60_000)  # the others are smaller
    submissions = {s.student: s for s in find_submissions([str(folder)])}
    assert submissions["erin"].problem == "erin/mm.c is a symbolic link out of the folder"
    assert "holds a library (mm.so), not its source" in (submissions["fay"].problem or "")
    run = grade_class(cli, course, "--gradebook", tmp_path / "book.csv")
    rows = read_csv(tmp_path / "book.csv")
    assert rows["alice"]["valid"] == "2" and rows["erin"]["score"] == "0.0"
    assert rows["fay"]["score"] == "0.0" and "not its source" in rows["fay"]["first_failure"]
    assert (
        rows["gus"]["score"] == "0.0"
        and "more than a submission may be (0 MiB)" in rows["gus"]["first_failure"]
    )
    assert run.status == 1


def test_a_student_folder_named_like_an_option_is_graded_from_the_class_folder_dot(
    cli, course, monkeypatch
):
    folder = course[0]
    (folder / "-x").mkdir()
    shutil.copy(folder / "alice" / "mm.c", folder / "-x" / "mm.c")
    monkeypatch.chdir(folder)
    _, traces, toml = course
    run = cli("grade", ".", traces, "--dialect", "classic", "--config", toml, "-q")
    assert " -x " in run.out or "\n-x " in run.out
    assert "expected one argument" not in run.out + run.err and "required" not in run.out


@pytest.mark.parametrize("named", ["--timeout=0.01", "--"])
def test_a_student_folder_that_a_star_makes_an_option_stops_the_run_with_one_line(
    cli, course, tmp_path, monkeypatch, named
):
    # `mallocsim grade * TRACES` from inside the class folder: a folder named --timeout=0.01
    # set every classmate's limit (all 0, its owner no row), one named -- made the options
    # after it submissions (red-team pass 33). `./*` or `--` before the paths grades it.
    folder, traces, toml = course
    (folder / named).mkdir()
    shutil.copy(folder / "alice" / "mm.c", folder / named / "mm.c")
    monkeypatch.chdir(folder)
    book = tmp_path / "book.csv"
    students = sorted(p.name for p in folder.iterdir())
    run = cli("grade", "--dialect", "classic", "--config", toml, "-q", *students, traces,
              "--gradebook", book)  # fmt: skip
    assert run.status == 2 and not book.exists()
    assert run.err == (
        f"mallocsim: {named} is an option and also a file or folder here (did a * name it?): "
        "write paths as ./*, or after --, and an option of yours as --name=value\n"
    )
    run = cli("grade", "--dialect", "classic", "--config", toml, "-q", "--gradebook", book,
              *(f"./{s}" for s in students), traces)  # fmt: skip
    rows = read_csv(book)
    # (a name that starts like a formula is written with a ' before it)
    assert (
        float(rows["alice"]["score"]) > 0 and rows[f"'{named}"]["score"] == rows["alice"]["score"]
    )


def test_a_student_folder_named_dashdash_that_a_star_leaves_out_is_said(
    cli, course, tmp_path, monkeypatch
):
    # With the options first, a * that gave a folder named -- ended them there: its student had
    # no row, and nothing said so (red-team pass 34). The others are graded; a warning says why.
    folder, traces, toml = course
    (folder / "--").mkdir()
    shutil.copy(folder / "alice" / "mm.c", folder / "--" / "mm.c")
    monkeypatch.chdir(folder)
    book = tmp_path / "book.csv"
    students = sorted(p.name for p in folder.iterdir())
    assert students[0] == "--"
    run = cli("grade", "--dialect", "classic", "--config", toml, "-q", "--gradebook", book,
              *students, traces)  # fmt: skip
    assert "a file or folder named -- is here: if a * named it, it ended the options" in run.err
    assert set(read_csv(book)) == {"alice", "bob", "carol"}


def test_a_trace_named_like_an_option_is_every_students_trace(cli, course, tmp_path, monkeypatch):
    # Given after "--", a trace named "-x.rep" reached each worker as an option: every student
    # graded 0, "the following arguments are required" (red-team pass 17).
    folder, traces, toml = course
    (traces / "t1.rep").rename(traces / "-x.rep")
    monkeypatch.chdir(traces)
    book = tmp_path / "book.csv"
    run = cli("grade", "--dialect", "classic", "--config", toml, "-q", "--gradebook", book,
              "--", folder, "-x.rep")  # fmt: skip
    rows = read_csv(book)
    assert rows["alice"]["valid"] == "1" and float(rows["alice"]["score"]) > 0, run.said
    assert "required" not in rows["alice"]["first_failure"] + rows["bob"]["first_failure"]


def test_a_dot_folder_is_a_student_and_version_control_is_nobody(cli, course, tmp_path):
    # Every dot folder was passed over: a student ".bob" got no row and no line.
    folder = course[0]
    for name in (".dan", ".git", "__MACOSX"):
        (folder / name).mkdir()
        shutil.copy(folder / "alice" / "mm.c", folder / name / "mm.c")
    book = tmp_path / "book.csv"
    grade_class(cli, course, "--gradebook", book)
    assert sorted(read_csv(book)) == [".dan", "alice", "bob", "carol"]


def test_the_gradebook_goes_beside_the_autograder_folders_not_in_them(cli, course, tmp_path):
    # A student named "grades" wrote their Gradescope file over --gradebook out/grades.json.
    (tmp_path / "out").mkdir()
    run = grade_class(cli, course, "--gradebook", tmp_path / "out" / "grades.json",
                      "--gradescope", tmp_path / "out")  # fmt: skip
    assert run.status == 2 and "the gradebook goes outside" in run.err
    assert not (tmp_path / "out" / "grades.json").exists()  # said before any grading


def test_two_submissions_for_one_student_are_refused(course):
    folder = course[0]
    with pytest.raises(UsageError, match="two submissions for 'alice'"):
        find_submissions([str(folder / "alice" / "mm.c"), str(folder / "alice")])


def _running(process: subprocess.Popen) -> str:
    """The command lines of the process's children (what is being graded now)."""
    lines = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if parent == process.pid:
                lines.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ValueError, IndexError):
            continue  # it ended while we looked
    return "\n".join(lines)


def test_the_summary_names_the_failure_without_the_file_again(cli, course, tmp_path):
    book = tmp_path / "book.csv"
    grade_class(cli, course, "--gradebook", book)
    failure = read_csv(book)["carol"]["first_failure"]
    assert failure.startswith("does not compile: mm.c:2:28: error:") and "oops" in failure


@pytest.mark.parametrize("planted", ["beside-mm.c", "alone", "as-a-folder"])
def test_a_students_folder_is_never_taken_for_traces(cli, course, tmp_path, planted):
    # The folders named one by one (`class/*`), a .rep file in a student's folder made it a folder
    # of traces that every classmate's grade ran (a 50 MB block: the whole class 0, its author
    # left out of the gradebook), and a folder named t1.rep in it stopped the class's grade.
    folder, traces, toml = course
    mallory = folder / "mallory"
    mallory.mkdir()
    if planted != "alone":
        shutil.copy(fixture_allocator("good_bump"), mallory / "mm.c")
    if planted == "as-a-folder":
        (mallory / "t1.rep").mkdir()
    else:
        (mallory / "t1.rep").write_text("not a trace at all\n")
    book = tmp_path / "book.csv"
    students = sorted(str(p) for p in folder.iterdir())
    run = cli("grade", *students, traces, "--dialect", "classic", "--config", toml, "-q",
              "--gradebook", book)  # fmt: skip
    assert "not a trace" not in run.out + run.err, run.out + run.err
    rows = read_csv(book)
    assert set(rows) == {"alice", "bob", "carol", "mallory"}
    assert rows["alice"]["valid"] == "2" and rows["alice"]["traces"] == "2", rows["alice"]
    assert rows["mallory"]["valid"] == ("0" if planted == "alone" else "2"), rows["mallory"]


def test_a_folder_of_traces_beside_the_one_graded_is_still_traces(cli, course, tmp_path):
    # One student's folder and the traces beside it, with no other traces named: the traces.
    folder, traces, toml = course
    shutil.move(traces, folder / "traces")
    run = cli("grade", folder / "alice", folder / "traces", "--dialect", "classic",
              "--config", toml, "-q")  # fmt: skip
    assert run.status == 0, run.out + run.err


def test_a_file_name_can_neither_fail_its_build_nor_draw_over_the_summary(cli, course, tmp_path):
    # A 248-byte name made the build folder's too long ("File name too long": a zero), and the
    # worker's last line, the name with its CR and escapes, drew a row of the summary over alice's.
    folder = course[0]
    forged = "x\r\x1b7\x1b[2F\x1b[2Kalice      0.0   0\u22150      0.0\x1b8"  # no "/" in a name
    name = forged + "A" * (246 - len(forged.encode())) + ".c"
    (folder / "zed").mkdir()
    shutil.copy(fixture_allocator("good_bump"), folder / "zed" / name)
    book = tmp_path / "book.csv"
    run = grade_class(cli, course, "--gradebook", book)
    assert not any(c in run.out + run.err for c in "\x1b\r"), run.out
    assert read_csv(book)["zed"]["valid"] == "2", read_csv(book)["zed"]


def test_a_worker_line_the_student_chose_is_shown_printable_in_the_summary():
    # What a worker said last (an error naming a student's file) ends a row of the summary: a CR
    # and cursor moves in it drew over another student's row.
    from mallocsim.batch import Submission, _problem_record
    from mallocsim.config import GradingConfig
    from mallocsim.gradebook import format_summary, row_of

    why = "x.c\x1b7\x1b[2F\x1b[2Kalice      0.0   0/0\x1b8: File name too long"
    row = row_of(_problem_record(Submission("zed", None, why), GradingConfig(), why))
    summary = format_summary([row], width=200)
    assert not any(c in summary for c in "\x1b\r") and "\\x1b[2F" in summary, summary


def test_a_student_folder_named_like_a_source_file_is_a_student(cli, course, tmp_path):
    # class/mallory.c/mm.c made the class folder look like one student's holding a .c file:
    # the class was graded as one submission, "class/ holds no .c file", nobody else graded.
    folder = course[0]
    (folder / "mallory.c").mkdir()
    shutil.copy(fixture_allocator("good_bump"), folder / "mallory.c" / "mm.c")
    book = tmp_path / "book.csv"
    grade_class(cli, course, "--gradebook", book)
    rows = read_csv(book)
    assert set(rows) == {"alice", "bob", "carol", "mallory.c"}, rows
    assert rows["mallory.c"]["valid"] == rows["alice"]["valid"] == "2"


def test_a_worker_that_dies_silently_is_a_zero_with_its_status_not_a_traceback(tmp_path):
    # A worker stopped from outside (its log's RLIMIT_FSIZE set to 0 by a classmate's code,
    # red-team pass 8) exits 1 with an empty log: the class run raised IndexError and wrote no
    # gradebook for anyone.
    from mallocsim.batch import Submission, _collect, _Running
    from mallocsim.config import GradingConfig

    log = tmp_path / "worker.log"
    log.write_text("\n  \n")
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])
    job = _Running(Submission("mallory", tmp_path / "mm.c"), "key", process,
                   tmp_path / "none.json", log, time.monotonic())  # fmt: skip
    record, cached = _collect(job, GradingConfig())
    assert not cached
    assert record["grade"]["problem"] == "the grader stopped with status 1 on this submission"
    assert record["grade"]["score"]["points"] == 0


def test_a_student_folder_named_like_a_module_of_the_grader_is_never_imported(
    cli, course, tmp_path, monkeypatch
):
    # The class graded from its own folder, the README's `s*/mm.c`: each worker was started as
    # `python -m mallocsim`, which puts the working directory first on the import path, and a
    # student's folder named mallocsim (or json, re...) ran in place of the grader, as root, in
    # every worker (red-team pass 20: two students at 100.0, cached).
    folder, traces, toml = course
    marker = tmp_path / "imported"
    for name in ("mallocsim", "json"):
        (folder / name).mkdir()
        for module in ("__init__.py", "__main__.py"):
            (folder / name / module).write_text(f"open({str(marker)!r}, 'a').write('{name} ')\n")
        shutil.copy(folder / "alice" / "mm.c", folder / name / "mm.c")
    monkeypatch.chdir(folder)
    book = tmp_path / "book.csv"
    cli("grade", *sorted(os.listdir(".")), traces, "--dialect", "classic", "--config", toml, "-q",
        "--gradebook", book)  # fmt: skip
    assert not marker.exists(), marker.read_text()
    rows = read_csv(book)
    assert rows["json"]["valid"] == rows["alice"]["valid"] == "2", rows


def test_a_link_to_a_classmates_file_neither_takes_nor_spoils_the_classmates_grade(
    cli, course, tmp_path
):
    # Named file by file (`class/*/mm.c`), alice's mm.c, a link to bob's, was keyed by bob's
    # bytes: its refusal was cached under them, and bob got 0 "cached" on the next run; the
    # other way round alice got bob's grade (red-team pass 20). dan's folder is a link to bob's.
    folder, traces, toml = course
    shutil.copy(fixture_allocator("good_bump"), folder / "bob" / "mm.c")
    (folder / "alice" / "mm.c").unlink()
    (folder / "alice" / "mm.c").symlink_to(Path("..") / "bob" / "mm.c")
    (folder / "dan").symlink_to(folder / "bob")
    files = [folder / student / "mm.c" for student in ("alice", "bob", "dan")]
    book = tmp_path / "book.csv"
    for _ in range(2):
        cli("grade", *files, traces, "--dialect", "classic", "--config", toml, "-q",
            "--gradebook", book)  # fmt: skip
        rows = read_csv(book)
        assert rows["bob"]["valid"] == "2", rows["bob"]
        assert rows["alice"]["valid"] == rows["dan"]["valid"] == "0", rows
        assert "symbolic link" in rows["alice"]["first_failure"] + rows["dan"]["first_failure"]


def test_a_class_entry_that_is_a_broken_link_is_its_students_zero_not_a_traceback(
    cli, course, tmp_path
):
    # `class/*` with zed -> zed: resolve() raised RuntimeError, a traceback and no gradebook; a
    # link leading nowhere stopped the class (red-team pass 20).
    folder, traces, toml = course
    (folder / "zed").symlink_to(folder / "zed")
    (folder / "yan").symlink_to(folder / "nowhere")
    book = tmp_path / "book.csv"
    run = cli("grade", *sorted(folder.iterdir()), traces, "--dialect", "classic", "--config",
              toml, "-q", "--gradebook", book)  # fmt: skip
    assert "Traceback" not in run.out + run.err
    rows = read_csv(book)
    assert rows["alice"]["valid"] == "2"
    assert "link to nothing" in rows["zed"]["first_failure"] + rows["yan"]["first_failure"]


def test_folders_named_one_by_one_are_each_one_student(cli, course, tmp_path):
    # alice's folder held bob/ and carol/ of its own and no mm.c: it was opened as a class, a
    # non-submitting student got a row, and two submissions for bob stopped the class (red-team
    # pass 20).
    folder, traces, toml = course
    (folder / "alice" / "mm.c").rename(folder / "alice" / "notes.txt")
    for inner in ("bob", "zoe"):
        (folder / "alice" / inner).mkdir()
        shutil.copy(fixture_allocator("good_bump"), folder / "alice" / inner / "mm.c")
    book = tmp_path / "book.csv"
    run = cli("grade", *sorted(folder.iterdir()), traces, "--dialect", "classic", "--config",
              toml, "-q", "--gradebook", book)  # fmt: skip
    assert "two submissions" not in run.out + run.err
    rows = read_csv(book)
    assert sorted(rows) == ["alice", "bob", "carol"]
    assert "holds 2 files named mm.c in folders" in rows["alice"]["first_failure"]


def test_a_student_folder_of_traces_beside_traces_named_one_by_one_is_a_student(
    cli, course, tmp_path
):
    # The .rep files loose in the class folder and the class named as `class/*`: a student's
    # folder holding one .rep file was the traces' only folder, and ran in every grade (red-team
    # pass 21).
    folder, traces, toml = course
    for trace in traces.iterdir():
        shutil.move(trace, folder / trace.name)
    (folder / "mallory").mkdir()
    (folder / "mallory" / "t1.rep").write_text("not a trace\n")
    book = tmp_path / "book.csv"
    cli("grade", *sorted(folder.iterdir()), "--dialect", "classic", "--config", toml, "-q",
        "--gradebook", book)  # fmt: skip
    rows = read_csv(book)
    assert rows["alice"]["valid"] == "2" and "holds no .c file" in rows["mallory"]["first_failure"]


def test_an_mm_c_that_is_no_file_is_its_students_zero(cli, course, tmp_path):
    # Named file by file, an mm.c that was a FIFO, or two that were folders ("two submissions for
    # 'mm.c'"), stopped the class with no gradebook (red-team pass 21).
    folder, traces, toml = course
    for student in ("dan", "erin"):
        (folder / student / "mm.c").mkdir(parents=True)
    (folder / "fay").mkdir()
    os.mkfifo(folder / "fay" / "mm.c")
    book = tmp_path / "book.csv"
    cli("grade", *sorted(folder.glob("*/mm.c")), traces, "--dialect", "classic", "--config",
        toml, "-q", "--gradebook", book)  # fmt: skip
    rows = read_csv(book)
    assert rows["alice"]["valid"] == "2"
    assert "is a folder, not a file" in rows["dan"]["first_failure"] + rows["erin"]["first_failure"]
    assert "is not a regular file" in rows["fay"]["first_failure"]


def test_a_student_folder_of_traces_beside_the_class_traces_is_refused(cli, course, tmp_path):
    # The traces kept in the class folder and the class named as `class/*`: a student's folder
    # holding only a .rep file was taken for traces too, and ran in every grade (a 50 MB block:
    # everyone 0, its author without a row; red-team pass 20).
    folder, traces, toml = course
    shutil.move(traces, folder / "traces")
    (folder / "mallory").mkdir()
    (folder / "mallory" / "t1.rep").write_text("not a trace\n")
    run = cli("grade", *sorted(folder.iterdir()), "--dialect", "classic", "--config", toml, "-q")
    assert run.status == 2 and "which are the traces" in run.err, run.out + run.err
    (folder / "mallory" / "t1.rep").unlink()
    run = cli("grade", *sorted(folder.iterdir()), "--dialect", "classic", "--config", toml, "-q")
    assert run.status == 1 and "mallory/ holds no .c file" in run.out, run.out + run.err


def test_a_worker_that_cannot_be_started_is_its_students_zero(cli, course, tmp_path, monkeypatch):
    # A classmate's count had used every inode: writing a worker's files failed, and the whole
    # class run ended with no gradebook, the running workers left behind (red-team pass 21).
    import errno

    import mallocsim.batch

    launch = mallocsim.batch._launch

    def no_room(submission, *args):
        if submission.student == "bob":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return launch(submission, *args)

    monkeypatch.setattr(mallocsim.batch, "_launch", no_room)
    book = tmp_path / "book.csv"
    grade_class(cli, course, "--gradebook", book)
    rows = read_csv(book)
    assert rows["alice"]["valid"] == "2"
    assert "could not start its worker: No space left on device" in rows["bob"]["first_failure"]


def test_a_count_the_clock_did_not_confirm_is_graded_again_next_run(tmp_path):
    # A classmate's busy count beside an honest one had the clock scale its counts 11 times, and
    # the lowered grade was kept and served from the cache on the re-run (red-team pass 21).
    from dataclasses import replace

    from mallocsim.batch import Submission, _collect, _Running
    from mallocsim.config import GradingConfig
    from mallocsim.grade_record import grade_record
    from mallocsim.grading import Grade
    from mallocsim.score import failed_score

    config = GradingConfig()
    kept = {}
    for scale in (1.0, 11.2):
        score = replace(failed_score(config, "x"), count_scale=scale)
        path = tmp_path / f"{scale}.json"
        path.write_text(json.dumps(grade_record(Grade("mm.c", (), score), "carol", "mm.c")))
        process = subprocess.Popen([sys.executable, "-c", "pass"])
        job = _Running(Submission("carol", tmp_path / "mm.c"), "key", process, path,
                       tmp_path / "log", time.monotonic())  # fmt: skip
        kept[scale] = _collect(job, config)[1]
    assert kept == {1.0: True, 11.2: False}


def test_named_files_that_are_not_c_source_are_their_students_zero(cli, course, tmp_path):
    # A flat export graded as `subs/* traces/`: bob.so, a build of a file that loses points to
    # the build's checks, scored 100 where its source scored 80; mallory_mm.h beside her
    # mallory_mm.c made two submissions of one name and stopped the class; mallory.rep ran in
    # every classmate's grade as a trace (red-team pass 24).
    folder, traces, toml = course
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(folder / "alice" / "mm.c", subs / "alice.c")
    shutil.copy(folder / "alice" / "mm.c", subs / "dan_mm.c")
    (subs / "dan_mm.h").write_text("#error not read\n")
    (subs / "bob.so").write_bytes(b"\x7fELF")
    (subs / "mallory.rep").write_text("1\n1\n1\n1\na 0 999999999\n")
    book = tmp_path / "book.csv"
    run = cli("grade", *sorted(subs.iterdir()), traces, "--dialect", "classic", "--config", toml,
              "-q", "--gradebook", book)  # fmt: skip
    rows = read_csv(book)
    assert sorted(rows) == ["alice", "bob", "dan_mm", "mallory"], run.out + run.err
    assert rows["alice"]["valid"] == rows["dan_mm"]["valid"] == "2"
    assert "is a library, not its source" in rows["bob"]["first_failure"]
    assert "mallory.rep is not C source" in rows["mallory"]["first_failure"]
    # Named with one allocator of its folder alone, a .rep file is still a trace.
    assert split_arguments([str(subs / "alice.c"), str(subs / "mallory.rep"), str(traces)]) == (
        [str(subs / "alice.c")],
        [str(subs / "mallory.rep"), str(traces)],
    )


def test_a_student_folder_is_searched_as_the_gradescope_autograder_searches_it(course):
    # The folder a zip of the handout makes (bob/malloclab/mm.c) was graded by run_autograder
    # and 0 in the class run, a lone solution.c the other way round (red-team pass 24).
    folder = course[0]
    (folder / "bob" / "mm.c").unlink()
    (folder / "bob" / "malloclab").mkdir()
    (folder / "bob" / "malloclab" / "mm.c").write_text("int x;\n")
    (folder / "bob" / "__MACOSX" / "malloclab").mkdir(parents=True)
    (folder / "bob" / "__MACOSX" / "malloclab" / "mm.c").write_text("resource fork\n")
    (folder / "carol" / "mm.c").rename(folder / "carol" / "solution.c")
    (folder / "dan" / "a").mkdir(parents=True)
    (folder / "dan" / "b").mkdir()
    for inner in ("a", "b"):
        (folder / "dan" / inner / "mm.c").write_text("int x;\n")
    found = {s.student: s for s in find_submissions([str(folder)])}
    assert found["bob"].source == folder / "bob" / "malloclab" / "mm.c"
    assert found["carol"].source == folder / "carol" / "solution.c"
    assert found["dan"].source is None
    assert found["dan"].problem == "dan/ holds 2 files named mm.c in folders and none at the top"
    assert allocator_in_folder(folder / "bob") == folder / "bob" / "malloclab" / "mm.c"


def test_a_student_folder_the_grader_cannot_read_is_that_students_zero(course, monkeypatch):
    # Run as an ordinary user, a folder extracted from a student's tarball with mode 000 stopped
    # the whole class, "Permission denied", nobody graded (red-team pass 24). As root no mode
    # stops a read, so the refusal is made by hand.
    folder = course[0]
    listdir = os.listdir

    def refusing(top="."):
        if Path(top).name == "bob":
            raise PermissionError(13, "Permission denied", str(top))
        return listdir(top)

    monkeypatch.setattr(os, "listdir", refusing)
    (folder / "bob" / "mm.c").unlink()
    found = {s.student: s for s in find_submissions([str(folder)])}
    assert found["alice"].source is not None
    assert found["bob"].problem == "bob/ cannot be read: Permission denied"


def test_two_folders_whose_names_print_alike_are_two_students(course, tmp_path):
    # A folder named with an ESC byte and one named "\x1b" in letters printed alike, and the
    # class stopped on "two submissions", the raw name sent to the terminal (red-team pass 24).
    folder = course[0]
    # Then U+0085 and the byte 0x85 (red-team pass 25).
    for name in ("p\x1b", "p\\x1b", "q\x85", os.fsdecode(b"q\x85")):
        (folder / name).mkdir()
        shutil.copy(folder / "alice" / "mm.c", folder / name / "mm.c")
    students = sorted(s.student for s in find_submissions([str(folder)]))
    assert students == ["alice", "bob", "carol", "p\\x1b", "p\\x5cx1b", "q\\u0085", "q\\x85"]


def test_no_cache_grades_again_and_keeps_the_new_grade(cli, course, tmp_path, monkeypatch):
    # A wrong grade kept in the cache (the grader's fault: a compiler that failed every build)
    # came back on the next ordinary run after a --no-cache run had mended it; and CC was no
    # part of the key, so the mended setting was served the zeros (red-team pass 24).
    book = tmp_path / "book.csv"
    monkeypatch.setenv("CC", "false")
    grade_class(cli, course, "--gradebook", book)
    assert read_csv(book)["alice"]["valid"] == "0"
    monkeypatch.delenv("CC")
    grade_class(cli, course, "--gradebook", book)  # another compiler: another key
    assert read_csv(book)["alice"]["valid"] == "2" and read_csv(book)["alice"]["cached"] == "False"
    for kept in (tmp_path / "cache" / "mallocsim" / "grades").glob("*.json"):
        record = json.loads(kept.read_text())
        record["grade"]["score"]["valid"] = 0  # what a disturbed grade would have left
        kept.write_text(json.dumps(record))
    assert read_csv(book)["alice"]["valid"] == "2"
    grade_class(cli, course, "--gradebook", book)
    assert read_csv(book)["alice"]["valid"] == "0"  # the damaged grade, served
    grade_class(cli, course, "--gradebook", book, "--no-cache")
    assert read_csv(book)["alice"]["valid"] == "2"
    grade_class(cli, course, "--gradebook", book)
    assert read_csv(book)["alice"]["cached"] == "True" and read_csv(book)["alice"]["valid"] == "2"


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stopped_class_keeps_every_finished_grade(course, tmp_path, stop):
    # bob hangs; alice finishes first (-j 1, students in order). Stopped while bob runs: the
    # gradebook holds alice, and bob's processes are gone. SIGTERM (a batch system's time limit)
    # and SIGHUP (a dropped ssh session) killed the coordinator alone: its workers ran on,
    # orphaned, and no gradebook was written (red-team pass 24).
    book = tmp_path / "book.csv"
    process, worker = _class_run_hanging_on(course, tmp_path, "bob", "--gradebook", book)
    process.send_signal(stop)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130 and "interrupted" in err
    assert sorted(read_csv(book)) == ["alice"]
    assert _gone(worker)


def test_a_worker_dies_with_its_coordinator_even_by_sigkill(course, tmp_path):
    process, worker = _class_run_hanging_on(course, tmp_path, "alice")
    process.kill()
    process.wait()
    deadline = time.monotonic() + 10
    while not _gone(worker):
        assert time.monotonic() < deadline, "the worker outlived its coordinator"
        time.sleep(0.1)


def _class_run_hanging_on(
    course, tmp_path: Path, student: str, *extra: object
) -> tuple[subprocess.Popen, int]:
    """A class run (-j 1) whose `student` hangs, once that student's worker runs: (the run, the
    worker's pid)."""
    folder, traces, toml = course
    shutil.copy(fixture_allocator("hang"), folder / student / "mm.c")
    # Its scratch folder in tmp_path: a coordinator killed by SIGKILL cannot remove it, and
    # each run of the suite left one in /tmp.
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "TMPDIR": str(tmp_path)}
    command = [
        sys.executable, "-m", "mallocsim", "grade", folder, traces, "--dialect", "classic",
        "--config", toml, "-j", "1", "--timeout", "60", *extra,
    ]  # fmt: skip
    process = subprocess.Popen(list(map(str, command)), env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while student not in _running(process) and time.monotonic() < deadline:
        time.sleep(0.2)
    return process, int(_child_pids(process)[0])


def _child_pids(process: subprocess.Popen) -> list[str]:
    return [
        stat.parent.name
        for stat in Path("/proc").glob("[0-9]*/stat")
        if _parent_of(stat) == process.pid
    ]


def _parent_of(stat: Path) -> int | None:
    try:
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _gone(pid: int) -> bool:
    """Whether process `pid` has ended (a zombie has, though its parent has not reaped it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_class_with_no_lab_or_dialect_is_refused_before_any_work(cli, course, tmp_path):
    # One file so given is a usage error; a class got a gradebook of zeros, each worker having
    # refused its file (lab check run 14).
    folder, traces, _toml = course
    book = tmp_path / "book.csv"
    run = cli("grade", folder, traces, "-q", "--gradebook", book)
    assert run.status == 2 and "the 3 submissions: say which lab they are written for" in run.err
    assert not book.exists()


def test_a_file_that_does_not_link_is_said_by_the_linkers_reason(cli, course, tmp_path):
    # The gradebook's first failure was the linker's last line, "collect2: error: ld returned 1
    # exit status", not the undefined reference that says why (lab check run 14).
    folder = course[0]
    undefined = "void missing_helper(void);\nvoid call_it(void);\n"
    undefined += "void call_it(void) { missing_helper(); }\n"
    (folder / "carol" / "mm.c").write_text((folder / "alice" / "mm.c").read_text() + undefined)
    book = tmp_path / "book.csv"
    grade_class(cli, course, "--gradebook", book)
    failure = read_csv(book)["carol"]["first_failure"]
    assert "does not compile: " in failure and "undefined reference to `missing_helper'" in failure


def test_a_student_folder_of_nested_work_and_a_trace_is_a_student_not_the_traces(course, tmp_path):
    # Every student zipped the handout's folder (alice/malloclab/mm.c) and mallory's held a .rep
    # file at its top too: with no allocator at any folder's top, hers was the traces, every
    # classmate 0 and she without a row; so was her folder of traces among a flat export's files
    # (red-team pass 25).
    folder, traces, _toml = course
    for student in ("alice", "bob", "mallory"):
        (folder / student / "malloclab").mkdir(parents=True)
        shutil.copy(fixture_allocator("good_bump"), folder / student / "malloclab" / "mm.c")
        (folder / student / "mm.c").unlink(missing_ok=True)
    (folder / "mallory" / "t1.rep").write_text("1\n1\n1\n1\na 0 999999999\n")
    shutil.rmtree(folder / "carol")
    named = [str(p) for p in sorted(folder.iterdir())]
    assert split_arguments([*named, str(traces)]) == (named, [str(traces)])
    subs = tmp_path / "subs"
    subs.mkdir()
    for student in ("alice", "bob"):
        shutil.copy(fixture_allocator("good_bump"), subs / f"{student}.c")
    (subs / "mallory").mkdir()
    (subs / "mallory" / "t1.rep").write_text("not a trace\n")
    named = [str(p) for p in sorted(subs.iterdir())]
    assert split_arguments([*named, str(traces)]) == (named, [str(traces)])


def test_a_folder_named_among_files_is_one_students_not_a_class(tmp_path):
    # A flat export's files and one student's extracted zip holding carol/mm.c: the folder was
    # opened as a class, and carol graded from mallory's file (red-team pass 25).
    subs = tmp_path / "subs"
    (subs / "mallory" / "carol").mkdir(parents=True)
    (subs / "mallory" / "carol" / "mm.c").write_text("int x;\n")
    (subs / "carol.c").write_text("int y;\n")
    found = {s.student: s for s in find_submissions([str(subs / "carol.c"), str(subs / "mallory")])}
    assert found["carol"].source == subs / "carol.c"
    assert found["mallory"].source == subs / "mallory" / "carol" / "mm.c"


def test_the_search_for_a_nested_mm_c_is_bounded_and_passes_over_what_it_cannot_read(
    tmp_path, monkeypatch
):
    # A tree a thousand folders deep ended the class run in a RecursionError; an unreadable
    # folder inside zeroed a readable solution.c at the top (red-team pass 25).
    deep = path = tmp_path / "deep"
    deep.mkdir()
    for _ in range(1200):  # one level at a time: pathlib's mkdir(parents=True) recurses too
        path = path / "d"
        path.mkdir()
    (path / "mm.c").write_text("int x;\n")
    try:
        assert allocator_in_folder(deep) == "holds no .c file (it holds: d)"
    finally:  # one level at a time again: pytest's removal of old temporary folders recurses
        (path / "mm.c").unlink()
        while path != deep:
            path.rmdir()
            path = path.parent
    carol = tmp_path / "carol"
    (carol / "locked").mkdir(parents=True)
    (carol / "solution.c").write_text("int x;\n")
    scandir = os.scandir

    def refusing(top):
        if Path(top).name == "locked":
            raise PermissionError(13, "Permission denied", str(top))
        return scandir(top)

    monkeypatch.setattr(os, "scandir", refusing)
    assert allocator_in_folder(carol) == carol / "solution.c"


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_once_a_class_is_stopped_a_second_stop_waits_for_the_writing(stop):
    # A closing terminal sends SIGHUP twice: the second stopped the writing of the gradebook, and
    # the grades that had finished were lost (red-team pass 25).
    from mallocsim.stopping import stopped_as_by_ctrl_c

    before = {n: signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        with pytest.raises(KeyboardInterrupt), stopped_as_by_ctrl_c():
            os.kill(os.getpid(), stop)
            time.sleep(1)  # the signal is taken before this ends
        assert all(signal.getsignal(n) == signal.SIG_IGN for n in before)
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)


def test_a_name_cut_to_fit_a_file_name_is_no_classmates(tmp_path):
    # A name over the limit is cut and given a digest of the whole; a classmate named exactly
    # that cut form got the same Gradescope and JUnit file (red-team pass 25).
    long = "a" * 252
    cut = student_file(tmp_path, long, ".json").stem
    names = [long, cut, "b" * 200, "b" * 188, "b" * 187, "é" * 120]
    files = [student_file(tmp_path, name, ".json") for name in names]
    assert len(set(files)) == len(names)
    assert all(len(f.name.encode()) <= STUDENT_FILE_BYTES + len(".json") for f in files)
    assert student_file(tmp_path, "b" * 187, ".json").name == "b" * 187 + ".json"
