"""Import a glibc mtrace() log as a classic-format trace.

A program that calls mtrace() with MALLOC_TRACE=<file> set (and, since glibc
2.34, libc_malloc_debug.so preloaded) logs its heap calls there, one per line:

    = Start
    @ ./prog:[0x401136] + 0x4052a0 0x64      malloc, calloc, memalign: pointer, size
    @ ./prog:[0x40114c] - 0x4052a0           free
    @ ./prog:[0x401162] < 0x4056d0           realloc: the old block...
    @ ./prog:[0x401162] > 0x405710 0xc8      ...and the new one with its size
    @ ./prog:[0x401170] ! 0x405710 0x1000    a realloc that failed
    = End

The "@ caller" part is optional. mtrace logs calloc as a plain allocation,
and realloc(NULL, n) as "+", realloc(p, 0) as "-". Events go through the
same TraceBuilder as recorder logs (see record.py): frees of pointers
allocated before mtrace() was called are counted and dropped.
"""

from __future__ import annotations

from pathlib import Path

from mallocsim.errors import UsageError
from mallocsim.files import text_input, text_output
from mallocsim.record import EventError, RecordStats, TraceBuilder

IMAGE = 0  # an mtrace log is one process: one heap


def _pointer(text: str) -> int:
    return 0 if text == "(nil)" else int(text, 16)


def _read(path: Path, builder: TraceBuilder) -> None:
    pending_old: int | None = None  # the "<" half of a realloc
    with text_input(path, errors="replace") as log:
        for number, raw in enumerate(log, 1):
            fields = raw.split()
            if fields and fields[0] == "@":
                fields = fields[2:]  # drop "@ caller"
            if not fields or fields[0] == "=":
                continue
            try:
                op, args = fields[0], fields[1:]
                if op == "+":
                    builder.alloc(IMAGE, _pointer(args[0]), int(args[1], 16))
                elif op == "-":
                    builder.free(IMAGE, _pointer(args[0]))
                elif op == "<":
                    pending_old = _pointer(args[0])
                elif op == ">" and pending_old is not None:
                    builder.realloc(IMAGE, pending_old, int(args[1], 16), _pointer(args[0]))
                    pending_old = None
                elif op == "!":
                    builder.realloc(IMAGE, _pointer(args[0]), int(args[1], 16), 0)
                else:
                    raise ValueError(op)
            except EventError as error:
                raise UsageError(f"{path}:{number}: {error}") from None
            except (IndexError, ValueError):
                raise UsageError(f"{path}:{number}: not an mtrace line: {raw.strip()!r}") from None


def import_mtrace(log: Path, out: Path) -> RecordStats:
    """Write the trace of the mtrace log `log` to `out`: one that loads (see
    record.py), or a UsageError naming the log's line it cannot hold."""
    builder = TraceBuilder()
    _read(log, builder)
    with text_output(out) as trace:
        builder.write(trace)
    return builder.stats
