"""Shared fixtures: paths to the traces, the fixture allocators, and a way to
run the `mallocsim` CLI in-process with its output captured.

The fixture allocators are files of driver/tests/allocators/, and the variants of
one of them, bump_faults.c (a correct bump allocator, and each bug a student makes
in it behind a switch of its own): fixture_allocator(name) gives either as a path.
Beside them, interposer.c is no allocator but a library preloaded in front of one,
which counts the calls it sees (the `interposer` fixture builds it).

The traces a checkout holds are its own traces/ and, when present,
../shared/traces beside it (the labs' traces, which a clone from the
repository does not bring). Without ../shared the tests that need it are
skipped, so that `make test` passes on a fresh clone; with
MALLOCSIM_REQUIRE_SHARED=1 (set by .ci/run) its absence stops the session
before collection with one line, so that CI never passes by skipping them."""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from mallocsim._native import HEADER_DIR
from mallocsim.cli import main

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent.parent
OWN_TRACES = REPO / "traces"
SHARED_TRACES = REPO.parent / "shared" / "traces"
FIXTURE_ALLOCATORS = TESTS / "allocators"
BUMP_FAULTS = FIXTURE_ALLOCATORS / "bump_faults.c"
INTERPOSER = FIXTURE_ALLOCATORS / "interposer.c"
REQUIRE_SHARED = "MALLOCSIM_REQUIRE_SHARED"  # "1": a missing ../shared/traces is an error


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(REQUIRE_SHARED) == "1" and not SHARED_TRACES.is_dir():
        raise pytest.UsageError(
            f"{REQUIRE_SHARED}=1 and ../shared/traces is absent ({SHARED_TRACES}): "
            "the shared traces must be beside the checkout"
        )


def checkout_traces() -> list[tuple[str, Path]]:
    """Every trace the checkout holds, as (an id naming its folder, its path):
    traces/*.rep, then every *.rep under ../shared/traces when present."""
    own = [(f"traces/{p.stem}", p) for p in sorted(OWN_TRACES.glob("*.rep"))]
    if not SHARED_TRACES.is_dir():
        return own
    shared = sorted(SHARED_TRACES.rglob("*.rep"))
    return own + [(f"shared/{p.relative_to(SHARED_TRACES).with_suffix('')}", p) for p in shared]


# For each broken fixture allocator, its dialect and the shortest trace that shows its bug: the
# fixture's banner says which check must catch it there.
BUG_SHOWN_BY: dict[str, tuple[str, str]] = {
    "calloc_no_zero": ("cmu", "a 0 32\nf 0\nc 1 4 8\n"),
    "hang": ("classic", "a 0 8\nf 0\n"),
    "init_no_reset": ("classic", "a 0 64\na 1 64\nf 0\nf 1\n"),
    "metadata_overwrite": ("classic", "a 0 32\na 1 32\nf 0\nf 1\n"),
    "misaligned": ("classic", "a 0 24\nf 0\n"),
    "null_early": ("classic", "a 0 4000\na 1 200\n"),
    "outside_heap": ("classic", "a 0 16\na 1 10000\n"),
    "overlap": ("classic", "a 0 32\nf 0\na 1 32\na 2 32\n"),
    "realloc_drops_data": ("classic", "a 0 48\nr 0 64\n"),
    "segfault": ("classic", "a 0 8\na 1 8\na 2 8\nf 0\n"),
}


@functools.cache
def _variants_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="mallocsim-fixtures-"))
    owner = os.getpid()

    def remove() -> None:  # by the session's process only, not a child forked from it
        if os.getpid() == owner:
            shutil.rmtree(folder, ignore_errors=True)

    atexit.register(remove)
    return folder


@functools.cache
def bump_fault_names() -> list[str]:
    """The variants bump_faults.c switches between (its banner lists them), in lower case."""
    marker = " *   "
    return sorted(
        line[len(marker) :].split()[0].lower()
        for line in BUMP_FAULTS.read_text().splitlines()
        if line.startswith(marker) and line[len(marker) : len(marker) + 1].isupper()
    )


def fixture_allocator(name: str) -> Path:
    """The fixture allocator `name` as a student's .c file: allocators/NAME.c, or, for a
    variant of bump_faults.c, NAME.c written once per session with its switch defined in
    front, so that it is graded under its own name like any other file."""
    own = FIXTURE_ALLOCATORS / f"{name}.c"
    if own.exists():
        return own
    if name not in bump_fault_names():
        raise ValueError(f"no fixture allocator {name!r}")
    variant = _variants_folder() / f"{name}.c"
    if variant.exists():
        return variant
    return fixture_variant("bump_faults", f"#define {name.upper()}\n", variant)


def fixture_variant(name: str, head: str, path: Path) -> Path:
    """The fixture allocator `name` with `head` (lines such as `#define SWITCH`) in
    front, written to `path`: a variant graded as a file of its own."""
    path.write_text(head + fixture_allocator(name).read_text())
    return path


@dataclass
class CliRun:
    status: int
    out: str
    err: str

    def json(self, path: Path) -> dict:
        return json.loads(path.read_text())

    @property
    def said(self) -> str:
        """Everything it wrote, out then err, with the wrapping undone (80 columns
        break a long diagnosis across lines): for a phrase that may span them."""
        return " ".join(f"{self.out}\n{self.err}".split())


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """cli("replay", "-a", "implicit", path) -> CliRun(status, out, err)."""

    def run(*argv: object) -> CliRun:
        status = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return CliRun(status, captured.out, captured.err)

    return run


@pytest.fixture
def shared_traces() -> Path:
    if not SHARED_TRACES.is_dir():
        pytest.skip(f"reference traces not found at {SHARED_TRACES}")
    return SHARED_TRACES


@pytest.fixture
def write_trace(tmp_path: Path):
    """write_trace("name", "text") -> the path of a .rep file holding text."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / f"{name}.rep"
        path.write_text(text)
        return path

    return write


def handed_in_library(source: Path, library: Path) -> Path:
    """`source` built as a library handed in ready-made is: by the student's own compiler, without
    the grader's build (whose links send forbidden calls to a trap, and defer mm.c's constructors
    until the process that loads it is sealed: a handed-in library's run as it loads)."""
    subprocess.run(["cc", "-shared", "-fPIC", f"-I{HEADER_DIR}", "-o", library, source], check=True)
    return library


@pytest.fixture(scope="session")
def interposer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """allocators/interposer.c built: a library to preload in front of a malloc."""
    library = tmp_path_factory.mktemp("interposer") / "interposer.so"
    command = ["gcc", "-std=c11", "-O1", "-fPIC", "-shared", "-o", library, INTERPOSER, "-ldl"]
    subprocess.run(command, check=True)
    return library
