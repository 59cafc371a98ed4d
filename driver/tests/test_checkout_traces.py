"""The traces the test suite replays are every trace the checkout holds: its own
traces/ always, ../shared/traces when it is beside the checkout; and with
MALLOCSIM_REQUIRE_SHARED=1 (CI) a missing ../shared stops the session with one
line instead of skipping. Run on a copy of conftest.py in a made-up checkout, so
that both layouts are tested whatever this one has beside it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REQUIRE_SHARED, TESTS

PROBE = """
from conftest import checkout_traces

def test_lists_the_traces():
    print("TRACES", [name for name, _ in checkout_traces()])
"""


def _checkout(root: Path, shared: bool) -> Path:
    """root/main: traces/ with two traces, driver/tests with the real conftest.py
    and a probe; with `shared`, root/shared/traces/cmu/ holding one trace."""
    tests = root / "main" / "driver" / "tests"
    tests.mkdir(parents=True)
    shutil.copy(TESTS / "conftest.py", tests / "conftest.py")
    (tests / "test_probe.py").write_text(PROBE)
    (root / "main" / "traces").mkdir()
    for name in ("b-own", "a-own"):
        (root / "main" / "traces" / f"{name}.rep").write_text("a 0 8\nf 0\n")
    if shared:
        (root / "shared" / "traces" / "cmu").mkdir(parents=True)
        (root / "shared" / "traces" / "cmu" / "syn-x.rep").write_text("a 0 8\nf 0\n")
    return root / "main"


def _pytest(checkout: Path, require: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != REQUIRE_SHARED}
    if require:
        env[REQUIRE_SHARED] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "driver/tests"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("require", [False, True])
def test_with_shared_both_folders_are_replayed(tmp_path, require):
    run = _pytest(_checkout(tmp_path, shared=True), require)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "TRACES ['traces/a-own', 'traces/b-own', 'shared/cmu/syn-x']" in run.stdout


def test_without_shared_the_own_traces_are_still_replayed(tmp_path):
    run = _pytest(_checkout(tmp_path, shared=False), require=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "TRACES ['traces/a-own', 'traces/b-own']" in run.stdout


def test_in_ci_a_missing_shared_is_one_line_and_a_failure(tmp_path):
    run = _pytest(_checkout(tmp_path, shared=False), require=True)
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    assert run.stdout == ""
    assert [line for line in run.stderr.splitlines() if line.strip()] == [
        f"ERROR: {REQUIRE_SHARED}=1 and ../shared/traces is absent "
        f"({tmp_path / 'shared' / 'traces'}): the shared traces must be beside the checkout"
    ]


def test_ci_requires_the_shared_traces():
    script = (TESTS.parent.parent / ".ci" / "run").read_text()
    assert f"export {REQUIRE_SHARED}=1" in script and "make test" in script
