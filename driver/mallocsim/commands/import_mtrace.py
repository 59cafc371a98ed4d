"""`mallocsim import-mtrace LOG -o out.rep`: a glibc mtrace() log as a trace."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mallocsim.cli import EXIT_OK
from mallocsim.commands.record import summary
from mallocsim.mtrace import import_mtrace


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import-mtrace", help="convert a glibc mtrace() log to a trace", description=__doc__
    )
    parser.add_argument("log", metavar="LOG", help="the file MALLOC_TRACE named")
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT.rep", help="the trace to write"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    stats = import_mtrace(Path(args.log), Path(args.output))
    print(f"{args.output}: {summary(stats)}", file=sys.stderr)
    return EXIT_OK
