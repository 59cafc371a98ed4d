"""The gradebook: one row per submission, from grade records, as CSV or JSON,
and the summary table a class's grading ends with.

Works on plain JSON records (grade_record.py writes them; `mallocsim grade
--json` and the batch grader produce them), so merging the records of a
class graded on many machines needs nothing native. A row holds what an
instructor sorts and reads: the score and its parts, how many traces were
valid, the first failure, the build warnings, the word size the mm.c was built
for (32: the CS:APP handout's -m32), how long it took and whether it came
from the cache.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from mallocsim.errors import UsageError
from mallocsim.files import require_regular_file, strict_json, text_output, write_text
from mallocsim.safe_text import printable
from mallocsim.score import on_lab_scale
from mallocsim.table import render_table

RECORD_FORMAT = "mallocsim-grade"
RECORD_VERSION = 1
GRADEBOOK_SUFFIXES = (".csv", ".json")


@dataclass(frozen=True)
class GradebookRow:
    """One submission's line in the gradebook."""

    student: str
    submission: str  # the file graded
    score: float  # points earned
    max_score: float
    index: float  # the lab's performance index, on its driver's scale (0..100, PKU 2025's 0..80)
    utilization: float | None  # U, 0..1
    throughput_ratio: float | None  # T / T_ref, before the cap at 1
    valid: int  # traces valid
    traces: int  # traces graded
    passed: bool  # built, loaded and every trace valid
    first_failure: str  # the problem (does not compile...) or the first invalid trace's error
    warnings: int  # compiler warnings
    word_bits: int  # 32: graded built -m32 (the CS:APP handout's build), else 64
    seconds: float  # how long the grade took when it was made
    cached: bool  # taken from the cache in this run
    key: str  # the digest of everything the grade was computed from


def check_record(record: Any, origin: str = "the record") -> None:
    """Raise UsageError unless `record` is a grade record this version reads."""
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise UsageError(
            f"{origin} is not a mallocsim grade record (from `mallocsim grade --json`)"
        )
    if record.get("version") != RECORD_VERSION:
        raise UsageError(
            f"{origin} is a version {record.get('version')} grade record; "
            f"this mallocsim reads version {RECORD_VERSION}"
        )
    if not isinstance(record.get("grade"), dict) or not isinstance(record.get("student"), str):
        raise UsageError(f"{origin} is a grade record without a grade or a student")


def row_of(record: dict[str, Any], cached: bool = False) -> GradebookRow:
    """The gradebook row of a grade record (check_record first)."""
    grade = record["grade"]
    score = grade["score"]
    results = grade["results"]
    problem = grade.get("problem")
    failure = _first_line(problem, record.get("submission", "")) if problem else ""
    if not failure:
        failure = next((f"{r['trace']}: {r['error']}" for r in results if not r["valid"]), "")
    failure = printable(failure, lines=False)  # a file's name, a worker's last line: anyone's
    ratio = None
    if score.get("throughput") and score.get("reference_throughput"):
        ratio = score["throughput"] / score["reference_throughput"]
    return GradebookRow(
        # a record's name is whoever wrote it (grade --student, a script naming records after
        # folders): ESC and CR in it drew a forged row over another student's in the summary
        student=printable(record["student"], lines=False),
        submission=record.get("submission", ""),
        score=score["points"],
        max_score=score["max_points"],
        index=on_lab_scale(score["index"], score.get("index_out_of", 100.0)),
        utilization=score.get("utilization"),
        throughput_ratio=ratio,
        valid=score["valid"],
        traces=score["traces"],
        passed=problem is None and bool(results) and all(r["valid"] for r in results),
        first_failure=failure,
        warnings=len(grade.get("warnings", ())),
        word_bits=grade.get("word_bits", 64),
        seconds=grade.get("seconds", 0.0),
        cached=cached,
        key=record.get("key", ""),
    )


_SAYS_WHY = re.compile(r"error|undefined reference")


def _first_line(problem: str, submission: str) -> str:
    """A problem in one line, without the file's path (the row says whose it is);
    "does not compile:" followed by the compiler's first error."""
    lines = problem.splitlines()
    first = lines[0].removeprefix(f"{submission}: ")
    if first.endswith(":"):
        # The linker says why before it says "collect2: error: ld returned 1 exit status".
        error = next((line.strip() for line in lines[1:] if _SAYS_WHY.search(line)), None)
        if error:
            first = f"{first} {error}"
    return first


def read_record_file(path: str | Path) -> list[dict[str, Any]]:
    """The grade records in one file (a record, or a JSON list of records); raises
    UsageError, one line naming the file, when it holds none."""
    require_regular_file(path)
    try:
        data = strict_json(Path(path).read_text())
    except OSError as error:
        raise UsageError(f"{path}: {error.strerror}") from None
    except ValueError as error:
        raise UsageError(f"{path}: not JSON ({error})") from None
    items = data if isinstance(data, list) else [data]
    for item in items:
        check_record(item, str(path))
    return items


def read_records(paths: Sequence[str | Path]) -> tuple[list[dict[str, Any]], list[str]]:
    """(the grade records in these files, one line for each file that holds none):
    a class's gradebook is made of what can be read, one bad record among 150 (a
    submission's NaN, a truncated copy) leaving out its own student only."""
    records: list[dict[str, Any]] = []
    problems: list[str] = []
    for path in paths:
        try:
            records.extend(read_record_file(path))
        except UsageError as error:
            problems.append(str(error))
    return records, problems


def merge_records(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per student, the last one given winning (a regrade replaces
    the first grade), in the students' order."""
    by_student = {record["student"]: record for record in records}
    return [by_student[name] for name in sorted(by_student)]


def check_gradebook_path(path: str | Path) -> None:
    """Raise UsageError unless the gradebook can be written as the name says."""
    if Path(path).suffix.lower() not in GRADEBOOK_SUFFIXES:
        raise UsageError(f"{path}: a gradebook is a .csv or a .json file")


def write_gradebook(rows: Sequence[GradebookRow], path: str | Path) -> None:
    """The gradebook as CSV (a column per field) or JSON (a list of rows), by suffix."""
    check_gradebook_path(path)
    if Path(path).suffix.lower() == ".json":
        write_text(path, json.dumps([asdict(row) for row in rows], indent=1) + "\n")
        return
    with text_output(path, newline="") as out:
        writer = csv.writer(out)
        writer.writerow([field.name for field in fields(GradebookRow)])
        for row in rows:
            writer.writerow([_cell(v) for v in asdict(row).values()])


# A spreadsheet reads a cell that starts with one of these as a formula (a student's folder
# named =HYPERLINK(...), a team name): such text is kept as text, behind a quote.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    if value is None:
        return ""
    if not isinstance(value, str):
        return value
    value = printable(value, lines=False)  # a path through a folder named with an escape
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def format_summary(rows: Sequence[GradebookRow], width: int = 80) -> str:
    """The class at a glance: a line per student (score, valid traces, seconds or
    "cached", then the first failure, each line cut to `width`), and the count of
    submissions that passed every trace."""
    body = [
        [row.student, f"{row.score:.1f}", f"{row.valid}/{row.traces}",
         "cached" if row.cached else f"{row.seconds:.1f}"]
        for row in rows
    ]  # fmt: skip
    table = render_table([["student", "score", "valid", "seconds"]], body).splitlines()
    header, rule, lines = table[0], table[1], table[2:]
    for i, row in enumerate(rows):
        if row.first_failure:
            lines[i] = f"{lines[i]:<{len(rule)}}  {row.first_failure}"
    cut = [line if len(line) <= width else line[: width - 3] + "..." for line in lines]
    passed = sum(row.passed for row in rows)
    return "\n".join(
        [f"{header:<{len(rule)}}  first failure", rule, *cut,
         f"{passed} of {len(rows)} submissions passed every trace"]
    )  # fmt: skip
