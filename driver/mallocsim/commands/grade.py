"""`mallocsim grade mm.c|lib.so TRACES...`: grade one allocator as its lab would.

The lab (--lab, or `lab = "..."` in the grading file; default mallocsim) says
how the mm.c is built, what the checks require (alignment, heap limit, ...),
which traces of a folder are graded and in what order, and how they are
scored. The grade itself is made in mallocsim.grading; this command holds its
arguments and its output: the team, compiler warnings, the lab's table, notes,
the score and how it was computed; --gradescope and --junit write autograder
files, -g the classic driver's `correct:` and `perfidx:` lines.

Exit status: 0 when every trace is valid, 1 when the grade failed (an invalid
trace, or an allocator that does not compile, makes forbidden calls, fails the
team check or cannot be loaded: the autograder files are still written, with
score 0), 2 for bad usage (a bad configuration, a missing or malformed trace).
"""

from __future__ import annotations

import argparse
import sys

from mallocsim.cli import EXIT_INVALID, EXIT_OK
from mallocsim.commands import positive_seconds
from mallocsim.constants import DIALECTS, THROUGHPUT_MEASURES
from mallocsim.labs import LABS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "grade", help="grade an allocator as its lab would: table, score, autograder files",
        description=__doc__,
    )  # fmt: skip
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("allocator", metavar="mm.c|lib.so", help="the allocator to grade")
    parser.add_argument(
        "traces", nargs="+", metavar="TRACE|DIR", help="trace files or folders of .rep files"
    )
    parser.add_argument(
        "--lab", choices=tuple(LABS), help="the lab whose rules apply (else the config's)"
    )
    parser.add_argument("--dialect", choices=DIALECTS, help="mm_init's dialect, when not the lab's")
    parser.add_argument("--config", metavar="TOML", help="grading configuration (grading.toml)")
    parser.add_argument(
        "--throughput",
        choices=THROUGHPUT_MEASURES,
        help="instructions (the same score every run; default) or time (the lab's own measure)",
    )
    parser.add_argument(
        "--check-heap", action="store_true", help="call the heap checker after every op"
    )
    parser.add_argument(
        "--timeout", type=positive_seconds, help="seconds per trace before the allocator is stopped"
    )
    parser.add_argument(
        "-g", dest="autograder_lines", action="store_true",
        help="print the classic driver's correct:N and perfidx:N lines",
    )  # fmt: skip
    parser.add_argument("--gradescope", metavar="FILE", help="write Gradescope's results.json")
    parser.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from mallocsim.autograder import write_gradescope, write_junit
    from mallocsim.config import load_config
    from mallocsim.grade_report import format_grade
    from mallocsim.grading import grade, hint_for, plan, spec_for

    config = load_config(args.config, args.lab)
    if args.throughput:
        config = replace(config, throughput=args.throughput)
    if args.check_heap:
        config = replace(config, check_heap=True)
    spec = spec_for(args.allocator, config, args.dialect)
    result = grade(spec, plan(config, args.traces), config, args.timeout)
    hint = hint_for(spec, result.problem, result.results)
    if result.problem is not None:  # the hint first: it says in one line what to do
        print(f"mallocsim grade: {hint or result.problem}", file=sys.stderr)
        if hint:
            print(result.problem, file=sys.stderr)
    elif hint:
        print(f"mallocsim grade: {hint}", file=sys.stderr)
    print(format_grade(result))
    if args.autograder_lines:
        print(f"correct:{result.score.valid}")
        print(f"perfidx:{result.score.index:.0f}")
    if args.gradescope:
        write_gradescope(result, args.gradescope, config)
    if args.junit:
        write_junit(result, args.junit)
    return EXIT_OK if result.passed else EXIT_INVALID
