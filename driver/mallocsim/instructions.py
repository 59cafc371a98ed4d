"""Instruction counts per op with valgrind: a speed figure that machine noise
does not move.

A valgrind process runs mscount (c/src/count_main.c) on the
allocator with its run-time options (implicit:best is counted as best fit),
which replays each trace through the engine's timed loop. Two ways:
- warm (count_instructions, for `bench`): callgrind collects only inside each
  pass and dumps a profile after it; each trace, in a valgrind process of its
  own, is replayed twice and the second (warm) pass counts, the first paying
  one-time costs such as lazy symbol binding;
- one cold pass (pass_instructions, for grades): cachegrind with no cache
  simulation, several times faster than callgrind on a slow student allocator
  (24 s against 3.5 s for an implicit list on the CS:APP traces), each pass in
  a forked child whose profile is read by its pid; a pass's own count is the
  child's less what the parent had counted when it forked (mscount's banner).
  With warm=True (the clock check's reference, glibc, whose timed passes run
  warm), the second of two passes in one child, less what the first cost.
In both, the blocks a pass leaves live are freed outside what is counted,
and mscount runs without the grader's LD_PRELOAD (run_mscount), so
the count is the allocator's alone; a production reference (jemalloc,
mimalloc, tcmalloc) is preloaded alone, as when it is timed, and counted as
the system malloc. A -m32 build is counted by the 32-bit
mscount (valgrind then runs its x86 tool), and so is the system malloc
beside it (AllocatorSpec.word_size "32"). mscount's output is read strictly
(counter_lines): the allocator shares its process and can write into it.
Either way the fixed cost of a pass (heap reset and mm_init), counted on an
empty trace, is subtracted from every trace's before dividing by its ops.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from mallocsim._native import NATIVE_DIR, engine_dir
from mallocsim.allocators import AllocatorSpec, library_for
from mallocsim.build import kept_environment
from mallocsim.errors import UsageError
from mallocsim.labs import LABS, LabProfile
from mallocsim.references import REFERENCES
from mallocsim.safe_text import printable
from mallocsim.sandbox import ASLEEP_SECONDS, ASLEEP_STATES, stat_fields, untrusted
from mallocsim.trace import Trace, reading_arguments

_TOTALS = re.compile(rb"^(?:totals|summary): ([0-9]{1,20})", re.M)
_DUMP = re.compile(r"\.[0-9]{1,9}")  # a callgrind dump's suffix
_NUMBER = re.compile(r"-?[0-9]{1,20}")  # a number of mscount's output
OUTPUT_BYTES = 16 << 20  # of mscount's output, what is read: a pass is one short line
PROFILE_BYTES = 64 << 20  # of a profile, what is read: cachegrind's are a few KiB


COUNT_TIMEOUT = 1800.0  # seconds for one allocator's callgrind run over all its traces


def require_valgrind(asked_by: str) -> str:
    """valgrind's path; a UsageError naming what asked for it when it is not installed."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise UsageError(f"{asked_by} needs valgrind (apt-get install valgrind)")
    return valgrind


def count_instructions(
    spec: AllocatorSpec,
    traces: Sequence[Trace],
    timeout: float = COUNT_TIMEOUT,
    glibc_warm: bool = False,
) -> dict[str, float]:
    """Warm instructions per op for each trace (by trace name) on one allocator,
    by callgrind, each trace in a valgrind process of its own: counted after
    other traces, the system malloc's figure would depend on the heap they left
    (realloc-bal: 976 instructions per op so, 130 alone). `glibc_warm`: glibc
    keeps its pages there too (bench --glibc-warm). A trace the allocator fails
    under callgrind is left out. Raises UsageError when callgrind cannot run it
    at all (or not within `timeout` s)."""
    counts: dict[str, float] = {}
    for trace in traces:
        count = _count_warm(spec, trace, timeout, glibc_warm)
        if count is not None:
            counts[trace.name] = count
    return counts


def _count_warm(
    spec: AllocatorSpec, trace: Trace, timeout: float, glibc_warm: bool
) -> float | None:
    """One trace's warm instructions per op, less an empty trace's (mm_init and
    the heap's reset), both counted in one callgrind run; None when it failed."""
    with tempfile.TemporaryDirectory(
        prefix="mallocsim-callgrind-", ignore_cleanup_errors=True
    ) as scratch:
        tool = [
            "--tool=callgrind",
            f"--callgrind-out-file={Path(scratch) / 'callgrind.out'}",
            "--collect-atstart=no",
            "--toggle-collect=count_pass",
            "--dump-after=count_pass",
        ]
        if trace.path is None:
            raise UsageError(f"{trace.name}: instructions are counted on traces from files only")
        flags = [
            *(["--glibc-warm"] if glibc_warm else []),
            *(["--verify"] if untrusted(spec) else []),  # its pointers checked after each pass
            *reading_arguments([trace]),
        ]
        stdout = _run_mscount(
            spec, LABS[spec.lab], tool, flags, [trace.path], timeout, "callgrind", scratch
        )
        # Numbered as callgrind numbers its dumps; the code counted may have put others there.
        numbered = [p for p in Path(scratch).glob("callgrind.out.*") if _DUMP.fullmatch(p.suffix)]
        dumps = sorted(numbered, key=lambda p: int(p.suffix[1:]))
        ops = [row[0] for row in counter_lines(stdout, 1, f"callgrind run of {spec.name}")]
        totals = [_total(dump) for dump in dumps[1::2]]  # the warm pass of each pair
        if len(totals) != 2 or len(ops) != 2:
            raise UsageError(f"callgrind gave {len(totals)} profiles for {trace.path}")
        baseline, total = totals
        return (total - baseline) / ops[1] if ops[1] else None  # 0 ops: it failed in mscount


FORKED_EMPTIES = 3  # mscount --forked: empty passes before the traces'


@dataclass(frozen=True)
class CountedPasses:
    """What the count measured of each trace's pass, by trace name."""

    instructions: dict[str, float]  # without the fixed cost of a pass; failed passes left out
    heaps: dict[str, int]  # each counted pass's heap high-water mark, on our heap (none on glibc)


def _forked_counts(
    spec: AllocatorSpec,
    lab: LabProfile,
    traces: Sequence[str | Path],
    timeout: float,
    warm: bool = False,
    reading: Sequence[str] = (),
) -> CountedPasses:
    """One pass of each trace, by cachegrind and mscount --forked: a cold pass,
    or with `warm` a second one, on the heap the first left (mscount --forked
    --warm); a trace whose pass failed is left out."""
    with tempfile.TemporaryDirectory(
        prefix="mallocsim-cachegrind-", ignore_cleanup_errors=True
    ) as scratch:
        tool = [
            "--tool=cachegrind",
            "--cache-sim=no",
            f"--cachegrind-out-file={Path(scratch) / 'cachegrind.%p'}",
        ]
        flags = [*(["--forked", "--warm"] if warm else ["--forked"]), *reading]
        stdout = _run_mscount(spec, lab, tool, flags, traces, timeout, "cachegrind", scratch)
        # pid, status, ops, heap high-water mark
        children = counter_lines(stdout, 4, f"cachegrind run of {spec.name}")
        per_job = 2 if warm else 1
        if len(children) != per_job * (len(traces) + FORKED_EMPTIES):
            raise UsageError(f"cachegrind counted {len(children)} passes of {len(traces)} traces")
        totals = [_total(Path(scratch) / f"cachegrind.{pid}") for pid, _, _, _ in children]
        failed = [status != 0 for _, status, _, _ in children]
        heaps = [heap for _, _, _, heap in children[per_job - 1 :: per_job]]
        if warm:
            # Each job's second child less its first: the warm pass plus the parent's fixed
            # step between forks, the empty trace's (job 1: job 0 pays the lazy binding)
            # a pass's fixed cost plus that step.
            pairs = zip(totals[::2], totals[1::2], strict=True)
            costs = [second - first if first and second else 0 for first, second in pairs]
            failed = [a or b for a, b in zip(failed[::2], failed[1::2], strict=True)]
            base, step = costs[1], 0
        else:
            # The first empty pass pays the parent's lazy binding; the next two give
            # the fixed cost of a pass (with the parent's count at the second fork)
            # and the parent's fixed step between forks. Trace k's child was forked
            # FORKED_EMPTIES - 1 + k steps after the second.
            costs = totals
            base, step = totals[1], totals[2] - totals[1]
        counted = [
            (Path(trace).stem, cost - base - step * (FORKED_EMPTIES - 1 + k), heap)
            for k, (trace, cost, bad, heap) in enumerate(
                zip(
                    traces,
                    costs[FORKED_EMPTIES:],
                    failed[FORKED_EMPTIES:],
                    heaps[FORKED_EMPTIES:],
                    strict=True,
                )
            )
            if not bad and cost  # the pass failed, or wrote no profile
        ]
        return CountedPasses(
            {name: cost for name, cost, _ in counted},
            {name: heap for name, _, heap in counted if heap},
        )


def counter_lines(stdout: str, fields: int, what: str) -> list[list[int]]:
    """mscount's standard output, each line `fields` integers. The allocator counted
    runs in mscount's process and can write into its output (the attack corpus's
    PIPE_GARBAGE does): a line of anything else is a UsageError naming `what`, never
    a traceback. A forged line of numbers gains nothing the clock check lets stand. Nothing
    of what was written is shown, not even where: the code that wrote it can read the traces,
    and a hidden trace's first bytes reached the grade's notes as the line quoted (red-team
    pass 20), two of them as the line's number (pass 21)."""
    rows = []
    for line in stdout.splitlines():
        words = line.split()
        if len(words) != fields or not all(_NUMBER.fullmatch(w) for w in words):
            raise UsageError(
                f"{what}: the counter's output was written over (by the allocator, which "
                "shares its process)"
            )
        rows.append([int(word) for word in words])
    return rows


# valgrind counts every iteration of a rep-prefixed string instruction as an instruction, and
# glibc's memcpy and memset use rep movsb and rep stosb past a few KiB (ERMS): a realloc that
# copied 100 KiB was charged about 100,000 instructions where the vector loop the same copy
# otherwise takes runs about 10,000, at the same speed. A public CMU solution's realloc-bal
# counted 102,764 an op that way, 30 times what its timed passes explained; a tenth without.
# Counted runs therefore never take that path (glibc's tunables, read at load).
COUNTED_GLIBC_TUNABLES = (
    "glibc.cpu.x86_rep_movsb_threshold=0x7fffffffffffffff:"
    "glibc.cpu.x86_rep_stosb_threshold=0x7fffffffffffffff"
)


MESSAGE_CHARACTERS = 300  # of a failed count's last line, what a grade shows


def _run_mscount(
    spec: AllocatorSpec,
    lab: LabProfile,
    tool: list[str],
    flags: list[str],
    traces: Sequence[str | Path],
    timeout: float,
    tool_name: str,
    scratch: str,
) -> str:
    """mscount on the allocator and traces under valgrind with the tool's
    options: its standard output. Someone else's allocator is counted in the
    sandbox msconfine sets up (sandbox.c): files read only beneath the system's
    folders, the engine's, the library's, the traces and `scratch`, written
    only in `scratch`, where valgrind writes its profiles; no network, no
    signal outside it; and none of the grader's environment but the search
    path and the locale. Raises UsageError when it cannot run at all."""
    valgrind = require_valgrind("counting instructions")
    # A production reference is the process's malloc, preloaded, as when it is timed; mscount
    # replays the system malloc ("-"), which is then that library's.
    preload = spec.path if spec.kind == "reference" else None
    library = None if preload else library_for(spec)
    engine = engine_dir(library, spec.word_size)
    loaded = None
    if library is not None:
        # Loaded by a name of one length whatever the file's (the loader keeps the name in memory
        # it takes from the heap mscount's own calls share): the same bytes named c8_jinanpiwang.c
        # and mm.c counted 7 instructions apart on some traces (lab check run 14).
        loaded = Path(scratch) / "libmm.so"
        loaded.symlink_to(library)
    # The heap where the lab's memlib puts it, if anywhere (counted elsewhere, code that relies on
    # that address crashes only in the count); a 32-bit heap lies below 4 GiB wherever it can.
    at = lab.heap_at if library is not None and engine == NATIVE_DIR else None
    placement = [f"--heap-at={at:#x}"] if at else []
    # And the lab's heap limit: an allocator that grows by less when mem_sbrk refuses placed its
    # blocks otherwise where it was counted without one (22.0 MB against 16.3 under the CS:APP
    # lab's 20 MB, red-team pass 28).
    limit = lab.heap_limit if library is not None else None
    placement += [f"--heap-limit={limit}"] if limit else []
    environment = {"TMPDIR": scratch, "GLIBC_TUNABLES": COUNTED_GLIBC_TUNABLES}
    if preload is not None:
        environment.update(REFERENCES[spec.name].env, LD_PRELOAD=str(preload))
    confine: list[str] = []
    kept = None
    feed: Sequence[str | Path] = ()
    if untrusted(spec):
        # /proc/self: valgrind reads its own maps; resolved by msconfine, whose process it is.
        # The library file, not its build folder and the sources there (pass 19, sandbox.c).
        # Not the traces: mscount reads them from a socket once the allocator is loaded, so that
        # no code of the allocator's sees them uncounted (count_main.c, red-team pass 30).
        readable = [str(engine), "/proc/self", *([str(library)] if library else [])]
        # Each of its processes' CPU time bounded by the count's: should this grader be killed
        # in the middle, nothing else ends them.
        cpu = str(math.ceil(timeout))
        confine = [str(NATIVE_DIR / "msconfine"), scratch, cpu, *readable, "--"]
        kept = kept_environment(scratch)
        feed = traces
        _lead_back_to_itself(scratch)
    command = [
        *confine,
        valgrind,
        "--vgdb=no",  # no FIFO of its own in /tmp: the sandbox writes only in scratch
        # No call into valgrind's preloaded code at the end, which mscount blanks at its start:
        # that code holds a client request an allocator could jump to (count_main.c).
        "--run-libc-freeres=no",
        "--run-cxx-freeres=no",
        *tool,
        # A -m32 build's (and the system malloc's beside one): valgrind runs its x86 tool.
        str(engine / "mscount"),
        *flags,
        *([f"--traces-on={FEED_PLACEHOLDER}", f"--root={scratch}"] if feed else []),
        *placement,
        spec.dialect,
        str(loaded) if loaded else "-",
        spec.options,
        *map(str, traces),
    ]
    # TMPDIR: valgrind's temporary files go where the sandbox lets it write.
    what = f"{tool_name} run of {spec.name}"
    done = run_mscount(command, timeout, what, kept, scratch, niced=True, feed=feed, **environment)
    if done.returncode < 0 or done.returncode > 2:
        raise UsageError(
            f"{tool_name} run of {spec.name} ended with status {done.returncode} "
            "(the allocator crashed under valgrind)"
        )
    if done.returncode == 2 and untrusted(spec):
        # Its words unshown: the student's code shares mscount's stderr, and can read the traces
        # the count may read (a constructor wrote a hidden trace there, line by line, and exited
        # 2: red-team pass 10). Its library loaded in the agent before, so mscount's own reasons
        # (a library that does not load) do not arise here.
        raise UsageError(
            f"{tool_name} run of {spec.name} failed (status 2; what was said there is not "
            "shown: the allocator's code shares that process and could have written it)"
        )
    if done.returncode == 2:
        # mscount's own last line, not valgrind's "==pid==" summary after it; printable and cut.
        lines = [line for line in done.stderr.splitlines() if not line.startswith("==")]
        tail = printable((lines or ["no output"])[-1][:MESSAGE_CHARACTERS], lines=False)
        raise UsageError(f'{tool_name} run of {spec.name} failed, saying "{tail}"')
    return done.stdout


FEED_PLACEHOLDER = "{FEED}"  # in run_mscount's command: the traces' socket's descriptor


def _lead_back_to_itself(folder: str) -> None:
    """Make `folder`'s own path, looked up inside it, lead to it: the count's root is the folder
    once it is sealed (mscount --root, sandbox.c's ms_sandbox_take_root), and valgrind goes on
    writing its profiles by the paths it was given. /a/b/c gets a/b/ and a link a/b/c -> ../..,
    which leads to /a/b/c from the real root as from the count's."""
    parts = Path(folder).parts[1:]
    parent = Path(folder).joinpath(*parts[:-1])
    parent.mkdir(parents=True, exist_ok=True)
    (parent / parts[-1]).symlink_to(Path(*[".."] * (len(parts) - 1)) if len(parts) > 1 else ".")


def run_mscount(
    command: Sequence[str],
    timeout: float,
    what: str,
    inherited: dict[str, str] | None = None,
    folder: str | None = None,
    niced: bool = False,
    feed: Sequence[str | Path] = (),
    **environment: str,
) -> subprocess.CompletedProcess[str]:
    """Run mscount (or valgrind over it) to its end, with `environment` added to
    `inherited` (by default this process's, less LD_PRELOAD: what the grader's
    process preloads, another malloc or a profiler, is no part of the allocator
    counted or timed, nor would glibc then be glibc). Past `timeout` seconds, or once
    `folder` (the one it may write in) holds more than COUNT_FOLDER_BYTES or
    COUNT_FOLDER_FILES: a UsageError naming `what`. `niced`: it runs COUNT_NICENESS
    below the grader (a count, whose figure no load moves; never a timing). The code
    counted shares mscount's process: its output goes to files, of which OUTPUT_BYTES are read,
    decoded whatever the bytes (1 GiB written to a pipe took 3 GB of the grader; a
    byte 0xff, a traceback), and the process group it runs in is killed once it
    ends (the count's sandbox keeps every process it starts in that group: one
    that left by setsid outlived the grade, writing). `feed`: trace files whose
    bytes go down a socket, each after a line of its length (mscount --traces-on),
    whose descriptor replaces FEED_PLACEHOLDER in `command`. A socket, not a pipe:
    a pipe's data read early could be written back through /proc/self/fd, a second
    writing end of the same pipe (red-team pass 31)."""
    if inherited is None:
        inherited = {name: value for name, value in os.environ.items() if name != "LD_PRELOAD"}
    grader_end, count_end = socket.socketpair() if feed else (None, None)
    handed = (count_end.fileno(),) if count_end is not None else ()
    command = [arg.replace(FEED_PLACEHOLDER, str(next(iter(handed), ""))) for arg in command]
    writer = None
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env={**inherited, **environment},
                start_new_session=True,
                preexec_fn=_lower_priority if niced else None,
                pass_fds=handed,
            )
        except BaseException:
            if grader_end is not None:
                grader_end.close()
            raise
        finally:
            if count_end is not None:
                count_end.close()
        if grader_end is not None:
            writer = threading.Thread(target=_feed_traces, args=(grader_end, feed), daemon=True)
            writer.start()
        try:
            _wait_watching(process, timeout, what, folder)
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # what is left of its group
            process.wait()
            if writer is not None:
                writer.join()  # the socket's reader is gone: it ends, written or broken
        return subprocess.CompletedProcess(command, process.returncode, _head(out), _head(err))


# What mscount reads from the traces' socket once the allocator is loaded and checked, before the
# traces, which are sent only once it is read (count_main.c's TRACES_PREAMBLE).
TRACES_PREAMBLE = b"mallocsim traces\n"
FEED_LOOK_SECONDS = 0.005  # how often the writer looks whether the preamble was read


def _feed_traces(connection: socket.socket, traces: Sequence[str | Path]) -> None:
    """TRACES_PREAMBLE down `connection`, then, once the reader has read it all, each trace
    file's bytes after a line of its length, then its writing side shut and it closed; a
    reader that went (the count ended, or never read) ends it early. Sent at once, the traces
    lay in the socket while the allocator's constructors ran, which could read them without
    taking them (recv with MSG_PEEK) and replay them uncounted (red-team pass 32)."""
    with contextlib.suppress(OSError), connection:
        connection.sendall(TRACES_PREAMBLE)
        while _unread(connection) > 0:  # 0 too once the reader is gone: the send then fails
            time.sleep(FEED_LOOK_SECONDS)
        for trace in traces:
            data = Path(trace).read_bytes()
            connection.sendall(f"{len(data)}\n".encode() + data)
        connection.shutdown(socket.SHUT_WR)


def _unread(connection: socket.socket) -> int:
    """The bytes sent down `connection` that its reader has not read (taken: a peek leaves
    them): a Unix socket's queue is charged to its writer until then (SIOCOUTQ)."""
    answer = fcntl.ioctl(connection.fileno(), termios.TIOCOUTQ, bytes(4))
    return int.from_bytes(answer, sys.byteorder, signed=True)


# A count runs valgrind and, one at a time, a forked child per pass: a few processes. Root is
# exempt from RLIMIT_NPROC, so the count's group is watched instead: a constructor that forked
# until the kernel refused took every pid on the machine, and the classmates graded beside it got
# "Resource temporarily unavailable" (red-team pass 12).
COUNT_PROCESSES = 64
COUNT_LOOK_SECONDS = 0.05
# A count runs this much below the grader's priority, and so do all the processes it starts (the
# sandbox gives up the capability to raise it back): a count's figure does not depend on its
# speed, a classmate's timed passes do, and 56 busy processes of one count beside them had honest
# files' clock checks fail, 30 points lost (red-team pass 21).
COUNT_NICENESS = 10


def _lower_priority() -> None:
    """In the count's process, before it starts (run_mscount)."""
    os.nice(COUNT_NICENESS)


# What the count's folder may hold: valgrind's profiles take a few megabytes. Each file is bounded
# (RLIMIT_FSIZE, sandbox.c), not their number: a count that wrote 200 MiB files until the disk was
# full gave its classmates' builds "does not compile" (red-team pass 20).
COUNT_FOLDER_BYTES = 256 << 20
# And the files it may hold: a profile a pass. Empty files take no blocks but an inode each, and
# a count that made them until the file system had none left stopped a whole class run, the
# coordinator unable to write its own files (red-team pass 21).
COUNT_FOLDER_FILES = 1000


def _wait_watching(
    process: subprocess.Popen[bytes], timeout: float, what: str, folder: str | None = None
) -> None:
    """Wait for the count to end; UsageError past `timeout`, once its process group (it
    cannot leave it: the sandbox) holds more than COUNT_PROCESSES tasks, once none of
    them has run for ASLEEP_SECONDS (_group_tasks), or once `folder` holds more than
    COUNT_FOLDER_BYTES or COUNT_FOLDER_FILES (_folder_overgrown)."""
    deadline = time.monotonic() + timeout
    running_at = time.monotonic()
    while True:
        try:
            process.wait(min(COUNT_LOOK_SECONDS, max(0.0, deadline - time.monotonic())))
            return
        except subprocess.TimeoutExpired:
            now = time.monotonic()
            if now >= deadline:
                raise UsageError(f"{what} did not finish within {timeout:g} s") from None
            size, asleep = _group_tasks(process.pid)
            if size > COUNT_PROCESSES:
                raise UsageError(
                    f"{what} was stopped: its process group held more than {COUNT_PROCESSES} "
                    "processes or threads (the allocator's code started them)"
                ) from None
            if folder is not None and _folder_overgrown(folder):
                raise UsageError(
                    f"{what} was stopped: it wrote more than {COUNT_FOLDER_BYTES >> 20} MiB, or "
                    f"{COUNT_FOLDER_FILES} files, in its folder (the allocator's code wrote them)"
                ) from None
            if not asleep:
                running_at = now
            elif now - running_at >= ASLEEP_SECONDS:
                raise UsageError(
                    f"{what} was stopped: none of its processes ran for {ASLEEP_SECONDS:g} s "
                    "(the allocator's code slept or stopped)"
                ) from None


def _group_tasks(group: int) -> tuple[int, bool]:
    """How many tasks the processes of process group `group` hold, each one's threads and a
    zombie as one (it holds its pid until reaped), and whether every one of its processes is
    asleep, stopped (ASLEEP_STATES) or a zombie (which never runs again: one left unreaped beside
    a sleeper held the count for its whole budget, red-team pass 18). Counted so, not by live
    processes: zombies never reaped and threads (not in /proc's listing) took every pid past a
    watch of processes (red-team pass 13: 390 zombies, 3,936 threads, the grade as honest)."""
    size, asleep = 0, True
    for entry in Path("/proc").iterdir():
        fields = stat_fields(int(entry.name)) if entry.name.isdigit() else []
        with contextlib.suppress(IndexError, ValueError):
            if int(fields[2]) == group:
                size += max(1, int(fields[17]))  # num_threads
                asleep = asleep and (fields[0] in ASLEEP_STATES or fields[0] == "Z")
    return size, asleep and size > 0


def _folder_overgrown(folder: str) -> bool:
    """Whether the files directly in `folder` take more than COUNT_FOLDER_BYTES on disk, or
    are more than COUNT_FOLDER_FILES (the count makes regular files only, no folder, and none
    without a name: sandbox.c)."""
    total = 0
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for number, entry in enumerate(entries, 1):
            with contextlib.suppress(OSError):
                total += entry.stat(follow_symlinks=False).st_blocks * 512
            if number > COUNT_FOLDER_FILES or total > COUNT_FOLDER_BYTES:
                return True
    return False


def _head(file: IO[bytes]) -> str:
    """The first OUTPUT_BYTES of a process's output file, as text."""
    file.seek(0)
    return file.read(OUTPUT_BYTES).decode(errors="replace")


def _total(dump: Path) -> int:
    """The profile's instruction total; 0 when there is none (a pass killed before
    valgrind could write it: by the sandbox, or by its own hand), or when it is no
    regular file: the code counted can write in the profiles' folder, and a FIFO
    there hung the grader, a link to /dev/zero would fill its memory."""
    try:
        fd = os.open(dump, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return 0
    with os.fdopen(fd, "rb") as profile:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return 0
        match = _TOTALS.search(profile.read(PROFILE_BYTES))
    return int(match.group(1)) if match else 0


def pass_instructions(
    spec: AllocatorSpec,
    traces: Sequence[Trace],
    timeout: float = COUNT_TIMEOUT,
    warm: bool = False,
) -> dict[str, float]:
    """counted_passes' instructions alone (the references' counts)."""
    return counted_passes(spec, traces, timeout, warm).instructions


def counted_passes(
    spec: AllocatorSpec,
    traces: Sequence[Trace],
    timeout: float = COUNT_TIMEOUT,
    warm: bool = False,
    lab: LabProfile | None = None,
) -> CountedPasses:
    """One pass of each trace counted: its instructions, without the fixed cost
    of a pass, the cost a deterministic throughput is computed from (one cold
    pass, not a warm second one: the same on every run, in a fraction of the
    time). `warm`: the second pass of each trace instead, on the heap the first
    left, as the system's malloc is timed (twice the passes). And, on our heap,
    the pass's heap high-water mark: where it placed its blocks, to hold to the
    checked passes'. `lab`: the rules the heap is counted under (a course's own heap limit),
    when not spec's lab's own. Raises UsageError when valgrind cannot run it at all."""
    paths = [trace.path for trace in traces if trace.path is not None]
    if not paths:
        return CountedPasses({}, {})
    rules = lab or LABS[spec.lab]
    return _forked_counts(spec, rules, paths, timeout, warm, reading_arguments(traces))
