"""Every built-in policy under every option it takes: every trace the checkout
holds (its own traces/, and ../shared/traces when present: conftest.py) passes
the checked pass, and hypothesis-generated op sequences (malloc, calloc, free,
realloc to larger, smaller and 0) pass with mm_checkheap after every op."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mallocsim.allocators import resolve
from mallocsim.replay import LoadedAllocator, ReplayOptions, replay_trace
from mallocsim.trace import load_trace, parse_trace_text

from .conftest import OWN_TRACES, checkout_traces

POLICIES = [
    "implicit:first",
    "implicit:next",
    "implicit:best",
    "explicit:lifo",
    "explicit:address",
    "explicit:lifo,best",
    "explicit:address,best",
    "segfit",
]
CHECKED = ReplayOptions(check_heap=True, timing=False)
CHECK_EVERY_OP_UP_TO = 15_000  # ops: longer traces are checked by the engine alone
IDS = 24
TRACES = checkout_traces()


@pytest.fixture(scope="module", params=POLICIES)
def policy(request):
    with LoadedAllocator(resolve(request.param)) as alloc:
        yield alloc


def test_the_project_s_own_traces_are_collected():
    # Without ../shared the project's own traces are still replayed on every policy.
    own = [path for name, path in TRACES if name.startswith("traces/")]
    assert own == sorted(OWN_TRACES.glob("*.rep")) and len(own) >= 10


@pytest.mark.parametrize("path", [p for _, p in TRACES], ids=[name for name, _ in TRACES])
def test_every_trace_passes_the_checked_pass(policy, path):
    trace = load_trace(path)
    # The heap checker walks the whole heap: after every op on the small
    # traces, and the large ones are checked by the engine alone.
    small = trace.num_ops <= CHECK_EVERY_OP_UP_TO
    result = replay_trace(trace, policy, CHECKED if small else ReplayOptions(timing=False))
    assert result.valid, result.error
    assert 0 < result.utilization <= result.alignment_bound <= 1


@st.composite
def op_sequences(draw: st.DrawFn) -> str:
    """A legal trace: frees and reallocs only of live ids."""
    live: set[int] = set()
    lines = []
    size = st.one_of(st.integers(0, 64), st.integers(65, 4096), st.integers(4097, 1 << 18))
    for _ in range(draw(st.integers(1, 120))):
        ident = draw(st.integers(0, IDS - 1))
        if ident not in live:
            if draw(st.booleans()):
                lines.append(f"a {ident} {draw(size)}")
            else:
                lines.append(f"c {ident} {draw(st.integers(0, 40))} {draw(st.integers(0, 64))}")
            live.add(ident)
        elif draw(st.booleans()):
            lines.append(f"f {ident}")
            live.discard(ident)
        else:
            new_size = draw(st.one_of(st.just(0), size))
            lines.append(f"r {ident} {new_size}")
            if new_size == 0:
                live.discard(ident)
    return "\n".join(lines) + "\n"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=op_sequences())
def test_random_op_sequences_keep_every_invariant(policy, text):
    result = replay_trace(parse_trace_text(text, "generated"), policy, CHECKED)
    assert result.valid, f"{result.error}\ntrace:\n{text}"
