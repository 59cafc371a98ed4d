"""`mallocsim gen KIND --ops N --seed S -o out.rep`: generate a synthetic trace.

The same kind, op count and seed always give the same file, byte for byte.
"""

from __future__ import annotations

import argparse

from mallocsim.cli import EXIT_OK
from mallocsim.commands import count_between
from mallocsim.files import write_text
from mallocsim.generate import KINDS, MAX_OPS, MIN_OPS, generate


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gen", help="generate a synthetic trace", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("kind", choices=KINDS, help="the pattern (see mallocsim.generate)")
    parser.add_argument(
        "--ops",
        type=count_between(MIN_OPS, MAX_OPS),
        default=10000,
        help=f"op lines in the trace, {MIN_OPS} to {MAX_OPS:,} (default 10000)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT.rep", help="the trace to write"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    write_text(args.output, generate(args.kind, args.ops, args.seed))
    return EXIT_OK
