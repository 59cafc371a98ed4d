"""Progress lines (progress.py): one line per finished item where stderr is
not a terminal, one line redrawn in place where it is, reminders for an item
that runs long, nothing when quiet, never a traceback for a closed stream; and
the long commands on stderr, with their report on stdout unchanged. The clock
is injected: nothing here sleeps, but for the child the wait loop must tick."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time

import pytest

from mallocsim import isolate, progress
from mallocsim.progress import Progress, progress_mode, tick_active

from .conftest import fixture_allocator

GOOD = "20000\n3\n6\n1\na 0 24\na 1 100\nr 0 300\nf 1\na 2 8\nf 0\n"


class Clock:
    """A clock the test moves: clock.now = 30."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def reporter(mode: str, title: str = "replay", total: int = 11, stream=None):
    clock = Clock()
    stream = stream if stream is not None else io.StringIO()
    return Progress(title, total, stream, mode, clock=clock), stream, clock


@pytest.fixture(autouse=True)
def no_reporter_left_open():
    yield
    for left in tuple(progress._open):
        left.close()


def test_items_added_on_the_way_count_in_the_total():
    # A csapp grade that also grades the -m32 build runs every trace twice: "[2/1]" before.
    shown, stream, _ = reporter("plain", "grade", 1)
    shown.started("t")
    shown.finished("t", "crash")
    shown.more(1)
    shown.started("t")
    shown.finished("t", "valid")
    assert stream.getvalue().splitlines() == [
        "grade [1/1] t: crash (0.0 s)",
        "grade [2/2] t: valid (0.0 s)",
    ]


def test_plain_prints_one_line_per_finished_item_and_nothing_else():
    shown, stream, clock = reporter("plain")
    shown.started("binary-bal")
    shown.started("binary2-bal")
    clock.now = 3.14
    shown.tick()
    shown.finished("binary2-bal", "valid")
    clock.now = 5.0
    shown.finished("binary-bal", "crash")
    shown.finished("never-started")
    shown.close()
    assert stream.getvalue().splitlines() == [
        "replay [1/11] binary2-bal: valid (3.1 s)",
        "replay [2/11] binary-bal: crash (5.0 s)",
        "replay [3/11] never-started",
    ]


def test_live_line_is_redrawn_in_place_and_cut_to_the_terminal_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", "30")
    shown, stream, clock = reporter("live")
    clock.now = 12.0
    shown.started("binary2-bal")
    clock.now = 15.1
    shown.tick()
    draws = stream.getvalue().split("\r")[1:]
    assert len(draws) == 2 and all(d.endswith("\x1b[K") for d in draws)
    assert "\n" not in stream.getvalue()
    lines = [d.removesuffix("\x1b[K") for d in draws]
    assert all(len(line) <= 29 for line in lines)  # one column short of the width
    assert "replay 0/11 · 0:15 · binary2-bal 3.1 s".startswith(lines[1])
    monkeypatch.setenv("COLUMNS", "200")
    shown.tick()  # not due yet: at most one redraw every quarter second
    assert stream.getvalue().count("\r") == 2
    clock.now = 15.4
    shown.tick()
    assert stream.getvalue().endswith("\rreplay 0/11 · 0:15 · binary2-bal 3.4 s\x1b[K")


def test_the_slowest_running_item_is_named_first_and_the_others_counted():
    shown, stream, clock = reporter("live", "grade", 300)
    for name, begun in (("alice", 111.0), ("bob", 122.0), ("carol", 124.5)):
        clock.now = begun
        shown.started(name)
    clock.now = 125.0
    shown.tick()
    assert stream.getvalue().endswith("\rgrade 0/300 · 2:05 · alice 14 s, bob 3 s, +1\x1b[K")
    shown.finished("alice", "63.2/100")
    clock.now = 126.0
    shown.tick()
    assert stream.getvalue().endswith("\rgrade 1/300 · 2:06 · bob 4 s, carol 2 s\x1b[K")


def test_close_clears_the_live_line_once():
    shown, stream, _ = reporter("live")
    shown.started("t")
    shown.close()
    shown.close()
    assert stream.getvalue().endswith("\r\x1b[K")
    assert stream.getvalue().count("\x1b[K") == 2  # the line, then the clearing
    shown.started("u")  # after close, nothing more
    assert stream.getvalue().count("\x1b[K") == 2


def test_plain_says_still_running_at_30_s_then_60_s_then_120_s():
    shown, stream, clock = reporter("plain")
    shown.started("spin")
    told = []
    for clock.now in (29.9, 30.0, 30.25, 59.0, 60.0, 61.0, 119.0, 120.0):
        shown.tick()
        told.append(len(stream.getvalue().splitlines()))
    assert told == [0, 1, 1, 1, 2, 2, 2, 3]
    assert stream.getvalue().splitlines() == [
        "replay: spin still running after 30 s",
        "replay: spin still running after 1:00",
        "replay: spin still running after 2:00",
    ]


def test_quiet_prints_nothing_even_on_a_terminal():
    stream = Terminal()
    shown, _, clock = reporter(progress_mode(quiet=True), stream=stream)
    shown.started("t")
    clock.now = 100
    shown.tick()
    tick_active()
    shown.finished("t", "valid")
    shown.close()
    assert stream.getvalue() == ""
    assert progress_mode(quiet=False) == "auto"


def test_auto_is_live_on_a_terminal_and_plain_elsewhere():
    for stream, expected in ((Terminal(), "\rreplay 0/11"), (io.StringIO(), "replay [1/11] t")):
        shown, _, _ = reporter("auto", stream=stream)
        shown.started("t")
        shown.finished("t")
        assert stream.getvalue().startswith(expected)


def test_a_closed_or_broken_stream_does_not_raise():
    closed = io.StringIO()
    closed.close()

    class BrokenPipe(Terminal):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    for mode, stream in (("auto", closed), ("plain", closed), ("live", BrokenPipe())):
        shown, _, clock = reporter(mode, stream=stream)
        shown.started("t")
        clock.now = 40
        shown.tick()
        tick_active()
        shown.finished("t", "valid")
        shown.close()
    assert progress._open == []  # a broken stream's reporter is not ticked again


def test_tick_active_reaches_every_open_reporter_and_not_a_closed_one():
    reporters = [reporter("plain", title) for title in ("one", "two", "three")]
    for shown, _, clock in reporters:
        shown.started("t")
        clock.now = 30
    reporters[1][0].close()
    tick_active()
    said = [stream.getvalue() for _, stream, _ in reporters]
    assert said == ["one: t still running after 30 s\n", "", "three: t still running after 30 s\n"]


def test_waiting_for_a_child_ticks_the_open_reporters():
    # A clock that runs 20 s a reading: two ticks of the wait (at 0.25 s and
    # 0.5 s) take the item past 30 s.
    readings = iter(range(0, 10_000, 20))
    stream = io.StringIO()
    with Progress("replay", 1, stream, "plain", clock=lambda: next(readings)) as shown:
        shown.started("slow")
        outcome = isolate.run_forked(lambda words: time.sleep(0.8) or {}, timeout=5)
    assert outcome.payload == {}
    assert "replay: slow still running after" in stream.getvalue()


def test_progress_imports_nothing_native():
    code = (
        "import sys, mallocsim.progress; print(sorted(m for m in sys.modules if 'mallocsim' in m))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['mallocsim', 'mallocsim.progress']"


def without_timing_figures(report: str) -> str:
    """The report with its measured speeds blanked: they differ from run to run."""
    return re.sub(r" +[\d.]+$", " #", report, flags=re.MULTILINE)


def test_replay_prints_a_plain_line_per_trace_on_stderr_and_none_when_quiet(
    cli, write_trace, tmp_path
):
    write_trace("one", GOOD)
    write_trace("two", "a 0 10\nf 0\n")
    loud = cli("replay", "-a", "implicit", "-a", "segfit", "--no-timing", tmp_path)
    quiet = cli("replay", "-a", "implicit", "-a", "segfit", "--no-timing", "-q", tmp_path)
    assert loud.status == quiet.status == 0
    lines = [re.sub(r"\(\d+\.\d s\)$", "(#)", line) for line in loud.err.splitlines()]
    assert lines == [
        "replay [1/4] implicit: one: valid (#)",
        "replay [2/4] implicit: two: valid (#)",
        "replay [3/4] segfit: one: valid (#)",
        "replay [4/4] segfit: two: valid (#)",
    ]
    assert quiet.err == ""
    assert without_timing_figures(loud.out) == without_timing_figures(quiet.out)
    assert "Results for implicit:" in loud.out


def test_a_hanging_allocator_gets_a_line_naming_its_timeout(cli, write_trace):
    trace = write_trace("spin", "a 0 8\nf 0\n")
    allocator = fixture_allocator("hang")
    run = cli(
        "replay", "-a", allocator, "--dialect", "classic", "--no-timing", "--timeout", "1", trace
    )
    assert run.status == 1
    # The limit is a second of CPU time; the figure is the wall time the line took, more than
    # two seconds where the spinning allocator shares its core (CI's two are often both busy).
    said = re.fullmatch(r"replay \[1/1\] spin: timeout \((\d+\.\d) s\)\n", run.err)
    assert said is not None and float(said.group(1)) >= 1.0, run.err
