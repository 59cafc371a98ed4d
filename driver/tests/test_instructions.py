"""Instruction counts for grades (instructions.pass_instructions): one cold pass
of each trace in a forked child under cachegrind, the parent's share taken
out exactly, so a trace's count does not depend on where it stands in the list
or on the run; a pass that fails is left out, the others still counted."""

from __future__ import annotations

import shutil

import pytest

from mallocsim.allocators import resolve
from mallocsim.errors import UsageError
from mallocsim.instructions import count_instructions, pass_instructions
from mallocsim.trace import load_trace

from .conftest import fixture_allocator

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")

SMALL = "".join(f"a {i} {16 + i}\n" for i in range(40)) + "".join(f"f {i}\n" for i in range(40))
LARGER = "".join(f"a {i} {8 * i + 1}\n" for i in range(300)) + "".join(
    f"f {i}\n" for i in range(0, 300, 2)
)
TWO_MALLOCS = "a 0 8\na 1 8\nf 0\nf 1\n"


def test_a_traces_count_is_the_same_wherever_it_stands_in_the_list(write_trace):
    small, larger = (
        load_trace(write_trace("small", SMALL)),
        load_trace(write_trace("larger", LARGER)),
    )
    alone = pass_instructions(resolve("explicit"), [small])
    after = pass_instructions(resolve("explicit"), [larger, larger, small])
    assert alone["small"] == after["small"]  # exact: the parent's share is taken out exactly
    assert after["larger"] > alone["small"] > 0


def test_counts_are_the_same_on_every_run(write_trace):
    traces = [load_trace(write_trace("small", SMALL)), load_trace(write_trace("larger", LARGER))]
    assert pass_instructions(resolve("segfit"), traces) == pass_instructions(
        resolve("segfit"), traces
    )


def test_the_fixed_cost_of_a_pass_is_not_counted(write_trace):
    # An allocator's mm_init and the heap's reset are paid once per pass,
    # whatever the trace: a trace of one op costs a handful of instructions.
    one_op = load_trace(write_trace("one", "a 0 8\n"))
    assert 0 < pass_instructions(resolve("segfit"), [one_op])["one"] < 2000


def test_a_pass_that_crashes_is_left_out_and_the_others_counted(write_trace):
    spec = resolve(str(fixture_allocator("segfault")), "classic")  # dies on its 3rd malloc
    traces = [
        load_trace(write_trace("crashes", SMALL)),
        load_trace(write_trace("two", TWO_MALLOCS)),
    ]
    counts = pass_instructions(spec, traces)
    assert set(counts) == {"two"} and counts["two"] > 0


def test_an_allocator_that_cannot_be_opened_is_a_usage_error(write_trace):
    with pytest.raises(UsageError, match="unknown option 'bogus'"):
        pass_instructions(resolve("implicit:bogus"), [load_trace(write_trace("s", SMALL))])


def test_benchs_warm_count_of_the_system_malloc_ignores_the_traces_before(write_trace):
    # Counted after other traces in one process, glibc's figure depended on the heap they left.
    small, larger = write_trace("small", SMALL), write_trace("larger", LARGER)
    alone = count_instructions(resolve("glibc"), [small])
    after = count_instructions(resolve("glibc"), [larger, larger, small])
    assert alone["small"] == after["small"] > 0
    warm = count_instructions(resolve("glibc"), [small], glibc_warm=True)
    assert warm["small"] > 0
