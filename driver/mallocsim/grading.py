"""Grading one allocator under one lab's rules: the one place a grade is made.

`mallocsim grade`, the pytest plugin and the Gradescope/JUnit writers all take
their verdicts from here. A grade goes:
  1. build the mm.c as the lab builds it (build.py: warnings kept, the heap
     checker found whatever its signature) and refuse forbidden calls;
  2. the lab's team check (CS:APP), before any trace, as its driver does;
  3. every trace the lab grades, each in a child process with a time limit,
     checked under the lab's rules (alignment, heap limit, no shrinking,
     realloc(p, 0), a poisoned fresh heap);
  4. the throughput: instructions counted by valgrind against a reference
     allocator counted the same way (the default: the same score on every run),
     believed only as far as the timed passes confirm them (clock_check.py), or
     seconds as the lab's own driver measures them, against the lab's constant
     or a reference timed now;
  5. the score by the lab's formula, less the lab's deduction for global data
     past its limit (CMU), with notes where the lab's own driver would have
     given a wrong verdict (quirks.py).
Nothing here raises for the allocator's faults: they are in the Grade.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from mallocsim import cache
from mallocsim._native import engine_dir
from mallocsim.allocators import AllocatorError, AllocatorSpec, library_for, resolve, spec_build
from mallocsim.build import Build, narrowed_pointer
from mallocsim.cache import code_digest, content_key, trace_parts
from mallocsim.clock_check import (
    CHECK_MIN_SECONDS,
    CLOCK_REFERENCE,
    CLOCK_TIMING_SECONDS,
    PLACED_OTHERWISE_TOLERANCE,
    TOLERANCE,
    ClockCheck,
    check_count,
    graded_counts,
    placed_otherwise,
)
from mallocsim.config import GradingConfig, lab_overrides, require_listed
from mallocsim.constants import DEFAULT_TIMEOUT, DIALECTS
from mallocsim.elf import library_bits
from mallocsim.errors import GraderFault, UsageError
from mallocsim.forbidden import check_uncounted, checked_library, dynamic_symbols
from mallocsim.instructions import (
    CountedPasses,
    counted_passes,
    pass_instructions,
    require_valgrind,
)
from mallocsim.isolate import replay_isolated
from mallocsim.labs import (
    DEFAULT_LAB,
    LABS,
    LabProfile,
    TraceRule,
    select_trace_paths,
    selection_notes,
    trace_rules,
)
from mallocsim.limits import stall_limit, trace_limits
from mallocsim.out_of_memory import heap_limit_note
from mallocsim.quirks import driver_calls_note, driver_notes
from mallocsim.replay import ReplayOptions, failed_result, has_heap_checker
from mallocsim.results import (
    CHECKED_PHASES,
    TraceResult,
    past_break_note,
    reset_note,
    timed_heap_note,
    timing_cut_note,
    trace_outcome,
)
from mallocsim.runner import options_for_lab
from mallocsim.sbrk_cost import growth_note
from mallocsim.score import Score, aggregate_throughput, failed_score, score, timed_cost
from mallocsim.system_timing import time_system_malloc
from mallocsim.team import Team, read_team
from mallocsim.trace import Trace, load_trace

if TYPE_CHECKING:
    from mallocsim.progress import Progress

NO_THROUGHPUT_TRACE = "no trace counts for throughput"
COUNTED = "counted by valgrind the same way"
COUNTED_32 = "its 32-bit build, as the -m32 build graded; counted by valgrind the same way"
MIN_COUNT_BUDGET = 60.0  # seconds a valgrind count may take at least: valgrind is slow
TEAM_SYMBOL = "ms_lab_team"  # the build's reader of a classic team_t record
# seconds spent building a failed file under other labs for a hint; past it, no other is tried
# (each build may take BUILD_TIMEOUT: a slow file tried under five labs held a grade minutes)
HINT_SECONDS = 20.0


@dataclass(frozen=True)
class Grade:
    """One allocator's grade: what was measured, its score, and, when it could
    not be run at all, why (compiler messages, forbidden calls, the team...)."""

    allocator: str
    results: tuple[TraceResult, ...]
    score: Score
    problem: str | None = None
    team: Team | None = None
    warnings: tuple[str, ...] = ()  # the compiler's, dangerous first
    notes: tuple[str, ...] = ()  # one line each: the checker, traces left out, driver quirks
    seconds: float = 0.0  # how long the grade took, wall time
    word_bits: int = 64  # 32: the mm.c was graded built -m32 (labs.WORD_SIZES)

    @property
    def passed(self) -> bool:
        return self.problem is None and all(r.valid for r in self.results)


@dataclass(frozen=True)
class Throughput:
    """How a grade's throughput is measured: T_ref and where it came from, and the
    allocator's per-trace instructions (None: seconds, from its results) with what
    the clock check multiplied them by (1: confirmed, or not checked: count_checked)."""

    reference: float | None
    source: str
    costs: dict[str, float] | None = None
    count_scale: float = 1.0
    count_checked: bool = True  # False: the clock could not check the count (a note says why)


@dataclass(frozen=True)
class GradePlan:
    """The traces a lab grades from what was named, and how each counts."""

    traces: tuple[Trace, ...]
    rules: dict[str, TraceRule]
    notes: tuple[str, ...]


def plan(config: GradingConfig, given: Sequence[str]) -> GradePlan:
    """Load the traces to grade: the configuration's [[traces]] list, else the
    lab's list and order (a folder gives the lab's traces it holds). Raises
    UsageError for a missing or malformed trace file."""
    lab = config.profile
    selection = select_trace_paths(lab if not config.traces else _unlisted(lab), given)
    if selection.problems:  # a grade never leaves out a trace it was given
        raise UsageError(selection.problems[0])
    traces = [load_trace(path, lab.trace_reading) for path in selection.paths]
    if config.traces:
        require_listed(config, (t.name for t in traces))
        listed = {rule.name: rule for rule in config.traces}
        traces = [t for t in traces if t.name in listed]
        return _without_empty(GradePlan(tuple(traces), listed, _reading_notes(traces)))
    rules = trace_rules(lab, [(t.name, t.info.format, t.info.weight) for t in traces])
    notes = (*selection_notes(lab, selection), *_reading_notes(traces))
    return _without_empty(GradePlan(tuple(traces), rules, notes))


def _without_empty(plan: GradePlan) -> GradePlan:
    """The plan with traces of no ops counted in neither U nor T, and those with no byte ever
    live not in U, and said so: a trace of no ops has no utilization (0% counted in U) and
    nothing to count or time (valgrind's pass of it left no count above the empty passes', so T
    was made of no trace at all, red-team pass 9: a header of 0 ops before op lines, which a CMU
    driver's reading stops at, reads so)."""
    empty = [t.name for t in plan.traces if t.num_ops == 0]
    # Ops, but never a byte live (frees of NULL, blocks of 0 bytes): a utilization of 0% for
    # every allocator, which dragged U towards 0 (red-team pass 10). Still timed.
    hollow = [t.name for t in plan.traces if t.num_ops > 0 and not t.holds_payload()]
    if not empty and not hollow:
        return plan
    rules = dict(plan.rules)
    for name, rule in plan.rules.items():
        if name in empty:
            rules[name] = replace(rule, utilization=False, throughput=False)
        elif name in hollow:
            rules[name] = replace(rule, utilization=False)
    notes = list(plan.notes)
    if empty:
        notes.append(f"{', '.join(empty)}: no ops to replay: counted in neither U nor T")
    if hollow:
        notes.append(
            f"{', '.join(hollow)}: no byte live at any op, so no utilization: not counted in U"
        )
    return replace(plan, rules=rules, notes=tuple(notes))


def _reading_notes(traces: Sequence[Trace]) -> tuple[str, ...]:
    """A line for each trace the lab's driver reads differently from our strict rules."""
    return tuple(note for note in (t.info.reading_note() for t in traces) if note)


def _unlisted(lab: LabProfile) -> LabProfile:
    """The lab with no default list: a configuration's [[traces]] picks instead."""
    return replace(lab, traces=())


def spec_for(
    name: str, config: GradingConfig, dialect: str | None = None, trust_built: bool = False
) -> AllocatorSpec:
    """The allocator to grade, built as its lab builds it (the lab's debug build
    when heap checks are asked for). A library handed in built is refused unless
    `trust_built`: the loader runs its code (constructors, a slot it redirects)
    before the sandbox is sealed, where an mm.c's constructors are held back by
    its build until the seal (red-team pass 42: 93.9 by time, 59.8 counted, from
    a plain constructor); a class run and Gradescope take only C source too."""
    spec = resolve(
        name,
        dialect or config.dialect,
        config.lab,
        debug=config.check_heap,
        word_size=config.word_size,
    )
    if spec.kind == "library" and not trust_built:
        raise AllocatorError(
            f"{name}: a library handed in built runs its own code as it loads, before the "
            "sandbox seals it: grade its source (mm.c), or trust it (--trust-built; pytest: "
            "--mallocsim-trust-built)"
        )
    return spec


def replay_options(config: GradingConfig, check_heap: bool) -> ReplayOptions:
    """How the checked passes run under the configuration's lab, with timed passes:
    the lab's own measure, or the clock's check on an instruction count, which takes
    the kernel's count of their CPU time where an agent's own clock claimed less."""
    counted = config.throughput == "instructions"
    base = ReplayOptions(
        check_heap=check_heap,
        timing=True,
        min_seconds=min(config.min_seconds, CHECK_MIN_SECONDS) if counted else config.min_seconds,
        kernel_clock=counted,
        batch=False,  # a student's passes are timed alone (an agent's), and so is T_ref's
    )
    return options_for_lab(config.profile, base)


def prepare(
    spec: AllocatorSpec, counted: bool = False
) -> tuple[Build | None, Path | None, str | None]:
    """Build the allocator as its lab does and refuse forbidden calls, and, when its
    instructions are `counted`, valgrind's client requests: (its build, the library
    to load, None), or (None, None, why it cannot be graded: a one-line summary
    first, then any compiler messages)."""
    try:
        build, library = spec_build(spec), checked_library(spec)
        if counted and library is not None and spec.kind in ("source", "library"):
            check_uncounted(library, spec.name)
        return build, library, None
    except AllocatorError as error:
        return None, None, str(error)


def grade(
    spec: AllocatorSpec,
    plan: GradePlan,
    config: GradingConfig,
    timeout: float | None = None,
    progress: Progress | None = None,
) -> Grade:
    """Grade one allocator on a plan's traces under its configuration's lab, with the
    wall time it took, each trace reported to `progress` as it runs. Raises
    UsageError only for the grader's own set-up (counting instructions without
    valgrind)."""
    start = time.monotonic()
    replayed = _replay_build(spec, plan, config, timeout, progress)
    if isinstance(replayed, _ReplayedBuild):
        made = _measured(
            _handout_build_chosen(replayed, plan, config, timeout, progress), plan, config
        )
    else:
        made = replayed
    overrides = lab_overrides(config)
    if overrides is not None:
        made = replace(made, notes=(*made.notes, overrides))
    return replace(made, seconds=time.monotonic() - start)


def _handout_build_chosen(
    wide: _ReplayedBuild,
    plan: GradePlan,
    config: GradingConfig,
    timeout: float | None,
    progress: Progress | None,
) -> _ReplayedBuild:
    """The build to grade of an mm.c replayed built for x86-64 (`wide`): its -m32 build where
    handout_build asks for one and it passes more traces, else `wide`; either with the note
    that says which and why."""
    narrow = handout_build(wide.spec, config, wide.results)
    if narrow is None:
        return wide
    if progress:  # its traces counted too: "grade [12/22]", not "[12/11]"
        progress.more(len(plan.traces))
    retried = _replay_build(narrow, plan, config, timeout, progress)
    better, note = handout_build_note(config, wide.results, retried.results, retried.problem)
    if better and isinstance(retried, _ReplayedBuild):
        retried.notes.insert(0, note)  # first: it says why this build is graded
        return retried
    wide.notes.append(note)
    return wide


def handout_build(
    spec: AllocatorSpec, config: GradingConfig, results: Sequence[TraceResult]
) -> AllocatorSpec | None:
    """The -m32 build to grade too, when the word size is left to the lab ("auto", the
    csapp lab's), mm.c's x86-64 build gave these results and a trace failed there as code
    written for the handout's -m32 fails (not every such file's x86-64 build warns of it:
    two char * links 4 bytes apart compile silently; a red-black tree of 4-byte links passed
    one trace of eleven on x86-64, 97 under its -m32 driver; a realloc that read a block's
    size as the word before it, `*(size_t *)(p - 4)`, lost data on the two realloc traces
    alone, 85 under its driver: lab check run 17); else None. The build that passes more
    traces is graded (handout_build_note): by `grade`, and by the pytest plugin for every
    item of that allocator."""
    if not word_size_left_to_lab(spec, config) or not results:
        return None
    return replace(spec, word_size="32") if _word_size_failures(results) else None


def word_size_left_to_lab(spec: AllocatorSpec, config: GradingConfig) -> bool:
    """Whether a student's mm.c may be graded built -m32 (handout_build): its word size is
    "auto" and its x86-64 build is the one made."""
    if spec.kind != "source" or (spec.word_size or config.profile.word_size) != "auto":
        return False
    return graded_word_bits(spec) == 64


def handout_build_note(
    config: GradingConfig,
    wide: Sequence[TraceResult],
    narrow: Sequence[TraceResult],
    narrow_problem: str | None = None,
) -> tuple[bool, str]:
    """(whether the -m32 build's results are the ones to grade, the note that says which
    build was graded and why), from each build's results on the same traces, and why the
    -m32 build ran none (`narrow_problem`: it did not compile, say), if so."""
    count, cut = len(wide), _word_size_failures(wide)
    which = "every trace" if cut == count else f"{cut} of {count} traces"
    failed = (
        f"built for x86-64, {which} failed there the ways code written for 32 bits fails (a "
        "crash, a pointer outside the heap, blocks that overlap or lost data; a failed "
        "assert() is not one)"
    )
    if _valid_traces(narrow) > _valid_traces(wide):
        # The x86-64 failures are graded away: the first is named, so that a student learns
        # the code is wrong on 64 bits (lab check run 17's regrade: "2 of 11 traces failed",
        # but neither which nor how).
        first = next((r for r in wide if r.error), None)
        return True, (
            f"built -m32, as the {config.lab} handout's Makefile builds it: {failed}"
            f"{f'; the first, {first.trace}: {first.error}' if first else ''}"
        )
    if narrow_problem is not None:  # a retry that did not build passed nothing: say why
        return False, (
            f"also tried built -m32, as the {config.lab} handout's Makefile builds it "
            f"({failed}): {narrow_problem}"
        )
    first = next((r for r in narrow if r.error), None)  # the failures shown are x86-64's
    return False, (
        f"also graded built -m32, as the {config.lab} handout's Makefile builds it "
        f"({failed}): it passed no more traces there"
        f"{f' ({first.trace}: {first.error})' if first else ''}"
    )


def _word_size_failures(results: Sequence[TraceResult]) -> int:
    """The traces that failed as code written for 32 bits fails on x86-64, in a checked pass.
    Code written so fails there, where it first needs a word of 4 bytes; the timed passes
    come after the whole trace is in the allocator's hands: a build that crashed there on
    purpose got its -m32 build graded, which then placed every block from what the first had
    left in the page cache (red-team pass 12: a hidden trace, 62.5 honest, 71.8)."""
    return sum(
        r.fail_kind in _WORD_SIZE_FAILURES and r.fail_phase in CHECKED_PHASES for r in results
    )


def _valid_traces(results: Sequence[TraceResult]) -> int:
    return sum(r.valid for r in results)


@dataclass
class _ReplayedBuild:
    """A build's traces replayed (checked, and timed where the throughput is timed), before its
    throughput is counted: `grade` counts only the build it grades. The x86-64 build's count
    used to run before the -m32 build was replayed, and the count is the one process of the
    allocator's with the traces whole that later builds cannot be kept from: it carried a hidden
    trace's realloc shape to the -m32 build in files' access times (red-team pass 46: 45.0 ->
    52.5)."""

    spec: AllocatorSpec
    build: Build | None
    team: Team | None
    warnings: tuple[str, ...]
    notes: list[str]
    results: list[TraceResult]
    limits: dict[str, float]
    options: ReplayOptions
    stall: float | None
    problem: None = None  # as a Grade's: a build that replayed has none

    def replay_as_driver(self, trace: Trace, fill_limit: int, zero_block0: bool) -> bool:
        """Whether the trace is valid replayed as a lab's driver fills blocks (quirks.py):
        checked only, on the graded build, with no heap checks, as the handouts' drivers run."""
        fill = {"fill_limit": fill_limit, "zero_block0": zero_block0}
        as_driver = replace(self.options, timing=False, check_heap=False, **fill)
        graded = graded_build(self.spec)
        return replay_isolated(trace, graded, as_driver, self.limits[trace.name], self.stall).valid


def _replay_build(
    spec: AllocatorSpec,
    plan: GradePlan,
    config: GradingConfig,
    timeout: float | None,
    progress: Progress | None,
) -> Grade | _ReplayedBuild:
    """The build replayed on every trace of the plan, or the Grade of a build that could not
    run at all (its problem said)."""
    lab = config.profile
    notes = list(plan.notes)
    if config.throughput == "instructions":  # the grader's set-up, not the student's fault
        require_valgrind('throughput = "instructions" (--throughput time does without it)')
    build, library, problem = prepare(spec, config.throughput == "instructions")
    graded_spec = graded_build(spec)
    if problem is None and graded_spec != spec:  # heap checks: the graded build is checked too
        _, _, problem = prepare(graded_spec, config.throughput == "instructions")
    if problem is not None:
        return Grade(spec.name, (), failed_score(config, problem.splitlines()[0]), problem)
    warnings = build.warnings if build is not None else ()
    check_heap = config.check_heap
    if check_heap and not has_heap_checker(spec):
        why = build.checker_note if build is not None and build.checker_note else None
        notes.append(f"heap checks skipped: {why or 'the allocator has no heap checker to call'}")
        check_heap = False
    elif check_heap and build is not None and build.checker_note:
        notes.append(f"heap checker: {build.checker_note}")
    if build is not None and build.word_note:
        notes.append(build.word_note)
    if library is not None and spec.kind in ("source", "library") and lab.name != DEFAULT_LAB:
        overriding = driver_calls_note(dynamic_symbols(library)[1])
        if overriding is not None:
            notes.append(overriding)
    try:
        team, why = team_check(spec, library, config)
    except GraderFault:
        raise  # no grade at all: the grader could not look
    except UsageError as error:
        return Grade(spec.name, (), failed_score(config, str(error)), str(error), None, warnings)
    if why is not None:
        return Grade(spec.name, (), failed_score(config, why), why, team, warnings)
    options = replay_options(config, check_heap)
    limits, stall = time_limits(plan.traces, config, options, timeout)
    results: list[TraceResult] = []
    # A -m32 build's traces named so: graded after the x86-64 build, whose every trace may have
    # crashed, they would read as the same traces run again (lab check run 24).
    built = " (-m32)" if spec.word_size == "32" else ""
    for trace in plan.traces:
        if progress:
            progress.started(trace.name + built)
        try:
            results.append(_replayed(trace, spec, options, limits[trace.name], stall))
        except GraderFault:
            raise
        except UsageError as error:  # raised before any op ran: the library did not load
            message = str(error)
            if not results:
                return Grade(spec.name, (), failed_score(config, message), message, team, warnings)
            results.append(failed_result(trace, spec.name, message))  # keep what was measured
        if progress:
            progress.finished(trace.name + built, trace_outcome(results[-1]))
    return _ReplayedBuild(spec, build, team, warnings, notes, results, limits, options, stall)


def _measured(replayed: _ReplayedBuild, plan: GradePlan, config: GradingConfig) -> Grade:
    """The grade of a replayed build: its notes, its throughput (counted now, where the lab
    counts it) and its score."""
    lab = config.profile
    spec, build, results, limits = replayed.spec, replayed.build, replayed.results, replayed.limits
    notes, warnings = replayed.notes, replayed.warnings
    graded_spec = graded_build(spec)
    graded = list(zip(plan.traces, results, strict=True))
    notes.extend(driver_notes(lab, graded, replayed.replay_as_driver))
    notes.extend(note for t, r in graded if (note := heap_limit_note(t, r, lab.heap_limit)))
    notes.extend(note for note in map(reset_note, results) if note)
    notes.extend(note for note in map(past_break_note, results) if note)
    notes.extend(note for note in map(timed_heap_note, results) if note)
    notes.extend(note for note in map(timing_cut_note, results) if note)
    notes.extend(narrowed_pointer_notes(warnings, results))
    notes.extend(poisoned_heap_notes(lab, results))
    timed = [
        t
        for t, r in zip(plan.traces, results, strict=True)
        if plan.rules[t.name].throughput and r.valid
    ]
    budget = max(sum(limits[t.name] for t in timed), MIN_COUNT_BUDGET)
    bits = graded_word_bits(graded_spec)
    measured = _throughput(graded_spec, timed, results, config, budget, notes, bits)
    if measured.costs or config.throughput == "time":
        traces = {t.name for t in timed}
        note = growth_note(lab, results, traces, config.throughput, measured.reference)
        notes.extend(filter(None, [note]))
    global_data = build.global_data if build is not None else None
    notes.extend(global_data_notes(config, global_data))
    graded = score(
        results,
        plan.rules,
        config,
        measured.reference,
        measured.source,
        measured.costs,
        global_data,
        measured.count_scale,
        measured.count_checked,
    )
    return Grade(
        spec.name,
        tuple(results),
        graded,
        None,
        replayed.team,
        warnings,
        tuple(notes),
        word_bits=bits,
    )


# How a heap address cut to 32 bits makes a trace fail: read through (SIGSEGV), or handed out.
_CUT_ADDRESS_FAILURES = ("crash", "outside_heap")
# How code written for 4-byte words fails on x86-64: cut addresses, links that overlap the next
# field, sizes read from the wrong word.
_WORD_SIZE_FAILURES = (
    *_CUT_ADDRESS_FAILURES,
    "misaligned",
    "overlap",
    "overwritten",
    "realloc_lost_data",
)


def team_check(
    spec: AllocatorSpec, library: Path | None, config: GradingConfig
) -> tuple[Team | None, str | None]:
    """(the team record of a built library that has one, why the lab's driver refuses to run
    any trace, or None when it runs), for `grade` and the pytest plugin alike. A student's
    file must have a record where the lab asks for one; a library is checked when it has
    one. Raises UsageError when the record cannot be read, GraderFault when the grader
    could not look."""
    lab = config.profile
    team = None
    if library is not None and TEAM_SYMBOL in dynamic_symbols(library)[1]:
        team = read_team(spec)
    if not (lab.team and config.team_check and (team is not None or spec.kind == "source")):
        return team, None
    if team is None:
        return None, (
            f"{spec.name}: defines no team record (team_t team = {{...}}): the {lab.name} "
            "lab's driver prints it and refuses to run without one (--no-team-check, or "
            "team_check = false in grading.toml, for a handout without it: its driver's -a)"
        )
    refusal = team.problem()
    return team, f"team check: {refusal}" if refusal is not None else None


def graded_build(spec: AllocatorSpec) -> AllocatorSpec:
    """The build a lab times and measures: an mm.c's ordinary build, never its debug build
    (the lab's mdriver-dbg only checks), whatever the heap checks ask for."""
    return replace(spec, debug=False) if spec.kind == "source" else spec


def _replayed(
    trace: Trace, spec: AllocatorSpec, options: ReplayOptions, limit: float, stall: float | None
) -> TraceResult:
    """One trace as the lab grades it: checked, measured and timed on the graded build; with
    heap checks, also checked, untimed, on the debug build. Timed there, the debug build's own
    checks (the F20 starter's dbg_requires(mm_checkheap(__LINE__)) at every op) made correct
    code run out of time."""
    graded = graded_build(spec)
    if graded == spec or not options.check_heap:
        return replay_isolated(trace, graded, options, limit, stall)
    result = replay_isolated(trace, graded, replace(options, check_heap=False), limit, stall)
    if not result.valid:
        return result
    checked = replay_isolated(trace, spec, replace(options, timing=False), limit, stall)
    return result if checked.valid else checked


def narrowed_pointer_notes(warnings: Sequence[str], results: Sequence[TraceResult]) -> list[str]:
    """A line on why traces failed when mm.c keeps pointers in 4-byte integers: code
    written for a 32-bit build, where that fits, fails on x86-64, whose heap addresses
    (the real drivers' too) lie above 4 GiB, by a crash or a pointer outside the heap
    (a cut address). Nothing for other failures, nor when every trace passed."""
    where = narrowed_pointer(tuple(warnings))
    failed = [r for r in results if r.fail_kind in _CUT_ADDRESS_FAILURES]
    if where is None or not failed:
        return []
    return [
        f"pointers in 4-byte integers: mm.c keeps a pointer in an int or makes one from it, "
        f"first at {where}; built for x86-64, as here, a pointer takes 8 bytes and a heap "
        f"address loses its upper half there, the likeliest cause of the "
        f"{'failed trace' if len(failed) == 1 else f'{len(failed)} failed traces'} "
        "(code written for a 32-bit build, such as the CS:APP handout's -m32, "
        "must store whole pointers, or 4-byte offsets from the heap's start)"
    ]


def poisoned_heap_notes(lab: LabProfile, results: Sequence[TraceResult]) -> list[str]:
    """A line when a trace crashed in its checked pass on a heap whose fresh memory is
    poisoned (a crash there may be a read of a byte never written, which zeros would hide)."""
    if lab.fresh_heap != "poisoned":
        return []
    if not any(r.fail_kind == "crash" and r.fail_phase == "checked" for r in results):
        return []
    return [
        f"fresh heap memory holds 0xA5 bytes in the {lab.name} lab's checked passes, not zeros: "
        "a crash may come from reading a word never written (a footer, a list link), which the "
        "labs' drivers, whose heaps start zeroed, hide (CMU's mdriver-uninit refuses it)"
    ]


def global_data_notes(config: GradingConfig, global_data: int | None) -> list[str]:
    """A line on the writable global data mm.c defines, when it was measured: the labs
    limit it (CS:APP's handout in words, allowing scalars only; CMU's driver in bytes)."""
    if global_data is None:
        return []
    limit = config.global_data_limit
    rule = (
        f"the lab allows {limit} bytes without a deduction"
        if limit is not None
        else "no limit applied"
    )
    return [f"global data: mm.c defines {global_data} bytes of writable variables ({rule})"]


def _throughput(
    spec: AllocatorSpec,
    timed: Sequence[Trace],
    results: Sequence[TraceResult],
    config: GradingConfig,
    budget: float,
    notes: list[str],
    bits: int,
) -> Throughput:
    """How the throughput is measured; `budget`: the seconds one valgrind run over
    the traces may take. Counted instructions are checked against the clock: the
    allocator's timed passes (`results`) and the reference's, timed now. The system's
    malloc, as a reference, runs in the allocator's word size, `bits` (the CS:APP
    handout's -m32 driver compares with the 32-bit libc)."""
    if config.throughput == "instructions":
        try:
            counted = counted_passes(spec, timed, budget, lab=config.profile)
            costs = counted.instructions
            uncounted = [t.name for t in timed if costs.get(t.name, 0) <= 0]
        except UsageError as error:
            notes.append(f"throughput not counted: {error}")
            counted, costs, uncounted = CountedPasses({}, {}), {}, []
        if uncounted:
            # Every trace of T is counted, or none is: a student's code that ended valgrind's
            # pass of its slowest trace (or removed its profile) was graded on the rest alone,
            # 53.0 -> 89.6, as if that trace had not been in T; one that made the empty passes
            # (the fixed cost taken off every trace) dearer than its slowest trace made that
            # trace's count negative, which T and the clock check passed over the same way.
            notes.append(
                f"throughput not counted: valgrind's pass of {', '.join(uncounted)} left no count "
                "above the empty passes' (the pass failed under valgrind, its profile went "
                "missing, or the empty passes cost more), and T is made of every trace marked T "
                "or of none"
            )
            costs = {}
        if not timed:
            return Throughput(None, NO_THROUGHPUT_TRACE, costs)
        counts, how = reference_costs(timed, config, "instructions", budget, word_bits=bits)
        if counts is None:
            return Throughput(None, how, costs)
        reference, source = _reference_throughput(timed, counts, config, "instructions", how)
        measured_heaps = {r.trace: r.heap_size for r in results if r.valid and r.heap_size}
        otherwise = placed_otherwise(counted.heaps, measured_heaps) if costs else None
        if otherwise is not None:
            notes.append(otherwise)
        tolerance = TOLERANCE if otherwise is None else PLACED_OTHERWISE_TOLERANCE
        scale, checked = _clock_scale(costs, timed, results, config, budget, notes, bits, tolerance)
        if otherwise is not None and not checked:
            notes.append("throughput not counted: a count of other code, and no clock to bound it")
            costs, scale = {}, 1.0
        return Throughput(reference, source, graded_counts(costs, scale), scale, checked)
    by_count = [r.trace for r in results if r.valid and r.cpu_seconds]
    if by_count:
        notes.append(
            f"{', '.join(by_count)}: the allocator's own clock claimed less than the kernel's "
            "count of its CPU time, three tries running (a loaded machine can do that to the "
            "shortest passes): each pass timed at no less than the kernel's count, less 8 us"
        )
    if config.reference_throughput is not None:
        fixed = config.reference_throughput == config.profile.scoring.reference_throughput
        return Throughput(
            config.reference_throughput,
            f"the {config.lab} lab's constant" if fixed else "configured",
        )
    return Throughput(*measure_reference(timed, config, budget, bits))


def graded_word_bits(spec: AllocatorSpec) -> int:
    """64, or 32 for a student's -m32 build (or 32-bit library)."""
    if spec.kind not in ("source", "library"):
        return 64
    return library_bits(library_for(spec))  # built already (cached)


def time_limits(
    traces: Sequence[Trace],
    config: GradingConfig,
    options: ReplayOptions,
    fixed: float | None = None,
) -> tuple[dict[str, float], float | None]:
    """(each trace's time limit, the stall limit or None): the fixed limit when one
    is given (here or in the configuration), else each trace's from the reference
    allocator's time on it, with hung ops stopped at once (limits.py)."""
    fixed = fixed or config.timeout
    if fixed is not None:
        return {t.name: fixed for t in traces}, None
    reference = resolve(config.reference, lab=config.lab)
    return trace_limits(traces, reference, options), stall_limit(options)


def measure_reference(
    traces: Sequence[Trace], config: GradingConfig, budget: float, word_bits: int = 64
) -> tuple[float | None, str]:
    """T_ref from the configured reference allocator on these traces, measured
    as the grade's throughput is (instructions or seconds), aggregated as the
    lab aggregates; (None, why) when it could not be measured, so that the
    allocator's own results are still reported. `budget`: the seconds it may take;
    `word_bits`: the graded build's (reference_costs)."""
    if not traces:
        return None, NO_THROUGHPUT_TRACE
    costs, how = reference_costs(traces, config, config.throughput, budget, word_bits=word_bits)
    if costs is None:
        return None, how
    return _reference_throughput(traces, costs, config, config.throughput, how)


def reference_costs(
    traces: Sequence[Trace],
    config: GradingConfig,
    measure: str,
    budget: float,
    every: bool = True,
    warm: bool = False,
    word_bits: int = 64,
) -> tuple[dict[str, float] | None, str]:
    """Each trace's cost (by name) for the configured reference allocator, measured
    as `measure` says ("instructions" or "time"), and how; or (None, why it could
    not be). A trace the reference cannot run fails them all, or, with `every`
    false, is left out. `budget`: the seconds a count may take; `warm`: count the
    pass its timed passes run, the second on the heap the first left (a grade's
    count is of a first pass, as an mm.c's every pass is). The system's malloc is
    timed as it is counted, in mscount's clean process (system_timing.py), never
    in a fork of this one; any other reference in a forked child. With `word_bits`
    32 (a -m32 build is graded), the system's malloc is its 32-bit build, counted and
    timed by the 32-bit mscount; our own policies are built for 64 bits only."""
    reference = resolve(config.reference, lab=config.lab)
    narrow = word_bits == 32 and reference.kind == "system"
    if narrow:
        reference = replace(reference, word_size="32")
    # A trace the reference cannot run leaves its figure out (below); the machinery failing is
    # the grader's own failure, whatever the allocator, and no grade is given: a T_ref missing so
    # made the throughput part 0, kept in the cache (red-team pass 12: a classmate's fork bomb in
    # its count left "glibc could not be counted: mscount: fork failed", and a cached 44.4).
    if measure == "instructions":
        try:
            counted = _reference_instructions(reference, traces, budget, warm)
            return counted, COUNTED_32 if narrow else COUNTED
        except UsageError as error:
            raise GraderFault(f"{config.reference} could not be counted: {error}") from None
    if reference.kind == "system":
        try:
            costs, failures = time_system_malloc(
                traces,
                config.min_seconds,
                DEFAULT_TIMEOUT * max(1, len(traces)),
                engine_dir(None, reference.word_size),
            )
        except UsageError as error:
            raise GraderFault(f"{config.reference} could not be measured: {error}") from None
        failed = next(iter(failures.values()), None)
    else:
        options = ReplayOptions(min_seconds=config.min_seconds, batch=False)
        results = [replay_isolated(t, reference, options, DEFAULT_TIMEOUT) for t in traces]
        failed = next((r.error for r in results if not r.valid), None)
        costs = {r.trace: cost for r in results if (cost := timed_cost(r))}
    if costs and (failed is None or not every):
        return costs, "timed in this run"
    return None, f"{config.reference} could not be measured: {failed or 'no time'}"


def _reference_throughput(
    traces: Sequence[Trace], costs: dict[str, float], config: GradingConfig, measure: str, how: str
) -> tuple[float | None, str]:
    """T_ref from the reference's per-trace costs in `measure`, as the lab aggregates, scaled
    as configured for that measure; (None, why) when nothing was measured."""
    pairs = [(t.num_ops, costs.get(t.name, 0.0)) for t in traces]
    value = aggregate_throughput(pairs, config.throughput_mean)
    if value is None:
        return None, f"{config.reference} could not be measured"
    scale = config.reference_scale_for(measure)
    if scale != 1.0:
        return value * scale, f"{scale:g} x {config.reference}, {how}"
    return value, f"{config.reference}, {how}"


def _clock_scale(
    costs: dict[str, float],
    traces: Sequence[Trace],
    results: Sequence[TraceResult],
    config: GradingConfig,
    budget: float,
    notes: list[str],
    word_bits: int = 64,
    tolerance: float = TOLERANCE,
) -> tuple[float, bool]:
    """(what the allocator's counts are multiplied by in its grade, whether the clock
    checked them): they are believed as far as its timed passes confirm them, up to
    `tolerance` (clock_check.py). `budget`: the seconds a count may take."""
    if not costs:
        return 1.0, True
    check, why = clock_check(costs, traces, results, config, budget, word_bits, tolerance=tolerance)
    if check is not None and check.scale > 1.0:
        # Not believed on a timing of glibc taken under another load: timed again now, the
        # lower ratio stands (a classmate's busy count had honest files scaled 11 times and
        # lose 30 points, red-team pass 21).
        again, _ = clock_check(
            costs, traces, results, config, budget, word_bits, fresh=True, tolerance=tolerance
        )
        if again is not None and again.ratio < check.ratio:
            check = again
    if check is None:
        notes.append(f"instruction count not checked by the clock: {why}")
        return 1.0, False
    said = check.note()
    if said is not None:
        notes.append(said)
    return check.scale, True


def clock_check(
    costs: dict[str, float],
    traces: Sequence[Trace],
    results: Sequence[TraceResult],
    config: GradingConfig,
    budget: float,
    word_bits: int = 64,
    fresh: bool = False,
    tolerance: float = TOLERANCE,
) -> tuple[ClockCheck | None, str]:
    """The clock's check of an allocator's counted instructions (`costs`) against its
    timed passes (`results`; the kernel's count where its own clock claimed less), with
    CLOCK_REFERENCE counted and timed now on the same traces (`fresh`: its timing taken
    now, not read from an earlier one), believing `tolerance`; (None, why) when no trace
    was measured all four ways."""
    clock = replace(
        config,
        reference=CLOCK_REFERENCE,
        min_seconds=min(config.min_seconds, CHECK_MIN_SECONDS),
    )
    counts, why = reference_costs(
        traces, clock, "instructions", budget, warm=True, word_bits=word_bits
    )
    times, timed_why = _reference_clock(traces, clock, budget, word_bits, fresh)
    seconds = {r.trace: r.cpu_seconds or r.seconds for r in results if r.valid and r.seconds}
    check = check_count(costs, seconds, counts or {}, times or {}, tolerance)
    missing = why if counts is None else timed_why if times is None else "no trace was timed"
    return check, missing


def _reference_clock(
    traces: Sequence[Trace],
    clock: GradingConfig,
    budget: float,
    word_bits: int = 64,
    fresh: bool = False,
) -> tuple[dict[str, float] | None, str]:
    """CLOCK_REFERENCE's times for the clock check: timed now, or (unless `fresh`) read
    from a timing of this machine less than CLOCK_TIMING_SECONDS old (a class graded one
    submission a process timed glibc for each: 0.6 s a grade). The check's band is 25 times
    wide, so a minute's change of load seldom moves a verdict; one that would scale a count
    is checked against a timing taken now (_clock_scale)."""
    key = content_key(
        "reference-clock",
        code_digest(),
        clock.reference,
        clock.lab,
        repr(clock.min_seconds),
        str(word_bits),
        *trace_parts(traces),
    )
    kept = None if fresh else cache.load("reference-clock", key)
    if (
        isinstance(kept, dict)
        and isinstance(kept.get("timed_at"), float)
        and isinstance(kept.get("seconds"), dict)
        and 0 <= time.time() - kept["timed_at"] < CLOCK_TIMING_SECONDS
    ):
        return kept["seconds"], "timed earlier"
    times, why = reference_costs(traces, clock, "time", budget, every=False, word_bits=word_bits)
    if times is not None:
        cache.store("reference-clock", key, {"timed_at": time.time(), "seconds": times})
    return times, why


def _reference_instructions(
    reference: AllocatorSpec, traces: Sequence[Trace], budget: float, warm: bool = False
) -> dict[str, float]:
    """pass_instructions of the reference, kept in the cache: a count depends
    only on the code and the traces, and a class of submissions shares it."""
    key = content_key(
        "reference-instructions",
        code_digest(),
        reference.name,
        reference.dialect,
        reference.options,
        reference.lab,
        reference.word_size or "",
        "warm" if warm else "cold",
        *trace_parts(traces),
    )
    counted = cache.load("reference-counts", key)
    if counted is None:
        counted = pass_instructions(reference, traces, budget, warm)
        cache.store("reference-counts", key, counted)
    return counted


def _first_build(spec: AllocatorSpec, pairs: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The first (lab, dialect) of `pairs` the spec's file builds under, tried for HINT_SECONDS
    at most; None when none was found by then."""
    deadline = time.monotonic() + HINT_SECONDS
    for lab, dialect in pairs:
        if time.monotonic() > deadline:
            return None
        try:
            spec_build(replace(spec, lab=lab, dialect=dialect))
        except (AllocatorError, GraderFault):  # GraderFault: that lab's compiler is missing
            continue
        return lab, dialect
    return None


def _alternatives(spec: AllocatorSpec, dialect: str | None = None) -> list[tuple[str, str]]:
    """(lab, dialect) pairs other than the spec's, with mm_init's dialect `dialect`
    when given: the real labs, and mallocsim's own rules last, for a file graded under them
    only. A file graded for a course's lab is never told to try mallocsim's rules, which no
    course grades by: a CS:APP file lacking #include <stdint.h> was (mallocsim's mm.h includes
    it), where the handout's driver fails it alike (lab check run 14)."""
    pairs = []
    for name, lab in sorted(LABS.items(), key=lambda item: item[0] == DEFAULT_LAB):
        if name == DEFAULT_LAB and spec.lab != DEFAULT_LAB:
            continue
        for option in (lab.dialect,) if lab.dialect else DIALECTS:
            if (name, option) != (spec.lab, spec.dialect) and dialect in (None, option):
                pairs.append((name, option))
    return pairs


def _how(spec: AllocatorSpec, lab: str, dialect: str) -> str:
    if lab == spec.lab:
        return f"--dialect {dialect}"
    return f"--lab {lab}" if LABS[lab].dialect else f"--lab {lab} --dialect {dialect}"


def hint_for(
    spec: AllocatorSpec, problem: str | None, results: Sequence[TraceResult]
) -> str | None:
    """One line naming a lab (or dialect) to try, when the allocator failed as one
    written for another would, and only one it really builds under: never a
    suggestion that would fail too. None otherwise."""
    if problem is not None and not results:
        if spec.kind != "source" or "does not compile" not in problem.splitlines()[0]:
            return None
        found = _first_build(spec, _alternatives(spec))
        if found is None:
            return None
        return f"{spec.name} builds as a {found[0]} lab's mm.c: try {_how(spec, *found)}"
    inits = [r.init_status for r in results if r.fail_kind == "init_failed"]
    if not results or len(inits) != len(results):
        return None
    # A classic 0 (success) read as a cmu bool is false. (The other way round shows
    # nothing: a cmu true is 1, success for a classic mm_init too, as every lab's
    # driver tests mm_init() < 0.)
    if spec.dialect != "cmu" or not all(s == 0 for s in inits):
        return None
    other = "classic"
    said = f"{spec.name}: mm_init failed as a {other}-dialect allocator's would under "
    said += f"--dialect {spec.dialect}: try "
    if spec.kind == "library" or LABS[spec.lab].dialect is None:
        return said + f"--dialect {other}"  # a library is not rebuilt: only its dialect changes
    found = _first_build(spec, _alternatives(spec, other))
    return None if found is None else said + _how(spec, *found)
