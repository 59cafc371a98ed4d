"""How a long run is stopped: Ctrl-C, SIGTERM (a batch system's time limit) and SIGHUP (a
dropped ssh session) alike, so that what it measured before is still shown and written.

A command that measures many things (a class's grades, compare's or replay's cells, bench's
traces) runs its work inside stopped_as_by_ctrl_c and catches the KeyboardInterrupt it raises:
the first stop signal ends the work, the later ones are ignored until the process ends, and
whatever finished is printed and saved, with interrupted_line saying it is not all.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)  # taken as Ctrl-C (SIGINT) while work runs
EXIT_INTERRUPTED = 130  # as a shell reports a command ended by SIGINT


@contextlib.contextmanager
def stopped_as_by_ctrl_c() -> Iterator[None]:
    """SIGTERM and SIGHUP stop the work as Ctrl-C does: a batch system's time limit (SIGTERM) or
    a dropped ssh session (SIGHUP) killed a class's coordinator alone, its workers ran on for up
    to an hour each with their grades thrown away, and no gradebook was written (red-team pass
    24). Once one has, the next is ignored until the process ends, so that what finished is
    written: a closing terminal sends SIGHUP twice, and the second stopped the writing (red-team
    pass 25)."""

    def interrupt(signum: int, frame: object) -> None:
        for number in (signal.SIGINT, *STOP_SIGNALS):
            signal.signal(number, signal.SIG_IGN)
        raise KeyboardInterrupt

    handlers = {
        number: signal.signal(number, interrupt) for number in (signal.SIGINT, *STOP_SIGNALS)
    }
    try:
        yield
    finally:
        for number, handler in handlers.items():
            if signal.getsignal(number) is interrupt:  # once stopped, the writing is still to come
                signal.signal(number, handler)


def interrupted_line(command: str, measured: int, total: int, what: str) -> str:
    """The line a stopped command ends with: how much of its work it shows and saved."""
    return (
        f"mallocsim {command}: interrupted: {measured} of {total} {what} measured, shown and "
        "written (the outputs hold those alone)"
    )
