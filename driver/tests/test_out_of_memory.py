"""Out of memory is an outcome of its own: a NULL for blocks the machine
cannot hold (more than RAM + swap) is `oom`, not a failure, in replay,
compare and bench (exit 0, out of the means, listed apart), for our heap
and the references alike; a NULL the machine could have served stays a
failure, and a lab's heap limit keeps the lab's rule (the NULL fails)."""

from __future__ import annotations

import os
import re
from dataclasses import replace

from mallocsim.out_of_memory import (
    OUT_OF_MEMORY,
    is_out_of_memory,
    judged,
    machine_memory,
    memory_limit,
    needed_at,
)
from mallocsim.references import REFERENCES, ReferenceMissing, require
from mallocsim.results import TraceResult, trace_outcome
from mallocsim.trace import parse_trace_text

from .conftest import fixture_allocator

HUGE = 1 << 47  # 128 TiB: more than any machine this runs on, below the parser's 2^48
HUGE_TRACE = f"a 0 16\na 1 {HUGE}\nf 0\nf 1\n"
GOOD_TRACE = "a 0 4000\na 1 200\nf 0\nf 1\n"  # null_early.c: NULL at op 1


def null_result(op: int, error: str = "t.rep:2: op 1: malloc returned NULL") -> TraceResult:
    return TraceResult(
        "glibc", "t", "t.rep", False, error, 4, 0, fail_kind="null_return", fail_op=op
    )


def test_the_blocks_needed_are_those_live_with_the_request_in_its_ids_place():
    trace = parse_trace_text("a 0 100\na 1 50\nf 0\nr 1 300\nc 2 4 10\n")
    assert [needed_at(trace, i) for i in range(5)] == [100, 150, 50, 300, 340]


def test_a_null_for_more_than_the_limit_is_out_of_memory_and_says_why():
    trace = parse_trace_text(HUGE_TRACE)
    result = judged(null_result(1), trace, 1 << 30)
    assert is_out_of_memory(result) and result.fail_kind == OUT_OF_MEMORY
    assert not result.valid  # nothing was measured
    assert result.error.startswith("t.rep:2: op 1: malloc returned NULL: out of memory: ")
    assert "128 TiB, more than the 1.0 GiB this machine has (RAM + swap)" in result.error
    assert trace_outcome(result) == "oom"


def test_a_null_the_machine_could_serve_or_another_failure_stays_a_failure():
    trace = parse_trace_text(HUGE_TRACE)
    small = null_result(0)  # 16 bytes
    assert judged(small, trace, 1 << 30) == small
    assert judged(null_result(1), trace, None) == null_result(1)  # a lab's heap limit
    overlap = replace(null_result(1), fail_kind="overlap")
    assert judged(overlap, trace, 1 << 30) == overlap
    assert trace_outcome(overlap) == "overlap"


def test_the_limit_is_ram_and_swap_unless_a_lab_limits_our_heap():
    ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert ram <= machine_memory() < HUGE
    assert memory_limit(on_our_heap=False, heap_limit=None) == machine_memory()
    assert memory_limit(on_our_heap=False, heap_limit=20 << 20) == machine_memory()
    assert memory_limit(on_our_heap=True, heap_limit=None) == machine_memory()
    assert memory_limit(on_our_heap=True, heap_limit=20 << 20) is None


def installed(name: str) -> bool:
    try:
        require(REFERENCES[name])
    except ReferenceMissing:
        return False
    return True


def test_replay_shows_oom_and_exits_0_on_our_heap_and_the_references(cli, write_trace):
    trace = write_trace("huge", HUGE_TRACE)
    names = ["segfit", "glibc", *(n for n in ("jemalloc", "tcmalloc") if installed(n))]
    run = cli("replay", *(o for n in names for o in ("-a", n)), "--no-timing", trace)
    assert run.status == 0, run.out + run.err
    assert len(run.err.splitlines()) == len(names)
    for line in run.err.splitlines():
        assert re.search(r": huge: oom \(\d+\.\d s\)$", line), line
    rows = [line.split() for line in run.out.splitlines() if line.startswith("huge")]
    assert [row[1] for row in rows] == ["oom"] * len(names)
    assert run.out.count("Out of memory:") == len(names)
    assert "need 128 TiB, more than the" in " ".join(run.out.split())


def test_under_a_lab_with_a_heap_limit_our_heaps_null_still_fails(cli, write_trace):
    trace = write_trace("huge", HUGE_TRACE)
    run = cli("replay", "-a", "segfit", "--lab", "cmu", "--no-timing", trace)
    assert run.status == 1
    assert "null_return" in run.err and "Failures:" in run.out and "oom" not in run.out


def test_a_null_the_machine_could_serve_is_still_a_failure(cli, write_trace):
    trace = write_trace("small", GOOD_TRACE)
    run = cli(
        "replay", "-a", fixture_allocator("null_early"), "--dialect", "classic",
        "--no-timing", trace,
    )  # fmt: skip
    assert run.status == 1
    assert "null_return" in run.err and "oom" not in run.out


def test_compare_leaves_oom_out_of_the_means_with_a_footnote_and_exits_0(cli, write_trace):
    huge, good = write_trace("huge", HUGE_TRACE), write_trace("good", GOOD_TRACE)
    run = cli("compare", "-a", "segfit", "-a", "glibc", "--no-timing", "-q", "--wide", huge, good)
    assert run.status == 0, run.err
    huge_row = next(line for line in run.out.splitlines() if line.startswith("huge")).split()
    assert huge_row[2:] == ["oom"] * 4
    assert "geomean over the traces where every allocator has the figure: 1 for util" in run.said
    assert "Out of memory (oom: not a failure;" in run.said
    assert "Failures:" not in run.out


def test_bench_shows_oom_and_exits_0(cli, write_trace):
    huge, good = write_trace("huge", HUGE_TRACE), write_trace("good", GOOD_TRACE)
    run = cli("bench", "-a", "segfit", "--min-seconds", "0", huge, good)
    assert run.status == 0, run.err
    huge_row = next(line for line in run.out.splitlines() if line.startswith("huge")).split()
    assert huge_row[2] == "oom" and huge_row[5] == "oom"  # segfit, then glibc
    assert "huge, timed: segfit oom, glibc oom" in run.err
