"""Turn a log of allocation calls into a classic-format trace.

The recorder (c/src/recorder.c, libmsrecord.so) logs every call a program
makes, one line each: "<pid> <kind> <fields>" (see that file's banner). This
module replays that log symbolically and writes the trace a replay can run:

- ids come from pointers: an allocation takes a free id (the most recently
  freed one first, so the trace needs few ids), and the id follows the block
  through realloc until it is freed;
- each process image is its own heap: the key of a block is (process image,
  pointer), where a new image starts at an "s" (start, also after exec) or
  "k" (forked child) line; the images' ops are interleaved in log order, as if
  they shared one heap, each with its own ids;
- frees (and reallocs) of pointers allocated before recording began (in a
  forked child, the parent's blocks) are counted and dropped, or become plain
  allocations for a realloc; free(NULL) and failed calls are counted and
  dropped; memalign-family calls become plain allocations;
- realloc(p, 0) frees p (glibc's meaning), realloc(NULL, n) allocates;
- the header's op count is the number of op lines written; its first number
  (the suggested heap size, unused by replay) is the peak live payload
  rounded up to a page;
- memory stays small for long recordings: the op lines are spooled to a
  temporary file, and only live blocks are held in memory;
- what it writes always loads: an event the trace format cannot hold (a
  size above 2^48 bytes or below 0, more blocks live at once than the
  parser's id limit) is an EventError, reported with the log's line.

mtrace.py feeds the same TraceBuilder from glibc mtrace() logs.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from mallocsim.constants import MAX_TRACE_IDS, MAX_TRACE_SIZE
from mallocsim.errors import UsageError
from mallocsim.files import text_input, text_output

PAGE = 4096
SPOOL_IN_MEMORY = 1 << 24  # bytes of op lines kept in memory before spilling to disk
MAX_CALLOC_COUNT = 0xFFFFFFFF  # the trace format keeps calloc counts in 32 bits

Key = tuple[int, int]  # (process image, pointer)


class EventError(ValueError):
    """An allocation event no trace can hold; the message says why."""


def _checked_size(size: int) -> int:
    if not 0 <= size <= MAX_TRACE_SIZE:
        raise EventError(f"a block of {size} bytes: no trace holds one (at most 2^48 bytes)")
    return size


@dataclass
class RecordStats:
    """What the conversion kept and what it dropped, and why."""

    ops: int = 0  # op lines in the trace
    ids: int = 0  # distinct ids the trace uses
    images: int = 0  # process images seen (the program, its children, exec'd images)
    peak_live_bytes: int = 0  # largest sum of live requested bytes
    foreign_frees: int = 0  # frees of pointers allocated before recording (dropped)
    foreign_reallocs: int = 0  # reallocs of such pointers (kept as allocations)
    null_frees: int = 0  # free(NULL) calls (dropped)
    failed_calls: int = 0  # allocations that returned NULL (dropped)
    lost_frees: int = 0  # a pointer handed out again while still live: a free was missed


@dataclass
class TraceBuilder:
    """Builds a classic trace from allocation events keyed by (image, pointer)."""

    lines: OpLines = field(default_factory=lambda: OpLines())
    stats: RecordStats = field(default_factory=RecordStats)
    _live: dict[Key, tuple[int, int]] = field(default_factory=dict)  # key -> (id, size)
    _free_ids: list[int] = field(default_factory=list)
    _next_id: int = 0
    _live_bytes: int = 0

    def _take_id(self) -> int:
        if self._free_ids:
            return self._free_ids.pop()
        if self._next_id == MAX_TRACE_IDS:
            raise EventError(f"more than {MAX_TRACE_IDS} blocks live at once: no trace holds them")
        self._next_id += 1
        return self._next_id - 1

    def _forget(self, key: Key) -> int:
        block_id, size = self._live.pop(key)
        self._live_bytes -= size
        return block_id

    def _drop(self, key: Key) -> None:
        """Emit the free of a live block and recycle its id."""
        block_id = self._forget(key)
        self.lines.append(f"f {block_id}")
        self._free_ids.append(block_id)

    def _hold(self, key: Key, block_id: int, size: int) -> None:
        self._live[key] = (block_id, size)
        self._live_bytes += size
        self.stats.peak_live_bytes = max(self.stats.peak_live_bytes, self._live_bytes)

    def _make_room(self, key: Key) -> None:
        """A pointer handed out while still live: its free never reached us."""
        if key in self._live:
            self.stats.lost_frees += 1
            self._drop(key)

    def alloc(self, image: int, ptr: int, size: int) -> None:
        """malloc and the memalign family: `size` bytes at `ptr` (0 = failed)."""
        if ptr == 0:
            self.stats.failed_calls += 1
            return
        _checked_size(size)
        self._make_room((image, ptr))
        block_id = self._take_id()
        self.lines.append(f"a {block_id} {size}")
        self._hold((image, ptr), block_id, size)

    def calloc(self, image: int, ptr: int, count: int, size: int) -> None:
        """calloc(count, size) returned `ptr` (0 = failed)."""
        if ptr == 0:
            self.stats.failed_calls += 1
            return
        _checked_size(count * size if count >= 0 and size >= 0 else -1)
        if count > MAX_CALLOC_COUNT:
            count, size = 1, count * size
        self._make_room((image, ptr))
        block_id = self._take_id()
        self.lines.append(f"c {block_id} {count} {size}")
        self._hold((image, ptr), block_id, count * size)

    def realloc(self, image: int, old: int, size: int, new: int) -> None:
        """realloc(old, size) returned `new`, with glibc's meanings of NULL and 0."""
        if old == 0:
            self.alloc(image, new, size)
            return
        key = (image, old)
        if size == 0:
            self.free(image, old)
            return
        if new == 0:
            self.stats.failed_calls += 1  # the old block stays as it was
            return
        _checked_size(size)
        if key not in self._live:
            self.stats.foreign_reallocs += 1
            self.alloc(image, new, size)
            return
        block_id = self._forget(key)
        if new != old:
            self._make_room((image, new))
        self.lines.append(f"r {block_id} {size}")
        self._hold((image, new), block_id, size)

    def free(self, image: int, ptr: int) -> None:
        """free(ptr)."""
        if ptr == 0:
            self.stats.null_frees += 1
            return
        key = (image, ptr)
        if key not in self._live:
            self.stats.foreign_frees += 1
            return
        self._drop(key)

    def write(self, out: IO[str]) -> None:
        """The trace: the classic header, then one op per line."""
        self.stats.ops = self.lines.count
        self.stats.ids = self._next_id
        out.write(classic_header(self._next_id, self.lines.count, self.stats.peak_live_bytes))
        self.lines.copy_to(out)

    def text(self) -> str:
        """The trace as one string (for small traces and tests)."""
        buffer = io.StringIO()
        self.write(buffer)
        return buffer.getvalue()


class OpLines:
    """Op lines, spooled to a temporary file once they outgrow SPOOL_IN_MEMORY."""

    def __init__(self) -> None:
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, mode="w+")
        self.count = 0

    def append(self, line: str) -> None:
        self._spool.write(line + "\n")
        self.count += 1

    def copy_to(self, out: IO[str]) -> None:
        self._spool.seek(0)
        shutil.copyfileobj(self._spool, out)
        self._spool.seek(0, io.SEEK_END)


def classic_header(num_ids: int, num_ops: int, peak_live_bytes: int) -> str:
    """The classic header: heap size hint (peak rounded up to a page), ids, ops, weight 1."""
    heap_hint = max(PAGE, -(-peak_live_bytes // PAGE) * PAGE)
    return f"{heap_hint}\n{num_ids}\n{num_ops}\n1\n"


def _fields(path: Path) -> Iterator[tuple[int, list[str]]]:
    with text_input(path, errors="replace") as log:
        for number, raw in enumerate(log, 1):
            parts = raw.split()
            if len(raw) > 0 and not raw.endswith("\n"):
                return  # a line cut short by a process killed mid-write
            if parts:
                yield number, parts


def _parse_log(path: Path, builder: TraceBuilder) -> None:
    images: dict[int, int] = {}  # pid -> its current image number
    for number, parts in _fields(path):
        try:
            pid, kind, args = int(parts[0]), parts[1], parts[2:]
            if kind in ("s", "k"):
                builder.stats.images += 1
                images[pid] = builder.stats.images
                continue
            image = images.setdefault(pid, 0)
            _apply(builder, image, kind, args)
        except EventError as error:
            raise UsageError(f"{path}:{number}: {error}") from None
        except (IndexError, ValueError, KeyError):
            raise UsageError(
                f"{path}:{number}: not a recorder log line: {' '.join(parts)!r}"
            ) from None


def _apply(builder: TraceBuilder, image: int, kind: str, args: list[str]) -> None:
    if kind == "m":
        builder.alloc(image, int(args[1], 16), int(args[0]))
    elif kind == "a":
        builder.alloc(image, int(args[2], 16), int(args[1]))
    elif kind == "c":
        builder.calloc(image, int(args[2], 16), int(args[0]), int(args[1]))
    elif kind == "r":
        builder.realloc(image, int(args[0], 16), int(args[1]), int(args[2], 16))
    elif kind == "f":
        builder.free(image, int(args[0], 16))
    else:
        raise KeyError(kind)


def convert_logs(logs: Iterable[Path], out: Path) -> RecordStats:
    """Write the trace of one or more recorder logs (taken in order) to `out`."""
    builder = TraceBuilder()
    for log in logs:
        _parse_log(log, builder)
    with text_output(out) as trace:
        builder.write(trace)
    return builder.stats
