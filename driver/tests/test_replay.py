"""replay_trace: utilization and the alignment bound on hand-computed traces,
both lab dialects, the reset check across two runs, and the timed passes;
and the build of an mm.c, cached by content."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest

from mallocsim import build
from mallocsim.allocators import AllocatorError, compile_source, resolve
from mallocsim.replay import (
    CPU_TICKS_TRUSTED,
    LoadedAllocator,
    ReplayOptions,
    replay_trace,
    timed_by_checked,
)
from mallocsim.results import TraceResult, reset_note, timed_heap_note, timing_cut_note
from mallocsim.sandbox import CLOCK_TICKS
from mallocsim.trace import parse_trace_text

from .conftest import BUG_SHOWN_BY, fixture_allocator, fixture_variant

UNTIMED = ReplayOptions(timing=False)


def fixture(name: str, dialect: str = "classic"):
    return LoadedAllocator(resolve(str(fixture_allocator(name)), dialect))


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


def test_the_checked_run_counts_the_heaps_growths_and_the_new_pages_they_reach():
    # good_bump.c grows by exactly what a block needs: a 100 -> 16+112 (the break from 0 to
    # 128, a new page), a 5000 -> 16+5008 (to 5,152, a second page), a 16 -> 16+16 (5,184, in
    # the same page). mm_init grows nothing; a free or a realloc that fits grows nothing.
    trace = parse_trace_text("a 0 100\na 1 5000\nf 0\na 2 16\nf 1\nf 2\n", "steps")
    with fixture("good_bump") as alloc:
        result = replay_trace(trace, alloc, UNTIMED)
    assert result.valid, result.error
    assert (result.heap_size, result.growth_calls, result.growth_new_pages) == (5184, 3, 2)
    # The system's malloc has no heap of ours to count.
    with LoadedAllocator(resolve("glibc")) as system:
        assert replay_trace(trace, system, UNTIMED).growth_calls is None


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
    trace = parse_trace_text(BUG_SHOWN_BY["calloc_no_zero"][1], "calloc")
    with fixture("calloc_no_zero", "cmu") as alloc:
        result = replay_trace(trace, alloc, UNTIMED)
    # It loads and runs under the CMU dialect, and its calloc bug is what is caught.
    assert not result.valid
    assert "zero" in result.error


def test_mm_init_that_does_not_reset_is_caught_by_the_second_run():
    trace = parse_trace_text(BUG_SHOWN_BY["init_no_reset"][1], "twice")
    with fixture("init_no_reset") as alloc:
        result = replay_trace(trace, alloc, UNTIMED)
    assert not result.valid
    assert "fresh heap" in result.error


def test_a_timed_reach_past_the_checked_heap_is_blamed_on_kept_state_where_mm_init_keeps_it():
    # The note said "an allocator must answer alike, checked or not" of an honest file whose
    # mm_init keeps a growth hint, so that its later runs (the timed passes) grew further
    # (red-team pass 30): where the second checked run showed that state, it says so instead.
    trace = parse_trace_text("a 0 3000\na 1 3000\na 2 3000\n", "steps")
    with fixture("growth_kept") as alloc:
        result = replay_trace(trace, alloc, UNTIMED)
    assert result.second_heap_size is not None
    stateful = replace(result, timed_highest_used=40000)
    said = timed_heap_note(stateful) or ""
    assert "the later runs placed their blocks otherwise" in said and "alike" not in said
    stateless = replace(stateful, second_heap_size=None)
    assert "an allocator must answer alike, checked or not" in (timed_heap_note(stateless) or "")
    assert timed_heap_note(result) is None


def test_a_second_run_on_another_heap_is_valid_and_the_first_is_measured():
    # mm_init keeps the heap's growth step (4, 8, 16 KiB...): the second run grows by 16 KiB at
    # once. Every block is valid in both, and the labs' drivers accept it; a note says so. The
    # first run is measured: by the second a file has seen the trace, and one that learnt it
    # there packed its blocks offline (red-team pass 29: 57.4 -> 92.5).
    trace = parse_trace_text("a 0 3000\na 1 3000\na 2 3000\n", "steps")
    with fixture("growth_kept") as alloc:
        result = replay_trace(trace, alloc, UNTIMED)
    assert result.valid, result.error
    assert (result.heap_size, result.second_heap_size) == (4096 + 8192, 16384)
    assert result.utilization == pytest.approx(9000 / 12288)
    assert "a second run from a fresh heap used 16,384 bytes of heap, the first 12,288" in (
        reset_note(result) or ""
    )
    with fixture("good_bump") as alloc:
        assert reset_note(replay_trace(trace, alloc, UNTIMED)) is None


def test_timed_passes_give_a_median_and_its_spread():
    trace = parse_trace_text("a 0 24\na 1 100\nf 0\nf 1\n", "timed")
    options = ReplayOptions(min_passes=5, max_passes=50, min_seconds=0.001)
    with LoadedAllocator(resolve("segfit")) as alloc:
        result = replay_trace(trace, alloc, options)
    assert 5 <= result.passes <= 50
    assert 0 < result.seconds_min <= result.seconds <= result.seconds_max
    assert result.ops_per_sec == pytest.approx(4 / result.seconds)


SHORT_TRACE = "a 0 24\na 1 100\nf 0\nf 1\n"  # a pass of 4 ops: some 100 ns, a few clock steps


@pytest.mark.parametrize("allocator", ["segfit", "glibc"])
def test_passes_too_short_to_time_alone_are_timed_in_batches(allocator):
    trace = parse_trace_text(SHORT_TRACE, "short")
    options = ReplayOptions(min_passes=5, max_passes=50, min_seconds=0.001)
    with LoadedAllocator(resolve(allocator)) as alloc:
        result = replay_trace(trace, alloc, options)
    assert result.valid, result.error
    assert result.pass_repeats > 1  # its own heap (mm_init in each) or glibc's carried one
    assert 5 <= result.passes == len(result.pass_seconds) <= 50
    assert all(seconds > 0 for seconds in result.pass_seconds)  # each a batch's mean
    assert result.ops_per_sec == pytest.approx(4 / result.seconds)


def test_a_pass_long_enough_for_the_clock_is_timed_alone():
    text = "".join(f"a {i} {16 + i % 200}\n" for i in range(20_000))
    text += "".join(f"f {i}\n" for i in range(20_000))
    trace = parse_trace_text(text, "long")
    with LoadedAllocator(resolve("segfit")) as alloc:
        result = replay_trace(trace, alloc, ReplayOptions(min_passes=3, max_passes=3))
    assert result.valid, result.error
    assert result.seconds > 50e-6
    assert (result.passes, result.pass_repeats) == (3, 1)


def test_carried_passes_that_leave_blocks_live_are_timed_alone():
    # Their leftovers are freed between passes: in a batch those frees would be timed too.
    trace = parse_trace_text("a 0 24\na 1 100\nf 0\n", "leaves one")
    with LoadedAllocator(resolve("glibc")) as alloc:
        result = replay_trace(trace, alloc, ReplayOptions(min_passes=3, max_passes=3))
    assert result.valid, result.error
    assert result.pass_repeats == 1


def test_mm_init_failing_inside_a_batch_fails_the_timed_passes(tmp_path):
    # Two checked runs, the probe pass, then the batch's sixth mm_init is the pool's last.
    source = fixture_variant("bump_faults", "#define INIT_RUNS_OUT\n#define INIT_POOL 8\n",
                             tmp_path / "init_pool.c")  # fmt: skip
    trace = parse_trace_text(SHORT_TRACE, "short")
    with LoadedAllocator(resolve(str(source), "classic")) as alloc:
        result = replay_trace(trace, alloc, ReplayOptions(min_passes=3, max_passes=3))
    assert not result.valid
    assert (result.fail_kind, result.fail_phase, result.fail_pass) == ("init_failed", "timed", 1)
    assert "mm_init failed" in result.error


def test_a_grader_in_another_process_times_every_pass_alone(tmp_path):
    # The agent's every pass is checked at its end (remote.c): a batch would hide all but one.
    from mallocsim.isolate import replay_isolated

    trace = parse_trace_text(SHORT_TRACE, "short")
    spec = resolve(str(fixture_allocator("good_bump")), "classic")
    result = replay_isolated(trace, spec, ReplayOptions(min_passes=3, max_passes=3), timeout=60)
    assert result.valid, result.error
    assert (result.passes, result.pass_repeats) == (3, 1)


def test_a_run_with_a_students_code_times_every_allocators_passes_alone():
    # The student's code runs in an agent, whose passes are timed alone: so are the others'.
    from mallocsim.runner import replay_all

    trace = parse_trace_text(SHORT_TRACE, "short")
    student = resolve(str(fixture_allocator("good_bump")), "classic")
    options = ReplayOptions(min_passes=3, max_passes=3)
    mixed, problems = replay_all([student, resolve("segfit")], [trace], options)
    assert not problems and [r.pass_repeats for r in mixed] == [1, 1]
    ours, _ = replay_all([resolve("segfit")], [trace], options)
    assert ours[0].pass_repeats > 1


def test_a_checkers_own_message_is_shown_as_one_printable_line(tmp_path):
    from .test_build import source

    checker = (
        "int mm_checkheap(int verbose) { (void)verbose; return 0; }\n"
        'const char *mm_checkheap_message(void) { return "\\x1b[8mgone\\nscore 100"; }'
    )
    trace = parse_trace_text("a 0 8\nf 0\n", "checked")
    with LoadedAllocator(resolve(str(source(tmp_path, checker)), "classic")) as alloc:
        options = ReplayOptions(check_heap=True, timing=False, alignment=8)  # the template's
        result = replay_trace(trace, alloc, options)
    assert result.error.endswith("mm_checkheap failed: \\x1b[8mgone\\x0ascore 100")


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
    shutil.copytree(build.HEADER_DIR, headers)
    monkeypatch.setattr(build, "HEADER_DIR", headers)
    monkeypatch.setattr(build, "LABS_HEADER_DIR", headers / "labs")
    source = fixture_allocator("good_bump")
    first = compile_source(source, "classic", tmp_path / "cache")
    assert compile_source(source, "classic", tmp_path / "cache") == first  # cached
    with (headers / "mm.h").open("a") as header:
        header.write("/* a newer mm.h */\n")
    assert compile_source(source, "classic", tmp_path / "cache") != first


# ------------------------------------------------------------ the lab options


def _source(tmp_path, name: str, text: str):
    path = tmp_path / f"{name}.c"
    path.write_text(text)
    return LoadedAllocator(resolve(str(path), "classic"))


# A bump allocator whose realloc(p, 0) answers a fresh 0-byte block, as C allows
# and the CMU lab does not; mm_init gives 16 bytes back to the heap, which the
# labs' memlib refuses.
BUMP_SOURCE = """
#include <stdint.h>
#include <string.h>
#include "memlib.h"
#include "mm.h"
int mm_init(void) {
    if (mem_sbrk(32) == (void *)-1 || mem_sbrk(-16) == (void *)-1)
        return -1;
    return 0;
}
void *mm_malloc(size_t size) {
    char *p = mem_sbrk((intptr_t)(16 + ((size + 15) & ~(size_t)15)));
    if (p == (void *)-1)
        return NULL;
    memcpy(p, &size, sizeof size);
    return p + 16;
}
void mm_free(void *ptr) { (void)ptr; }
void *mm_realloc(void *ptr, size_t size) {
    void *q = mm_malloc(size);
    if (ptr != NULL && q != NULL) {
        size_t old;
        memcpy(&old, (char *)ptr - 16, sizeof old);
        memcpy(q, ptr, old < size ? old : size);
    }
    return q;
}
"""


def test_an_alignment_of_8_takes_what_16_refuses():
    # misaligned.c hands out payloads at 8 mod 16: the CS:APP lab's rule accepts them.
    trace = parse_trace_text("a 0 5\na 1 20\nf 0\nf 1\n", "eight")
    with fixture("misaligned") as alloc:
        strict = replay_trace(trace, alloc, UNTIMED)
        eight = replay_trace(trace, alloc, replace(UNTIMED, alignment=8))
    assert not strict.valid and "is not 16-byte aligned" in strict.error
    assert (strict.fail_kind, strict.fail_op, strict.fail_block) == ("misaligned", 0, 0)
    assert (strict.fail_phase, strict.fail_pass, strict.init_status) == ("checked", None, None)
    assert eight.valid, eight.error
    assert eight.peak_aligned == 8 + 24 and eight.fail_kind is None


def test_realloc_to_zero_must_answer_null_under_the_cmu_rule(tmp_path):
    trace = parse_trace_text("a 0 24\nr 0 0\na 0 8\nf 0\n", "rzero")
    with _source(tmp_path, "rzero", BUMP_SOURCE) as alloc:
        allowed = replay_trace(trace, alloc, UNTIMED)
        ruled = replay_trace(trace, alloc, replace(UNTIMED, realloc_zero_null=True))
    assert allowed.valid, allowed.error
    assert not ruled.valid
    assert "realloc with size 0 returned 0x" in ruled.error
    assert "the lab requires realloc(p, 0) to free the block and return NULL" in ruled.error
    assert (ruled.fail_kind, ruled.fail_op, ruled.fail_block) == ("realloc_zero_not_null", 1, 0)


def test_a_heap_that_may_not_shrink_fails_a_negative_sbrk(tmp_path):
    trace = parse_trace_text("a 0 24\nf 0\n", "shrink")
    with _source(tmp_path, "shrinks", BUMP_SOURCE) as alloc:
        shrinks = replay_trace(trace, alloc, UNTIMED)
        fixed = replay_trace(trace, alloc, replace(UNTIMED, heap_shrinks=False))
        again = replay_trace(trace, alloc, UNTIMED)  # the setting is not left behind
    assert shrinks.valid and again.valid, shrinks.error or again.error
    assert not fixed.valid and fixed.error.endswith("mm_init failed (returned -1)")
    assert (fixed.fail_kind, fixed.fail_op, fixed.init_status) == ("init_failed", None, -1)


def test_a_dirty_heap_catches_a_calloc_that_trusts_new_memory():
    # calloc_no_zero.c skips the memset on new memory, "sbrk memory is zero".
    trace = parse_trace_text("c 0 4 8\nf 0\n", "dirty")
    with fixture("calloc_no_zero", "cmu") as alloc:
        clean = replay_trace(trace, alloc, UNTIMED)
        dirty = replay_trace(trace, alloc, replace(UNTIMED, dirty_heap=True))
    assert clean.valid, clean.error
    assert not dirty.valid and "calloc memory is not zero" in dirty.error
    assert "byte 0 is 0xa5" in dirty.error  # the poison, the same every run
    assert (dirty.fail_kind, dirty.fail_op, dirty.fail_phase) == ("calloc_not_zero", 0, "checked")


def test_failures_as_data_name_the_phase_and_mm_inits_status():
    trace = parse_trace_text(BUG_SHOWN_BY["init_no_reset"][1], "twice")
    with fixture("init_no_reset") as alloc:
        result = replay_trace(trace, alloc, UNTIMED)
    assert (result.fail_kind, result.fail_phase, result.fail_op) == (
        "outside_heap",
        "checked_again",
        0,
    )
    # The third mm_init, the first timed pass's, fails: as data, the pass and its status.
    with fixture("init_runs_out") as alloc:
        timed = replay_trace(trace, alloc, ReplayOptions(min_passes=1, min_seconds=0.0))
    assert timed.error.endswith("in the timed passes: mm_init failed (returned -1) (timed pass 1)")
    assert (timed.fail_kind, timed.fail_phase, timed.fail_pass) == ("init_failed", "timed", 1)
    assert (timed.fail_op, timed.init_status) == (None, -1)


def test_the_failure_fields_survive_json(tmp_path):
    from mallocsim.results import read_json, write_json

    trace = parse_trace_text("a 0 8\n", "json")
    with fixture("misaligned") as alloc:
        result = replay_trace(trace, alloc, UNTIMED)
    write_json([result], tmp_path / "r.json")
    [back] = read_json(tmp_path / "r.json")
    assert back == result and back.fail_kind == "misaligned"


# -------------------------------------------------------- crashes, isolated

CRASH_TRACE = "a 0 8\na 1 8\nf 0\nf 1\n"


@pytest.mark.parametrize(
    ("switch", "options", "at", "fields"),
    [
        # carried_crash.c's fault switch: crash in call K after its N-th mm_init (3: timed pass 1)
        ("5:1", {}, ":2: crashed with SIGSEGV at op 1 (a 1 8) in timed pass 3", (1, "timed", 3)),
        ("4:init", {}, ": crashed with SIGSEGV at mm_init in timed pass 2", (None, "timed", 2)),
        (
            "1:init",
            {},
            ": crashed with SIGSEGV at mm_init in the checked pass",
            (None, "checked", None),
        ),
        (
            "2:3",
            {},
            ":4: crashed with SIGSEGV at op 3 (f 1) in the second checked pass (from a fresh heap)",
            (3, "checked_again", None),
        ),
        # no switch: on a carried heap its first malloc after the warm-up crashes
        (
            None,
            {"carry_heap": True},
            ":1: crashed with SIGSEGV at op 0 (a 0 8) in timed pass 1",
            (0, "timed", 1),
        ),
    ],
)
def test_a_crash_names_its_op_and_pass(write_trace, tmp_path, switch, options, at, fields):
    from mallocsim.isolate import replay_isolated
    from mallocsim.trace import load_trace

    switched = f'#define CARRIED_CRASH_AT "{switch}"\n' if switch is not None else ""
    source = fixture_variant("carried_crash", switched, tmp_path / "carried_crash.c")
    trace = load_trace(write_trace("crash", CRASH_TRACE))
    spec = resolve(str(source), "classic")
    opts = ReplayOptions(min_passes=3, max_passes=3, min_seconds=0.0, **options)
    result = replay_isolated(trace, spec, opts, timeout=60)
    assert not result.valid
    assert result.error == f"{trace.path}{at}"
    assert (result.fail_op, result.fail_phase, result.fail_pass) == fields
    assert result.fail_kind == "crash"


def test_a_trace_cut_in_its_timed_passes_is_timed_by_its_processs_cpu_in_the_checked_ones():
    # The checked pass's wall time holds the grader's checks: used for a cut trace, the clock
    # check scaled an honest count 3.1 times (46.3 -> 42.8, red-team pass 33). The agent's own
    # CPU time holds its work and its side of each round trip; under CPU_TICKS_TRUSTED ticks
    # it is too coarse to stand for a pass, and the wall time does.
    trace = parse_trace_text("a 0 8\nf 0\n", "small")
    checked = TraceResult("mm.c", "small", None, True, None, 2, 0, checked_seconds=2.0)
    measured = timed_by_checked(replace(checked, checked_cpu_seconds=0.5), trace, 9.0)
    assert (measured.seconds, measured.passes, measured.timing_cut) == (0.5, 0, 9.0)
    assert "0.5 s of its process's CPU time" in (timing_cut_note(measured) or "")
    one_tick = replace(checked, checked_cpu_seconds=1 / CLOCK_TICKS)
    assert CPU_TICKS_TRUSTED > 1 and timed_by_checked(one_tick, trace, 9.0).seconds == 2.0
    assert "2 s of wall time" in (timing_cut_note(timed_by_checked(one_tick, trace, 9.0)) or "")
    # The note says which clock timed it from what timed_by_checked chose, not from comparing
    # the figures: a CPU time equal to the wall time is still the CPU time.
    busy = timed_by_checked(replace(checked, checked_cpu_seconds=2.0), trace, 9.0)
    assert "2 s of its process's CPU time" in (timing_cut_note(busy) or "")
