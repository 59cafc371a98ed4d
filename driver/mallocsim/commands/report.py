"""`mallocsim report results.json -o report.html`: a saved run as one HTML page.

Takes what `mallocsim compare --json` (or `replay --json`) wrote and makes the
self-contained HTML report from it: every table and the plots there is data
for (a results file from `replay` has no series or heap map to draw). A file
from another version, or a truncated one, is one clear line and status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mallocsim.cli import EXIT_OK
from mallocsim.errors import UsageError
from mallocsim.saved import read_document


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="make the HTML report of a saved run",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("results", metavar="RESULTS.json", help="a saved run (--json)")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="the HTML file")
    parser.add_argument("--title", help="the report's title (default: the results file's name)")
    parser.add_argument("--plots", metavar="DIR", help="also write the plots as PNG files into DIR")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # matplotlib is slow to load: only when needed.
    from mallocsim.html import write_html
    from mallocsim.plots import write_plots

    comparison, pictures = read_document(args.results)
    if not comparison.traces:  # a page of empty tables and blank plots helps no one
        raise UsageError(f"{args.results}: holds no results to report")
    write_html(comparison, pictures, args.output, args.title or Path(args.results).stem)
    print(f"wrote {args.output}")
    if args.plots:
        write_plots(args.plots, comparison, pictures.series, pictures.heap_map)
        print(f"wrote the plots into {args.plots}")
    return EXIT_OK
