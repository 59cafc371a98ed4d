"""A measuring command stopped part way (Ctrl-C, SIGTERM, SIGHUP: stopping.py) shows and
writes what it measured, says how much that is, and exits 130: replay, compare and bench lost
everything to one "mallocsim: interrupted" (red-team pass 27)."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from typing import Any

import pytest

from mallocsim import bench, runner


def measured(document: dict[str, Any]) -> set[tuple[str, str]]:
    """(allocator, trace) of every result a saved document holds."""
    return {(t["allocator"], t["trace"]) for run in document["runs"] for t in run["traces"]}


TRACE = "".join(f"a {i} {16 + i}\n" for i in range(20)) + "".join(f"f {i}\n" for i in range(20))


def stop_at_call(monkeypatch, module: Any, name: str, call: int, stop: int) -> None:
    """module.name sends this process `stop` as its `call`-th call begins."""
    real: Callable[..., Any] = getattr(module, name)
    calls = []

    def stopping(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == call:
            os.kill(os.getpid(), stop)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, stopping)


@pytest.fixture(autouse=True)
def signals_as_they_were():
    """A stopped command leaves the stop signals ignored until its process ends, as it should;
    this process goes on to run other tests, whose children would inherit SIG_IGN (a program
    recorded could not be stopped by Ctrl-C any more)."""
    numbers = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    before = {number: signal.getsignal(number) for number in numbers}
    yield
    for number, handler in before.items():
        signal.signal(number, handler)


@pytest.fixture
def two_traces(write_trace):
    return [write_trace("one", TRACE), write_trace("two", TRACE)]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stopped_compare_shows_and_writes_the_cells_it_measured(
    cli, monkeypatch, two_traces, tmp_path, stop
):
    stop_at_call(monkeypatch, runner, "replay_isolated", 3, stop)
    out = tmp_path / "c.json"
    run = cli("compare", "-q", "-a", "segfit", "-a", "implicit", "--json", out, *two_traces)
    assert run.status == 130, run.err
    assert run.err.splitlines()[-1] == (
        "mallocsim compare: interrupted: 2 of 4 cells measured, shown and written (the outputs "
        "hold those alone)"
    )
    assert "segfit" in run.out and "implicit" not in run.out
    document = json.loads(out.read_text())
    assert document["metadata"]["interrupted"] is True
    assert measured(document) == {("segfit", "one"), ("segfit", "two")}


def test_a_replay_stopped_before_any_result_still_ends_in_one_line(
    cli, monkeypatch, two_traces, tmp_path
):
    stop_at_call(monkeypatch, runner, "replay_isolated", 1, signal.SIGTERM)
    out = tmp_path / "r.json"
    run = cli("replay", "-q", "--json", out, *two_traces)
    assert run.status == 130, run.err
    assert "interrupted: 0 of 2 replays measured" in run.err
    assert "Traceback" not in run.err
    assert measured(json.loads(out.read_text())) == set()


def test_a_stopped_replay_keeps_the_traces_it_replayed(cli, monkeypatch, two_traces, tmp_path):
    stop_at_call(monkeypatch, runner, "replay_isolated", 2, signal.SIGINT)
    out = tmp_path / "r.csv"
    run = cli("replay", "-q", "--csv", out, *two_traces)
    assert run.status == 130 and "interrupted: 1 of 2 replays measured" in run.err
    assert "one" in run.out and out.read_text().count("\n") == 2  # a header and one row


def test_a_stopped_bench_keeps_the_traces_it_timed(cli, monkeypatch, two_traces, tmp_path):
    stop_at_call(monkeypatch, bench, "_time_isolated", 2, signal.SIGTERM)
    out = tmp_path / "b.json"
    run = cli("bench", "-q", "-a", "segfit", "--min-seconds", "0.01", "--json", out, *two_traces)
    assert run.status == 130, run.err
    assert "interrupted: 2 of 4 results measured" in run.err  # segfit and glibc on `one`
    document = json.loads(out.read_text())
    assert document["metadata"]["interrupted"] is True
    assert measured(document) == {("segfit", "one"), ("glibc", "one")}


def test_once_stopped_a_second_stop_waits_for_the_writing(cli, monkeypatch, two_traces, tmp_path):
    # A closing terminal sends SIGHUP twice: the second must not stop what is being written.
    from mallocsim import saved

    real = saved.write_document

    def hung_up_again(*args: Any, **kwargs: Any) -> None:
        os.kill(os.getpid(), signal.SIGHUP)
        real(*args, **kwargs)

    monkeypatch.setattr("mallocsim.commands.compare.write_document", hung_up_again)
    stop_at_call(monkeypatch, runner, "replay_isolated", 2, signal.SIGHUP)
    out = tmp_path / "c.json"
    run = cli("compare", "-q", "-a", "segfit", "-a", "implicit", "--json", out, *two_traces)
    assert run.status == 130 and json.loads(out.read_text())["metadata"]["interrupted"]
