"""`mallocsim run -- CMD...`: run a program on our malloc (libmallocsim.so).

The program runs with LD_PRELOAD naming a drop-in library: one built-in
policy over the real program break. `make native` builds one per policy
(libmallocsim-<policy>.so) and libmallocsim.so, a copy of the default one
(`make DROPIN_POLICY=<name>`, segfit unless told otherwise). The policy is
chosen with --policy, else the MALLOCSIM_POLICY environment variable, else
the default. Its exit status is the program's (128 + N when signal N ended
it); a program that cannot be started is a usage error.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from mallocsim._native import NATIVE_DIR
from mallocsim.errors import UsageError
from mallocsim.stopping import STOP_SIGNALS

DROPIN_LIBRARY = "libmallocsim.so"
POLICY_VARIABLE = "MALLOCSIM_POLICY"


def native_library(name: str) -> Path:
    """A library `make native` builds, or a usage error saying how to build it."""
    path = NATIVE_DIR / name
    if not path.exists():
        raise UsageError(f"{path} is not built: run `make native` in the checkout")
    return path


def dropin_library(policy: str | None) -> Path:
    """The drop-in library of `policy` (None: the default one)."""
    if not policy:
        return native_library(DROPIN_LIBRARY)
    path = NATIVE_DIR / f"libmallocsim-{policy}.so"
    if not path.exists():
        built = sorted(
            p.name[len("libmallocsim-") : -len(".so")] for p in NATIVE_DIR.glob("libmallocsim-*.so")
        )
        known = ", ".join(built) or "none (run `make native`)"
        raise UsageError(f"no drop-in library for policy {policy!r}; built: {known}")
    return path


def command_of(args: argparse.Namespace) -> list[str]:
    """The program and its arguments after `--`."""
    command = list(args.program)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise UsageError("no program given: put it after --, e.g. `-- python3 script.py`")
    return command


def run_preloaded(command: Sequence[str], library: Path, extra_env: Mapping[str, str] = {}) -> int:
    """Run `command` with `library` preloaded; its exit status, 128 + N for signal N.

    Ctrl-C reaches the program from the terminal and the program decides what
    to do with it; this process ignores it meanwhile, as a shell does, so that
    `record` still writes the trace of a program stopped by Ctrl-C. SIGTERM and
    SIGHUP, sent to this process alone (a batch system's limit, `kill`), are
    passed on to the program, and this process waits for it as for Ctrl-C: they
    killed it and left the program running, no trace written, its temporary
    folder behind (red-team pass 27)."""
    env = dict(os.environ, **extra_env)
    env["LD_PRELOAD"] = " ".join(filter(None, [str(library), env.get("LD_PRELOAD", "")]))
    started: list[subprocess.Popen[bytes]] = []
    pending: list[int] = []

    def pass_on(signum: int, frame: object) -> None:
        if started:
            started[0].send_signal(signum)
        else:
            pending.append(signum)  # sent on once the program is there

    # The stop signals are caught before the program starts (its exec resets a caught signal to
    # the default): caught only after, one that came as the program started killed this process
    # alone, the program ran on holding its output (a loaded CI machine). Ctrl-C is ignored only
    # once the program runs: it must not inherit SIG_IGN.
    previous = {number: signal.signal(number, pass_on) for number in STOP_SIGNALS}
    try:
        try:
            started.append(subprocess.Popen(list(command), env=env))
        except OSError as error:
            raise UsageError(f"cannot run {command[0]}: {error.strerror}") from None
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
        for number in pending:
            started[0].send_signal(number)
        status = started[0].wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 128 - status if status < 0 else status


def add_command_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "program",
        nargs=argparse.REMAINDER,
        metavar="-- CMD...",
        help="the program to run and its arguments",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run", help="run a program on our malloc (LD_PRELOAD)", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--policy",
        metavar="NAME",
        help=f"built-in policy to run on (default: ${POLICY_VARIABLE}, else the build's default)",
    )
    parser.add_argument(
        "--options",
        metavar="OPTS",
        help="policy options, passed to its mm_configure (MALLOCSIM_OPTIONS)",
    )
    add_command_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    command = command_of(args)
    extra = {"MALLOCSIM_OPTIONS": args.options} if args.options else {}
    library = dropin_library(args.policy or os.environ.get(POLICY_VARIABLE))
    return run_preloaded(command, library, extra)
