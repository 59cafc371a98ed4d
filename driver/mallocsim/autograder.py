"""Autograder output: Gradescope's results.json and JUnit XML, from one Grade.

Gradescope (its "results.json" specification): a top-level score and output,
and a list of tests, each with name, score, max_score and output. We write
one test per trace (its correctness points and its diagnosis) and one for the
performance index (the performance points and the score's breakdown). An
allocator that could not be run at all (does not compile, makes forbidden
calls, cannot be loaded) gets one test holding the reason, and score 0.

JUnit XML: one testsuite, one testcase per trace, a <failure> holding the
diagnosis for each invalid one, and the score as suite properties, which CI
systems show next to the test counts.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from mallocsim.grade_report import explain, format_grade
from mallocsim.grading import Grade
from mallocsim.results import TraceResult


def _trace_output(result: TraceResult) -> str:
    if not result.valid:
        return result.error or "invalid"
    parts = ["valid"]
    if result.utilization is not None:
        parts.append(f"utilization {100 * result.utilization:.1f}%")
    if result.ops_per_sec is not None:
        parts.append(f"{result.ops_per_sec / 1000:,.0f} Kops/s")
    return ", ".join(parts)


def gradescope_results(grade: Grade) -> dict:
    """The results.json document."""
    score = grade.score
    if grade.problem is not None:
        return {
            "score": 0.0,
            "output": f"{grade.allocator} could not be graded.\n\n{format_grade(grade)}",
            "tests": [
                {
                    "name": f"build and load {grade.allocator}",
                    "score": 0.0,
                    "max_score": score.max_points,
                    "output": grade.problem,
                }
            ],
        }
    tests = [
        {
            "name": f"trace {part.trace}",
            "score": part.points,
            "max_score": part.max_points,
            "output": _trace_output(result),
        }
        for part, result in zip(score.per_trace, grade.results, strict=True)
    ]
    performance_max = score.max_points - sum(part.max_points for part in score.per_trace)
    tests.append(
        {
            "name": "performance index",
            "score": performance_max * score.index / 100.0,
            "max_score": performance_max,
            "output": explain(score),
        }
    )
    return {
        "score": score.points,
        "output": format_grade(grade),
        "tests": tests,
    }


def write_gradescope(grade: Grade, path: str | Path) -> None:
    Path(path).write_text(json.dumps(gradescope_results(grade), indent=2) + "\n")


def junit_tree(grade: Grade) -> ET.ElementTree:
    """The JUnit XML document."""
    score = grade.score
    suite = ET.Element("testsuite", name=f"mallocsim grade {grade.allocator}")
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("score", f"{score.points:g}"),
        ("max_score", f"{score.max_points:g}"),
        ("performance_index", f"{score.index:.2f}"),
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
    for result in grade.results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=classname,
            name=result.trace,
            time=f"{result.seconds or 0.0:.6f}",
        )
        if result.valid:
            ET.SubElement(case, "system-out").text = _trace_output(result)
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
    return ET.ElementTree(root)


def write_junit(grade: Grade, path: str | Path) -> None:
    tree = junit_tree(grade)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
