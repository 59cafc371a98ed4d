"""`mallocsim grade mm.c|lib.so TRACES...`: grade one allocator as a lab would.

The allocator is built (an mm.c), checked for forbidden calls, and replayed
on every trace, each in a child process with a time limit; then scored per
the grading configuration (--config, else the CS:APP defaults), with T_ref
measured from glibc in the same run unless the configuration fixes it.
Prints the table, the score and its breakdown; --gradescope and --junit
write autograder files.

Exit status: 0 when every trace is valid, 1 when the grade failed (an invalid
trace, or an allocator that does not compile, makes forbidden calls or
cannot be loaded: the autograder files are still written, with score 0),
2 for bad usage (a bad configuration, a missing or malformed trace, heap
checks configured for an allocator with no mm_checkheap).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from mallocsim.allocators import DIALECTS, AllocatorError, AllocatorSpec, resolve
from mallocsim.autograder import Grade, write_gradescope, write_junit
from mallocsim.cli import EXIT_INVALID, EXIT_OK
from mallocsim.commands import positive_seconds
from mallocsim.config import GradingConfig, TraceRule, load_config, require_listed
from mallocsim.errors import UsageError
from mallocsim.forbidden import checked_library
from mallocsim.isolate import replay_isolated
from mallocsim.replay import ReplayOptions, failed_result, require_heap_checker
from mallocsim.report import format_report
from mallocsim.results import TraceResult
from mallocsim.score import aggregate_throughput, explain, failed_score, header_rule, score
from mallocsim.trace import Trace, find_traces, load_trace

# Compiler messages that mean "written for the other dialect".
_DIALECT_CLASHES = re.compile(
    r"conflicting types for .(mm_init|mm_checkheap)|unknown type name .team_t"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "grade", help="grade an allocator: table, score, autograder files", description=__doc__
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("allocator", metavar="mm.c|lib.so", help="the allocator to grade")
    parser.add_argument(
        "traces", nargs="+", metavar="TRACE|DIR", help="trace files or folders of .rep files"
    )
    parser.add_argument(
        "--dialect", choices=DIALECTS, help="lab dialect of the allocator (else the config's)"
    )
    parser.add_argument("--config", metavar="TOML", help="grading configuration (grading.toml)")
    parser.add_argument(
        "--timeout", type=positive_seconds, help="seconds per trace before the allocator is stopped"
    )
    parser.add_argument("--gradescope", metavar="FILE", help="write Gradescope's results.json")
    parser.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    parser.set_defaults(run=run)


def dialect_hint(messages: str, dialect: str) -> str | None:
    """One line saying the source is in the other dialect, when the compiler's
    messages show it; None otherwise."""
    if not _DIALECT_CLASHES.search(messages):
        return None
    other = "classic" if dialect == "cmu" else "cmu"
    return (
        f"this looks like a {other}-dialect mm.c compiled as {dialect}: "
        f"try --dialect {other} (or dialect = {other!r} in [grade])"
    )


# How mm_init "fails" when the library is of the other dialect: a cmu true is
# a non-zero int (not the classic -1), a classic 0 is a cmu false.
_INIT_CLASHES = {
    "classic": re.compile(r"mm_init failed \(returned (?!-1\))-?\d+\)"),
    "cmu": re.compile(r"mm_init failed \(returned false\)"),
}


def init_dialect_hint(allocator: str, results: Sequence[TraceResult], dialect: str) -> str | None:
    """One line when mm_init "failed" on every trace exactly as a library of
    the other dialect would; None otherwise."""
    clash = _INIT_CLASHES[dialect]
    if not results or not all(clash.search(r.error or "") for r in results):
        return None
    other = "classic" if dialect == "cmu" else "cmu"
    return (
        f"{allocator}: mm_init failed as a {other}-dialect library's "
        f"would under --dialect {dialect}: try --dialect {other}"
    )


def select_traces(traces: Sequence[Trace], config: GradingConfig) -> dict[str, TraceRule]:
    """How each trace counts: the configuration's list (every trace it names must
    be given; the others are left out), or each trace's header weight."""
    if not config.traces:
        return {t.name: header_rule(t.info) for t in traces}
    require_listed(config, (t.name for t in traces))
    return {rule.name: rule for rule in config.traces}


def prepare(spec: AllocatorSpec) -> tuple[Path | None, str | None]:
    """Build and check the allocator: (the library, None), or (None, why it
    cannot be graded: a one-line summary first, then any compiler messages)."""
    try:
        return checked_library(spec), None
    except AllocatorError as error:
        message = str(error)
        hint = dialect_hint(message, spec.dialect)
        return None, f"{spec.name}: {hint}\n{message}" if hint else message


def measure_reference(
    traces: Sequence[Trace], options: ReplayOptions, timeout: float
) -> tuple[float | None, str]:
    """glibc's throughput (total ops / total seconds) on these traces, now,
    and where it came from; (None, why) when it could not be measured, so
    that the allocator's own results are still reported."""
    glibc = resolve("glibc")
    options = replace(options, check_heap=False)  # glibc has no mm_checkheap
    results = [replay_isolated(t, glibc, options, timeout) for t in traces]
    reference = aggregate_throughput(results)
    if reference is None:
        why = next((r.error for r in results if not r.valid), "no trace was timed")
        return None, f"glibc could not be measured: {why}"
    return reference, "glibc, measured in this run"


def grade(
    spec: AllocatorSpec,
    traces: Sequence[Trace],
    rules: dict[str, TraceRule],
    config: GradingConfig,
    timeout: float | None = None,
) -> Grade:
    """Grade one allocator on the traces `rules` names; never raises for the
    allocator's faults, which are in the Grade: one that cannot be built or
    loaded, or has no mm_checkheap for the heap checks the configuration
    asks for, fails with that one diagnosis, and its feedback files say it."""
    timeout = timeout or config.timeout
    _, problem = prepare(spec)
    if problem is None and config.check_heap:
        try:
            require_heap_checker(spec, "[grade] check_heap = true")
        except AllocatorError as error:
            problem = str(error)
    if problem is not None:
        summary = problem.splitlines()[0].rstrip(":")
        return Grade(spec.name, (), failed_score(config, summary), problem)
    graded = [t for t in traces if t.name in rules]
    options = ReplayOptions(check_heap=config.check_heap, min_seconds=config.min_seconds)
    results: list[TraceResult] = []
    for trace in graded:
        try:
            results.append(replay_isolated(trace, spec, options, timeout))
        except UsageError as error:  # raised before any op ran: the library did not load
            message = str(error)
            if not results:
                return Grade(spec.name, (), failed_score(config, message), message)
            results.append(failed_result(trace, spec.name, message))  # keep what was measured
    if config.reference_throughput is not None:
        reference, source = config.reference_throughput, "configured"
    else:
        timed = [t for t in graded if rules[t.name].throughput]
        reference, source = measure_reference(timed, options, timeout) if timed else (None, "")
    return Grade(spec.name, tuple(results), score(results, rules, config, reference, source))


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    spec = resolve(args.allocator, args.dialect or config.dialect)
    traces = [load_trace(path) for path in find_traces(args.traces)]
    rules = select_traces(traces, config)
    result = grade(spec, traces, rules, config, args.timeout)
    if result.problem is not None:
        print(f"mallocsim grade: {result.problem}", file=sys.stderr)
    else:
        print(format_report(spec.name, result.results))
        print()
    print(explain(result.score))
    hint = init_dialect_hint(spec.name, result.results, spec.dialect)
    if hint:
        print(f"mallocsim grade: {hint}", file=sys.stderr)
    if args.gradescope:
        write_gradescope(result, args.gradescope)
    if args.junit:
        write_junit(result, args.junit)
    ok = result.problem is None and all(r.valid for r in result.results)
    return EXIT_OK if ok else EXIT_INVALID
