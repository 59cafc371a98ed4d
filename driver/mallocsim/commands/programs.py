"""`mallocsim programs`: benchmark programs run under glibc, our drop-in and the references.

Builds the small C programs of c/bench/ (a larson-style server churn, an
xmalloc-style producer/consumer, the cache-thrash and cache-scratch pair, a
cfrac/espresso-style churn of small sizes, large blocks, an rptest-style
churn of sizes up to 16 KB) and runs each, with
1 and 2 threads where it has threads, under every allocator, the runs
interleaved; prints per configuration the median time or throughput with its
min and max, the peak RSS and both ratios to glibc (above 1 is better), then
each allocator's geometric means. An allocator whose library is missing is
skipped with one line saying how to install it. Exit status: 0 when every run
gave its figure, 1 when a run crashed, failed or timed out (said in one line,
the other results kept), 2 for bad usage or an output that cannot be written
(checked before anything runs).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from mallocsim.cli import EXIT_INVALID, EXIT_OK
from mallocsim.commands import count_between, factor_between, positive_seconds
from mallocsim.commands.replay import add_quiet_argument, add_wide_argument, width_of
from mallocsim.errors import UsageError
from mallocsim.files import check_outputs, check_writable, write_text
from mallocsim.metadata import collect
from mallocsim.programs import (
    DEFAULT_ALLOCATORS,
    DEFAULT_REPEAT,
    DEFAULT_THREADS,
    DEFAULT_TIMEOUT,
    PROGRAMS,
    Suite,
    build_programs,
    configurations,
    pinned,
    resolve_allocators,
    run_suite,
)
from mallocsim.programs_report import figure_format, format_suite, suite_json, write_figure
from mallocsim.progress import Progress, progress_mode

MAX_REPEAT = 1000
MAX_THREADS = 32  # what the programs take (xmalloc: pairs, so 64 threads)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "programs",
        help="run benchmark programs under glibc, ours and the references",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "-a",
        "--allocator",
        action="append",
        metavar="A",
        help="allocator to run under, repeatable (default: " + ", ".join(DEFAULT_ALLOCATORS) + "): "
        "glibc, mallocsim (our drop-in; mallocsim-<policy> for another policy's), jemalloc, "
        "mimalloc, tcmalloc, or the path of a drop-in malloc library (.so); glibc, the "
        "reference of the ratios, always runs",
    )
    parser.add_argument(
        "-p",
        "--program",
        action="append",
        choices=tuple(PROGRAMS),
        metavar="NAME",
        help="program to run, repeatable (default: all: " + ", ".join(PROGRAMS) + ")",
    )
    parser.add_argument(
        "-t",
        "--threads",
        action="append",
        type=count_between(1, MAX_THREADS),
        metavar="N",
        help="thread count of the threaded programs, repeatable (default: "
        + " and ".join(map(str, DEFAULT_THREADS))
        + ")",
    )
    parser.add_argument(
        "--repeat",
        type=count_between(1, MAX_REPEAT),
        default=DEFAULT_REPEAT,
        metavar="N",
        help=f"runs of each configuration under each allocator (default {DEFAULT_REPEAT})",
    )
    parser.add_argument(
        "--scale",
        type=factor_between(0.001, 100),
        default=1.0,
        metavar="F",
        help="multiply each program's work (its steps, or its seconds) by F (default 1: "
        "about half a second a run)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=f"a run taking longer fails (default {DEFAULT_TIMEOUT:g} s)",
    )
    parser.add_argument(
        "--plot",
        metavar="FILE",
        help="draw each allocator's ratios to glibc per configuration (.png, .svg or .pdf)",
    )
    parser.add_argument("--json", metavar="FILE", help="write every run and the summary as JSON")
    add_quiet_argument(parser)
    add_wide_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_outputs(args)
    if args.plot:
        figure_format(args.plot)
        check_writable(args.plot)
    allocators, skipped = resolve_allocators(args.allocator or DEFAULT_ALLOCATORS)
    if not allocators:
        raise UsageError("no allocator to run under")
    configs = configurations(args.program, args.threads or DEFAULT_THREADS)
    built = build_programs([c.program for c in configs])
    for line in skipped:
        print(f"mallocsim programs: {line}", file=sys.stderr)
    total = len(configs) * len(allocators) * args.repeat
    with (
        tempfile.TemporaryDirectory(prefix="mallocsim-programs-") as folder,
        Progress("programs", total, mode=progress_mode(args.quiet)) as progress,
    ):
        cells = run_suite(
            configs,
            pinned(allocators, Path(folder)),
            built,
            repeat=args.repeat,
            scale=args.scale,
            timeout=args.timeout,
            started=progress.started,
            finished=progress.finished,
        )
    suite = Suite(
        cells=tuple(cells),
        allocators=tuple(a.name for a in allocators),
        skipped=tuple(skipped),
        repeat=args.repeat,
        scale=args.scale,
        timeout=args.timeout,
    )
    print(format_suite(suite, width_of(args)))
    if args.json:
        write_text(args.json, json.dumps(suite_json(suite, collect()), indent=2))
    if args.plot:
        write_figure(suite, args.plot)
    return EXIT_INVALID if any(c.error for c in cells) else EXIT_OK
