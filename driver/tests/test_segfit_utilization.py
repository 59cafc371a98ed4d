"""segfit keeps the utilization it is tuned to: its figure on every trace of the
checkout is at least the floor below, and its average over the CS:APP lab's
eleven traces is at least issue 14's 97.9%.

Utilization is deterministic (the same heap on every run, on every machine),
so unlike speed it is a test, not a benchmark. A change that is faster but
moves blocks can lose a few tenths of a point where nobody looks (a run map
twice the size cost the CS:APP average 0.1 point: docs/segfit.md); this says
so at once. The floors are today's figures, truncated to the tenth of a point
the reports print: a change that gains may raise them, and one that trades a
figure away must lower it here, in the commit that says why."""

from __future__ import annotations

import pytest

from mallocsim.allocators import resolve
from mallocsim.labs import CSAPP_TRACES
from mallocsim.replay import LoadedAllocator, ReplayOptions, replay_trace
from mallocsim.trace import load_trace

from .conftest import checkout_traces

CSAPP_AVERAGE_FLOOR = 0.979  # issue 14: "classic average >= 97.9%"

FLOORS = {
    "traces/gcc-compile": 0.973,
    "traces/gen-arrays": 0.929,
    "traces/gen-binary": 0.942,
    "traces/gen-coalescing": 0.995,
    "traces/gen-random": 0.930,
    "traces/gen-realloc": 0.992,
    "traces/gen-strings": 0.709,
    "traces/gen-structs": 0.706,
    "traces/python-json": 0.879,
    "traces/sqlite-load": 0.895,
    "shared/classic/amptjp-bal": 0.984,
    "shared/classic/binary-bal": 0.960,
    "shared/classic/binary2-bal": 0.957,
    "shared/classic/cccp-bal": 0.990,
    "shared/classic/coalescing-bal": 0.993,
    "shared/classic/cp-decl-bal": 0.991,
    "shared/classic/expr-bal": 0.991,
    "shared/classic/random-bal": 0.957,
    "shared/classic/random2-bal": 0.946,
    "shared/classic/realloc-bal": 0.999,
    "shared/classic/realloc2-bal": 0.996,
    "shared/classic/short1-bal": 0.791,
    "shared/classic/short2-bal": 0.995,
    "shared/cmu/ngram-fox1": 0.872,
    "shared/cmu/syn-array-short": 0.918,
    "shared/cmu/syn-array": 0.959,
    "shared/cmu/syn-largemem-short": 0.999,
    "shared/cmu/syn-mix-realloc": 0.816,
    "shared/cmu/syn-mix-short": 0.991,
    "shared/cmu/syn-mix": 0.933,
    "shared/cmu/syn-string-short": 0.797,
    "shared/cmu/syn-string": 0.858,
    "shared/cmu/syn-struct-short": 0.784,
    "shared/cmu/syn-struct": 0.878,
}
TRACES = dict(checkout_traces())


@pytest.fixture(scope="module")
def utilization() -> dict[str, float]:
    """segfit's utilization on every trace of the checkout that has a floor."""
    figures = {}
    with LoadedAllocator(resolve("segfit")) as segfit:
        for name, path in TRACES.items():
            if name in FLOORS:
                result = replay_trace(load_trace(path), segfit, ReplayOptions(timing=False))
                assert result.valid, f"{name}: {result.error}"
                figures[name] = result.utilization
    return figures


def test_every_own_trace_has_a_floor():
    own = {name for name in TRACES if name.startswith("traces/")}
    assert own <= FLOORS.keys(), f"no floor for {sorted(own - FLOORS.keys())}"


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_segfit_keeps_its_utilization_on_each_trace(utilization, name):
    if name not in TRACES:
        pytest.skip(f"{name} is not in this checkout (../shared/traces absent)")
    figure = utilization[name]
    assert figure >= FLOORS[name], (
        f"segfit's utilization on {name} fell to {figure:.3%}, under its floor "
        f"{FLOORS[name]:.1%}: lower the floor here only with the reason in the commit"
    )


def test_segfit_keeps_issue_14_s_csapp_average(utilization):
    names = [f"shared/classic/{trace}" for trace in CSAPP_TRACES]
    if any(name not in TRACES for name in names):
        pytest.skip("the CS:APP traces are not in this checkout (../shared/traces absent)")
    average = sum(utilization[name] for name in names) / len(names)
    assert average >= CSAPP_AVERAGE_FLOOR, f"CS:APP average {average:.2%}"


def test_a_block_grown_by_realloc_beside_small_ones_does_not_walk_the_heap_up(write_trace):
    # A buffer grown past 1 KiB by realloc while a small block comes and goes: the small block
    # took the far end of the buffer's growth room, the heap's top, the buffer's next growth went
    # past it, and the heap crept up a room a loop (drop-in pass 26: 17-68 MB of a program's
    # memory where glibc holds 1.5). The same loop in lab mode: 0.2% before, 50.2% now.
    ops = ["a 0 64"]
    for i in range(1, 1001):
        ops += [f"r {i - 1} 10000", f"a {i} 64", f"f {i - 1}"]
    ops.append("f 1000")
    trace = write_trace("creep", "\n".join(ops) + "\n")
    with LoadedAllocator(resolve("segfit")) as segfit:
        result = replay_trace(load_trace(trace), segfit, ReplayOptions(timing=False))
    assert result.valid and result.utilization >= 0.5, result.utilization
