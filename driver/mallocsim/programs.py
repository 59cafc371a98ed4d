"""Real-program benchmarks: small C programs in the spirit of the well-known
allocator suites, run under glibc, our drop-in and the production allocators.

The programs (c/bench/, one file each, its banner saying what it models):
  larson         a server's churn: threads replacing random blocks, handing
                 them to the next thread (Larson and Krishnan)      ops/s
  xmalloc        producers allocate, consumers free (Lever and Boreham)  ops/s
  cache-thrash   active false sharing (Hoard)                       seconds
  cache-scratch  passive false sharing (Hoard)                      seconds
  churn          a single-threaded churn of small mixed sizes (cfrac,
                 espresso)                                          seconds
  large          blocks of 64 KiB to 4 MiB (malloc-large)           seconds
  rptest         threads replacing blocks of 8 bytes to 16 KB, most past
                 the thread caches, some freed by the next thread
                 (rpmalloc's benchmark)                             ops/s
Each prints one line, "NAME VALUE UNIT" (c/bench/bench.h states the
contract). build_programs compiles them with the C compiler ($CC, else cc)
into build/bench-programs/ of the checkout, again only when a source, the
shared header or the flags changed.

An allocator is glibc (no preload), mallocsim (our drop-in, libmallocsim.so;
mallocsim-<policy> for another policy's build), jemalloc, mimalloc or tcmalloc
(references.require finds their libraries) or a path to any drop-in malloc
library; each runs with LD_PRELOAD naming its library alone and with its own
defaults (no tuning variables). One whose library is missing is skipped with
the line that says how to install or build it. Our drop-in runs from a copy
taken at the start (pinned), so that a `make native` during the minutes of a
suite cannot mix two builds in one table.

A configuration is a program and, for a threaded one, a thread count. Every
configuration runs `repeat` times under every allocator, interleaved: round
by round, configuration by configuration, the allocators one after the other
in an order rotated each round, so that a change in the machine's load falls
on all of them alike. Each run is a child process of its own, measured from
outside as well: its wall time, and its peak RSS (os.wait4's ru_maxrss: the
whole process, program and allocator). A run that crashes, exits with an
error, prints no figure or outlives the time limit fails its cell with one
line saying so; that cell is not run again, and every other cell is kept.

Ratios to glibc are "higher is better" both: speed is glibc's median time
over the allocator's (or the allocator's median ops/s over glibc's), memory
is glibc's median peak RSS over the allocator's. Across configurations they
are summarized by geometric means.
"""

from __future__ import annotations

import math
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from mallocsim._native import NATIVE_DIR
from mallocsim.allocators import AllocatorError
from mallocsim.elf import ElfError, is_program, word_bits
from mallocsim.errors import UsageError
from mallocsim.forbidden import dynamic_symbols
from mallocsim.numbers import duration, kops
from mallocsim.progress import tick_active
from mallocsim.references import REFERENCES, ReferenceMissing, require
from mallocsim.results import geomean
from mallocsim.safe_text import printable
from mallocsim.stats import Stats, describe

REPO = Path(__file__).resolve().parent.parent.parent  # the checkout holding c/bench
SOURCE_DIR = REPO / "c" / "bench"
BUILD_DIR = REPO / "build" / "bench-programs"
HEADER = "bench.h"  # what every program includes
LAUNCHER = "measure"  # measure.c: runs a program, reports its wall time and peak RSS
REPORT_FD = 3  # where the launcher writes its report
# The Makefile's C standard and warnings (CSTD, WARN), optimized as a release is.
FLAGS = (
    "-std=c11",
    "-D_GNU_SOURCE",
    "-O2",
    "-Wall",
    "-Wextra",
    "-Wshadow",
    "-Wstrict-prototypes",
    "-Wmissing-prototypes",
    "-pthread",
)
LIBRARIES = ("-lm",)

REFERENCE = "glibc"  # what every ratio is to; always run
DROPIN = "mallocsim"  # our drop-in malloc, libmallocsim.so
DEFAULT_ALLOCATORS = (REFERENCE, DROPIN, "jemalloc", "mimalloc", "tcmalloc")
DEFAULT_THREADS = (1, 2)
DEFAULT_REPEAT = 5
DEFAULT_TIMEOUT = 30.0  # seconds a run may take: a suite's run takes about half a second
SECONDS, OPS = "s", "ops/s"  # the units a program prints its figure in
STDERR_SHOWN = 120  # characters of a failed run's last stderr line kept in its error


@dataclass(frozen=True)
class Program:
    """A benchmark program: c/bench/<name>.c, built to <build dir>/<name>."""

    name: str  # its file's stem, its CLI and JSON name, and the first word it prints
    models: str  # what it models (after which benchmark): a few words, for titles
    unit: str  # SECONDS (lower is better) or OPS (higher is better)
    threaded: bool  # takes -t (for xmalloc: producer-consumer pairs)
    work_flag: str  # the option that sets how much it does
    work: float  # that option's value in the suite (the program's own default)
    whole: bool = True  # the work is a whole number (a count, not seconds)
    thread_word: str = "thread"  # what -t counts, for labels

    def arguments(self, threads: int | None, scale: float = 1.0) -> list[str]:
        """Its command-line arguments for `threads` (None: unthreaded), its
        work multiplied by `scale` (at least 1 step, or a millisecond)."""
        amount = self.work * scale
        work = str(max(1, round(amount))) if self.whole else f"{max(0.001, amount):g}"
        thread_args = ["-t", str(threads)] if self.threaded and threads is not None else []
        return [*thread_args, self.work_flag, work]

    def label(self, threads: int | None) -> str:
        """Its name in tables: "larson, 2 threads", "xmalloc, 1 pair", "churn"."""
        if not self.threaded or threads is None:
            return self.name
        return f"{self.name}, {threads} {self.thread_word}{'' if threads == 1 else 's'}"


PROGRAMS: dict[str, Program] = {
    p.name: p
    for p in (
        Program("larson", "server churn (Larson)", OPS, True, "-s", 0.5, whole=False),
        Program(
            "xmalloc",
            "cross-thread frees (xmalloc-test)",
            OPS,
            True,
            "-s",
            0.5,
            whole=False,
            thread_word="pair",
        ),
        Program("cache-thrash", "active false sharing (Hoard)", SECONDS, True, "-n", 160000),
        Program("cache-scratch", "passive false sharing (Hoard)", SECONDS, True, "-n", 160000),
        Program("churn", "small mixed sizes (cfrac, espresso)", SECONDS, False, "-n", 3000000),
        Program("large", "64 KiB-4 MiB blocks (malloc-large)", SECONDS, False, "-n", 8000),
        Program(
            "rptest", "8 B-16 KB blocks (rpmalloc's rptest)", OPS, True, "-s", 0.5, whole=False
        ),
    )
}


# ------------------------------------------------------------------ building


@dataclass(frozen=True)
class Built:
    """The executables: the launcher, and each program by name."""

    launcher: Path
    programs: dict[str, Path]


def build_programs(programs: Sequence[Program] | None = None, build_dir: Path = BUILD_DIR) -> Built:
    """The launcher and each program (default: all), each compiled when it is
    missing, older than its source or bench.h, or built with other flags
    (<name>.flags beside it holds the command). UsageError (one line) when
    the sources are not here or one does not compile."""
    programs = list(PROGRAMS.values()) if programs is None else programs
    if not (SOURCE_DIR / HEADER).is_file():
        raise UsageError(
            f"the benchmark programs' sources are not here ({SOURCE_DIR}): "
            "`mallocsim programs` runs from a checkout"
        )
    compiler = os.environ.get("CC", "cc")
    flags = shlex.join([compiler, *FLAGS, *LIBRARIES])
    header_time = (SOURCE_DIR / HEADER).stat().st_mtime
    built = {}
    try:
        build_dir.mkdir(parents=True, exist_ok=True)
        for name in (LAUNCHER, *(p.name for p in programs)):
            source, binary = SOURCE_DIR / f"{name}.c", build_dir / name
            stamp = build_dir / f"{name}.flags"
            fresh = (
                binary.is_file()
                and binary.stat().st_mtime >= max(source.stat().st_mtime, header_time)
                and stamp.is_file()
                and stamp.read_text() == flags
            )
            if not fresh:
                _compile(compiler, source, binary)
                stamp.write_text(flags)
            built[name] = binary
    except OSError as error:
        where = error.filename or build_dir
        raise UsageError(f"cannot build in {where}: {error.strerror or error}") from None
    launcher = built.pop(LAUNCHER)
    return Built(launcher, built)


def _compile(compiler: str, source: Path, binary: Path) -> None:
    """Compile one program to a temporary name, then rename it into place (a
    run of the old one never sees its file change under it)."""
    partial = binary.with_name(f".{binary.name}.{os.getpid()}")
    command = [compiler, *FLAGS, "-o", str(partial), str(source), *LIBRARIES]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    except FileNotFoundError:
        raise UsageError(
            f"cannot build {source.name}: no C compiler {compiler!r} (set CC)"
        ) from None
    except subprocess.TimeoutExpired:
        raise UsageError(f"cannot build {source.name}: the compiler took over 120 s") from None
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        lines = done.stderr.splitlines()
        first = next((line for line in lines if "error" in line), lines[0] if lines else "")
        raise UsageError(f"cannot build {source.name}: {first or f'exit {done.returncode}'}")
    partial.replace(binary)


# ---------------------------------------------------------------- allocators


@dataclass(frozen=True)
class Allocator:
    """An allocator a program runs under: the library preloaded (None: glibc)."""

    name: str
    preload: Path | None


def allocator_names() -> list[str]:
    """The names resolve_allocators takes (a drop-in library's path aside)."""
    policies = sorted(
        p.name[len("libmallocsim-") : -3] for p in NATIVE_DIR.glob("libmallocsim-*.so")
    )
    return [
        REFERENCE,
        DROPIN,
        *(f"{DROPIN}-{p}" for p in policies),
        *(name for name in REFERENCES if name != REFERENCE),
    ]


def resolve_allocators(names: Sequence[str]) -> tuple[list[Allocator], list[str]]:
    """The allocators named (glibc first, always; a library by its file's
    stem, or as typed when another allocator shows that name), and one line
    for each that is skipped because its library is missing (how to get it).
    UsageError for a name that is none of allocator_names() and no library
    file."""
    allocators, skipped = [], []
    typed = list(dict.fromkeys([REFERENCE, *names]))
    shown = [_display_name(name) for name in typed]
    for name, display in zip(typed, shown, strict=True):
        # Two libraries of one file name (a/libx.so, b/libx.so), or one named like a reference,
        # would share a column and their runs would be taken for one allocator's: such a
        # library is shown as typed, as `bench` and `compare` show every path.
        if shown.count(display) > 1 and display != name:
            display = name
        try:
            allocators.append(Allocator(display, _preload(name)))
        except ReferenceMissing as missing:
            skipped.append(f"{name} skipped: {missing}")
    return allocators, skipped


def pinned(allocators: Sequence[Allocator], folder: Path) -> list[Allocator]:
    """The allocators, each of our drop-in libraries (those `make native`
    builds, which need no other file) replaced by a copy of it in `folder`,
    taken now: a suite runs for minutes, and a library rebuilt meanwhile in
    the same checkout would otherwise mix two builds in one cell. Other
    libraries are left where they are (a reference's belongs to its package;
    one given by path may need the files beside it)."""
    out = []
    for allocator in allocators:
        library = allocator.preload
        if library is not None and library.parent == NATIVE_DIR:
            copy = folder / library.name
            shutil.copyfile(library, copy)
            library = copy
        out.append(Allocator(allocator.name, library))
    return out


def _display_name(name: str) -> str:
    return Path(name).name.removesuffix(".so") if name.endswith(".so") else name


def _preload(name: str) -> Path | None:
    if name in REFERENCES:
        return require(REFERENCES[name])
    if name == DROPIN or name.startswith(f"{DROPIN}-"):
        library = NATIVE_DIR / f"lib{name}.so"
        if not library.is_file():
            raise ReferenceMissing(f"{library} is not built: run `make native` in the checkout")
        return library
    if name.endswith(".so"):
        if not Path(name).is_file():
            raise UsageError(f"{name}: no such library")
        _require_malloc_library(Path(name))
        return Path(name).absolute()
    raise UsageError(
        f"unknown allocator {name!r}: one of {', '.join(allocator_names())}, "
        "or the path of a drop-in malloc library (.so)"
    )


MALLOC_ENTRY_POINTS = ("malloc", "free")  # what a drop-in malloc must define to replace glibc's


def _require_malloc_library(path: Path) -> None:
    """Refuse a library the loader would ignore under LD_PRELOAD (not ELF, not 64-bit) or that
    replaces no malloc: the programs then ran on glibc, and glibc's figures were shown under the
    library's name (red-team pass 27)."""
    try:
        if word_bits(path) != 64:
            raise UsageError(f"{path}: a 32-bit library: the benchmark programs are 64-bit")
        if is_program(path):  # a PIE exporting malloc passed (red-team pass 28)
            raise UsageError(f"{path}: a program, not a library: the loader will not preload it")
        _, defined = dynamic_symbols(path)
    except ElfError as error:
        raise UsageError(f"{path}: {error}") from None
    except AllocatorError as error:
        raise UsageError(str(error)) from None
    missing = [symbol for symbol in MALLOC_ENTRY_POINTS if symbol not in defined]
    if missing:
        raise UsageError(f"{path}: defines no {' or '.join(missing)}: not a drop-in malloc library")


# ------------------------------------------------------------------- running


@dataclass(frozen=True)
class Run:
    """One run of a program under one allocator."""

    figure: float | None  # what it printed: seconds or ops/s; None when it failed
    wall_seconds: float  # its process's life, seen from outside
    peak_rss: int | None  # bytes: its process's ru_maxrss
    error: str | None = None  # why there is no figure: "crashed with SIGSEGV", ...


def run_program(
    program: Program,
    built: Built,
    arguments: Sequence[str],
    allocator: Allocator,
    timeout: float = DEFAULT_TIMEOUT,
) -> Run:
    """Run the program once under `allocator`, through the launcher (measure.c:
    the program's own wall time and peak RSS). Never raises for what the
    program or the allocator does (a crash, a hang, garbage output): that is
    the Run's error."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    preload = ["-p", str(allocator.preload)] if allocator.preload is not None else []
    command = [str(built.launcher), *preload, str(built.programs[program.name]), *arguments]
    with ExitStack() as files:
        out, err, report = (files.enter_context(tempfile.TemporaryFile()) for _ in range(3))
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
            (os.POSIX_SPAWN_DUP2, err.fileno(), 2),
            (os.POSIX_SPAWN_DUP2, report.fileno(), REPORT_FD),
        ]
        started = time.monotonic()
        try:
            pid = os.posix_spawn(command[0], command, env, file_actions=actions, setpgroup=0)
        except OSError as error:
            return Run(None, 0.0, None, f"cannot start {command[0]}: {error.strerror or error}")
        timed_out = _wait(pid, timeout)
        outside = time.monotonic() - started
        stdout, stderr, measured = (_read(f) for f in (out, err, report))
    said = _last_line(stderr)
    if timed_out:
        return Run(None, outside, None, f"did not finish within {timeout:g} s")
    match = re.fullmatch(r"status (\d+) seconds (\S+) maxrss (\d+)\n", measured)
    if match is None:
        return Run(None, outside, None, f"its launcher failed: {said or 'it said nothing'}")
    status, wall, rss = int(match[1]), float(match[2]), int(match[3]) * 1024 or None
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        return Run(None, wall, rss, f"crashed with {name}" + (f": {said}" if said else ""))
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        return Run(None, wall, rss, f"exit status {code}" + (f": {said}" if said else ""))
    figure = parse_figure(program, stdout)
    if figure is None:
        shown = _last_line(stdout) or "nothing"
        expected = f"{program.name} VALUE {program.unit}"
        return Run(None, wall, rss, f"printed {shown!r}, not one line `{expected}`, VALUE > 0")
    return Run(figure, wall, rss)


def parse_figure(program: Program, stdout: str) -> float | None:
    """The value of the program's one line "NAME VALUE UNIT", or None when
    that is not exactly what it printed (or the value is no positive number)."""
    lines = stdout.strip().splitlines()
    pattern = rf"{re.escape(program.name)} (\S+) {re.escape(program.unit)}"
    match = re.fullmatch(pattern, lines[0]) if len(lines) == 1 else None
    if match is None:
        return None
    try:
        value = float(match.group(1))
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def _wait(pid: int, timeout: float) -> bool:
    """Wait for the launcher, whose process group is killed after `timeout`
    seconds; whether it was. Progress lines are ticked meanwhile; an
    interrupt kills the group too, and is raised."""
    timed_out = False
    try:
        pidfd = os.pidfd_open(pid)
        try:
            deadline = time.monotonic() + timeout
            while not _ready(pidfd, min(0.25, max(0.0, deadline - time.monotonic()))):
                tick_active()
                if time.monotonic() >= deadline:
                    os.killpg(pid, signal.SIGKILL)
                    timed_out = True
                    break
        finally:
            os.close(pidfd)
    except BaseException:
        os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    os.waitpid(pid, 0)
    return timed_out


def _read(file: IO[bytes]) -> str:
    file.seek(0)
    return file.read().decode(errors="replace")


def _ready(fd: int, seconds: float) -> bool:
    """Whether `fd` (a process's pidfd: readable once it has ended) is ready within `seconds`."""
    return bool(select.select([fd], [], [], seconds)[0])


def _last_line(text: str) -> str:
    """A failed run's last line of output, as a diagnosis shows it: printable (a library of
    anyone's may print terminal escapes) and cut to STDERR_SHOWN characters."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    last = printable(lines[-1], lines=False) if lines else ""
    return last if len(last) <= STDERR_SHOWN else last[: STDERR_SHOWN - 3] + "..."


# --------------------------------------------------------------------- suite


@dataclass(frozen=True)
class Configuration:
    """A program with its thread count (None: it has no threads)."""

    program: Program
    threads: int | None

    @property
    def label(self) -> str:
        return self.program.label(self.threads)


@dataclass(frozen=True)
class Cell:
    """One configuration under one allocator: its runs and their figures."""

    program: str
    threads: int | None
    allocator: str
    unit: str  # SECONDS or OPS
    runs: tuple[Run, ...]
    figure: Stats | None  # of the runs' figures; None when any run failed
    peak_rss: Stats | None  # bytes, likewise
    error: str | None  # the first failure, with the run it happened in

    @property
    def key(self) -> tuple[str, int | None]:
        return (self.program, self.threads)


@dataclass(frozen=True)
class Summary:
    """One allocator's ratios to glibc across the configurations."""

    allocator: str
    measured: int  # configurations with a figure
    configurations: int
    speed: float | None  # geometric mean of speed ratios (> 1: faster than glibc)
    memory: float | None  # geometric mean of memory ratios (> 1: less memory than glibc)


@dataclass(frozen=True)
class Suite:
    """Everything a run of the suite found."""

    cells: tuple[Cell, ...]
    allocators: tuple[str, ...]  # those that ran, glibc first
    skipped: tuple[str, ...]  # one line per allocator that did not (how to get it)
    repeat: int
    scale: float
    timeout: float


def configurations(
    names: Sequence[str] | None = None, threads: Sequence[int] = DEFAULT_THREADS
) -> list[Configuration]:
    """The configurations of these programs (default all), each threaded one
    once per thread count."""
    chosen = [PROGRAMS[name] for name in dict.fromkeys(names or PROGRAMS)]
    return [
        Configuration(p, t)
        for p in chosen
        for t in (dict.fromkeys(threads) if p.threaded else (None,))
    ]


def run_suite(
    configs: Sequence[Configuration],
    allocators: Sequence[Allocator],
    built: Built,
    repeat: int = DEFAULT_REPEAT,
    scale: float = 1.0,
    timeout: float = DEFAULT_TIMEOUT,
    started: Callable[[str], None] = lambda name: None,
    finished: Callable[[str, str], None] = lambda name, outcome: None,
) -> list[Cell]:
    """Run every configuration `repeat` times under every allocator,
    interleaved (see the module's docstring), and gather the cells, in the
    configurations' order, allocators in theirs. `started` and `finished`
    follow each run (a progress display)."""
    runs: dict[tuple[int, int], list[Run]] = {
        (c, a): [] for c in range(len(configs)) for a in range(len(allocators))
    }
    for round_ in range(repeat):
        order = [(a + round_) % len(allocators) for a in range(len(allocators))]
        for c, config in enumerate(configs):
            arguments = config.program.arguments(config.threads, scale)
            for a in order:
                done = runs[(c, a)]
                if any(r.error for r in done):
                    continue  # failed once: not run again
                name = f"{config.label} on {allocators[a].name}"
                started(name)
                run = run_program(config.program, built, arguments, allocators[a], timeout)
                done.append(run)
                finished(name, run.error or figure_text(config.program.unit, run.figure))
    return [
        _cell(config, allocator.name, runs[(c, a)], repeat)
        for c, config in enumerate(configs)
        for a, allocator in enumerate(allocators)
    ]


def _cell(config: Configuration, allocator: str, runs: list[Run], repeat: int) -> Cell:
    failed = next((i for i, r in enumerate(runs) if r.error), None)
    error = None
    if failed is not None:
        stopped = " (not run again)" if failed + 1 < repeat else ""
        error = f"{runs[failed].error} in run {failed + 1} of {repeat}{stopped}"
    good = failed is None and bool(runs)
    return Cell(
        program=config.program.name,
        threads=config.threads,
        allocator=allocator,
        unit=config.program.unit,
        runs=tuple(runs),
        figure=describe([r.figure for r in runs if r.figure is not None]) if good else None,
        peak_rss=describe([r.peak_rss for r in runs if r.peak_rss is not None]) if good else None,
        error=error,
    )


# -------------------------------------------------------------------- ratios


def speed_ratio(cell: Cell, glibc: Cell | None) -> float | None:
    """How many times faster than glibc (higher is better), from the medians."""
    if glibc is None or cell.figure is None or glibc.figure is None:
        return None
    mine, theirs = cell.figure.median, glibc.figure.median
    return theirs / mine if cell.unit == SECONDS else mine / theirs


def memory_ratio(cell: Cell, glibc: Cell | None) -> float | None:
    """glibc's median peak RSS over the allocator's (higher is better: less memory)."""
    if glibc is None or cell.peak_rss is None or glibc.peak_rss is None:
        return None
    return glibc.peak_rss.median / cell.peak_rss.median


def reference_cells(cells: Sequence[Cell]) -> dict[tuple[str, int | None], Cell]:
    """glibc's cell of each configuration."""
    return {c.key: c for c in cells if c.allocator == REFERENCE}


def summarize(suite: Suite) -> list[Summary]:
    """Each allocator's geometric means of its ratios to glibc."""
    glibc = reference_cells(suite.cells)
    summaries = []
    for name in suite.allocators:
        mine = [c for c in suite.cells if c.allocator == name]
        speeds = [speed_ratio(c, glibc.get(c.key)) for c in mine]
        memories = [memory_ratio(c, glibc.get(c.key)) for c in mine]
        summaries.append(
            Summary(
                allocator=name,
                measured=sum(c.figure is not None for c in mine),
                configurations=len(mine),
                speed=geomean(s for s in speeds if s is not None),
                memory=geomean(m for m in memories if m is not None),
            )
        )
    return summaries


def figure_text(unit: str, value: float | None) -> str:
    """A run's or a cell's figure with its unit: "1,234 Kops/s" or a duration."""
    return kops(value) + " Kops/s" if unit == OPS else duration(value)
