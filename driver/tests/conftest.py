"""Shared fixtures: paths to the traces, the fixture allocators, and a way to
run the `mallocsim` CLI in-process with its output captured.

The traces a checkout holds are its own traces/ and, when present,
../shared/traces beside it (the labs' traces, which a clone from the
repository does not bring). Without ../shared the tests that need it are
skipped, so that `make test` passes on a fresh clone; with
MALLOCSIM_REQUIRE_SHARED=1 (set by .ci/run) its absence stops the session
before collection with one line, so that CI never passes by skipping them."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from mallocsim.cli import main

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent.parent
OWN_TRACES = REPO / "traces"
SHARED_TRACES = REPO.parent / "shared" / "traces"
FIXTURE_ALLOCATORS = TESTS / "allocators"
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
