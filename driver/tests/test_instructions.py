"""Instruction counts for grades (instructions.pass_instructions): one cold pass
of each trace in a forked child under cachegrind, the parent's share taken
out exactly, so a trace's count does not depend on where it stands in the list
or on the run; a pass that fails is left out, the others still counted. A count
holds what a timed pass times (the system malloc's frees of a trace's leftovers
are untimed, and uncounted), warm where the system malloc is timed warm, and
nothing the grader's own process preloads."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from mallocsim.allocators import library_for, resolve
from mallocsim.errors import UsageError
from mallocsim.instructions import count_instructions, counted_passes, pass_instructions
from mallocsim.labs import LABS
from mallocsim.references import ReferenceMissing
from mallocsim.trace import load_trace

from .conftest import TESTS, fixture_allocator

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")

SMALL = "".join(f"a {i} {16 + i}\n" for i in range(40)) + "".join(f"f {i}\n" for i in range(40))
LARGER = "".join(f"a {i} {8 * i + 1}\n" for i in range(300)) + "".join(
    f"f {i}\n" for i in range(0, 300, 2)
)
TWO_MALLOCS = "a 0 8\na 1 8\nf 0\nf 1\n"
MALLOCS = "".join(f"a {i} {16 + i % 64}\n" for i in range(300))
LARGER_MALLOCS = sum(1 for line in LARGER.splitlines() if line.startswith("a "))


def larger_counts(
    write_trace: Callable[[str, str], Path], tmp_path: Path, **files: str
) -> dict[str, int]:
    """LARGER's count under each CS:APP mm.c of `files` (its name: its source), each graded as a
    student's file of its own folder."""
    trace = load_trace(write_trace("larger", LARGER))
    counts = {}
    for name, source in files.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "mm.c").write_text(source)
        spec = resolve(str(tmp_path / name / "mm.c"), "classic")
        counts[name] = pass_instructions(spec, [trace])["larger"]
    return counts


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


def test_helpers_that_are_not_static_are_inlined_as_in_the_handouts_build(write_trace, tmp_path):
    # Built -fPIC, gcc inlined no global function (it could be interposed): the same file with
    # its helpers not static counted 78% more, where the handouts, which link mm.o into the
    # driver, inline them alike (red-team pass 33). What is left, 10%, is the compiler's own
    # choice, the handouts' build's too: a global helper keeps its out-of-line copy, so gcc
    # inlines fewer of them (best_fit, place, extend stay calls).
    source = (TESTS / "allocators" / "labs" / "csapp_explicit.c").read_text()
    helpers = "\n".join(
        line.removeprefix("static ") if line.startswith("static ") and line.endswith("{") else line
        for line in source.splitlines()
    )
    assert helpers.count("static ") < source.count("static ") - 5  # helpers made global
    counts = larger_counts(write_trace, tmp_path, static=source, made_global=helpers)
    assert counts["made_global"] < 1.2 * counts["static"], counts


def test_mem_heap_lo_costs_a_call_and_a_load_as_in_the_handouts_build(write_trace, tmp_path):
    # The handouts link memlib.o into the driver: mem_heap_lo is a call and a load. Here it also
    # called mem_init through the heap library's PLT, and a public file that calls it at every
    # step of its list walks was timed at 0.55 of its driver's throughput (lab check 19).
    source = (TESTS / "allocators" / "labs" / "csapp_explicit.c").read_text()
    calls = 100
    asking = source.replace(
        "void *mm_malloc(size_t size) {",
        "static volatile uintptr_t sink;\nvoid *mm_malloc(size_t size) {\n"
        f"    for (int i = 0; i < {calls}; i++)\n        sink ^= (uintptr_t)mem_heap_lo();",
    )
    assert asking != source
    counts = larger_counts(write_trace, tmp_path, plain=source, asking=asking)
    per_call = (counts["asking"] - counts["plain"]) / (LARGER_MALLOCS * calls)
    # The loop's own (the sink's load, xor and store, its counter, the call), the PLT's jump,
    # and the function's load, test, branch and return: 11 a call; 16 with the call into
    # mem_init.
    assert per_call < 13.5, per_call


def test_mem_sbrk_costs_about_what_the_handouts_does(write_trace, tmp_path):
    # A student's allocator may grow its heap at almost every malloc (the naive one does, and so
    # does any file with a small CHUNKSIZE), so what mem_sbrk costs is in the grade. The
    # handouts' is a test, an add and a return. Here the usual call, growth within the heap's
    # limit, once pushed and popped five registers, its rare cases inlined into it: 27
    # instructions where 15 do.
    source = (TESTS / "allocators" / "labs" / "csapp_naive.c").read_text()
    bumping = source.replace(
        "int mm_init(void) { return 0; }",
        "static char *next; /* the bump pointer in the one growth mm_init makes */\n"
        "int mm_init(void) {\n"
        "    next = mem_sbrk(4 << 20);\n"
        "    return next == (void *)-1 ? -1 : 0;\n"
        "}",
    ).replace("p = mem_sbrk((int)total);", "p = next;\n    next += total;")
    assert bumping.count("next += total") == 1 and "mem_sbrk(4 << 20)" in bumping
    counts = larger_counts(write_trace, tmp_path, growing=source, bumping=bumping)
    per_call = (counts["growing"] - counts["bumping"]) / LARGER_MALLOCS
    # mem_sbrk's own 15 (its tests of the request, the limit and the slow switch; the break, the
    # high-water mark and the call count moved), the call, the PLT's jump, and the result's
    # test in mm_malloc, less the bump's load, add and store: 19 a growth.
    assert 10 < per_call < 22, per_call


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
    small, larger = (
        load_trace(write_trace("small", SMALL)),
        load_trace(write_trace("larger", LARGER)),
    )
    alone = count_instructions(resolve("glibc"), [small])
    after = count_instructions(resolve("glibc"), [larger, larger, small])
    assert alone["small"] == after["small"] > 0
    warm = count_instructions(resolve("glibc"), [small], glibc_warm=True)
    assert warm["small"] > 0


@pytest.mark.parametrize("warm", [False, True])
def test_the_system_mallocs_frees_of_a_traces_leftovers_are_not_counted(write_trace, warm):
    # The engine frees what a pass on glibc left live outside the timed window. Counted,
    # those frees cost as much as the trace's own: its mallocs alone came out at the
    # count of the mallocs and their frees (331 instructions an op, cold, where timed
    # passes run about 100), and the clock check took honest code for a forgery.
    kept = load_trace(write_trace("kept", MALLOCS))
    freed = load_trace(write_trace("freed", MALLOCS + "".join(f"f {i}\n" for i in range(300))))
    counts = pass_instructions(resolve("glibc"), [kept, freed], warm=warm)
    assert 0 < counts["kept"] < 0.8 * counts["freed"]


def test_a_warm_count_is_the_pass_after_one_on_the_same_heap(write_trace):
    # Forked, as grades count: the same figure as bench's callgrind count of a second pass.
    paths = [write_trace("small", SMALL), write_trace("larger", LARGER)]
    traces = [load_trace(path) for path in paths]
    forked = pass_instructions(resolve("glibc"), traces, warm=True)
    second = count_instructions(resolve("glibc"), traces)  # per op
    for trace in traces:
        assert forked[trace.name] / trace.num_ops == pytest.approx(second[trace.name], rel=0.02)
    # Our heap starts every pass afresh (mm_init on a rewound heap): warm is cold there, but for
    # mm_init, which is counted and finds the heap's pages the last pass touched (implicit's: an
    # instruction more; segfit's clears the classes the last pass left listed: a few more).
    implicit = resolve("implicit")
    warm, cold = pass_instructions(implicit, traces, warm=True), pass_instructions(implicit, traces)
    assert all(cold[name] <= warm[name] <= cold[name] + 8 for name in cold), (warm, cold)
    segfit = resolve("segfit")
    warm, cold = pass_instructions(segfit, traces, warm=True), pass_instructions(segfit, traces)
    assert all(cold[name] <= warm[name] <= cold[name] * 1.02 for name in cold), (warm, cold)


@pytest.mark.parametrize("name", ["jemalloc", "mimalloc", "tcmalloc"])
def test_a_reference_is_counted_preloaded_as_it_is_timed(write_trace, name):
    # bench --instructions left the references out: their figures were gathered by hand (mscount
    # under valgrind with the library preloaded). Counted as the system malloc with nothing
    # preloaded, the figure would be glibc's to the instruction.
    try:
        reference = resolve(name, references=True)
    except ReferenceMissing as missing:
        pytest.skip(str(missing))
    trace = load_trace(write_trace("larger", LARGER))
    counted = count_instructions(reference, [trace])["larger"]
    assert counted > 0
    assert counted != count_instructions(resolve("glibc"), [trace])["larger"]
    assert count_instructions(reference, [trace])["larger"] == counted  # as noise-free as ours


def test_what_the_graders_process_preloads_is_not_counted(write_trace, monkeypatch, interposer):
    # A grader run with another malloc (or a profiler) preloaded: glibc must still be
    # counted as glibc, and an allocator alone, not behind what the grader preloads.
    trace = load_trace(write_trace("small", SMALL))
    plain = {name: pass_instructions(resolve(name), [trace]) for name in ("glibc", "segfit")}
    monkeypatch.setenv("LD_PRELOAD", str(interposer))
    for name, counts in plain.items():
        assert pass_instructions(resolve(name), [trace]) == counts, name


def test_a_copy_is_counted_as_its_vector_loop_not_byte_by_byte(write_trace):
    # glibc's memcpy copies large blocks with rep movsb, which valgrind counts once a byte: a
    # realloc that copies is charged as the vector loop that takes the same time instead.
    trace = write_trace("copies", "a 0 200000\nr 0 400000\nr 0 600000\nf 0\n")
    copied = 200_000 + 400_000
    spec = resolve(str(fixture_allocator("good_bump")), "classic")
    per_op = pass_instructions(spec, [load_trace(trace)], 120.0)["copies"]
    assert 0 < per_op * 4 < copied / 2  # byte by byte: 4 instructions a byte copied


def test_what_the_allocator_prints_is_not_taken_for_the_counters_lines(write_trace, tmp_path):
    # A debug printf in a student's extend_heap went into the lines the grader reads from the
    # count: "the counter's output was written over", and an honest file lost its whole
    # throughput part (red-team pass 12). Its standard output goes nowhere now.
    chatty = tmp_path / "mm.c"
    text = fixture_allocator("handout_classic").read_text()
    head = "void *mm_malloc(size_t size) {"
    assert head in text
    said = '\n    printf("%0200d\\n", 0);'  # more than a buffer's 4 KiB in a pass: written
    chatty.write_text("#include <stdio.h>\n" + text.replace(head, head + said))
    traces = [load_trace(write_trace("small", SMALL))]
    quiet = pass_instructions(resolve(str(fixture_allocator("handout_classic")), "classic"), traces)
    loud = pass_instructions(resolve(str(chatty), "classic"), traces)
    assert set(loud) == set(quiet) == {"small"} and loud["small"] > quiet["small"] > 0


def test_a_librarys_count_does_not_depend_on_its_files_name(shared_traces, tmp_path):
    # The loader keeps a library's name in memory taken from the heap mscount's own calls share:
    # the same bytes named c8_jinanpiwang.c and mm.c counted 7 instructions apart on 6 of 11
    # traces (lab check run 14).
    implicit = TESTS / "allocators" / "labs" / "csapp_implicit.c"
    built = library_for(resolve(str(implicit), lab="csapp"))
    traces = [load_trace(shared_traces / "classic" / "amptjp-bal.rep")]
    counts = []
    for name in ("x", "abcdefghij", "a" * 40, "b" * 100):
        (tmp_path / name).mkdir()
        copy = shutil.copy(built, tmp_path / name / "libmm.so")
        counts.append(pass_instructions(resolve(str(copy), lab="csapp"), traces))
    assert all(count == counts[0] for count in counts), counts


def test_a_count_runs_under_the_labs_heap_limit_and_reports_its_heap(write_trace):
    # Counted without the lab's limit, an allocator that grows by less when mem_sbrk refuses
    # placed its blocks otherwise there than where it was checked (22.0 MB against 16.3 under
    # the CS:APP lab's 20 MB, red-team pass 28).
    over = load_trace(write_trace("over", f"a 0 {21 << 20}\nf 0\n"))
    under = load_trace(write_trace("under", "a 0 4000\nf 0\n"))
    spec = resolve(str(fixture_allocator("good_bump")), lab="csapp")
    counted = counted_passes(spec, [over, under])
    assert "over" not in counted.instructions  # NULL past 20 MiB, as in the checked passes
    assert counted.heaps["under"] == 4000 + 16  # the pass's high-water mark: a header and the block


def test_a_count_runs_under_a_courses_own_heap_limit(write_trace):
    # A course whose handout raised MAX_HEAP (grading.toml's heap_limit) counts under its limit,
    # not the lab's: a 21 MiB block is refused by the CS:APP lab's 20 MB, granted under 32 MiB.
    over = load_trace(write_trace("over", f"a 0 {21 << 20}\nf 0\n"))
    spec = resolve(str(fixture_allocator("good_bump")), lab="csapp")
    course = replace(LABS["csapp"], heap_limit=32 << 20)
    counted = counted_passes(spec, [over], lab=course)
    assert counted.heaps["over"] == (21 << 20) + 16
