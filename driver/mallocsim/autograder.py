"""Autograder output: Gradescope's results.json and JUnit XML, from one Grade.

Gradescope (its documented results.json format, "Autograder Specifications"):
the top-level score (rounded to the course's [gradescope] score_digits),
execution_time (whole seconds), output and its format, the visibility of the
tests and of the autograder's stdout, extra_data (the lab, the throughput
measure, the index), the tests, and, where the course asks, the leaderboard.
One test per trace (its correctness points, its diagnosis, passed or failed)
and one for the performance index (the performance points and the score's
breakdown, failed when an invalid trace zeroed it). An allocator that could
not be run at all (does not compile, makes forbidden calls, fails the team
check, cannot be loaded) gets one failed test holding the reason, and score 0.
driver/tests/gradescope_results.schema.json is that format as a JSON Schema,
which the tests hold every file we write to.

JUnit XML: one testsuite, one testcase per trace, a <failure> holding the
diagnosis for each invalid one, and the score as suite properties, which CI
systems show next to the test counts.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from mallocsim.config import GradingConfig
from mallocsim.files import write_text, writing
from mallocsim.grade_report import explain, format_grade, throughput_text
from mallocsim.grading import Grade
from mallocsim.numbers import percent
from mallocsim.results import TraceResult
from mallocsim.safe_text import printable
from mallocsim.score import TraceScore


def _trace_output(result: TraceResult, part: TraceScore, measure: str) -> str:
    """A trace's verdict, utilization and throughput in the measure the score used: a timed
    Kops/s beside a counted score moved from one submission of a file to the next while its
    score did not (lab check run 14)."""
    if not result.valid:
        return result.error or "invalid"
    parts = ["valid"]
    if result.utilization is not None:
        parts.append(f"utilization {percent(result.utilization)}")
    if part.throughput:
        parts.append(throughput_text(measure, part.throughput))
    return ", ".join(parts)


def gradescope_results(grade: Grade, config: GradingConfig | None = None) -> dict:
    """The results.json document, with the course's Gradescope settings."""
    config = config or GradingConfig()
    score = grade.score

    def points(value: float) -> float:
        return round(value, config.score_digits)

    def test(name: str, earned: float, most: float, passed: bool, output: str) -> dict:
        return {
            "name": name,
            "score": points(earned),
            "max_score": points(most),
            "status": "passed" if passed else "failed",
            "output": output,
            "output_format": "text",
            "visibility": config.gradescope_visibility,
        }

    if grade.problem is not None:
        # Visible whatever the course's setting: Gradescope's specification keeps the compile
        # check so (students see why nothing ran), and with "after_due_date" a student whose file
        # did not compile saw no reason until the deadline had passed (lab check run 11).
        build = test(
            f"build and load {grade.allocator}", 0.0, score.max_points, False, grade.problem
        )
        tests = [{**build, "visibility": "visible"}]
        summary = f"{grade.allocator} could not be graded.\n\n"
    else:
        tests = [
            test(
                f"trace {name}",
                part.points,
                part.max_points,
                part.valid,
                _trace_output(r, part, score.measure),
            )
            for part, r, name in zip(
                score.per_trace, grade.results, trace_names(grade.results), strict=True
            )
        ]
        performance_max = score.max_points - sum(part.max_points for part in score.per_trace)
        earned = score.points - sum(part.points for part in score.per_trace)  # a threshold's 0
        tests.append(
            test(
                "performance index", earned, performance_max, score.penalty is None, explain(score)
            )
        )
        summary = ""
    for number, entry in enumerate(tests, 1):
        entry["number"] = str(number)
    document = {
        "score": points(score.points),
        "execution_time": max(0, round(grade.seconds)),
        "output": summary + format_grade(grade),
        "output_format": "text",
        "visibility": config.gradescope_visibility,
        "stdout_visibility": config.gradescope_stdout_visibility,
        "extra_data": {
            "lab": score.lab,
            "throughput_measure": score.measure,
            "performance_index": round(score.lab_index, 4),
            "valid_traces": score.valid,
            "traces": score.traces,
        },
        "tests": tests,
    }
    if config.leaderboard:
        document["leaderboard"] = _leaderboard(grade)
    return document


def _leaderboard(grade: Grade) -> list[dict]:
    """The columns a course's leaderboard shows: utilization, speed against the
    reference, and the index (0 for an allocator that could not be graded)."""
    score = grade.score
    ratio = (
        score.throughput / score.reference_throughput
        if score.throughput is not None and score.reference_throughput
        else 0.0
    )
    return [
        {"name": "Utilization %", "value": round(100 * (score.utilization or 0.0), 1)},
        {"name": "Speed / reference", "value": round(ratio, 3)},
        {"name": "Performance index", "value": round(score.lab_index, 1)},
    ]


def trace_names(results: Sequence[TraceResult]) -> list[str]:
    """Each result's test name: its trace's, and "corners (2)" for a trace graded again (the
    PKU 2022 handout's list grades corners and cp-decl twice: two tests of one name)."""
    seen: Counter[str] = Counter()
    names = []
    for result in results:
        seen[result.trace] += 1
        times = seen[result.trace]
        names.append(result.trace if times == 1 else f"{result.trace} ({times})")
    return names


def write_gradescope(grade: Grade, path: str | Path, config: GradingConfig | None = None) -> None:
    document = gradescope_results(grade, config)
    # Shown as text on Gradescope's page: what the grade quotes of a student's making (a path
    # through their folder's name) is printable there as it is in the terminal.
    document["output"] = printable(document["output"])
    for test in document["tests"]:
        test["output"] = printable(test["output"])
        test["name"] = printable(test["name"], lines=False)
    write_text(path, json.dumps(document, indent=2) + "\n")


def junit_tree(grade: Grade) -> ET.ElementTree:
    """The JUnit XML document."""
    score = grade.score
    suite = ET.Element("testsuite", name=f"mallocsim grade {grade.allocator}")
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("score", f"{score.points:g}"),
        ("max_score", f"{score.max_points:g}"),
        ("performance_index", f"{score.lab_index:.2f}"),
        ("formula", score.formula),
        ("lab", score.lab),
        ("throughput_measure", score.measure),
    ):
        ET.SubElement(properties, "property", name=name, value=value)
    # A dot would split the class name in CI viewers ("mm.c" -> package mm, class c).
    classname = "mallocsim." + Path(grade.allocator).name.replace(".", "_")
    failures = 0
    if grade.problem is not None:
        case = ET.SubElement(suite, "testcase", classname=classname, name="build and load")
        failure = ET.SubElement(case, "failure", message=grade.problem.splitlines()[0])
        failure.text = grade.problem
        failures = 1
    for result, part, name in zip(
        grade.results, score.per_trace, trace_names(grade.results), strict=True
    ):
        case = ET.SubElement(
            suite,
            "testcase",
            classname=classname,
            name=name,
            time=f"{result.seconds or 0.0:.6f}",
        )
        if result.valid:
            ET.SubElement(case, "system-out").text = _trace_output(result, part, score.measure)
        else:
            failures += 1
            failure = ET.SubElement(case, "failure", message=result.error or "invalid")
            failure.text = result.error
    cases = len(grade.results) + (grade.problem is not None)
    suite.set("tests", str(cases))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    root = ET.Element("testsuites")
    root.append(suite)
    # A path through a folder named with a control character (its student's name) made the
    # file ill-formed: XML 1.0 holds none but tab and newline.
    for element in root.iter():
        if element.text is not None:
            element.text = printable(element.text)
        for name, value in element.attrib.items():
            element.set(name, printable(value, lines=False))
    return ET.ElementTree(root)


def write_junit(grade: Grade, path: str | Path) -> None:
    tree = junit_tree(grade)
    ET.indent(tree)
    with writing(path):
        tree.write(path, encoding="utf-8", xml_declaration=True)
