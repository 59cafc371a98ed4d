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
import json
import shutil
from importlib import resources
from pathlib import Path

from mallocsim.cli import EXIT_OK
from mallocsim.config import LAB_SCORING, for_lab
from mallocsim.errors import UsageError
from mallocsim.labs import DEFAULT_LAB, LABS

STARTER_FILES = ("mm.c", "grading.toml", "README.md")
# The labs the starter mm.c builds under (int mm_init, a team_t record): the CMU handouts give
# their students an mm.c of their own.
STARTER_LABS = ("mallocsim", "csapp")
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
        "--lab", choices=LABS, default=DEFAULT_LAB,
        help="whose rules grading.toml grades by (default: %(default)s); a starter mm.c is "
        "written for the labs whose mm.h it is written against (mallocsim, csapp)",
    )  # fmt: skip
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


def write_starter(directory: Path, lab: str = DEFAULT_LAB, force: bool = False) -> list[Path]:
    """Write the starter files for `lab` into `directory`; the paths written."""
    names = STARTER_FILES if lab in STARTER_LABS else tuple(n for n in STARTER_FILES if n != "mm.c")
    targets = [directory / name for name in names]
    present = [str(t) for t in targets if t.exists()]
    if present and not force:
        raise UsageError(f"{', '.join(present)} already exist: pass --force to overwrite")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        starter = resources.files("mallocsim") / "starter"
        for target in targets:
            text = (starter / target.name).read_text()
            target.write_text(grading_file(text, lab) if target.name == "grading.toml" else text)
    except OSError as error:
        raise UsageError(f"{error.filename or directory}: {error.strerror}") from None
    return targets


def grading_file(template: str, lab: str) -> str:
    """The starter grading.toml for `lab`: its name, and every value the lab sets shown
    commented out, so that each key left so takes the lab's value. The file used to set the
    mallocsim lab's values, which overrode another lab's named in it: `lab = "cmu-2015"` graded
    60.0 where `--lab cmu-2015` gave 53.4, and no CS:APP course could use it as written (lab
    check run 14)."""
    config = for_lab(lab)
    profile = config.profile
    values = {name: _toml(name, getattr(config, name)) for name in LAB_SCORING}
    # The mallocsim lab asks which dialect a file is written in: the starter mm.c's is classic.
    dialect = f"dialect = {_toml('dialect', config.dialect or 'classic')}"
    return template.format(
        lab=lab,
        lab_pad=" " * max(1, 14 - len(lab)),
        dialect_line=(f"# {dialect}" if config.dialect else f"{dialect}  ").ljust(20),
        index_out_of=_toml("index_out_of", config.index_out_of),
        alignment=_toml("alignment", profile.alignment),
        heap_limit=_toml("heap_limit", profile.heap_limit),
        performance=_toml("performance_points", config.performance_points).ljust(9),
        **values,
    )


# What a key the lab leaves unset shows: a value that sets it, said to be an example. The word
# "none" there was no TOML once uncommented, and the grade stopped (red-team pass 26).
UNSET_EXAMPLES = {
    "reference_throughput": "600e3",
    "global_data_limit": "128",
    "timed_reference_scale": "0.5",
    "heap_limit": "20_971_520",
}


def _toml(name: str, value: object) -> str:
    """The lab's value of key `name` as a TOML literal, or an example where it sets none."""
    if value is None:
        return f"{UNSET_EXAMPLES[name]}  # the lab sets none; an example:"
    if isinstance(value, str):
        return json.dumps(value)
    if name == "heap_limit":  # its digits grouped, as TOML lets
        return f"{value:_}"
    if isinstance(value, float):  # short where that is exact, else every digit (cmu-pku's 3/13.75)
        short = f"{value:g}"
        return short if float(short) == value else repr(value)
    return str(value)


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
    written = write_starter(directory, args.lab, args.force)
    if source is not None:
        written += write_gradescope(directory, source, Path(args.traces), args.force)
    for path in written:
        print(f"wrote {path}")
    if args.gradescope:
        print(f"zip the contents of {directory} (not the folder) and upload it as the autograder")
    return EXIT_OK
