"""`mallocsim gradebook merge RECORD... -o FILE`: one gradebook from grade records.

Each record is what `mallocsim grade mm.c TRACES --json RECORD` wrote, on this
machine or any other (a batch system's jobs, pytest-xdist's workers); a folder
gives every .json record in it. When a student has several records, the last
one named wins (a regrade replaces the first). Writes the gradebook (.csv or
.json, by its name; -o repeatable) and prints the class summary. Needs
nothing native: merging runs anywhere Python does.

Exit status: 0 when written, 2 for bad usage. A file that is not a record is left
out with a line saying so, the gradebook written from the others, and the exit
status is 2; when no file is a record, nothing is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mallocsim.cli import EXIT_OK, EXIT_USAGE


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gradebook", help="merge grade records (grade --json) into one gradebook",
        description=__doc__,
    )  # fmt: skip
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    actions = parser.add_subparsers(dest="action", required=True, metavar="merge")
    merge = actions.add_parser("merge", help="merge records into a gradebook")
    merge.add_argument("records", nargs="+", metavar="RECORD|DIR", help="grade records")
    merge.add_argument(
        "-o", "--output", action="append", required=True, metavar="FILE",
        help="the gradebook to write (.csv or .json); repeatable",
    )  # fmt: skip
    merge.set_defaults(run=run)


def _record_files(names: list[str]) -> list[Path]:
    files: list[Path] = []
    for name in names:
        path = Path(name)
        files.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    return files


def run(args: argparse.Namespace) -> int:
    from mallocsim.errors import UsageError
    from mallocsim.gradebook import (
        check_gradebook_path,
        format_summary,
        merge_records,
        read_records,
        row_of,
        write_gradebook,
    )

    for path in args.output:
        check_gradebook_path(path)
    files = _record_files(args.records)
    if not files:
        raise UsageError(f"no grade records in {', '.join(args.records)}")
    records, problems = read_records(files)
    if not records:
        raise UsageError(problems[0] if problems else f"no grade records in {files[0]}")
    rows = [row_of(record) for record in merge_records(records)]
    for path in args.output:
        write_gradebook(rows, path)
    print(format_summary(rows))
    for problem in problems:
        print(f"mallocsim gradebook: {problem}: left out", file=sys.stderr)
    return EXIT_USAGE if problems else EXIT_OK
