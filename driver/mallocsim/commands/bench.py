"""`mallocsim bench`: policies against glibc on the same traces, in one run.

Prints, per trace and overall, each allocator's utilization, throughput and
speed ratio to glibc, in 80 columns (allocators stacked in blocks; --wide:
one line per trace); --instructions adds callgrind's instruction count per
op, a figure that does not move with machine noise. Exit status: 0 when every
trace is valid on every allocator or ran out of memory the machine does not
have (oom: out_of_memory.py), 1 when an allocator failed, 2 for bad usage, a
bad trace or an output that cannot be written (checked before anything runs).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from mallocsim.allocators import PRELOADED, builtin_policies, resolve
from mallocsim.bench import (
    REFERENCE,
    ROUNDS,
    format_bench,
    keep_glibc_memory,
    progress_total,
    run_bench,
    summarize_bench,
)
from mallocsim.cli import EXIT_INVALID, EXIT_OK, EXIT_USAGE
from mallocsim.commands import non_negative_seconds
from mallocsim.commands.replay import (
    add_quiet_argument,
    add_wide_argument,
    lab_traces,
    trace_paths,
    width_of,
)
from mallocsim.constants import DIALECTS
from mallocsim.errors import UsageError
from mallocsim.files import check_outputs, write_text
from mallocsim.instructions import count_instructions
from mallocsim.labs import DEFAULT_LAB, LABS, lab_named
from mallocsim.metadata import collect, throughput_measure
from mallocsim.out_of_memory import is_out_of_memory
from mallocsim.progress import Progress, progress_mode
from mallocsim.replay import ReplayOptions
from mallocsim.results import TraceResult, to_json
from mallocsim.runner import options_for_lab
from mallocsim.stopping import EXIT_INTERRUPTED, interrupted_line, stopped_as_by_ctrl_c


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench", help="benchmark policies against glibc", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("traces", nargs="+", metavar="TRACE|DIR")
    parser.add_argument(
        "-a",
        "--allocator",
        action="append",
        metavar="A",
        help="allocator to benchmark, repeatable (default: every built-in policy): as for "
        "replay, a reference (" + ", ".join(PRELOADED) + ") too; glibc is always included "
        "as the reference",
    )
    parser.add_argument(
        "--lab",
        choices=tuple(LABS),
        help=f"the lab whose rules the allocators are checked by (default {DEFAULT_LAB})",
    )
    parser.add_argument(
        "--dialect", choices=DIALECTS, help="mm_init's dialect of a .c/.so, when not the lab's"
    )
    parser.add_argument(
        "--min-seconds",
        type=non_negative_seconds,
        default=0.2,
        help="time each allocator on each trace at least this long (default 0.2)",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count instructions per op with valgrind's callgrind (slow, noise-free)",
    )
    parser.add_argument(
        "--glibc-warm",
        action="store_true",
        help="tell glibc to keep its pages between passes, as our heap does, instead of giving "
        "them back to the kernel (its default): compares allocation work alone",
    )
    parser.add_argument(
        "--carry-heap",
        action="store_true",
        help="run each timed pass of our heaps on the heap the last pass left (every block "
        "freed), as glibc's passes run, instead of from mm_init on an empty heap (the lab's "
        "protocol): a steady state; refused for an allocator whose heap does not level off",
    )
    parser.add_argument("--json", metavar="FILE", help="write the results and summary as JSON")
    add_quiet_argument(parser)
    add_wide_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_outputs(args)
    if args.carry_heap and args.instructions:
        # mscount counts one pass from mm_init; a carried pass would need the passes before it.
        raise UsageError("--instructions counts passes from mm_init: it cannot take --carry-heap")
    if args.glibc_warm and not keep_glibc_memory():
        raise UsageError("--glibc-warm: this process's malloc has no glibc mallopt")
    glibc_mode = (
        "told to keep its pages between passes (mmap threshold 32 MiB, no trimming), "
        "as our heap does (--glibc-warm)"
        if args.glibc_warm
        else "its defaults: it gives memory back to the kernel between passes "
        "(--glibc-warm compares allocation work alone)"
    )
    heap_mode = (
        "ours carried over like glibc's: after a warm-up pass, each runs on the heap the last "
        "one left, every block freed (--carry-heap)"
        if args.carry_heap
        else "ours each from mm_init on an empty heap, as the lab runs them; glibc's on the "
        "heap the last one left (--carry-heap runs ours so too)"
    )
    names = list(dict.fromkeys([*(args.allocator or builtin_policies()), REFERENCE]))
    lab = lab_named(args.lab or DEFAULT_LAB)
    specs = [resolve(name, args.dialect, lab.name, references=True) for name in names]
    paths, problems = trace_paths(args, "bench")
    traces, bad = lab_traces(args, paths, "bench")
    problems += bad
    for line in problems:
        print(f"mallocsim bench: {line}", file=sys.stderr)
    if not traces:  # every trace bad: their lines are the whole answer, no empty table
        return EXIT_USAGE
    options = options_for_lab(
        lab, ReplayOptions(min_seconds=args.min_seconds, min_passes=5, carry_heap=args.carry_heap)
    )
    total = progress_total(specs, traces) + (len(specs) if args.instructions else 0)
    measured: list[TraceResult] = []
    counts_made: dict[tuple[str, str], float] = {}  # --instructions: by (allocator, trace)
    interrupted = False
    mode = progress_mode(args.quiet)
    with Progress("bench", total, mode=mode) as progress, stopped_as_by_ctrl_c():
        try:
            run_bench(specs, traces, options, progress=progress, on_result=measured.append)
            for spec in specs if args.instructions else ():  # callgrind runs mscount on each
                name = f"{spec.name}, instructions"
                progress.started(name)
                counts = count_instructions(spec, traces, glibc_warm=args.glibc_warm)
                progress.finished(name, f"{len(counts)}/{len(traces)} counted")
                counts_made.update({(spec.name, trace): n for trace, n in counts.items()})
        except KeyboardInterrupt:  # what was measured is shown and written (stopping.py)
            interrupted = True
    results, instructions = measured, counts_made if args.instructions else None
    print(format_bench(results, instructions, glibc_mode, heap_mode, width_of(args)))
    if args.json:
        metadata = collect(lab.name, throughput_measure(options, ROUNDS), interrupted)
        document = to_json(results, metadata)
        document["bench"] = {
            "reference": REFERENCE,
            "glibc": glibc_mode,
            "passes": heap_mode,
            "summary": [asdict(s) for s in summarize_bench(results, instructions)],
            "instructions_per_op": [
                {"allocator": a, "trace": t, "instructions_per_op": v}
                for (a, t), v in (instructions or {}).items()
            ],
        }
        write_text(args.json, json.dumps(document, indent=2))
    if interrupted:
        print(interrupted_line("bench", len(results), len(specs) * len(traces), "results"),
              file=sys.stderr)  # fmt: skip
        return EXIT_INTERRUPTED
    if problems:
        return EXIT_USAGE
    return EXIT_OK if all(r.valid or is_out_of_memory(r) for r in results) else EXIT_INVALID
