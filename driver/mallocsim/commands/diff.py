"""`mallocsim diff OLD.json NEW.json`: what changed between two saved runs.

Per allocator and trace: utilization in points, the speed ratio and whether
it is significant by Welch's t-test (95%) on every timed pass's seconds,
traces that became invalid. Exit status: 0, or 1 when a trace valid in OLD is
invalid in NEW (a regression gate), 2 for a file that is not a results file
(or one of a newer format).
"""

from __future__ import annotations

import argparse

from mallocsim.cli import EXIT_INVALID, EXIT_OK
from mallocsim.diff import BROKE, diff_runs, format_diff
from mallocsim.results import read_json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "diff",
        help="compare two saved runs",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("old", metavar="OLD.json", help="the earlier run (--json)")
    parser.add_argument("new", metavar="NEW.json", help="the later run")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    changes = diff_runs(read_json(args.old), read_json(args.new))
    print(format_diff(changes))
    return EXIT_INVALID if any(c.status == BROKE for c in changes) else EXIT_OK
