"""The `mallocsim` command line: argparse subcommands, one module each.

Every subcommand lives in mallocsim/commands/<name>.py and exposes
`register(subparsers)` (adds its parser, sets `run`) and a `run(args) -> int`.
Exit status: 0 when everything checked was valid, 1 when an allocator failed a
check, 2 for bad usage or bad input. Expected failures (a bad trace, a missing
file, an allocator that will not load) are one line on stderr, never a
traceback; so, caught here once for every command, are the environment's: a
stdout that cannot be written ("cannot write the standard output: No space
left on device"), any OSError no command caught, running out of memory. A
closed pipe under stdout ends the run quietly, status 141, as it does any
well-behaved filter.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from mallocsim.errors import UsageError
from mallocsim.files import encodable
from mallocsim.metadata import begin_run, mallocsim_version
from mallocsim.safe_text import printable

# Subcommands in the order `mallocsim --help` lists them.
COMMANDS = (
    "replay",
    "bench",
    "programs",
    "grade",
    "gradebook",
    "init",
    "compare",
    "report",
    "diff",
    "run",
    "record",
    "import-mtrace",
    "gen",
)

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser: every subcommand, or `only` that one. Importing
    every command module takes 0.18 s, `grade`'s alone 0.06 s; a class's grade
    starts one process per submission (a grade that fails to compile: 0.61 s
    with every command, 0.57 s with its own)."""
    parser = argparse.ArgumentParser(
        prog="mallocsim",
        description="Replay malloc-lab traces on allocators: prove them correct, "
        "measure utilization and throughput.",
    )
    parser.add_argument("--version", action="version", version=f"mallocsim {mallocsim_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS if only is None else (only,):
        importlib.import_module(f"mallocsim.commands.{name.replace('-', '_')}").register(subparsers)
    for command_parser in subparsers.choices.values():  # for the errors only it can word
        command_parser.set_defaults(command_parser=command_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    named = arguments[0] if arguments and arguments[0] in COMMANDS else None
    try:
        parser = build_parser(named)  # a bad or missing command: all of them, for the usage
    except UsageError as error:  # e.g. the native core is not built
        print(f"mallocsim: {error}", file=sys.stderr)
        return EXIT_USAGE
    ambiguous = _option_naming_a_path(arguments)
    if ambiguous is not None:
        print(
            f"mallocsim: {printable(ambiguous, lines=False)} is an option and also a file or "
            "folder here (did a * name it?): write paths as ./*, or after --, and an option of "
            "yours as --name=value",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if _dashdash_names_a_path(arguments):
        print(
            "mallocsim: warning: a file or folder named -- is here: if a * named it, it ended the "
            "options and is not graded (write ./* to grade it)",
            file=sys.stderr,
        )
    args, unknown = parser.parse_known_args(arguments)
    if unknown:  # said by the command's parser: its name and usage, not the top level's
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    # The run's start for the metadata of what it saves: its time, load and arguments.
    begin_run(arguments)
    where = f"mallocsim {args.command}"
    stdout = sys.stdout
    sys.stdout = _Stdout(stdout if stdout is not None else _ClosedStdout())
    try:
        status = int(args.run(args))
        sys.stdout.flush()  # what is still buffered fails here, where it can be told
        return status
    except UsageError as error:
        print(f"{where}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("mallocsim: interrupted", file=sys.stderr)
        return 130
    except StdoutError as error:
        if stdout is not None:
            _drop_stdout(stdout)
        if isinstance(error.__cause__, BrokenPipeError):
            # The reader went away (`mallocsim replay ... | head`): stop quietly.
            return 141
        print(f"{where}: cannot write the standard output: {error}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:
        print(f"{where}: out of memory", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        if error.filename is not None:  # a file named on the command line, or in a student's folder
            name = printable(str(error.filename), lines=False)
            print(f"{where}: {name}: {error.strerror}", file=sys.stderr)
        else:
            print(f"{where}: {error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        sys.stdout = stdout


def _option_naming_a_path(arguments: Sequence[str]) -> str | None:
    """The first option that also names a file or folder here, as a shell's * gives a class's
    folders: graded as `mallocsim grade * TRACES` from inside the class folder, a student's
    folder named --timeout=0.01 set every classmate's limit (all graded 0), and one named --
    made the options after it paths (red-team pass 33). An option before the first -- that
    names a path, or that -- when what follows it holds an option that names none; None
    else."""
    cut = arguments.index("--") if "--" in arguments else len(arguments)
    named = next((a for a in arguments[:cut] if a.startswith("-") and os.path.lexists(a)), None)
    if named is not None or not _dashdash_names_a_path(arguments):
        return named
    options_after = any(a.startswith("-") and not os.path.lexists(a) for a in arguments[cut + 1 :])
    return "--" if options_after else None


def _dashdash_names_a_path(arguments: Sequence[str]) -> bool:
    """Whether the arguments' -- is also a file or folder here: where it ends the options
    (_option_naming_a_path found nothing wrong), a * that gave it left its student out of the
    class, without a row (red-team pass 34), which main warns of."""
    return "--" in arguments and os.path.lexists("--")


class StdoutError(Exception):
    """A write to stdout failed (its cause is the OSError): a full disk, EIO, a
    closed pipe. Not an OSError, so that no command's handler takes it for a
    file of its own."""


class _Stdout:
    """sys.stdout while a command runs: the same stream, whose write errors are
    StdoutError, so that main can tell them from those of the files it writes.
    Undecodable bytes of file names (lone surrogates) print as "?", whatever
    the locale makes the stream strict about."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        with _as_stdout_error():
            try:
                return self._stream.write(text)
            except UnicodeEncodeError:
                return self._stream.write(encodable(text))

    def flush(self) -> None:
        with _as_stdout_error():
            self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _ClosedStdout:
    """The standard output of a process started without one (`>&-`, some cron set-ups),
    which Python leaves None: a command that prints fails in one line, one that only
    writes files (`record -o`, `--json`) works."""

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "the standard output is closed")

    def flush(self) -> None:
        pass


@contextmanager
def _as_stdout_error() -> Iterator[None]:
    try:
        yield
    except OSError as error:
        raise StdoutError(error.strerror or str(error)) from error


def _drop_stdout(stdout: TextIO) -> None:
    """Point stdout's file at /dev/null, so that Python's flush at exit does not
    fail again with what is still buffered."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stdout.fileno())
    except (OSError, ValueError):  # no file descriptor (a test's captured stdout)
        pass


if __name__ == "__main__":
    sys.exit(main())
