"""The tool's own files: what it reads and writes, so that hostile ones stay one line.

Inputs (traces, grading files, saved results, logs) go through
require_regular_file before anything opens them: opening a FIFO blocks until
a writer comes, which may be never, and a folder or a device is no input
either. stat() does not block, so the check costs nothing on good files.

Outputs (reports, CSV, JSON, HTML, plots, generated and imported traces) are
written inside `writing(path)`: any OSError on the way (a missing folder, a
full disk, EIO, which carry no file name when they come from write() or
close()) becomes the one line "cannot write PATH: reason". Text outputs are
UTF-8 with what UTF-8 cannot hold (the undecodable bytes of a file name,
which Python keeps as lone surrogates) written as "?", never a
UnicodeEncodeError halfway through a file; `encodable` does the same for
text handed elsewhere (matplotlib's labels).

Every output a command is asked for is checked before the command does any
work (check_outputs, from each command's first line): a run of minutes must
not end in "cannot write PATH" with its results lost. The check creates the
file (or a file in the folder) and removes it again, so what it finds is
what the write will find: a missing folder, no permission, a read-only file
system, a folder where a file should be.

JSON the tool reads back (saved results, grade records) is parsed by
strict_json: NaN and Infinity, which Python alone writes and reads, and
nesting too deep for the decoder's recursion are a ValueError like any other
bad JSON.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import stat
import tempfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from mallocsim.constants import TRACE_SUFFIX
from mallocsim.errors import UsageError

# What a path that is no regular file is, by its stat type.
_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def encodable(text: str) -> str:
    """`text` with every character UTF-8 cannot encode (a lone surrogate: an
    undecodable byte of a file name) as "?"."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="replace").decode("utf-8")
    return text


def require_regular_file(
    path: str | os.PathLike[str], error: type[UsageError] = UsageError
) -> None:
    """Raise `error` ("PATH: is a folder, not a file", "PATH: not a regular file
    (a FIFO)") when `path` exists and is not a regular file (symbolic links
    followed), without opening it. A path that cannot be looked at (missing, a
    symbolic link loop, no permission) is left to the open that follows, whose
    error says why."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise error(f"{os.fspath(path)}: is a folder, not a file")
    kind = next((name for test, name in _KINDS if test(mode)), "not a file")
    raise error(f"{os.fspath(path)}: not a regular file ({kind})")


@contextmanager
def text_input(path: str | os.PathLike[str], errors: str = "strict") -> Iterator[IO[str]]:
    """`path` open for reading UTF-8 text, once require_regular_file passed;
    any OSError up to its close (missing, a symbolic link loop, EIO) is the
    UsageError "PATH: reason"."""
    require_regular_file(path)
    try:
        with open(path, encoding="utf-8", errors=errors) as handle:
            yield handle
    except OSError as error:
        raise UsageError(f"{os.fspath(path)}: {error.strerror or error}") from None


@contextmanager
def writing(path: str | os.PathLike[str]) -> Iterator[None]:
    """Any OSError raised inside, while `path` is written, as the UsageError
    "cannot write PATH: reason"."""
    try:
        yield
    except OSError as error:
        raise UsageError(f"cannot write {os.fspath(path)}: {error.strerror or error}") from None


@contextmanager
def text_output(path: str | os.PathLike[str], newline: str | None = None) -> Iterator[IO[str]]:
    """`path` open for writing UTF-8 text (unencodable characters as "?"),
    every OSError up to its close as "cannot write PATH: reason"."""
    with writing(path), open(path, "w", encoding="utf-8", errors="replace", newline=newline) as out:
        yield out


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` to `path` as UTF-8 (see text_output)."""
    with text_output(path) as out:
        out.write(text)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path`; an OSError is "cannot write PATH: reason"."""
    with writing(path):
        Path(path).write_bytes(data)


# The options that name an output file or folder. A command's option of one
# of these names is checked by check_outputs; one a command adds later is too.
OUTPUT_OPTIONS = ("json", "csv", "html", "png", "svg", "pdf", "gradebook", "gradescope", "junit")
OUTPUT_FOLDERS = ("plots",)  # always a folder


def check_writable(path: str | os.PathLike[str], folder: bool = False) -> None:
    """Raise the UsageError "cannot write PATH: reason" unless `path` can be
    written: a file (folder=False) that exists and opens for writing, or whose
    folder takes a new file; a folder (folder=True) that exists, or whose
    nearest existing parent (folders are made with their parents) takes a new
    one, and either way a file. Leaves nothing behind and changes nothing (an
    existing file is opened without truncating it, and without waiting for a
    FIFO's reader)."""
    target = Path(path)
    with writing(path):
        if folder:
            if target.exists() and not target.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
            existing = next(p for p in (target, *target.parents) if p.exists() or p == Path())
            if not existing.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
            tempfile.TemporaryDirectory(dir=existing).cleanup()
            return
        if target.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        if target.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK))
            return
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        os.unlink(path)


def check_outputs(args: argparse.Namespace, folders: Collection[str] = ()) -> None:
    """check_writable for every output the parsed arguments name (the options
    OUTPUT_OPTIONS and OUTPUT_FOLDERS, each path of an option given more than
    once), before the command does any work. The options in `folders` name a
    folder this time (grade's --gradescope for a class)."""
    inputs = {
        _identity(path)
        for name, value in vars(args).items()
        if name not in (*OUTPUT_OPTIONS, *OUTPUT_FOLDERS)
        for path in _given(value)
    } - {None}
    never = "an output is never written over one"
    outputs: dict[tuple[int, int] | str, str] = {}
    for name in (*OUTPUT_OPTIONS, *OUTPUT_FOLDERS):
        for path in _given(getattr(args, name, None)):
            option = f"--{name} {path}"
            if path.endswith(TRACE_SUFFIX):
                # `replay --json traces/*.rep`, the output's name forgotten: the first trace was
                # replayed, then written over with JSON (red-team pass 27).
                raise UsageError(f"{option}: a trace's name: {never}")
            identity = _identity(path)
            if identity in inputs:
                raise UsageError(f"{option}: an input of this command: {never}")
            key = identity or os.path.abspath(path)
            if key in outputs:
                raise UsageError(f"{option}: also {outputs[key]}: each output needs its own file")
            outputs[key] = option
            check_writable(path, folder=name in OUTPUT_FOLDERS or name in folders)


def same_file(path: str | os.PathLike[str], other: str | os.PathLike[str]) -> bool:
    """Whether both name one existing regular file (a link, another spelling)."""
    mine = _identity(os.fspath(path))
    return mine is not None and mine == _identity(os.fspath(other))


def _identity(path: str) -> tuple[int, int] | None:
    """The (device, inode) of an existing file, None for anything else: what tells that two
    names are one file."""
    try:
        found = os.stat(path)
    except (OSError, ValueError):
        return None
    return (found.st_dev, found.st_ino) if stat.S_ISREG(found.st_mode) else None


def _given(value: object) -> list[str]:
    """An option's paths: none, one, or those of a repeated option."""
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


class JSONRefused(ValueError):
    """JSON that json.loads would take but no results file holds: NaN,
    Infinity, or nesting deeper than the decoder can recurse."""


def _refuse_constant(name: str) -> Any:
    raise JSONRefused(f"{name} is not a JSON number")


def strict_json(text: str) -> Any:
    """json.loads(text), raising JSONRefused for NaN, Infinity and -Infinity and
    for nesting too deep to decode (a RecursionError), json.JSONDecodeError as
    usual for what is not JSON at all."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise JSONRefused("nested too deeply to read") from None
