"""`mallocsim replay`: replay traces on allocators, prove them correct, report.

Exit status: 0 when every trace is valid on every allocator (or ran out of
memory the machine does not have: out_of_memory.py), 1 when an allocator
failed a check, 2 when a trace file, an allocator or an output is bad (the
other traces still run and are reported; an output is checked before any).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence

from mallocsim.allocators import DEFAULT_POLICY, PRELOADED, AllocatorError, AllocatorSpec, resolve
from mallocsim.cli import EXIT_INVALID, EXIT_OK, EXIT_USAGE
from mallocsim.commands import non_negative_seconds, positive_seconds
from mallocsim.config import for_lab
from mallocsim.constants import DIALECTS
from mallocsim.files import check_outputs
from mallocsim.grading import time_limits
from mallocsim.labs import (
    DEFAULT_LAB,
    LABS,
    LabProfile,
    lab_named,
    select_trace_paths,
    selection_notes,
)
from mallocsim.metadata import collect, throughput_measure
from mallocsim.out_of_memory import is_out_of_memory
from mallocsim.progress import Progress, progress_mode
from mallocsim.replay import ReplayOptions, require_heap_checker
from mallocsim.replay_report import format_replay
from mallocsim.report import write_csv
from mallocsim.results import TraceResult, write_json
from mallocsim.runner import options_for_lab, replay_all
from mallocsim.stopping import EXIT_INTERRUPTED, interrupted_line, stopped_as_by_ctrl_c
from mallocsim.table import WIDTH
from mallocsim.trace import Trace, load_traces


def add_replay_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every replaying command shares (replay, bench, compare...)."""
    parser.add_argument(
        "traces", nargs="+", metavar="TRACE|DIR", help="trace files or folders of .rep files"
    )
    parser.add_argument(
        "--lab",
        choices=tuple(LABS),
        help=f"the lab whose rules apply: alignment, heap limit, checks, the traces of a "
        f"folder and their order (default {DEFAULT_LAB})",
    )
    parser.add_argument(
        "--dialect", choices=DIALECTS, help="mm_init's dialect of a .c/.so, when not the lab's"
    )
    parser.add_argument(
        "--check-heap", action="store_true", help="call mm_checkheap after every op"
    )
    parser.add_argument("--no-timing", action="store_true", help="skip the timed passes")
    parser.add_argument(
        "--min-seconds",
        type=non_negative_seconds,
        default=0.05,
        help="time each trace at least this long (default 0.05)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        help="CPU seconds per trace before the allocator is stopped, 20 times that in "
        "wall time (default: 100 times the "
        "lab's reference allocator's time on the trace, 5 s at least, with an op that has "
        "not returned in 1 s stopped as hung; compare: 120)",
    )
    parser.add_argument(
        "--no-isolate",
        action="store_true",
        help="replay our own allocators in this process (faster start; a crash takes the tool "
        "down); a student's mm.c or .so is isolated all the same",
    )
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    parser.add_argument("--csv", metavar="FILE", help="write the results as CSV")
    add_quiet_argument(parser)
    add_wide_argument(parser)


def add_quiet_argument(parser: argparse.ArgumentParser) -> None:
    """-q/--quiet: no progress lines on stderr (progress.py)."""
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")


def add_wide_argument(parser: argparse.ArgumentParser) -> None:
    """--wide: one line per trace, however long, instead of WIDTH columns."""
    parser.add_argument(
        "--wide",
        action="store_true",
        help=f"one line per trace, however wide (default: fit {WIDTH} columns, "
        "allocators stacked in blocks and long lines wrapped)",
    )


def width_of(args: argparse.Namespace) -> int | None:
    """The columns the output may take: WIDTH, or None (no limit) with --wide."""
    return None if args.wide else WIDTH


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="replay traces on an allocator and report",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "-a",
        "--allocator",
        action="append",
        metavar="A",
        help="built-in policy (e.g. implicit:best), glibc, a reference ("
        + ", ".join(PRELOADED)
        + f"), a .so or an mm.c; repeatable (default {DEFAULT_POLICY})",
    )
    add_replay_arguments(parser)
    parser.set_defaults(run=run)


def lab_of(args: argparse.Namespace) -> LabProfile:
    return lab_named(args.lab or DEFAULT_LAB)


def options_from(args: argparse.Namespace) -> ReplayOptions:
    """The replay options the arguments ask for, under their lab's rules."""
    options = ReplayOptions(
        check_heap=args.check_heap, timing=not args.no_timing, min_seconds=args.min_seconds
    )
    return options_for_lab(lab_of(args), options)


def trace_paths(args: argparse.Namespace, command: str) -> tuple[list[str], list[str]]:
    """The trace files the arguments name, a folder's as the lab lists them, and
    a line for each folder with nothing to run (reported with the bad traces,
    the others still run); what the lab's list left out is said on stderr."""
    lab = lab_of(args)
    selection = select_trace_paths(lab, args.traces)
    for note in selection_notes(lab, selection):
        print(f"mallocsim {command}: note: {note}", file=sys.stderr)
    return [str(path) for path in selection.paths], list(selection.problems)


def lab_traces(
    args: argparse.Namespace, paths: Sequence[str], command: str
) -> tuple[list[Trace], list[str]]:
    """The traces at `paths`, read as the lab's driver reads them, and a line for
    each bad one; what that reading took that ours refuses is said on stderr, as
    what the lab's list left out is."""
    traces, problems = load_traces(paths, lab_of(args).trace_reading)
    for trace in traces:
        note = trace.info.reading_note()
        if note:
            print(f"mallocsim {command}: note: {note}", file=sys.stderr)
    return traces, problems


def require_heap_checkers(args: argparse.Namespace, specs: Iterable[AllocatorSpec]) -> None:
    """With --check-heap, refuse an allocator that has no mm_checkheap before
    anything runs: bad usage, not a failed check on every trace."""
    if args.check_heap:
        for spec in specs:
            if spec.kind == "reference":  # its own heap: nothing of ours to check
                raise AllocatorError(f"--check-heap: {spec.name} has no mm_checkheap to call")
            require_heap_checker(spec, "--check-heap")


def run(args: argparse.Namespace) -> int:
    check_outputs(args)
    lab = lab_of(args).name
    names = args.allocator or [DEFAULT_POLICY]
    specs = [resolve(name, args.dialect, lab, references=True) for name in names]
    require_heap_checkers(args, specs)
    paths, problems = trace_paths(args, "replay")
    traces, bad = lab_traces(args, paths, "replay")
    problems += bad
    options = options_from(args)
    # --timeout when given, else each trace's from the lab's reference allocator.
    limits, stall = time_limits(traces, for_lab(lab), options, args.timeout)
    mode = progress_mode(args.quiet)
    measured: list[TraceResult] = []
    interrupted = False
    total = len(specs) * len(traces)
    with Progress("replay", total, mode=mode) as progress, stopped_as_by_ctrl_c():
        try:
            results, trouble = replay_all(
                specs,
                traces,
                options,
                not args.no_isolate,
                limits,
                on_result=measured.append,
                progress=progress,
                stall=stall,
            )
        except KeyboardInterrupt:
            results, trouble, interrupted = measured, [], True
    problems += trouble
    for line in problems:
        print(f"mallocsim replay: {line}", file=sys.stderr)
    for spec in specs:
        mine = [r for r in results if r.allocator == spec.name]
        if mine:
            print(format_replay(spec.name, mine, width_of(args)))
            print()
    if args.json:
        write_json(results, args.json, collect(lab, throughput_measure(options), interrupted))
    if args.csv:
        write_csv(results, args.csv)
    if interrupted:
        print(interrupted_line("replay", len(results), total, "replays"), file=sys.stderr)
        return EXIT_INTERRUPTED
    if problems:
        return EXIT_USAGE
    return EXIT_OK if all(r.valid or is_out_of_memory(r) for r in results) else EXIT_INVALID
