"""Gradescope's results.json: every file `grade --gradescope` writes, for a
passing, a failing, a crashing and a non-compiling submission, holds to the
documented format (gradescope_results.schema.json), with per-test status and
visibility, the course's rounding, the execution time and, where asked, a
leaderboard."""

from __future__ import annotations

import json

import jsonschema
import pytest

from .conftest import FIXTURE_ALLOCATORS, TESTS

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
    status, document = results_of(FIXTURE_ALLOCATORS / "good_bump.c", TRACE)
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


def test_a_failing_submission(results_of):
    status, document = results_of(FIXTURE_ALLOCATORS / "overlap.c", "a 0 32\nf 0\na 1 32\na 2 32\n")
    assert status == 1
    trace, performance = document["tests"]
    assert trace["status"] == "failed" and trace["score"] == 0.0 and "overlaps" in trace["output"]
    assert performance["status"] == "failed" and document["score"] == 0.0


def test_a_crashing_submission(results_of):
    status, document = results_of(FIXTURE_ALLOCATORS / "segfault.c", CRASH)
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
    run = cli("grade", FIXTURE_ALLOCATORS / "good_bump.c", "--dialect", "classic", "--config",
              course, write_trace("t", TRACE))  # fmt: skip
    assert run.status == 2
    assert run.err.strip().endswith(
        "[gradescope] score_digits: expected a whole number of decimals from 0 to 6, got 9"
    )
