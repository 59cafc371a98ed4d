"""`mallocsim grade ALLOCATOR... TRACE|DIR...`: grade allocators as their lab would.

The lab (--lab, or `lab = "..."` in the grading file; default mallocsim) says
how the mm.c is built, what the checks require (alignment, heap limit, ...),
which traces of a folder are graded and in what order, and how they are
scored. The grade itself is made in mallocsim.grading; this command holds its
arguments and its output: the team, compiler warnings, the lab's table, notes,
the score and how it was computed; --gradescope and --junit write autograder
files, -g the classic driver's `correct:` and `perfidx:` lines, --json the
grade as a record that `mallocsim gradebook merge` reads.

A class: several mm.c files, or a folder of student folders (class/alice/mm.c),
or --gradebook, grades every submission, -j at a time, and writes the
gradebook (.csv or .json, by its name), one Gradescope or JUnit file per
student into the folders --gradescope and --junit name, and prints a summary.
A submission graded before with the same source, traces and settings is taken
from the cache; Ctrl-C keeps every grade already finished (they are written).

Exit status: 0 when every trace of every submission is valid, 1 when a grade
failed (an invalid trace, or an allocator that does not compile, makes
forbidden calls, fails the team check or cannot be loaded: the autograder
files are still written, with score 0), 2 for bad usage (a bad configuration,
a missing or malformed trace), 130 when interrupted (what finished is written).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from mallocsim.cli import EXIT_INVALID, EXIT_OK
from mallocsim.commands import positive_count, positive_seconds
from mallocsim.constants import DIALECTS, THROUGHPUT_MEASURES
from mallocsim.labs import LABS, WORD_SIZES
from mallocsim.stopping import EXIT_INTERRUPTED
from mallocsim.table import WIDTH, fit

if TYPE_CHECKING:
    from mallocsim.batch import Submission
    from mallocsim.config import GradingConfig
    from mallocsim.grading import GradePlan


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "grade", help="grade an allocator as its lab would: table, score, autograder files",
        description=__doc__,
    )  # fmt: skip
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    # Two positionals, so that options may come between the allocator and the traces.
    parser.add_argument(
        "first", metavar="ALLOCATOR", help="an mm.c or .so, or a folder of student folders"
    )
    parser.add_argument(
        "rest", nargs="+", metavar="ALLOCATOR... TRACE|DIR",
        help="more allocators, then trace files or folders of .rep files",
    )  # fmt: skip
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
        "--no-team-check", action="store_true",
        help="skip the csapp lab's team check (a team_t team record, filled in), as its "
        "driver's -a does: for handouts without the record",
    )  # fmt: skip
    parser.add_argument(
        "--word-size", choices=WORD_SIZES,
        help="build mm.c for 64 bits, 32 (-m32, as the CS:APP handout does) or auto: 64 unless "
        "it keeps pointers in 4-byte integers (the csapp lab's default; the others': 64)",
    )  # fmt: skip
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        help="CPU seconds per trace before the allocator is stopped (20 times that in wall time)",
    )
    parser.add_argument(
        "-g", dest="autograder_lines", action="store_true",
        help="print the classic driver's correct:N and perfidx:N lines (first and last)",
    )  # fmt: skip
    parser.add_argument(
        "--gradescope", metavar="FILE|DIR",
        help="write Gradescope's results.json (a class: one STUDENT.json each into DIR)",
    )  # fmt: skip
    parser.add_argument(
        "--junit", metavar="FILE|DIR",
        help="write a JUnit XML report (a class: one STUDENT.xml each into DIR)",
    )  # fmt: skip
    parser.add_argument(
        "--json", metavar="FILE", help="write the grade as a record (gradebook merge reads it)"
    )
    parser.add_argument("--student", help="the student's name in the --json record")
    parser.add_argument(
        "--trust-built", action="store_true",
        help="grade a .so as it was handed in: its code runs as it loads, before the sandbox "
        "is sealed, so only for a library of your own (a class takes only C source)",
    )  # fmt: skip
    parser.add_argument(
        "--gradebook", metavar="FILE", action="append",
        help="grade as a class and write the gradebook (.csv or .json); repeatable",
    )  # fmt: skip
    parser.add_argument(
        "-j", "--jobs", type=positive_count, default=None,
        help=f"submissions graded at once (default: the cores, {os.cpu_count() or 1}; half of "
        "them with --throughput time, whose timed passes each need a core of their own)",
    )  # fmt: skip
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="grade every submission again, cached or not, and keep the new grades",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "--wide", action="store_true",
        help="long lines as they are (default: wrapped to 80 columns)",
    )  # fmt: skip
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mallocsim.batch import find_submissions, is_class, split_arguments
    from mallocsim.config import load_config
    from mallocsim.files import check_outputs
    from mallocsim.gradebook import check_gradebook_path
    from mallocsim.grading import plan
    from mallocsim.progress import progress_mode

    config = load_config(args.config, args.lab)
    if args.throughput:
        config = replace(config, throughput=args.throughput)
    if args.check_heap:
        config = replace(config, check_heap=True)
    if args.no_team_check:
        config = replace(config, team_check=False)
    if args.word_size:
        config = replace(config, word_size=args.word_size)
    allocators, traces = split_arguments([args.first, *args.rest])
    # Before any work (a class takes minutes): a class's autograder files go into folders.
    klass = is_class(allocators) or bool(args.gradebook)
    check_outputs(args, ("gradescope", "junit") if klass else ())
    graded = plan(config, traces)
    mode = progress_mode(args.quiet)
    if klass:
        for path in args.gradebook or ():
            check_gradebook_path(path)
        return _grade_class(args, config, find_submissions(allocators), traces, graded, mode)
    return _grade_one(args, config, allocators[0], graded, mode)


def _grade_one(
    args: argparse.Namespace, config: GradingConfig, allocator: str, graded: GradePlan, mode: str
) -> int:
    from mallocsim.autograder import write_gradescope, write_junit
    from mallocsim.grade_record import grade_record, write_record
    from mallocsim.grade_report import format_grade
    from mallocsim.grading import grade, hint_for, spec_for
    from mallocsim.progress import Progress

    spec = spec_for(allocator, config, args.dialect, args.trust_built)
    with Progress("grade", len(graded.traces), mode=mode) as progress:
        result = grade(spec, graded, config, args.timeout, progress)
    hint = hint_for(spec, result.problem, result.results)
    if result.problem is not None:  # the hint first: it says in one line what to do
        print(f"mallocsim grade: {hint or result.problem}", file=sys.stderr)
        if hint:
            print(result.problem, file=sys.stderr)
    elif hint:
        print(f"mallocsim grade: {hint}", file=sys.stderr)
    # -g: the classic driver's lines, at the end as it prints them, and first too: the report
    # holds text the submission wrote (its team name, a #warning the compiler quotes), and a
    # course's script that took the first "perfidx:" read 100 for a file graded 0 (red-team
    # pass 30).
    autograder_lines = [f"correct:{result.score.valid}", f"perfidx:{result.score.lab_index:.0f}"]
    if args.autograder_lines:
        print("\n".join(autograder_lines))
    print(format_grade(result, None if args.wide else WIDTH))
    if args.autograder_lines:
        print("\n".join(autograder_lines))
    if args.gradescope:
        write_gradescope(result, args.gradescope, config)
    if args.junit:
        write_junit(result, args.junit)
    if args.json:
        student = args.student or Path(allocator).stem
        write_record(grade_record(result, student, allocator), args.json)
    return EXIT_OK if result.passed else EXIT_INVALID


def _worker_flags(args: argparse.Namespace) -> list[str]:
    """The settings each submission's own `mallocsim grade` is run with."""
    flags = []
    # Every option with a value that the grade depends on (--word-size was missing: a class
    # graded with --word-size 32 was built for 64 bits, and cached under a key that said 32).
    for option in ("lab", "dialect", "throughput", "timeout", "word_size"):
        value = getattr(args, option)
        if value is not None:
            flags.append(f"--{option.replace('_', '-')}={value}")
    if args.config:
        flags.append(f"--config={Path(args.config).resolve()}")
    if args.check_heap:
        flags.append("--check-heap")
    if args.no_team_check:
        flags.append("--no-team-check")
    return flags


def _grade_class(
    args: argparse.Namespace,
    config: GradingConfig,
    submissions: list[Submission],
    traces: list[str],
    graded: GradePlan,
    mode: str,
) -> int:
    from mallocsim.allocators import say_which_lab
    from mallocsim.autograder import write_gradescope, write_junit
    from mallocsim.batch import default_jobs, grade_class, student_file
    from mallocsim.errors import UsageError
    from mallocsim.files import writing
    from mallocsim.grade_record import grade_from_record
    from mallocsim.gradebook import format_summary, row_of, write_gradebook
    from mallocsim.progress import Progress

    if args.autograder_lines or args.json or args.student:
        raise UsageError("-g, --json and --student are for one allocator; a class has --gradebook")
    if (args.dialect or config.dialect or config.profile.dialect) is None:
        # Refused before any work, as for one file: each worker refused its file, and the class
        # got a gradebook of zeros (lab check run 14).
        raise UsageError(f"the {len(submissions)} submissions: {say_which_lab('they are')}")
    folders = [Path(d) for d in (args.gradescope, args.junit) if d]
    for folder in folders:
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"{folder}: a class's autograder files go into a folder, not a file")
        # A student's file there is named for the student: one named "grades" wrote over
        # --gradebook folder/grades.json.
        for book in args.gradebook or ():
            if Path(book).resolve().parent == folder.resolve():
                raise UsageError(
                    f"{book}: the gradebook goes outside {folder}/, where each student's file "
                    "is named for the student (a student could be named as it)"
                )
    jobs = args.jobs or default_jobs(config.throughput)
    if config.throughput == "time" and jobs > default_jobs("time"):
        print(
            f"mallocsim grade: -j {jobs} with --throughput time: each grade's timed passes need "
            "a core of their own, and grades by time then move with the load (two honest copies "
            "graded with -j 2 on 2 cores lost 6-11 points; counted grades do not move)",
            file=sys.stderr,
        )
    with Progress("grade", len(submissions), mode=mode) as progress:
        done = grade_class(
            submissions, traces, graded, config, _worker_flags(args), jobs, progress,
            use_cache=not args.no_cache,
        )  # fmt: skip
    rows = [row_of(record, record["student"] in done.cached) for record in done.records]
    for path in args.gradebook or ():
        write_gradebook(rows, path)
    for folder in folders:
        with writing(folder):
            folder.mkdir(parents=True, exist_ok=True)
    for record in done.records:
        if args.gradescope or args.junit:
            grade = grade_from_record(record)
            if args.gradescope:
                path = student_file(Path(args.gradescope), record["student"], ".json")
                write_gradescope(grade, path, config)
            if args.junit:
                write_junit(grade, student_file(Path(args.junit), record["student"], ".xml"))
    print(format_summary(rows))
    now = len(rows) - len(done.cached)
    per = done.seconds / len(rows) if rows else 0.0
    print(
        fit(
            f"graded {len(rows)} of {len(submissions)} submissions in {done.seconds:.1f} s "
            f"with -j {jobs}: {now} graded now, {len(done.cached)} from the cache; "
            f"{per:.2f} s per submission",
            None if args.wide else WIDTH,
        )
    )
    if done.interrupted:
        print(
            f"mallocsim grade: interrupted: {len(rows)} of {len(submissions)} graded and written; "
            "run it again to grade the rest",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    return EXIT_OK if all(row.passed for row in rows) else EXIT_INVALID
