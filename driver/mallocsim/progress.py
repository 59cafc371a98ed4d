"""Progress on stderr for the long commands (replay, bench, compare, grade):
what is running and for how long, so that a hanging mm.c is seen to hang
instead of the tool looking dead for ten minutes.

A Progress follows one run of items (traces, submissions): each item is
started(name), then finished(name, outcome); several may run at once (grade),
a name being one item while it runs. It shows them one of three ways:

  live   on a terminal: one line, redrawn in place ("\\r", the line, then
         clear to its end), cut to the terminal's width, the item running
         longest named first:  replay 4/11 · 0:12 · binary2-bal 3.1 s
                               grade 37/300 · 2:05 · alice 14 s, bob 3 s, +1
         close() clears it, so that what is printed next starts clean.
  plain  anywhere else (a CI log, a pipe): a line per finished item,
             replay [4/11] binary2-bal: valid (3.1 s)
         and, from tick(), a line for an item still running after 30 s, then
         after 60 s, 120 s, 240 s... (each time doubled). Nothing else.
  quiet  nothing.

Guarantees:
  - it never raises for its stream: a closed or broken one (a pipe whose
    reader left) silences the reporter, as progress is not worth a traceback;
  - no threads (the replays are forked, and a forking parent must not have
    any): time moves on only through tick(), which the loops that wait call,
    isolate._read_until at least every 0.25 s while a child runs
    (tick_active: every open Progress); the live line is redrawn at most
    every REDRAW_SECONDS by tick() and finished(), at once by started(), so
    that it names what runs now even when no tick follows (--no-isolate);
  - a forked child never writes its parent's progress;
  - it writes only to its stream (stderr by default), so a command's report
    on stdout is the same with or without it;
  - it imports nothing native (nothing from mallocsim at all): any command
    may use it, built or not.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from itertools import islice
from types import TracebackType
from typing import TextIO

__all__ = ["Progress", "progress_mode", "tick_active"]

MODES = ("auto", "live", "plain", "quiet")  # auto: live on a terminal, else plain
REDRAW_SECONDS = 0.25  # live: tick() and finished() redraw at most this often
FIRST_REMINDER = 30.0  # plain: seconds until an item is said to be still running, then doubled
NAMED_RUNNING = 2  # live: the running items named on the line; the others are counted ("+1")
CLEAR_TO_END = "\x1b[K"  # ANSI: erase from the cursor to the end of the line
FALLBACK_COLUMNS = 80  # a terminal that does not say its width

_open: list[Progress] = []  # every Progress neither closed nor quiet: what tick_active ticks


def progress_mode(quiet: bool) -> str:
    """The mode a command's -q/--quiet asks for: "quiet", else "auto"."""
    return "quiet" if quiet else "auto"


def tick_active() -> None:
    """tick() every open Progress; cheap, for the loops that wait."""
    for progress in tuple(_open):
        progress.tick()


class Progress:
    """How far a run of items has got, told on a stream as the module says.

    mode "auto" is "live" when the stream is a terminal, else "plain"; the
    stream is sys.stderr (as it is now) unless given; clock is injectable so
    that tests need not sleep."""

    def __init__(
        self,
        title: str,
        total: int,
        stream: TextIO | None = None,
        mode: str = "auto",
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"progress mode {mode!r}: not one of {', '.join(MODES)}")
        self._title = title
        self._total = total
        self._stream = stream if stream is not None else sys.stderr
        self._clock = clock
        if self._stream is None:  # no stderr at all (pythonw)
            mode = "quiet"
        elif mode == "auto":
            mode = "live" if _is_terminal(self._stream) else "plain"
        self._mode = mode
        self._begun = clock()
        self._running: dict[str, float] = {}  # name -> when it started; the oldest first
        self._reminders: dict[str, float] = {}  # plain: name -> age at which it is next told
        self._done = 0  # items finished
        self._next_draw = self._begun  # live: when tick() and finished() may redraw
        self._drawn = False  # live: the line is on the screen
        self._closed = False
        self._pid = os.getpid()  # the process it writes for; a forked child stays silent
        self._dot = " · " if _can_encode(self._stream, "·") else " - "
        if mode != "quiet":
            _open.append(self)

    def more(self, items: int) -> None:
        """`items` more to run than the total said (a grade's -m32 build, run too)."""
        self._total += items

    def started(self, name: str) -> None:
        """An item began (several may be running at once)."""
        if self._silent():
            return
        now = self._clock()
        self._running.pop(name, None)  # a name started again runs from now
        self._running[name] = now
        self._reminders[name] = FIRST_REMINDER
        if self._mode == "live":
            self._draw(now)

    def finished(self, name: str, outcome: str = "") -> None:
        """An item ended, with a short outcome ("valid", "crash", "63.2/100"...)."""
        if self._silent():
            return
        now = self._clock()
        begun = self._running.pop(name, None)
        self._reminders.pop(name, None)
        self._done += 1
        if self._mode == "plain":
            told = f": {outcome}" if outcome else ""
            took = "" if begun is None else f" ({_duration(now - begun)})"
            self._write(f"{self._title} [{self._done}/{self._total}] {name}{told}{took}\n")
        elif now >= self._next_draw:
            self._draw(now)

    def tick(self) -> None:
        """Live: redraw the line when due. Plain: say so of an item running past
        30 s, 60 s, 120 s... (each once)."""
        if self._silent():
            return
        now = self._clock()
        if self._mode == "live":
            if now >= self._next_draw:
                self._draw(now)
            return
        for name, begun in tuple(self._running.items()):
            age = now - begun
            if age < self._reminders[name]:
                continue
            while self._reminders[name] <= age:
                self._reminders[name] *= 2
            after = _duration(age, tenths=False)
            self._write(f"{self._title}: {name} still running after {after}\n")

    def close(self) -> None:
        """Clear the live line and stop; idempotent."""
        if self in _open:
            _open.remove(self)
        if self._drawn and not self._silent():
            self._write("\r" + CLEAR_TO_END)
        self._drawn = False
        self._closed = True

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _silent(self) -> bool:
        return self._closed or self._mode == "quiet" or os.getpid() != self._pid

    def _draw(self, now: float) -> None:
        """The live line, as things are at `now`."""
        self._next_draw = now + REDRAW_SECONDS
        parts = [f"{self._title} {self._done}/{self._total}", _clock_time(now - self._begun)]
        if self._running:
            tenths = len(self._running) == 1
            named = [
                f"{name} {_duration(now - begun, tenths)}"
                for name, begun in islice(self._running.items(), NAMED_RUNNING)
            ]
            if len(self._running) > NAMED_RUNNING:
                named.append(f"+{len(self._running) - NAMED_RUNNING}")
            parts.append(", ".join(named))
        # One column short of the width: a full line would wrap on some terminals.
        line = self._dot.join(parts)[: max(_columns(self._stream) - 1, 0)]
        self._write("\r" + line + CLEAR_TO_END)
        self._drawn = True

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):  # closed, broken, or cannot encode: say no more
            self._mode = "quiet"
            if self in _open:
                _open.remove(self)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, OSError, ValueError):  # no isatty, or a closed stream
        return False


def _can_encode(stream: TextIO, text: str) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "utf-8")
    except (LookupError, UnicodeError):
        return False
    return True


def _columns(stream: TextIO) -> int:
    """The stream's terminal's width, else shutil's answer (COLUMNS, stdout's, 80)."""
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        columns = shutil.get_terminal_size().columns
    return columns if columns > 0 else FALLBACK_COLUMNS


def _clock_time(seconds: float) -> str:
    """A time as a clock shows it: 0:12, 2:05, 1:02:05."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _duration(seconds: float, tenths: bool = True) -> str:
    """A time for people: 3.1 s (or 3 s without tenths), 2:05 from a minute on."""
    if seconds >= 60:
        return _clock_time(seconds)
    return f"{seconds:.1f} s" if tenths else f"{seconds:.0f} s"
