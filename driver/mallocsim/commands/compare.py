"""`mallocsim compare`: allocators side by side on the same traces.

Allocators are anything `replay` takes, plus the production references glibc,
jemalloc, mimalloc and tcmalloc (each in a process of its own, see
references.py). A reference that is not installed is reported with the
command that installs it and the rest goes on. Exit status: 0 when every
cell is valid (or ran out of memory the machine does not have, shown as oom:
out_of_memory.py), 1 when an allocator failed a check, 2 when a trace file,
an allocator or an output could not be used at all (everything else is still
reported; every output is checked before anything runs).
"""

from __future__ import annotations

import argparse
import sys

from mallocsim.allocators import resolve
from mallocsim.cli import EXIT_INVALID, EXIT_OK, EXIT_USAGE
from mallocsim.commands import count_between
from mallocsim.commands.replay import (
    add_replay_arguments,
    lab_of,
    options_from,
    require_heap_checkers,
    trace_paths,
    width_of,
)
from mallocsim.compare import format_comparison, run_comparison
from mallocsim.constants import DEFAULT_TIMEOUT
from mallocsim.errors import UsageError
from mallocsim.files import check_outputs
from mallocsim.metadata import collect, throughput_measure
from mallocsim.out_of_memory import is_out_of_memory
from mallocsim.pictures import Pictures, choose_focus, gather_pictures
from mallocsim.progress import Progress, progress_mode
from mallocsim.references import REFERENCES
from mallocsim.report import write_csv
from mallocsim.rounds import MAX_ROUNDS
from mallocsim.saved import write_document
from mallocsim.stopping import EXIT_INTERRUPTED, interrupted_line, stopped_as_by_ctrl_c
from mallocsim.trace import find_traces


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare allocators side by side (tables, JSON, plots, HTML)",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "-a",
        "--allocator",
        action="append",
        required=True,
        metavar="A",
        help="as for replay, or a reference: " + ", ".join(REFERENCES) + "; repeat for each",
    )
    add_replay_arguments(parser)
    parser.add_argument(
        "--rounds",
        type=count_between(1, MAX_ROUNDS),
        default=1,
        metavar="N",
        help="measure every cell N times, the allocators' order rotated each round: each "
        "cell its median round, and each allocator's geometric mean (and the first "
        "allocator's over it) as min, median and max over the rounds (default 1)",
    )
    add_plot_arguments(parser)
    parser.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    parser.add_argument(
        "--focus",
        metavar="TRACE",
        help="the trace drawn over time and as a heap map, with --plots, --html or --json "
        "(default: the longest one)",
    )
    parser.add_argument(
        "--heap-map",
        metavar="A",
        help="the allocator drawn as a heap map, with --plots, --html or --json "
        "(default: the first on our heap)",
    )
    parser.set_defaults(run=run)


def add_plot_arguments(parser: argparse.ArgumentParser) -> None:
    """--plots DIR and its --plot-format (compare, report)."""
    parser.add_argument("--plots", metavar="DIR", help="write the plots into DIR (PNG by default)")
    parser.add_argument(
        "--plot-format",
        action="append",
        choices=("png", "svg", "pdf"),  # figures.FORMATS, without loading matplotlib here
        help="with --plots: the plots' file format; repeat for several (default: png)",
    )


def plot_formats(args: argparse.Namespace) -> list[str]:
    """The formats asked for; --plot-format without --plots is refused, not ignored."""
    if args.plot_format and not args.plots:
        raise UsageError(
            f"--plot-format {args.plot_format[0]}: only --plots uses it, and it was not given"
        )
    return args.plot_format or ["png"]


def wants_pictures(args: argparse.Namespace) -> bool:
    """Whether an output that holds the pictures (--plots, --html, --json) was asked for."""
    return bool(args.plots or args.html or args.json)


def check_picture_choices(args: argparse.Namespace) -> None:
    """--focus and --heap-map need an output that holds the pictures, and must
    name a trace and an allocator given: said before the comparison runs, not
    after it (when its results would be lost), nor silently ignored."""
    for option, value in (("--focus", args.focus), ("--heap-map", args.heap_map)):
        if value is not None and not wants_pictures(args):
            raise UsageError(
                f"{option} {value}: only --plots, --html or --json use it, and none was given"
            )
    if args.focus is not None:
        keys = {key for path in find_traces(args.traces) for key in (str(path), path.stem)}
        if args.focus not in keys:
            raise UsageError(f"--focus {args.focus}: not one of the compared traces")
    if args.heap_map is not None and args.heap_map not in args.allocator:
        raise UsageError(f"--heap-map {args.heap_map}: not one of the compared allocators (-a)")


def run(args: argparse.Namespace) -> int:
    check_outputs(args)
    if args.rounds > 1 and args.no_timing:
        raise UsageError(
            f"--rounds {args.rounds}: rounds repeat the timing, which --no-timing skips"
        )
    check_picture_choices(args)
    plot_formats(args)  # refused now, before the comparison runs
    # The references run on their own heaps, where no heap checker applies.
    lab = lab_of(args).name
    ours = [name for name in args.allocator if name not in REFERENCES]
    require_heap_checkers(args, (resolve(name, args.dialect, lab) for name in ours))
    paths, unreadable = trace_paths(args, "compare")
    timeout = args.timeout or DEFAULT_TIMEOUT  # a flat limit: references run here too
    # A trace file that turns out bad is one item fewer than counted here.
    total = len(args.allocator) * len(paths) * args.rounds
    mode = progress_mode(args.quiet)
    with Progress("compare", total, mode=mode) as progress, stopped_as_by_ctrl_c():
        comparison, problems = run_comparison(
            args.allocator,
            paths,
            options_from(args),
            args.dialect,
            not args.no_isolate,
            timeout,
            lab=lab,
            progress=progress,
            rounds=args.rounds,
        )
    problems = unreadable + problems
    for line in problems:
        print(f"mallocsim compare: {line}", file=sys.stderr)
    for name, why in comparison.missing.items():
        print(f"mallocsim compare: {name} skipped: {why}", file=sys.stderr)
    if problems and not comparison.traces:  # every trace bad: their lines are the whole answer
        return EXIT_USAGE
    print(format_comparison(comparison, width_of(args)))
    pictures = Pictures()
    if wants_pictures(args) and not comparison.interrupted:  # drawing them replays again
        focus = choose_focus(comparison, args.focus)
        pictures = gather_pictures(comparison, focus, args.dialect, args.heap_map, timeout, lab=lab)
        if pictures.missing is not None:
            print(f"mallocsim compare: {pictures.missing}", file=sys.stderr)
    metadata = (
        collect(lab, throughput_measure(options_from(args)), comparison.interrupted)
        if args.json or args.html
        else None
    )
    if args.json:
        write_document(comparison, pictures, args.json, metadata)
    if args.csv:
        write_csv(list(comparison.cells.values()), args.csv)
    # matplotlib is imported only when pictures are asked for: it is slow to load.
    if args.plots:
        from mallocsim.plots import write_plots

        formats = plot_formats(args)
        write_plots(args.plots, comparison, pictures.series, pictures.heap_map, formats)
    if args.html:
        from mallocsim.html import write_html

        write_html(comparison, pictures, args.html, metadata=metadata)
    if comparison.interrupted:
        measured = len(comparison.cells)
        print(interrupted_line("compare", measured, total, "cells"), file=sys.stderr)
        return EXIT_INTERRUPTED
    if problems or comparison.missing:
        return EXIT_USAGE
    cells = comparison.cells.values()
    return EXIT_OK if all(r.valid or is_out_of_memory(r) for r in cells) else EXIT_INVALID
