"""`mallocsim record -o out.rep -- CMD...`: record a program's allocations as a trace.

The program runs with the recorder (libmsrecord.so) preloaded, which logs
every allocation call of it and of its child processes; the log then becomes
a classic-format trace (see mallocsim.record for what is kept and dropped).
The exit status is the program's; the trace is written whatever it was.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from mallocsim.commands.run import add_command_argument, command_of, native_library, run_preloaded
from mallocsim.elf import ElfError, is_program
from mallocsim.errors import UsageError
from mallocsim.files import same_file
from mallocsim.record import RecordStats, convert_logs

RECORDER_LIBRARY = "libmsrecord.so"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "record",
        help="record a program's allocations as a trace",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT.rep", help="the trace to write"
    )
    parser.add_argument(
        "--log", metavar="FILE", help="keep the recorder's raw log here (default: a temporary file)"
    )
    add_command_argument(parser)
    parser.set_defaults(run=run)


def summary(stats: RecordStats) -> str:
    """One line on what the trace holds, what was dropped and what was changed."""
    return (
        f"{stats.ops} ops, {stats.ids} ids, peak {stats.peak_live_bytes} live bytes, "
        f"{stats.images} process images; dropped: {stats.foreign_frees} frees of blocks from "
        f"before recording, {stats.null_frees} free(NULL), {stats.failed_calls} failed calls; "
        f"changed: {stats.foreign_reallocs} reallocs of blocks from before recording made "
        f"allocations, {stats.lost_frees} frees the log missed supplied"
    )


def _statically_linked(program: str) -> bool:
    """Whether `program` is an ELF file with no program interpreter (a script, or anything
    that cannot be read, is not)."""
    try:
        return not is_program(program)
    except (ElfError, OSError):
        return False


def run(args: argparse.Namespace) -> int:
    command = command_of(args)
    program = shutil.which(command[0]) or command[0]
    for target in filter(None, (args.output, args.log)):  # before the program runs, not after
        if not Path(target).absolute().parent.is_dir():
            raise UsageError(f"{target}: no such folder to write into")
        if same_file(target, program):  # `record -o prog -- ./prog` wrote the trace over it
            raise UsageError(f"{target}: the program this records: it is never written over")
    if _statically_linked(program):  # it recorded nothing and said 0 ops, exit 0 (pass 27)
        raise UsageError(
            f"{command[0]}: statically linked: LD_PRELOAD cannot reach its malloc, so none of its "
            "calls could be recorded"
        )
    library = native_library(RECORDER_LIBRARY)
    with tempfile.TemporaryDirectory(prefix="mallocsim-record-") as scratch:
        log = Path(args.log) if args.log else Path(scratch) / "calls.log"
        log.unlink(missing_ok=True)  # the recorder appends
        status = run_preloaded(command, library, {"MALLOCSIM_RECORD": str(log.resolve())})
        # The recorder opens its log at the program's first call: no log, no call to record.
        stats = convert_logs([log] if log.exists() else [], Path(args.output))
    print(f"{args.output}: {summary(stats)}", file=sys.stderr)
    return status
