"""`mallocsim init DIR`: start a malloc lab in DIR.

Writes a starter mm.c (the handouts' naive allocator: correct, simple, slow
and wasteful, for the student to replace), the grading configuration it is
graded with, and a README saying how to build, test and grade it. Existing
files are never overwritten unless --force is given.
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from mallocsim.cli import EXIT_OK
from mallocsim.errors import UsageError

STARTER_FILES = ("mm.c", "grading.toml", "README.md")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "init", help="write a starter mm.c, grading.toml and README", description=__doc__
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("directory", metavar="DIR", help="where to write them (created if needed)")
    parser.add_argument("--force", action="store_true", help="overwrite files already there")
    parser.set_defaults(run=run)


def write_starter(directory: Path, force: bool = False) -> list[Path]:
    """Write the starter files into `directory`; the paths written."""
    targets = [directory / name for name in STARTER_FILES]
    present = [str(t) for t in targets if t.exists()]
    if present and not force:
        raise UsageError(f"{', '.join(present)} already exist: pass --force to overwrite")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        starter = resources.files("mallocsim") / "starter"
        for target in targets:
            target.write_text((starter / target.name).read_text())
    except OSError as error:
        raise UsageError(f"{error.filename or directory}: {error.strerror}") from None
    return targets


def run(args: argparse.Namespace) -> int:
    for path in write_starter(Path(args.directory), args.force):
        print(f"wrote {path}")
    return EXIT_OK
