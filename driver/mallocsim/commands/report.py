"""`mallocsim report results.json [-o report.html]`: a saved run, shown and as one HTML page.

Takes what `mallocsim compare --json` (or `replay --json`, `bench --json`)
wrote, prints its metadata (when, where, on what and how it was run), the
statistics of its timed passes, with a warning for each measurement not to be
trusted, and for a comparison measured in rounds how far each allocator's mean
moved from round to round (rounds.py); with -o, also makes the self-contained
HTML report from it: every table and the plots there is data for (a results
file from `replay` has no series or heap map to draw). A file from a newer
version, or a truncated one, is one clear line and status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mallocsim.cli import EXIT_OK
from mallocsim.commands.compare import add_plot_arguments, plot_formats
from mallocsim.compare import rounds_spread
from mallocsim.errors import UsageError
from mallocsim.report import format_metadata, format_timings
from mallocsim.rounds import format_spread
from mallocsim.saved import read_saved


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="show a saved run's metadata and timing statistics; -o: its HTML report",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("results", metavar="RESULTS.json", help="a saved run (--json)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the HTML report to FILE")
    parser.add_argument("--title", help="the report's title (default: the results file's name)")
    add_plot_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    formats = plot_formats(args)
    saved = read_saved(args.results)
    comparison, pictures = saved.comparison, saved.pictures
    if not comparison.traces:  # a page of empty tables and blank plots helps no one
        raise UsageError(f"{args.results}: holds no results to report")
    print(format_metadata(saved.metadata, saved.version))
    print()
    print(format_timings(list(comparison.cells.values())))
    rounds = rounds_spread(comparison)
    if rounds is not None:  # measured in rounds: how far the means moved
        print()
        print(format_spread(rounds))
    # matplotlib is slow to load: only when a picture is asked for.
    if args.output:
        from mallocsim.html import write_html

        title = args.title or Path(args.results).stem
        write_html(comparison, pictures, args.output, title, saved.metadata, saved.version)
        print(f"wrote {args.output}")
    if args.plots:
        from mallocsim.plots import write_plots

        write_plots(args.plots, comparison, pictures.series, pictures.heap_map, formats)
        print(f"wrote the plots into {args.plots}")
    return EXIT_OK
