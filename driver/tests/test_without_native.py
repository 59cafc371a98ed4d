"""The commands that need no C build work without it: `--help`, `gen`, `diff`
and `report` (the base modules import nothing native), and a command that does
need it says so in one line instead of a traceback."""

from __future__ import annotations

import pytest

from mallocsim import _native
from mallocsim.results import TraceResult, write_json


@pytest.fixture
def saved_run(cli, write_trace, tmp_path):
    """A saved comparison, made while the native core is still there."""
    write_trace("one", "a 0 24\na 1 100\nf 1\nf 0\n")
    saved = tmp_path / "run.json"
    assert cli("compare", "-a", "segfit", "--no-timing", "--json", saved, tmp_path).status == 0
    return saved


@pytest.fixture
def no_native(monkeypatch):
    def missing() -> None:
        raise _native.NativeError("the native core is not built (test)")

    monkeypatch.setattr(_native, "_load", missing)


def test_help_gen_diff_and_report_need_no_native_core(cli, saved_run, tmp_path, no_native):
    with pytest.raises(SystemExit) as done:
        cli("grade", "--help")
    assert done.value.code == 0
    assert (
        cli("gen", "strings", "--ops", "100", "--seed", "1", "-o", tmp_path / "g.rep").status == 0
    )
    result = TraceResult("a", "t", None, True, None, 10, 1, utilization=0.5)
    write_json([result], tmp_path / "old.json")
    write_json([result], tmp_path / "new.json")
    assert cli("diff", tmp_path / "old.json", tmp_path / "new.json").status == 0
    assert cli("report", saved_run, "-o", tmp_path / "r.html").status == 0


def test_a_command_that_needs_it_says_so_in_one_line(cli, write_trace, no_native):
    run = cli("replay", "-a", "segfit", write_trace("t", "a 0 8\nf 0\n"))
    assert run.status == 2
    assert run.err.strip() == "mallocsim replay: the native core is not built (test)"
