"""Trace files, parsed by the native core into the op arrays the engine replays.

A Trace owns one native ``ms_trace``: 24 bytes an op, freed with the Trace.
Python never holds an object per op, so a 10-million-op trace costs about
240 MB however it is used. The formats (classic and CMU headers, headerless
CS107 scripts), the checks and the messages are the C parser's
(c/src/trace.c); this module puts the file in front of them, so that every
malformed trace is one line, ``path:line: message``.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from mallocsim._native import ffi, lib
from mallocsim.constants import (
    TRACE_READ_CARRY_SIZE,
    TRACE_READ_STOP_AT_COUNT,
    TRACE_READ_STRICT,
)
from mallocsim.errors import UsageError
from mallocsim.files import require_regular_file
from mallocsim.labs import DEFAULT_LAB, LABS, select_trace_paths
from mallocsim.safe_text import printable


@cache
def _format_names() -> dict[int, str]:
    return {
        lib.MS_FORMAT_CLASSIC: "classic",
        lib.MS_FORMAT_CMU: "cmu",
        lib.MS_FORMAT_SCRIPT: "script",
    }


@cache
def _op_layout() -> struct.Struct:
    """ms_op's fields as struct reads them (size, id, count, kind), checked
    against the C layout once: the ops are read straight from their array."""
    layout = struct.Struct("=QIIB7x")
    offsets = [ffi.offsetof("ms_op", field) for field in ("size", "id", "count", "kind")]
    if offsets != [0, 8, 12, 16] or ffi.sizeof("ms_op") != layout.size:
        raise RuntimeError("ms_op's layout is not the one trace.py reads")
    return layout


@cache
def _reading(flags: int) -> int:
    """`flags` (constants.TRACE_READ_*) as the parser takes them, the two sets of
    names checked against each other once."""
    ours = (TRACE_READ_STRICT, TRACE_READ_CARRY_SIZE, TRACE_READ_STOP_AT_COUNT)
    native = (lib.MS_READ_STRICT, lib.MS_READ_CARRY_SIZE, lib.MS_READ_STOP_AT_COUNT)
    if ours != native:
        raise RuntimeError("constants.TRACE_READ_* are not mallocsim.h's MS_READ_*")
    if flags & ~(TRACE_READ_CARRY_SIZE | TRACE_READ_STOP_AT_COUNT):
        raise ValueError(f"unknown trace reading flags {flags:#x}")
    return flags


@cache
def _op_letters() -> dict[int, str]:
    return {
        lib.MS_OP_ALLOC: "a",
        lib.MS_OP_FREE: "f",
        lib.MS_OP_REALLOC: "r",
        lib.MS_OP_CALLOC: "c",
    }


class TraceError(UsageError):
    """A trace that cannot be read or is malformed: ``path:line: message``, or
    ``path: message`` when no line is to blame."""


def rounded_up(granule: int) -> Callable[[int], int]:
    """A block size for Trace.peak_blocks: the request rounded up to a multiple
    of `granule` (a power of two), the least any allocator whose blocks are
    such multiples takes. At 16 the peak is the engine's peak_aligned."""
    mask = granule - 1
    return lambda size: (size + mask) & ~mask


@dataclass(frozen=True)
class TraceInfo:
    """What a trace says about itself, apart from its ops."""

    name: str  # the file's stem ("amptjp-bal"), or the name given to text
    path: str | None  # the file, None for a trace parsed from text
    format: str  # "classic", "cmu" or "script"
    num_ops: int
    num_ids: int  # the largest id the ops use + 1 (a header's count bounds it)
    weight: int  # classic: the 4th header number, CMU: the 1st, scripts: 0
    header: tuple[int, int, int, int]  # the header's numbers as written; zeros for scripts
    reading: int = TRACE_READ_STRICT  # how the file was read (constants.TRACE_READ_*)
    # What that reading tolerated: ops given the size read before them, lines left unread
    # past the header's count, each with its first file line (0 when none).
    sizes_carried: int = 0
    first_carried_line: int = 0
    ops_unread: int = 0
    first_unread_line: int = 0

    def reading_note(self) -> str | None:
        """One line on what a lab's lenient reading took from the file that a strict
        one refuses, or None when it took nothing."""
        parts = []
        if self.sizes_carried:
            s = "s" if self.sizes_carried != 1 else ""
            parts.append(
                f"{self.sizes_carried:,} op{s} without a size took the size read before "
                f"(from line {self.first_carried_line:,})"
            )
        if self.ops_unread:
            s = "s" if self.ops_unread != 1 else ""
            parts.append(
                f"{self.ops_unread:,} line{s} past the header's {self.num_ops:,} ops "
                f"not read (from line {self.first_unread_line:,})"
            )
        if not parts:
            return None
        return f"{self.path or self.name}: {' and '.join(parts)}, as the lab's driver reads it"


class Trace:
    """A parsed trace: its TraceInfo and the native op array (``native``, an
    ``ms_trace *``) that the engine replays in one call."""

    __slots__ = ("info", "native")

    def __init__(self, native: object, info: TraceInfo) -> None:
        self.native = native
        self.info = info

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def path(self) -> str | None:
        return self.info.path

    @property
    def num_ops(self) -> int:
        return self.info.num_ops

    @property
    def num_ids(self) -> int:
        return self.info.num_ids

    def line_of_op(self, index: int) -> int | None:
        """The 1-based file line of op `index` (re-reads the file), or None for
        a trace parsed from text, an index out of range or a file since gone."""
        if self.path is None or not 0 <= index < self.num_ops:
            return None
        return lib.ms_trace_line_of_op(os.fsencode(self.path), index) or None

    def ops(self) -> Iterator[tuple[str, int, int, int]]:
        """The ops as (letter, id, size, count) tuples: id -1 is free(NULL);
        size is the element size and count the element count for "c", count
        is 0 otherwise, size is 0 for "f". One tuple per op, made as it is
        read (a fraction of a microsecond an op)."""
        letters, null = _op_letters(), lib.MS_ID_NULL
        for size, ident, count, kind in self._raw_ops():
            yield letters[kind], -1 if ident == null else ident, size, count

    def script_text(self) -> str:
        """The ops as a headerless trace (a script), one line each: text that parses
        back to the same ops, for a program that reads traces from files."""
        lines = []
        for letter, ident, size, count in self.ops():
            if letter == "f":
                lines.append(f"f {ident}\n")
            elif letter == "c":
                lines.append(f"c {ident} {count} {size}\n")
            else:
                lines.append(f"{letter} {ident} {size}\n")
        return "".join(lines)

    def _raw_ops(self) -> Iterator[tuple[int, int, int, int]]:
        """(size, id, count, kind) for each op, read from the native array
        with no object per op beyond the tuple: a Python loop over cdata
        fields cost the CS:APP grader a quarter of a second a submission."""
        if self.num_ops == 0:
            return iter(())
        raw = ffi.buffer(self.native.ops, self.num_ops * _op_layout().size)
        return _op_layout().iter_unpack(raw)

    def block_sizes(self) -> set[int]:
        """The distinct sizes (bytes, > 0) of the blocks the trace asks for, a
        calloc's being count x size."""
        return {size for _, size in self._blocks() if size}

    def holds_payload(self) -> bool:
        """Whether any block the trace asks for has a byte in it: one without has no
        utilization to measure (its peak payload is 0). Stops at the first."""
        return any(size for _, size in self._blocks())

    def peak_blocks(self, block_size: Callable[[int], int]) -> int:
        """Bytes: the peak over the trace of the sum of the live blocks, a block
        of n > 0 bytes counted as block_size(n) (an allocator's rounding: its
        size class, its chunk with the header), the live blocks as the checked
        pass counts them (see _blocks; a block of 0 bytes counts 0, since not
        every allocator takes one). No allocator whose blocks of n bytes take
        block_size(n) or more can hold the live blocks in less. block_size is
        asked once per distinct size, so it may be a call into the allocator."""
        blocks = {0: 0}  # size -> block_size(size)
        taken = [0] * self.num_ids  # id -> its live block
        live = peak = 0
        for ident, size in self._blocks():
            block = blocks.get(size)
            if block is None:
                block = blocks[size] = block_size(size)
            live += block - taken[ident]
            taken[ident] = block
            if live > peak:
                peak = live
        return peak

    def _blocks(self) -> Iterator[tuple[int, int]]:
        """(id, bytes) for each op on a block: the block it leaves that id, as
        the checked pass counts it (a realloc's old block is gone after it; a
        free, "r id 0" and an overflowing calloc leave one of 0 bytes).
        free(NULL) is on no block."""
        null, free, calloc = lib.MS_ID_NULL, lib.MS_OP_FREE, lib.MS_OP_CALLOC
        for size, ident, count, kind in self._raw_ops():
            if ident == null:
                continue
            if kind == free:
                yield ident, 0
            elif kind == calloc:
                total = count * size
                yield ident, total if total < 1 << 64 else 0
            else:
                yield ident, size

    def __repr__(self) -> str:
        return f"<Trace {self.name} {self.info.format}: {self.num_ops} ops, {self.num_ids} ids>"


def _finish(
    native: object, error: object, ok: bool, name: str, path: str | None, reading: int
) -> Trace:
    """The Trace for a parse result, or the TraceError that names the line."""
    if not ok:
        message = ffi.string(error.message).decode("utf-8", errors="replace")
        origin = path if path is not None else name
        where = f"{origin}:{error.line}" if error.line else origin
        raise TraceError(f"{where}: {message}")
    native = ffi.gc(native, lib.ms_trace_free)
    info = TraceInfo(
        name=name,
        path=path,
        format=_format_names()[native.format],
        num_ops=native.num_ops,
        num_ids=native.num_ids,
        weight=native.weight,
        header=tuple(native.header),
        reading=reading,
        sizes_carried=native.sizes_carried,
        first_carried_line=native.first_carried_line,
        ops_unread=native.ops_unread,
        first_unread_line=native.first_unread_line,
    )
    return Trace(native, info)


def load_trace(path: str | os.PathLike[str], reading: int = TRACE_READ_STRICT) -> Trace:
    """Parse a trace file (any of the three formats), read as `reading` says (a lab's
    trace_reading). Raises TraceError, also for a path that is no regular file (a FIFO
    would block the open forever)."""
    text_path = os.fspath(path)
    require_regular_file(text_path, TraceError)
    native = ffi.new("ms_trace *")
    error = ffi.new("ms_error *")
    ok = lib.ms_trace_parse_file(os.fsencode(text_path), _reading(reading), native, error)
    # The name goes into every table: a newline in a file's name drew rows of its own, a
    # bidirectional override reordered the row (red-team pass 17).
    name = printable(Path(text_path).stem, lines=False)
    return _finish(native, error, ok, name, text_path, reading)


def parse_trace_text(
    text: str | bytes, name: str = "<text>", reading: int = TRACE_READ_STRICT
) -> Trace:
    """Parse a trace held in memory; errors read ``name:line: message``."""
    data = text.encode() if isinstance(text, str) else text
    native = ffi.new("ms_trace *")
    error = ffi.new("ms_error *")
    ok = lib.ms_trace_parse_text(data, len(data), _reading(reading), native, error)
    return _finish(native, error, ok, name, None, reading)


def load_traces(
    paths: Iterable[str | os.PathLike[str]], reading: int = TRACE_READ_STRICT
) -> tuple[list[Trace], list[str]]:
    """Every trace file `paths` names (files and folders, see find_traces), parsed
    as `reading` says, and the one-line error of each bad one (malformed, missing, a
    folder, a FIFO, a folder with no traces): a bad one is reported and the others
    still run."""
    selection = select_trace_paths(LABS[DEFAULT_LAB], paths)
    traces: list[Trace] = []
    problems = list(selection.problems)
    for path in selection.paths:
        try:
            traces.append(load_trace(path, reading))
        except TraceError as error:
            problems.append(str(error))
    return traces, problems


def reading_arguments(traces: Iterable[Trace]) -> list[str]:
    """mscount's option to read the traces' files as they were read here (none when
    strictly). A lenient reading reads every strictly valid trace the same, so one
    option serves traces read either way."""
    flags = 0
    for trace in traces:
        flags |= trace.info.reading
    return [f"--reading={flags}"] if flags else []


def find_traces(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The trace files named by `paths`: a file as given (load_trace judges it),
    a directory as its *.rep entries in name order (not recursive). Raises
    TraceError for a directory without trace files. (A lab's own list and
    order: labs.select_trace_paths.)"""
    selection = select_trace_paths(LABS[DEFAULT_LAB], paths)
    if selection.problems:
        raise TraceError(selection.problems[0])
    return list(selection.paths)
