"""Gradescope's results.json: every file `grade --gradescope` writes, for a
passing, a failing, a crashing and a non-compiling submission, holds to the
documented format (gradescope_results.schema.json), with per-test status and
visibility, the course's rounding, the execution time and, where asked, a
leaderboard."""

from __future__ import annotations

import csv
import json
import re
import shutil

import jsonschema
import pytest

from mallocsim.batch import allocator_in_folder

from .conftest import BUG_SHOWN_BY, REPO, TESTS, fixture_allocator

SCHEMA = json.loads((TESTS / "gradescope_results.schema.json").read_text())
TRACE = "a 0 48\na 1 100\nf 1\nf 0\n"  # segfault.c crashes on a third malloc only
CRASH = "a 0 8\na 1 8\na 2 8\nf 0\n"
COURSE = """\
[grade]
throughput = "time"
min_seconds = 0.0
[score]
reference_throughput = 1e6
[points]
correctness = 30
performance = 70
[gradescope]
visibility = "after_published"
stdout_visibility = "visible"
score_digits = 1
leaderboard = true
"""


@pytest.fixture
def results_of(cli, write_trace, tmp_path):
    """results_of(mm.c, trace text) -> (exit status, the results.json written)."""
    course = tmp_path / "grading.toml"
    course.write_text(COURSE)

    def grade(source, text: str) -> tuple[int, dict]:
        out = tmp_path / "results.json"
        run = cli(
            "grade", source, "--dialect", "classic", "--config", course, "--gradescope", out,
            write_trace("t", text),
        )  # fmt: skip
        document = json.loads(out.read_text())
        jsonschema.validate(document, SCHEMA)  # the documented format, whatever the outcome
        return run.status, document

    return grade


def test_a_passing_submission(results_of):
    status, document = results_of(fixture_allocator("good_bump"), TRACE)
    assert status == 0
    trace, performance = document["tests"]
    assert (trace["status"], trace["score"], trace["max_score"]) == ("passed", 30.0, 30.0)
    assert performance["status"] == "passed" and performance["max_score"] == 70.0
    assert {t["visibility"] for t in document["tests"]} == {"after_published"}
    assert (document["visibility"], document["stdout_visibility"]) == ("after_published", "visible")
    assert document["score"] == round(document["score"], 1)  # the course's decimals
    assert isinstance(document["execution_time"], int)
    assert document["extra_data"]["lab"] == "mallocsim"
    assert [entry["name"] for entry in document["leaderboard"]] == [
        "Utilization %",
        "Speed / reference",
        "Performance index",
    ]
    assert [t["number"] for t in document["tests"]] == ["1", "2"]


def test_an_index_under_the_labs_threshold_earns_no_performance_points(cli, write_trace, tmp_path):
    # PKU's PERF_THRESHHOLD, here set by the course: the performance test's score is the
    # grade's 0, not the index's share (it was: 0 in the score, points in the test).
    course = tmp_path / "grading.toml"
    course.write_text(COURSE.replace("[points]", "zero_below = 99.9\n[points]"))
    out = tmp_path / "results.json"
    cli("grade", fixture_allocator("good_bump"), "--dialect", "classic", "--config", course,
        "--gradescope", out, write_trace("t", TRACE))  # fmt: skip
    document = json.loads(out.read_text())
    trace, performance = document["tests"]
    assert (trace["score"], performance["score"], document["score"]) == (30.0, 0.0, 30.0)
    assert performance["status"] == "failed" and "PERF_THRESHHOLD" in performance["output"]


def test_an_index_out_of_80_is_written_out_of_80_everywhere(cli, write_trace, tmp_path):
    # PKU 2025's grade said 55.7 / 80 and its driver line 56/80, while -g printed perfidx:70
    # and Gradescope's and the gradebook's index were 69.6, of 100 (red-team pass 34).
    out, record = tmp_path / "results.json", tmp_path / "record.json"
    run = cli("grade", fixture_allocator("labs/cmu2015_implicit"), "--lab", "cmu-pku-2025",
              "--throughput", "time", "-g", "--gradescope", out, "--json", record,
              write_trace("t", "a 0 8\na 1 16\nf 0\na 2 8\nf 1\nf 2\n"))  # fmt: skip
    shown = re.search(r"performance index +([\d.]+) / 80", run.out)
    assert shown is not None, run.out + run.err
    # The index is timed: the grade's line shows it to a tenth, perfidx to a unit, so
    # perfidx is checked against Gradescope's four decimals (1.46 shows as 1.5, is perfidx:1).
    document = json.loads(out.read_text())
    index = document["extra_data"]["performance_index"]
    assert abs(float(shown.group(1)) - index) < 0.06
    assert f"perfidx:{index:.0f}" in run.out.splitlines()
    book = tmp_path / "book.csv"
    assert cli("gradebook", "merge", record, "-o", book).status == 0
    (row,) = csv.DictReader(book.open())
    assert abs(float(row["index"]) - index) < 0.06


def test_a_trace_a_lab_grades_twice_gets_two_tests_told_apart():
    from mallocsim.autograder import trace_names
    from mallocsim.results import TraceResult

    def run(name: str) -> TraceResult:
        return TraceResult("mm.c", name, None, True, None, 1, 1)

    graded = [run("corners"), run("cp-decl"), run("corners"), run("cp-decl"), run("perl")]
    assert trace_names(graded) == ["corners", "cp-decl", "corners (2)", "cp-decl (2)", "perl"]


def test_a_failing_submission(results_of):
    status, document = results_of(fixture_allocator("overlap"), BUG_SHOWN_BY["overlap"][1])
    assert status == 1
    trace, performance = document["tests"]
    assert trace["status"] == "failed" and trace["score"] == 0.0 and "overlaps" in trace["output"]
    assert performance["status"] == "failed" and document["score"] == 0.0


def test_a_crashing_submission(results_of):
    status, document = results_of(fixture_allocator("segfault"), CRASH)
    assert status == 1
    assert "crashed with SIGSEGV at op 2" in document["tests"][0]["output"]
    assert document["tests"][0]["status"] == "failed"


def test_a_submission_that_does_not_compile(results_of, tmp_path):
    broken = tmp_path / "mm.c"
    broken.write_text('#include "mm.h"\nint mm_init(void) { return 0 }\n')
    status, document = results_of(broken, TRACE)
    assert status == 1 and document["score"] == 0.0
    (only,) = document["tests"]
    assert only["status"] == "failed" and "error: expected" in only["output"]
    assert document["leaderboard"][2] == {"name": "Performance index", "value": 0.0}
    # Shown now, whatever the course's visibility ("after_published" here): with the tests
    # hidden until the deadline, the student saw no reason (lab check run 11).
    assert only["visibility"] == "visible" and document["visibility"] == "after_published"


def test_the_schema_refuses_what_gradescope_does_not_document():
    good = {"score": 1.0, "tests": [{"name": "t", "score": 1, "max_score": 1, "status": "passed",
                                     "output": "", "visibility": "visible"}]}  # fmt: skip
    jsonschema.validate(good, SCHEMA)
    for bad in (
        {**good, "tests": [{**good["tests"][0], "status": "ok"}]},
        {**good, "visibility": "sometimes"},
        {**good, "unknown_key": 1},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, SCHEMA)


def test_bad_gradescope_settings_are_one_line(cli, write_trace, tmp_path):
    course = tmp_path / "grading.toml"
    course.write_text("[gradescope]\nscore_digits = 9\n")
    run = cli("grade", fixture_allocator("good_bump"), "--dialect", "classic", "--config",
              course, write_trace("t", TRACE))  # fmt: skip
    assert run.status == 2
    assert run.err.strip().endswith(
        "[gradescope] score_digits: expected a whole number of decimals from 0 to 6, got 9"
    )


# ------------------------------------------------- init --gradescope, run as Gradescope would


@pytest.fixture
def autograder(cli, tmp_path):
    """An autograder written by `init --gradescope`, laid out as Gradescope lays it out:
    (the /autograder root, a function that runs run_autograder on a submission folder)."""
    import os
    import subprocess

    traces = tmp_path / "course-traces"
    traces.mkdir()
    (traces / "one.rep").write_text(TRACE)
    zipped = tmp_path / "zip"
    run = cli("init", "--gradescope", "--traces", traces, zipped)
    assert run.status == 0, run.err
    course = COURSE.replace("[grade]\n", '[grade]\ndialect = "classic"\n')
    (zipped / "grading.toml").write_text(course)  # the course's own settings
    root = tmp_path / "autograder"
    shutil.copytree(zipped, root / "source")

    def submit(*files: tuple[str, str], inside: bool = False) -> dict:
        submission = root / "submission"
        shutil.rmtree(submission, ignore_errors=True)
        submission.mkdir()
        for name, text in files:
            (submission / name).parent.mkdir(parents=True, exist_ok=True)
            (submission / name).write_text(text)
        env = {**os.environ, "MALLOCSIM_AUTOGRADER_ROOT": str(root),
               "MALLOCSIM": str(REPO / ".venv" / "bin" / "mallocsim")}  # fmt: skip
        if not (REPO / ".venv" / "bin" / "mallocsim").exists():
            pytest.skip("no .venv/bin/mallocsim to stand for the image's /opt/mallocsim")
        done = subprocess.run(  # inside: started in the submission's folder
            [root / "source" / "run_autograder"], env=env, check=False,
            cwd=submission if inside else None,
        )  # fmt: skip
        assert done.returncode == 0  # Gradescope reads results.json, whatever happened
        document = json.loads((root / "results" / "results.json").read_text())
        jsonschema.validate(document, SCHEMA)
        return document

    return zipped, submit


def test_init_gradescope_writes_a_complete_autograder(autograder):
    import os

    zipped, _ = autograder
    for script in ("setup.sh", "run_autograder"):
        assert os.access(zipped / script, os.X_OK)
    source = zipped / "mallocsim-src"
    for needed in ("setup.py", "pyproject.toml", "Makefile", "c/src/replay.c",
                   "c/include/labs/ms_lab_adapter.h", "driver/mallocsim/labs.py"):  # fmt: skip
        assert (source / needed).is_file(), needed
    assert not (source / "driver" / "mallocsim" / "_native").exists()  # built on the image
    assert (
        "pip install --quiet /autograder/source/mallocsim-src" in (zipped / "setup.sh").read_text()
    )
    assert (zipped / "traces" / "one.rep").is_file()


def test_setup_sh_installs_what_the_engine_and_the_labs_builds_need(autograder):
    # On a fresh image setup.sh installed a compiler and valgrind only: the engine's build needs
    # libseccomp in both word sizes (tools/system-deps.sh, which the zip does not hold), the
    # CS:APP lab gcc-multilib, the cmu lab clang. pip's build failed and no grade was ever made
    # (lab check run 11).
    zipped, _ = autograder
    script = (zipped / "setup.sh").read_text()
    installed = " ".join(line.strip(" \\") for line in script.splitlines())
    deps = (REPO / "tools" / "system-deps.sh").read_text()
    for package in ("libseccomp-dev", "libseccomp-dev:i386", "gcc-multilib", "clang", "valgrind"):
        assert f" {package} " in f" {deps.replace(chr(10), ' ')} ", package  # the checkout's too
        assert f" {package} " in f"{installed} ", package
    assert script.index("dpkg --add-architecture i386") < script.index("apt-get update")
    # A mirror mid-sync fails a package list (tests/test_system_deps.py): not the image's end.
    assert "apt-get update || echo" in script


def test_run_autograder_grades_a_submission_as_gradescope_runs_it(autograder):
    _, submit = autograder
    document = submit(("mm.c", fixture_allocator("good_bump").read_text()))
    assert [t["status"] for t in document["tests"]] == ["passed", "passed"]
    assert document["score"] > 30


def test_run_autograder_always_writes_results(autograder):
    _, submit = autograder
    missing = submit(("notes.txt", "int x;\n"))
    assert missing["score"] == 0.0 and "holds no .c file" in missing["output"]
    # What it held, said as text (Gradescope's default, HTML, drops "<x.h>"): lab check run 11.
    assert "(it holds: notes.txt)" in missing["output"]
    assert missing["output_format"] == missing["tests"][0]["output_format"] == "text"
    broken = submit(("mm.c", '#include "mm.h"\nint mm_init(void) { return 0 }\n'))
    assert broken["score"] == 0.0 and broken["tests"][0]["status"] == "failed"
    # The course's own mistake: a results.json that says to tell the instructor.
    zipped, _ = autograder
    (zipped.parent / "autograder" / "source" / "grading.toml").write_text("[grade]\nlab = 'x'\n")
    failed = submit(("mm.c", fixture_allocator("good_bump").read_text()))
    assert (
        "could not grade this submission (exit 2); please tell your instructor" in failed["output"]
    )
    assert "[grade] lab: expected one of" in failed["output"]


def test_run_autograder_imports_nothing_of_the_submissions(autograder):
    # Its own results.json was made by `python3 -`, which imports from the folder it runs in:
    # started in the submission, a json.py of the student's wrote a score of 100 (red-team pass
    # 22; Gradescope starts it in /autograder, so a guard, not a fix of a live hole).
    _, submit = autograder
    forged = 'def dump(obj, out, **kw):\n    out.write(\'{"score": 100.0, "tests": []}\')\n'
    document = submit(("notes.txt", "int x;\n"), ("json.py", forged), inside=True)
    assert document["score"] == 0.0 and "holds no .c file" in document["output"]


def test_run_autograder_grades_the_top_level_mm_c_and_guesses_no_other(autograder):
    # A stray copy (the handout's, in a folder) was graded instead of the student's; a folder
    # named with a newline once made a line-by-line read grade a path of the image's own.
    _, submit = autograder
    good, handout = fixture_allocator("good_bump").read_text(), "int broken = ;\n"
    top = submit(("mm.c", good), ("handout/mm.c", handout))
    assert [t["status"] for t in top["tests"]] == ["passed", "passed"]
    nested = submit(("a/mm.c", good), ("b/mm.c", handout))
    assert nested["score"] == 0.0 and "holds 2 files named mm.c in folders" in nested["output"]
    newline = submit(("x\n/autograder/source/mm.c", good))
    assert [t["status"] for t in newline["tests"]] == ["passed", "passed"]


def test_run_autograder_finds_the_allocator_as_a_class_run_does(autograder, tmp_path):
    # A zip of the handout's folder (malloclab/mm.c) was graded here and 0 in a class run of the
    # exported submissions, a lone solution.c the other way round (red-team pass 24): one rule,
    # batch.allocator_in_folder, for both.
    _, submit = autograder
    good = fixture_allocator("good_bump").read_text()
    for files in ((("malloclab/mm.c", good), ("malloclab/README", "")), (("solution.c", good),)):
        document = submit(*files)
        assert [t["status"] for t in document["tests"]] == ["passed", "passed"], files
        submission = tmp_path / "autograder" / "submission"
        assert allocator_in_folder(submission) == submission / files[0][0]


def test_the_image_draws_the_payload_secret_every_submission_is_graded_with(
    autograder, tmp_path, monkeypatch
):
    # Each container drew a secret of its own: a file that read its payloads as its own data
    # scored 0.0 or 83.35 from one submission of it to the next (lab check run 14, red-team pass
    # 24). setup.sh draws it into the image, whose containers all start with it.
    import os
    import subprocess

    zipped, submit = autograder
    line = next(
        line.strip()
        for line in (zipped / "setup.sh").read_text().replace("\\\n", "").splitlines()
        if "grader_secret" in line
    )
    image = tmp_path / "opt-mallocsim"  # the image's /opt/mallocsim
    (image / "bin").mkdir(parents=True)
    (image / "bin" / "python").write_text(
        f'#!/bin/sh\nexec {REPO / ".venv" / "bin" / "python"} "$@"\n'
    )
    (image / "bin" / "python").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "XDG_CACHE_HOME"}
    subprocess.run(["bash", "-c", line.replace("/opt/mallocsim", str(image))], env=env, check=True)
    secret = image / "cache" / "mallocsim" / "pattern-secret"
    assert len(secret.read_bytes()) == 32 and secret.stat().st_mode & 0o077 == 0
    # run_autograder looks in that folder, whatever HOME it is given.
    export = next(
        line for line in (zipped / "run_autograder").read_text().splitlines() if "XDG" in line
    )
    shown = subprocess.run(
        ["bash", "-c", f"mallocsim=/opt/mallocsim/bin/mallocsim; {export}; echo $XDG_CACHE_HOME"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert shown == "/opt/mallocsim/cache" and "XDG_CACHE_HOME=/opt/mallocsim/cache " in line
    drawn = secret.read_bytes()
    for container in ("one", "two"):
        shutil.copytree(image / "cache", tmp_path / container)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / container))
        submit(("mm.c", fixture_allocator("good_bump").read_text()))
        assert (tmp_path / container / "mallocsim" / "pattern-secret").read_bytes() == drawn


def test_init_gradescope_refuses_bad_traces_before_writing_anything(cli, tmp_path):
    run = cli("init", "--gradescope", "--traces", tmp_path / "none", tmp_path / "lab")
    assert run.status == 2 and "not a folder of .rep trace files" in run.err
    assert not (tmp_path / "lab").exists()
    assert cli("init", "--gradescope", tmp_path / "lab").status == 2


def test_a_counted_grade_shows_each_trace_in_the_measure_it_was_scored_in(
    cli, write_trace, tmp_path
):
    # The per-trace text gave timed Kops/s beside a score made of instruction counts: two
    # submissions of one file showed one score and different speeds (lab check run 14). And the
    # ratio of two costs, T/T_ref 0.163 under "instructions/op" lines, read upside down.
    out = tmp_path / "results.json"
    source = fixture_allocator("good_bump")
    run = cli("grade", source, "--dialect", "classic", "--gradescope", out, write_trace("t", TRACE))
    assert run.status == 0, run.err
    trace = json.loads(out.read_text())["tests"][0]
    assert trace["output"].startswith("valid, utilization ")
    assert trace["output"].endswith(" instructions/op") and "Kops/s" not in trace["output"]
    assert re.search(
        r"T / T_ref +[\d.]+ \(T_ref's [\d,.]+ instructions/op over T's [\d,.]+\)", run.out
    )
