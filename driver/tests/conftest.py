"""Shared fixtures: paths to the reference traces, the fixture allocators, and
a way to run the `mallocsim` CLI in-process with its output captured."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from mallocsim.cli import main

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent.parent
SHARED_TRACES = REPO.parent / "shared" / "traces"
FIXTURE_ALLOCATORS = TESTS / "allocators"


@dataclass
class CliRun:
    status: int
    out: str
    err: str

    def json(self, path: Path) -> dict:
        return json.loads(path.read_text())


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
