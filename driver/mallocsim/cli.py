"""The `mallocsim` command line: argparse subcommands, one module each.

Every subcommand lives in mallocsim/commands/<name>.py and exposes
`register(subparsers)` (adds its parser, sets `run`) and a `run(args) -> int`.
Exit status: 0 when everything checked was valid, 1 when an allocator failed a
check, 2 for bad usage or bad input. Expected failures (a bad trace, a missing
file, an allocator that will not load) are one line on stderr, never a
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from mallocsim.errors import UsageError

# Subcommands in the order `mallocsim --help` lists them.
COMMANDS = (
    "replay",
    "bench",
    "grade",
    "gradebook",
    "init",
    "compare",
    "report",
    "diff",
    "run",
    "record",
    "import-mtrace",
    "gen",
)

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mallocsim",
        description="Replay malloc-lab traces on allocators: prove them correct, "
        "measure utilization and throughput.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"mallocsim.commands.{name.replace('-', '_')}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
    except UsageError as error:  # e.g. the native core is not built
        print(f"mallocsim: {error}", file=sys.stderr)
        return EXIT_USAGE
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except UsageError as error:
        print(f"mallocsim {args.command}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("mallocsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`mallocsim replay ... | head`): stop quietly,
        # and keep Python from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as error:
        if error.filename is None:
            raise
        # A file named on the command line cannot be read or written (--json
        # into a missing folder, --plots onto a file): one line, like bad input.
        print(f"mallocsim {args.command}: {error.filename}: {error.strerror}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
