"""A grade as a JSON record: what `mallocsim grade --json` writes, the batch
grader caches, and `mallocsim gradebook merge` reads.

A record is self-contained: the student and submission it is for, the key of
everything it was computed from, and the whole Grade (every trace's result,
the score and how it was reached, the team, warnings and notes), so that a
Gradescope or JUnit file can be written from it later exactly as from a grade
made now. Records are plain JSON; this module turns them back into a Grade.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mallocsim.errors import UsageError
from mallocsim.files import write_text
from mallocsim.gradebook import RECORD_FORMAT, RECORD_VERSION, check_record
from mallocsim.grading import Grade
from mallocsim.results import TraceResult
from mallocsim.score import Score, TraceScore
from mallocsim.team import Team


def grade_record(grade: Grade, student: str, submission: str, key: str = "") -> dict[str, Any]:
    """The record of a grade made for `student` from the file `submission`."""
    return {
        "format": RECORD_FORMAT,
        "version": RECORD_VERSION,
        "student": student,
        "submission": submission,
        "key": key,
        "grade": asdict(grade),
    }


def record_for(record: dict[str, Any], student: str, submission: str) -> dict[str, Any]:
    """A cached record given to another student whose file is the same: every
    mention of the file it was made from (the grade's allocator, each trace's,
    any message naming it) names `submission` instead. Two students who hand in
    one file each see their own path, never the other's name."""
    old = record.get("submission")

    def renamed(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(old, submission) if old else value
        if isinstance(value, list):
            return [renamed(v) for v in value]
        if isinstance(value, dict):
            return {k: renamed(v) for k, v in value.items()}
        return value

    return {
        **record,
        "student": student,
        "submission": submission,
        "grade": renamed(record["grade"]),
    }


def grade_from_record(record: dict[str, Any]) -> Grade:
    """The Grade a record holds. Raises UsageError for a record that is not one."""
    check_record(record)
    data = record["grade"]
    try:
        score = data["score"]
        team = data.get("team")
        return Grade(
            **{
                **data,
                "results": tuple(TraceResult(**r) for r in data["results"]),
                "score": Score(
                    **{**score, "per_trace": tuple(TraceScore(**t) for t in score["per_trace"])}
                ),
                "team": Team(**team) if team else None,
                "warnings": tuple(data["warnings"]),
                "notes": tuple(data["notes"]),
            }
        )
    except (KeyError, TypeError) as error:
        raise UsageError(
            f"a grade record of {record.get('student')!r} is damaged: {error}"
        ) from None


def write_record(record: dict[str, Any], path: str | Path) -> None:
    write_text(path, json.dumps(record, indent=1) + "\n")
