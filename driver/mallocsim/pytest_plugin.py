"""The mallocsim pytest plugin: one test item per (allocator, trace).

    pytest --mallocsim-allocator=mm.c --mallocsim-lab=csapp --mallocsim-traces=traces/

Registered under the pytest11 entry point, so an installed mallocsim offers
it to every pytest run; it stays inert (collects nothing, loads nothing
native) unless --mallocsim-allocator is given. Each item builds the allocator
(once per process; the build is cached by content), refuses it if it makes
forbidden calls, and replays its trace in a child process with a time limit,
so that a crash or a hang fails that item alone. The lab (--mallocsim-lab, or
the grading file's) decides how the mm.c is built, what the checks require
and which traces of a folder run, in what order: the rules and verdicts of
`mallocsim grade`, taken from the same module (mallocsim.grading). A failure is reported as
the diagnosis and the trace line it points at, not a Python traceback.
--mallocsim-min-util and --mallocsim-min-throughput add thresholds; heap
checks asked of an allocator with no mm_checkheap are a usage error, before
any item runs. Every item carries the `mallocsim` marker (select with
-m mallocsim) and records its utilization and throughput as user properties
(shown by --junitxml).
Works under pytest-xdist: items are independent and collected identically
in every worker.

pytest runs the Python it finds where it starts: a conftest.py, and the plugins
an ini file names. Started in a student's folder, it ran the student's as the
grader, before any item (red-team pass 22: a broken mm.c reported passing). The
plugin refuses to run when an allocator's folder holds a conftest.py pytest is
about to load, or the ini file in effect, before the conftest is loaded; an ini
file's plugins load before any plugin can look, so a submission is graded from a
folder of the grader's own (README: the pytest plugin).
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the plugin loads nothing of mallocsim until it is used
    from mallocsim.allocators import AllocatorSpec
    from mallocsim.replay import ReplayOptions, TraceResult

_DIAGNOSIS_LINE = re.compile(r"^(?P<path>.+?):(?P<line>\d+): ")


def pytest_addoption(parser: pytest.Parser) -> None:
    from mallocsim.labs import LABS  # data only, and only once options are wanted

    group = parser.getgroup("mallocsim", "malloc-lab allocators replayed on traces (mallocsim)")
    group.addoption(
        "--mallocsim-allocator",
        action="append",
        default=[],
        metavar="ALLOC",
        help="an mm.c, a .so or a built-in policy to test; repeatable",
    )
    group.addoption(
        "--mallocsim-traces",
        action="append",
        default=[],
        metavar="PATH",
        help="a trace file or a folder of .rep files; repeatable",
    )
    group.addoption(
        "--mallocsim-lab",
        metavar="LAB",
        help=f"the lab whose rules apply (else the config's): {', '.join(LABS)}",
    )
    group.addoption(
        "--mallocsim-dialect",
        choices=("classic", "cmu"),
        help="mm_init's dialect, if not the lab's",
    )
    group.addoption(
        "--mallocsim-min-util",
        type=float,
        metavar="FRACTION",
        help="fail a trace whose utilization is below this (e.g. 0.6)",
    )
    group.addoption(
        "--mallocsim-min-throughput",
        type=float,
        metavar="KOPS",
        help="fail a trace replayed slower than this many thousand ops per second",
    )
    group.addoption(
        "--mallocsim-timeout",
        type=float,
        metavar="SECONDS",
        help="stop an allocator that runs a trace longer than this (default: the config's, "
        "else each trace's limit from the reference allocator's time on it)",
    )
    group.addoption(
        "--mallocsim-check-heap", action="store_true", help="call mm_checkheap after every op"
    )
    group.addoption(
        "--mallocsim-trust-built", action="store_true",
        help="test a .so as it was handed in: its code runs as it loads, before the sandbox is "
        "sealed, so only for a library of your own",
    )  # fmt: skip
    group.addoption(
        "--mallocsim-config",
        metavar="TOML",
        help="a grading.toml: its dialect, timeout, check_heap and [[traces]] list apply",
    )


def _folders_of(allocators: list[str]) -> list[Path]:
    """The folders of the allocators given as files (a built-in policy has none): the folder a
    path names and, for a link, its target's (a link in the student's folder to src/mm.c had the
    guard look in src/ alone: red-team pass 23)."""
    folders: dict[Path, None] = {}
    for name in allocators:
        if Path(name).exists():
            folders[Path(os.path.abspath(name)).parent] = None
            folders[Path(name).resolve().parent] = None
    return list(folders)


# An ini file holds pytest's configuration by its name, or by its section (pytest 9 names a
# pyproject.toml its configuration with none: a folder holding one for its own project was
# refused, red-team pass 23).
_INI_SECTIONS = {
    "tox.ini": "[pytest]",
    "setup.cfg": "[tool:pytest]",
    "pyproject.toml": "[tool.pytest",
}


def _configures_pytest(inipath: Path) -> bool:
    section = _INI_SECTIONS.get(inipath.name)
    if section is None:
        return True  # pytest.ini, pytest.toml and their dotted names: pytest's alone
    try:
        return section in inipath.read_text(errors="replace")
    except OSError:
        return True


def _within(path: Path, folders: list[Path]) -> Path | None:
    """The folder of `folders` that holds `path` (or is it), if any."""
    return next((f for f in folders if path == f or f in path.parents), None)


def _anchors(early_config: pytest.Config) -> list[Path]:
    """Where pytest looks for its first conftest.py files, as its own hook does: each
    path given (else the invocation folder), their test* subfolders, and every folder
    above them."""
    here = early_config.invocation_params.dir
    given = [
        here / str(arg).split("::")[0] for arg in early_config.known_args_namespace.file_or_dir
    ]
    starts = [p.resolve() for p in given if p.exists()] or [here.resolve()]
    starts += [sub for p in starts if p.is_dir() for sub in p.glob("test*") if sub.is_dir()]
    return [folder for p in starts for folder in (p, *p.parents)]


def _conftest_toward(trace: Path, folders: list[Path]) -> Path | None:
    """A conftest.py in the folders from an allocator's folder down to `trace`'s, which
    collecting the trace loads; None when the trace is in no allocator's folder."""
    here = Path(os.path.abspath(trace)).parent
    held = _within(here, folders)
    while held is not None:
        if (here / "conftest.py").is_file():
            return here / "conftest.py"
        if here == held:
            return None
        here = here.parent
    return None


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Nothing in an allocator's folder is collected but the traces planned there: a path
    given that covers a submission had pytest import its test_*.py and conftest.py as the
    grader's (red-team pass 23)."""
    plan = config.stash.get(_PLAN, None)
    if plan is None:
        return None
    path = Path(os.path.abspath(collection_path))
    if _within(path, plan.folders) is None:
        return None
    return not any(path == t or path in t.parents for t in plan.planned)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    known = early_config.known_args_namespace
    folders = _folders_of(getattr(known, "mallocsim_allocator", None) or [])
    if not folders:
        return
    inipath = early_config.inipath
    held = _within(inipath.resolve(), folders) if inipath is not None else None
    if held is not None and _configures_pytest(inipath):
        raise pytest.UsageError(
            f"mallocsim: pytest's configuration is {inipath}, in the folder of an allocator "
            "it tests: start pytest in a folder of your own (or give -c FILE); a submission's "
            "ini file names plugins pytest loads"
        )
    if known.noconftest:
        return
    for folder in _anchors(early_config):
        conftest = folder / "conftest.py"
        if _within(folder, folders) is not None and conftest.is_file():
            raise pytest.UsageError(
                f"mallocsim: pytest would load {conftest}, in the folder of an allocator it "
                "tests, as Python of its own: start pytest in a folder of your own, or give "
                "--noconftest"
            )


class MallocsimFailure(Exception):
    """A trace that failed on an allocator: its one-line diagnosis (or the
    compiler's messages), shown as is."""

    def __init__(self, message: str, trace: Path | None = None) -> None:
        super().__init__(message)
        self.trace = trace


class _Plan:
    """What every item of one session shares: the specs and how to replay."""

    def __init__(self, config: pytest.Config) -> None:
        from mallocsim.commands import positive_seconds
        from mallocsim.config import load_config
        from mallocsim.errors import UsageError
        from mallocsim.grading import plan, replay_options, spec_for, time_limits

        option = config.getoption
        if not option("mallocsim_traces"):
            raise pytest.UsageError("--mallocsim-allocator needs --mallocsim-traces=PATH")
        self._problems: dict[str, str | None] = {}
        self._builds: dict[str, AllocatorSpec] = {}  # the build each allocator's items replay
        self._build_notes: dict[str, str] = {}  # which build was graded, and why: at the end
        # allocators with no heap checker to call, and why: said once, at the end
        self._unchecked: dict[str, str] = {}
        try:
            grading = load_config(option("mallocsim_config"), option("mallocsim_lab"))
            if option("mallocsim_check_heap"):
                grading = replace(grading, check_heap=True)
            dialect = option("mallocsim_dialect")
            self.specs = [
                spec_for(name, grading, dialect, option("mallocsim_trust_built"))
                for name in option("mallocsim_allocator")
            ]
            planned = plan(grading, option("mallocsim_traces"))
        except UsageError as error:
            raise pytest.UsageError(f"mallocsim: {error}") from None
        self.traces = [Path(t.path) for t in planned.traces if t.path is not None]
        self.folders = _folders_of(option("mallocsim_allocator"))
        self.planned = [Path(os.path.abspath(path)) for path in self.traces]  # ignore_collect's
        if not option("noconftest"):
            for path in self.traces:
                conftest = _conftest_toward(path, self.folders)
                if conftest is not None:  # collecting the trace loads it
                    raise pytest.UsageError(
                        f"mallocsim: the trace {path} lies under {conftest}, in the folder of an "
                        "allocator it tests: pytest would load that as Python of its own (move "
                        "the traces out, or give --noconftest)"
                    )
        bracketed = next((p for p in self.traces if "[" in str(p) or "]" in str(p)), None)
        if bracketed is not None:  # pytest reads them as a test's parameters, and runs nothing
            raise pytest.UsageError(
                f"mallocsim: {bracketed}: pytest cannot collect a path holding '[' or ']' "
                "(it reads them as a test's parameters): rename it, or grade with mallocsim grade"
            )
        self.grading = grading
        self.min_util: float | None = option("mallocsim_min_util")
        self.min_kops: float | None = option("mallocsim_min_throughput")
        timeout: float | None = option("mallocsim_timeout")
        if timeout is not None:  # the CLI's --timeout rule: 0 or 1e-300 stopped every trace
            try:
                positive_seconds(repr(timeout))
            except argparse.ArgumentTypeError as error:
                raise pytest.UsageError(f"mallocsim: --mallocsim-timeout {error}") from None
        self.options = replace(
            replay_options(grading, grading.check_heap),
            timing=self.min_kops is not None,
        )
        # Each trace's limit: the fixed one, else from the reference's time on it.
        self.limits, self.stall = time_limits(planned.traces, grading, self.options, timeout)
        # Node ids: a trace's path under the rootdir, else its file name (its
        # full path when two traces share a name), never the pytest default
        # for a path given as an argument, which is "" and would clash.
        names = [path.name for path in self.traces]
        self.nodeids = {
            path.resolve(): _nodeid(path, config.rootpath, names.count(path.name) > 1)
            for path in self.traces
        }
        short = [Path(spec.name).name for spec in self.specs]
        # Item names: the allocators' file names, or their full names if those clash.
        self.names = short if len(set(short)) == len(short) else [s.name for s in self.specs]

    def problem(self, spec: AllocatorSpec) -> str | None:
        """Why this allocator cannot run at all (build, forbidden calls, the lab's team
        check, as `grade` refuses it), once; an allocator without a heap checker to call
        runs without heap checks."""
        from mallocsim.errors import UsageError
        from mallocsim.grading import prepare, team_check
        from mallocsim.replay import has_heap_checker

        if spec.name not in self._problems:
            build, library, problem = prepare(spec)
            if problem is None:
                try:
                    problem = team_check(spec, library, self.grading)[1]
                except UsageError as error:
                    problem = str(error)
            self._problems[spec.name] = problem
            if problem is None and self.options.check_heap and not has_heap_checker(spec):
                note = build.checker_note if build is not None else None
                self._unchecked[spec.name] = note or "the allocator has no heap checker to call"
        return self._problems[spec.name]

    def build_for(self, spec: AllocatorSpec) -> AllocatorSpec:
        """The build every item of this allocator replays, chosen once as `grade` chooses
        it: a csapp mm.c whose x86-64 build fails a trace as code written for the
        handout's -m32 fails is replayed built -m32 when that passes more of them (each
        build's checked passes replayed first, untimed)."""
        from mallocsim.grading import handout_build, handout_build_note, word_size_left_to_lab

        if spec.name in self._builds:
            return self._builds[spec.name]
        chosen = spec
        if word_size_left_to_lab(spec, self.grading):
            wide = self._checked_passes(spec)
            narrow = handout_build(spec, self.grading, wide)
            if narrow is not None:
                better, note = handout_build_note(self.grading, wide, self._checked_passes(narrow))
                chosen = narrow if better else spec
                self._build_notes[spec.name] = note
        self._builds[spec.name] = chosen
        return chosen

    def replay(self, path: Path, spec: AllocatorSpec, options: ReplayOptions) -> TraceResult:
        """One trace file replayed on one build, in a child, within the trace's limit."""
        from mallocsim.constants import DEFAULT_TIMEOUT
        from mallocsim.isolate import replay_isolated
        from mallocsim.trace import load_trace

        trace = load_trace(path, self.grading.profile.trace_reading)
        limit = self.limits.get(trace.name, DEFAULT_TIMEOUT)
        return replay_isolated(trace, spec, options, limit, self.stall)

    def _checked_passes(self, spec: AllocatorSpec) -> list[TraceResult]:
        options = replace(self.options_for(spec), timing=False)
        return [self.replay(path, spec, options) for path in self.traces]

    def unchecked(self) -> dict[str, str]:
        """The allocators heap checks could not call, and why (said once, at the end)."""
        return dict(self._unchecked)

    def build_notes(self) -> dict[str, str]:
        """Which build of each allocator was replayed, where the lab chose (at the end)."""
        return dict(self._build_notes)

    def options_for(self, spec: AllocatorSpec) -> ReplayOptions:
        """The replay options for one allocator (no heap checks without a checker)."""
        if spec.name in self._unchecked:
            return replace(self.options, check_heap=False)
        return self.options


_PLAN = pytest.StashKey["_Plan"]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    plan = terminalreporter.config.stash.get(_PLAN, None)
    if plan is None:
        return
    for name, why in plan.unchecked().items():
        terminalreporter.write_line(f"mallocsim: {Path(name).name}: heap checks skipped: {why}")
    for name, note in plan.build_notes().items():
        terminalreporter.write_line(f"mallocsim: {Path(name).name}: {note}")


def _nodeid(path: Path, rootpath: Path, clash: bool) -> str:
    try:
        return path.resolve().relative_to(rootpath).as_posix()
    except ValueError:
        return str(path.resolve()) if clash else path.name


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "mallocsim: a trace replayed on an allocator by mallocsim")
    if not config.getoption("mallocsim_allocator"):
        return
    plan = _Plan(config)
    config.stash[_PLAN] = plan
    # The traces become paths to collect; without explicit paths, only them.
    traces = [str(path) for path in plan.traces]
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        config.args.extend(t for t in traces if t not in config.args)
    else:
        config.args[:] = traces


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    plan = parent.config.stash.get(_PLAN, None)
    nodeid = plan.nodeids.get(file_path.resolve()) if plan is not None else None
    if nodeid is None:
        return None
    return TraceFile.from_parent(parent, path=file_path, nodeid=nodeid, plan=plan)


class TraceFile(pytest.File):
    """A trace file: one item per allocator."""

    def __init__(self, *, plan: _Plan, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.plan = plan

    def collect(self) -> Iterator[pytest.Item]:
        for spec, name in zip(self.plan.specs, self.plan.names, strict=True):
            yield TraceItem.from_parent(self, name=name, plan=self.plan, spec=spec)


class TraceItem(pytest.Item):
    """One trace replayed on one allocator."""

    def __init__(self, *, plan: _Plan, spec: AllocatorSpec, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.spec = spec
        self.trace = self.path
        self.add_marker("mallocsim")

    def runtest(self) -> None:
        from mallocsim.errors import UsageError
        from mallocsim.grading import hint_for
        from mallocsim.sbrk_cost import charged_ops_per_sec

        problem = self.plan.problem(self.spec)
        if problem is not None:
            raise MallocsimFailure(problem)
        try:
            spec = self.plan.build_for(self.spec)
            result = self.plan.replay(self.trace, spec, self.plan.options_for(self.spec))
        except UsageError as error:
            raise MallocsimFailure(str(error), self.trace) from None
        # The lab's memlib's system calls charged, as the grade charges them (sbrk_cost.py).
        speed = charged_ops_per_sec(self.plan.grading.profile, result)
        for name, value in (("utilization", result.utilization), ("ops_per_sec", speed)):
            if value is not None:
                self.user_properties.append((name, value))
        if not result.valid:
            hint = hint_for(self.spec, None, [result])
            message = result.error or "invalid"
            raise MallocsimFailure(f"{message}\n{hint}" if hint else message, self.trace)
        self._check_thresholds(result.utilization, speed)

    def _check_thresholds(self, utilization: float | None, ops_per_sec: float | None) -> None:
        from mallocsim.numbers import percent

        low_util, low_kops = self.plan.min_util, self.plan.min_kops
        if low_util is not None and (utilization or 0.0) < low_util:
            raise MallocsimFailure(
                f"{self.trace}: utilization {percent(utilization or 0.0)} is below the "
                f"minimum {percent(low_util)}"
            )
        kops = (ops_per_sec or 0.0) / 1000
        if low_kops is not None and kops < low_kops:
            raise MallocsimFailure(
                f"{self.trace}: throughput {kops:,.0f} Kops/s is below the minimum "
                f"{low_kops:,.0f} Kops/s"
            )

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: object = None,
    ) -> str:
        if not isinstance(excinfo.value, MallocsimFailure):
            return str(super().repr_failure(excinfo))
        message = str(excinfo.value)
        shown = _trace_line(message, excinfo.value.trace)
        return f"{message}\n{shown}" if shown else message

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.trace, None, f"{self.spec.name} on {self.trace.name}"


def _trace_line(message: str, trace: Path | None) -> str | None:
    """The trace file's line a diagnosis points at ("  17 | f 5"), if any."""
    match = _DIAGNOSIS_LINE.match(message)
    if trace is None or match is None or match["path"] != str(trace):
        return None
    number = int(match["line"])
    try:
        with open(trace, errors="replace") as lines:
            for current, text in enumerate(lines, 1):
                if current == number:
                    return f"  {number} | {text.rstrip()}"
    except OSError:
        return None
    return None
