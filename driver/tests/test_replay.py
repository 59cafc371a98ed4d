"""replay_trace: utilization and the alignment bound on hand-computed traces,
both lab dialects, the reset check across two runs, and the timed passes;
and the build of an mm.c, cached by content."""

from __future__ import annotations

import shutil

import pytest

from mallocsim import allocators
from mallocsim.allocators import AllocatorError, compile_source, resolve
from mallocsim.replay import LoadedAllocator, ReplayOptions, replay_trace
from mallocsim.trace import parse_trace_text

from .conftest import FIXTURE_ALLOCATORS

UNTIMED = ReplayOptions(timing=False)


def fixture(name: str, dialect: str = "classic"):
    return LoadedAllocator(resolve(str(FIXTURE_ALLOCATORS / f"{name}.c"), dialect))


def test_bump_allocator_utilization_is_computed_by_hand():
    # good_bump.c grows the heap by a 16-byte header plus the size rounded to 16:
    # a 5 -> 16+16, a 20 -> 16+32: heap 80 bytes; peak payload 5+20 = 25.
    trace = parse_trace_text("a 0 5\na 1 20\nf 0\nf 1\n", "tiny")
    with fixture("good_bump") as alloc:
        result = replay_trace(trace, alloc, UNTIMED)
    assert result.valid, result.error
    assert (result.peak_payload, result.peak_aligned, result.heap_size) == (25, 48, 80)
    assert result.utilization == pytest.approx(25 / 80)
    assert result.alignment_bound == pytest.approx(25 / 48)
    # The highest payload end: the second block's payload ends at 16+16+16+20.
    assert result.highest_used == 68


def test_peak_is_the_maximum_over_time_not_the_sum_of_all_requests():
    # 100 then free, then 60 + 30 live together: the peak is 100, not 190.
    trace = parse_trace_text("a 0 100\nf 0\na 1 60\na 2 30\nf 1\nf 2\n", "peak")
    with fixture("good_bump") as alloc:
        result = replay_trace(trace, alloc, UNTIMED)
    assert result.peak_payload == 100
    assert result.peak_aligned == 112  # 60 -> 64 and 30 -> 32 live together: 96 < 112


def test_realloc_changes_the_live_payload_by_the_difference():
    trace = parse_trace_text("a 0 10\nr 0 50\nr 0 20\nf 0\n", "realloc")
    with fixture("good_bump") as alloc:
        result = replay_trace(trace, alloc, UNTIMED)
    assert result.valid, result.error
    assert result.peak_payload == 50


@pytest.mark.parametrize("policy", ["implicit", "implicit:next", "implicit:best", "segfit"])
def test_builtin_policies_replay_a_small_trace_valid(policy: str):
    trace = parse_trace_text("a 0 24\na 1 100\nr 0 300\nf 1\nc 2 10 8\nf 0\nf 2\n", "mixed")
    with LoadedAllocator(resolve(policy)) as alloc:
        result = replay_trace(trace, alloc, ReplayOptions(check_heap=True, timing=False))
    assert result.valid, result.error
    assert 0 < result.utilization <= result.alignment_bound <= 1


def test_cmu_dialect_bool_mm_init_is_called_as_bool():
    trace = parse_trace_text("a 0 32\nf 0\nc 1 4 8\n", "calloc")
    with fixture("calloc_no_zero", "cmu") as alloc:
        result = replay_trace(trace, alloc, UNTIMED)
    # It loads and runs under the CMU dialect, and its calloc bug is what is caught.
    assert not result.valid
    assert "zero" in result.error


def test_mm_init_that_does_not_reset_is_caught_by_the_second_run():
    trace = parse_trace_text("a 0 64\na 1 64\nf 0\nf 1\n", "twice")
    with fixture("init_no_reset") as alloc:
        result = replay_trace(trace, alloc, UNTIMED)
    assert not result.valid
    assert "fresh heap" in result.error


def test_timed_passes_give_a_median_and_its_spread():
    trace = parse_trace_text("a 0 24\na 1 100\nf 0\nf 1\n", "timed")
    options = ReplayOptions(min_passes=5, max_passes=50, min_seconds=0.001)
    with LoadedAllocator(resolve("segfit")) as alloc:
        result = replay_trace(trace, alloc, options)
    assert 5 <= result.passes <= 50
    assert 0 < result.seconds_min <= result.seconds <= result.seconds_max
    assert result.ops_per_sec == pytest.approx(4 / result.seconds)


def test_system_allocator_has_no_heap_of_ours():
    trace = parse_trace_text("a 0 24\nr 0 4000\nf 0\n", "sys")
    with LoadedAllocator(resolve("glibc")) as alloc:
        result = replay_trace(trace, alloc, UNTIMED)
    assert result.valid, result.error
    assert result.heap_size is None and result.utilization is None
    assert result.peak_payload == 4000


def test_a_source_that_does_not_compile_gives_the_compiler_messages(tmp_path):
    source = tmp_path / "mm.c"
    source.write_text('#include "mm.h"\nint mm_init(void) { return oops; }\n')
    with pytest.raises(AllocatorError, match=r"does not compile:(.|\n)*oops"):
        compile_source(source, "classic", tmp_path)


def test_a_library_missing_a_symbol_is_one_clear_line(tmp_path):
    source = tmp_path / "partial.c"
    source.write_text('#include "mm.h"\nint mm_init(void) { return 0; }\n')
    with pytest.raises(AllocatorError, match="does not export mm_malloc"):
        LoadedAllocator(resolve(str(source), "classic"))


def test_mm_init_failure_names_no_line(tmp_path, write_trace):
    source = tmp_path / "fails_init.c"
    source.write_text(
        '#include "mm.h"\nint mm_init(void) { return -1; }\n'
        "void *mm_malloc(size_t n) { (void)n; return 0; }\nvoid mm_free(void *p) { (void)p; }\n"
        "void *mm_realloc(void *p, size_t n) { (void)p; (void)n; return 0; }\n"
    )
    from mallocsim.trace import load_trace

    trace = load_trace(write_trace("t", "20000\n1\n1\n1\na 0 8\n"))
    with LoadedAllocator(resolve(str(source), "classic")) as alloc:
        result = replay_trace(trace, alloc, UNTIMED)
    assert not result.valid
    assert result.error == f"{trace.path}: mm_init failed (returned -1)"


def test_a_cached_build_is_redone_when_our_headers_change(tmp_path, monkeypatch):
    headers = tmp_path / "include"
    shutil.copytree(allocators.HEADER_DIR, headers)
    monkeypatch.setattr(allocators, "HEADER_DIR", headers)
    source = FIXTURE_ALLOCATORS / "good_bump.c"
    first = compile_source(source, "classic", tmp_path / "cache")
    assert compile_source(source, "classic", tmp_path / "cache") == first  # cached
    with (headers / "mm.h").open("a") as header:
        header.write("/* a newer mm.h */\n")
    assert compile_source(source, "classic", tmp_path / "cache") != first
