"""`mallocsim init DIR`: start a malloc lab in DIR.

Writes a starter mm.c (the handouts' naive allocator: correct, simple, slow
and wasteful, for the student to replace), the grading configuration it is
graded with, and a README saying how to build, test and grade it. Existing
files are never overwritten unless --force is given.

With --gradescope, DIR becomes an autograder to zip and upload: Gradescope's
setup.sh (a compiler, valgrind, and mallocsim built from the source copied
into DIR/mallocsim-src) and run_autograder (grades /autograder/submission's
mm.c with DIR's grading.toml on the traces copied into DIR/traces, and always
writes results.json). The source is taken from the checkout this mallocsim
runs from.
"""

from __future__ import annotations

import argparse
import shutil
from importlib import resources
from pathlib import Path

from mallocsim.cli import EXIT_OK
from mallocsim.errors import UsageError

STARTER_FILES = ("mm.c", "grading.toml", "README.md")
GRADESCOPE_SCRIPTS = ("setup.sh", "run_autograder")
# What `pip install` needs to build mallocsim from source, relative to the checkout.
SOURCE_PARTS = ("c", "driver/mallocsim", "Makefile", "setup.py", "pyproject.toml", "README.md")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "init", help="write a starter mm.c, grading.toml and README", description=__doc__
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("directory", metavar="DIR", help="where to write them (created if needed)")
    parser.add_argument("--force", action="store_true", help="overwrite files already there")
    parser.add_argument(
        "--gradescope",
        action="store_true",
        help="also write Gradescope's setup.sh and run_autograder, the mallocsim source and the "
        "traces: DIR is then the autograder to zip",
    )
    parser.add_argument(
        "--traces", metavar="DIR", help="with --gradescope: the folder of .rep traces to grade with"
    )
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


def checkout() -> Path | None:
    """The mallocsim checkout this package runs from, if it runs from one."""
    root = Path(__file__).resolve().parents[3]  # commands/ -> mallocsim/ -> driver/ -> root
    return root if (root / "setup.py").is_file() and (root / "c" / "src").is_dir() else None


def gradescope_source(traces: Path) -> Path:
    """The checkout to copy, once the traces are known to be there; UsageError otherwise."""
    source = checkout()
    if source is None:
        raise UsageError(
            "--gradescope copies the mallocsim source into the autograder: run it from a "
            "mallocsim checkout (its .venv/bin/mallocsim)"
        )
    if not traces.is_dir() or not any(traces.glob("*.rep")):
        raise UsageError(f"--traces {traces}: not a folder of .rep trace files")
    return source


def write_gradescope(
    directory: Path, source: Path, traces: Path, force: bool = False
) -> list[Path]:
    """Gradescope's scripts, the mallocsim source and the traces, into `directory`."""
    targets = [directory / name for name in (*GRADESCOPE_SCRIPTS, "mallocsim-src", "traces")]
    present = [str(t) for t in targets if t.exists()]
    if present and not force:
        raise UsageError(f"{', '.join(present)} already exist: pass --force to overwrite")
    skip = shutil.ignore_patterns("_native", "__pycache__", "*.egg-info", "*.pyc")
    try:
        scripts = resources.files("mallocsim") / "starter" / "gradescope"
        for name in GRADESCOPE_SCRIPTS:
            target = directory / name
            target.write_text((scripts / name).read_text())
            target.chmod(0o755)
        for part in SOURCE_PARTS:
            origin, copy = source / part, directory / "mallocsim-src" / part
            if origin.is_dir():
                shutil.copytree(origin, copy, ignore=skip, dirs_exist_ok=True)
            else:
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, copy)
        (directory / "traces").mkdir(exist_ok=True)
        for trace in sorted(traces.glob("*.rep")):
            shutil.copy2(trace, directory / "traces" / trace.name)
    except OSError as error:
        raise UsageError(f"{error.filename or directory}: {error.strerror}") from None
    return targets


def run(args: argparse.Namespace) -> int:
    if args.traces and not args.gradescope:
        raise UsageError("--traces goes with --gradescope")
    if args.gradescope and not args.traces:
        raise UsageError("--gradescope needs the traces to grade with: --traces DIR")
    directory = Path(args.directory)
    # Checked before anything is written: a refusal leaves DIR as it was.
    source = gradescope_source(Path(args.traces)) if args.gradescope else None
    written = write_starter(directory, args.force)
    if source is not None:
        written += write_gradescope(directory, source, Path(args.traces), args.force)
    for path in written:
        print(f"wrote {path}")
    if args.gradescope:
        print(f"zip the contents of {directory} (not the folder) and upload it as the autograder")
    return EXIT_OK
