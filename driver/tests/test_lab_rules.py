"""Each lab's rules applied by replay and grade: its alignment, its heap limit,
its realloc(p, 0) rule, its team check, the poisoned fresh heap, the notes
where its own driver is wrong, and a grade that is the same on every run."""

from __future__ import annotations

import json
import re

import pytest

from mallocsim.team import Team

from .conftest import fixture_allocator
from .test_build import CSAPP_TEMPLATE, TRACE, source

TEAM = '\nteam_t team = {"t", "A. Student", "astudent", "", ""};\n'
# 22 MB live at once: past the CS:APP lab's 20 MB heap, nothing for mallocsim's.
BIG = "a 0 11000000\na 1 11000000\nf 0\nf 1\n"


def replay(cli, path, lab: str, trace, *extra: object):
    return cli("replay", "-a", path, "--lab", lab, "--no-timing", *extra, trace)


def test_eight_byte_alignment_is_the_csapp_labs_and_not_mallocsims(cli, write_trace, tmp_path):
    path, trace = source(tmp_path, ""), write_trace("t", TRACE)
    assert replay(cli, path, "csapp", trace).status == 0
    run = replay(cli, path, "mallocsim", trace, "--dialect", "classic")
    assert run.status == 1 and "is not 16-byte aligned" in run.said


@pytest.mark.parametrize(
    ("written", "said"),
    [
        # 11 entries of a 5-entry array cleared in mm_init (lab check 21): zeros
        ("for (int i = 0; i < 11; i++) heads[i] = 0;", "48 of the"),
        # state kept past the array for good, one byte at every malloc
        ("heads[7] = (void *)((char *)heads[7] + 1);", "1 of the"),
        ("", None),  # within the array: nothing said
    ],
)
def test_a_write_past_mm_cs_global_data_fails_as_in_the_labs_drivers(
    cli, write_trace, tmp_path, written, said
):
    # A driver links memlib.o's variables right after mm.o's: a write past mm.c's last variable
    # broke its heap or crashed it, where a library of its own hid it in its last page.
    text = CSAPP_TEMPLATE.replace(
        "int mm_init(void) { return 0; }",
        "static void *heads[5];\n"
        "int mm_init(void) { heads[0] = &heads; return 0; }\n"
        f"static void past_the_end(void) {{ {written} }}",
    ).replace("    size_t need =", "    past_the_end();\n    size_t need =")
    path = tmp_path / "mm.c"
    path.write_text(text)
    run = replay(cli, path, "csapp", write_trace("t", TRACE))
    if said is None:
        assert run.status == 0, run.said
        return
    assert run.status == 1, run.said
    assert "wrote past the end of its global data, by op 0 (a 0 12) in the checked pass" in (
        run.said
    ), run.said
    assert said in run.said and "bytes after its last variable changed" in run.said, run.said


@pytest.mark.parametrize("model", ["initial-exec", "global-dynamic"])
def test_an_mm_cs_own_thread_local_variables_are_not_taken_for_state_kept_elsewhere(
    cli, write_trace, tmp_path, model
):
    # The spare static TLS is watched (red-team pass 43); an initial-exec __thread variable of
    # mm.c's own is placed there as the library loads, and was once taken for state kept in it.
    text = CSAPP_TEMPLATE.replace(
        "int mm_init(void) { return 0; }",
        f'static __thread __attribute__((tls_model("{model}"))) long calls[4];\n'
        "int mm_init(void) { calls[3]++; return 0; }",
    ).replace("    size_t need =", "    calls[0]++;\n    size_t need =")
    path = tmp_path / "mm.c"
    path.write_text(text)
    run = replay(cli, path, "csapp", write_trace("t", TRACE))
    assert run.status == 0, run.said


def test_the_csapp_heap_stops_at_20_mb(cli, write_trace, tmp_path):
    path, trace = source(tmp_path, ""), write_trace("big", BIG)
    run = replay(cli, path, "csapp", trace)
    assert run.status == 1
    assert (
        "op 1 (a 1 11000000): malloc returned NULL for 11000000 bytes (heap 10.5 MiB of" in run.said
    )
    assert "20.0 MiB limit)" in run.said
    aligned16 = source(tmp_path, "", CSAPP_TEMPLATE.replace("#define ALIGN 8", "#define ALIGN 16"))
    assert replay(cli, aligned16, "mallocsim", trace, "--dialect", "classic").status == 0


def test_the_labs_heap_never_shrinks(cli, write_trace, tmp_path):
    shrinking = CSAPP_TEMPLATE.replace(
        "void mm_free(void *ptr) { (void)ptr; }",
        "void mm_free(void *ptr) {\n"
        "    (void)ptr;\n"
        "    if (mem_sbrk(-8) == (void *)-1)\n"
        "        *(volatile int *)0 = 1;\n"
        "}",
    )
    path, trace = source(tmp_path, "", shrinking), write_trace("t", TRACE)
    run = replay(cli, path, "csapp", trace)
    assert run.status == 1 and "crashed with SIGSEGV at op 3 (f 1)" in run.said


REALLOC_ZERO_KEEPS = CSAPP_TEMPLATE.replace(
    "void *mm_realloc(void *ptr, size_t size) {",
    "void *mm_realloc(void *ptr, size_t size) {\n    if (size == 0)\n        return ptr;",
)


def test_the_cmu_lab_requires_realloc_of_0_to_return_null(cli, write_trace, tmp_path):
    trace = write_trace("t", "a 0 16\nr 0 0\n")
    f20 = REALLOC_ZERO_KEEPS.replace(
        "int mm_init(void) { return 0; }", "bool mm_init(void) { return true; }"
    )
    f20 = f20.replace('team_t team = {"t", "A. Student", "astudent", "", ""};\n', "")
    f20 = f20.replace("mem_sbrk((int)need)", "mem_sbrk((intptr_t)need)")
    f20 = f20.replace("#define ALIGN 8", "#define ALIGN 16")
    path = source(tmp_path, "", f20)
    run = replay(cli, path, "cmu", trace)
    assert run.status == 1 and "op 1 (r 0 0): realloc with size 0 returned 0x" in run.said
    assert "the lab requires realloc(p, 0) to free the block and return NULL" in run.said
    classic = source(tmp_path, "", REALLOC_ZERO_KEEPS)
    assert replay(cli, classic, "csapp", trace).status == 0


def test_the_csapp_team_check_comes_before_any_trace(cli, write_trace, tmp_path):
    nameless = CSAPP_TEMPLATE.replace(
        '{"t", "A. Student", "astudent", "", ""}', '{"", "", "", "", ""}'
    )
    run = cli("grade", source(tmp_path, "", nameless), "--lab", "csapp", write_trace("t", TRACE))
    assert run.status == 1
    assert "team check: ERROR: Please provide the information about your team in mm.c." in run.err
    assert "Results for" not in run.out
    half = CSAPP_TEMPLATE.replace('"astudent", "", ""}', '"astudent", "B. Student", ""}')
    run = cli("grade", source(tmp_path, "", half), "--lab", "csapp", write_trace("t", TRACE))
    assert "You must fill in all or none of the team member 2 ID fields!" in run.err


def test_a_team_record_with_null_fields_is_refused_as_its_driver_crashes_on_it(
    cli, write_trace, tmp_path
):
    # A file written for a 3-field team_t (UCLA's) leaves name2 and id2 NULL: the CS:APP driver
    # reads *team.name2 and dies of SIGSEGV before any trace; it was graded here, 81 (lab check
    # pass 5). The driver's -a (no team check) reads no field: graded then.
    short = CSAPP_TEMPLATE.replace('{"t", "A. Student", "astudent", "", ""}', '{"t", "A", "a"}')
    assert short != CSAPP_TEMPLATE
    path, trace = source(tmp_path, "", short), write_trace("t", TRACE)
    run = cli("grade", path, "--lab", "csapp", "--throughput", "time", trace)
    assert run.status == 1 and "Results for" not in run.out
    assert "the team record's name2 and id2 are NULL: the initializer lists fewer strings" in (
        " ".join(run.err.split())
    )
    assert "the CS:APP driver reads every field" in " ".join(run.err.split())
    run = cli("grade", path, "--lab", "csapp", "--throughput", "time", "--no-team-check", trace)
    assert run.status == 0, run.said


def test_a_null_team_field_past_the_initializers_strings_asks_for_a_missing_comma():
    # "nope" "" (the comma after "nope" missing) joined into id1, and left id2 NULL (lab check
    # run 12); a NULL written out is no missing string.
    joined = Team("t", "A. Student", "nope", "", None).problem()
    assert joined is not None and "id2 is NULL: the initializer lists fewer strings" in joined
    assert "is a comma missing?" in joined
    # and names the way past it for a handout whose team_t has four fields (lab check run 18)
    assert "a handout whose team_t has fewer fields, whose driver reads those alone: " in joined
    assert joined.split("whose driver reads those alone: ")[1].startswith("--no-team-check")
    written = Team("t", None, "a", "", "").problem()
    assert written is not None and written.startswith("the team record's name1 is NULL: the CS")


def test_the_team_is_shown(cli, write_trace, tmp_path):
    run = cli(
        "grade", source(tmp_path, ""), "--lab", "csapp", "--throughput", "time",
        write_trace("t", TRACE),
    )  # fmt: skip
    assert run.status == 0, run.err
    assert run.out.splitlines()[:2] == ["Team Name:t", "Member 1 :A. Student:astudent"]


def test_a_team_record_cannot_forge_or_hide_lines(cli, write_trace, tmp_path):
    # A newline would print a line of the student's own (a score), an escape sequence hide the
    # real ones on a terminal and in Gradescope's output, and U+2028 broke the line where the
    # grade's table is fitted (str.splitlines): each is shown as its escape.
    forged = CSAPP_TEMPLATE.replace(
        '{"t", "A. Student", "astudent", "", ""}',
        '{"x\\n  score 100.0 / 100\\n\\x1b[8m\\u2028score 99", "A. Student\\r", "astudent", '
        '"", ""}',
    )
    report = tmp_path / "results.json"
    run = cli(
        "grade", source(tmp_path, "", forged), "--lab", "csapp", "--gradescope", report,
        write_trace("t", TRACE),
    )  # fmt: skip
    assert run.status == 0, run.err
    shown = "Team Name:x\\x0a score 100.0 / 100\\x0a\\x1b[8m\\u2028score 99"  # spaces as one
    assert run.out.splitlines()[:2] == [shown, "Member 1 :A. Student\\x0d:astudent"]
    output = json.loads(report.read_text())["output"]
    assert shown in output and not any(c in output for c in "\x1b\r\u2028")


def test_a_long_team_record_cannot_forge_a_line_by_its_wrapping(cli, write_trace, tmp_path):
    # Plain spaces did it: "H", 80 spaces, a name; a login, 60 spaces, "score   ...": the output's
    # 80-column wrapping put "  score               100.0 / 100" on a line of its own, indented
    # as the grade's own score line (a red-team pass).
    forged = CSAPP_TEMPLATE.replace(
        '{"t", "A. Student", "astudent", "", ""}',
        '{"t", "H'
        + " " * 80
        + 'Harry Bovik", "b@c.edu'
        + " " * 60
        + 'score               100.0 / 100", "", ""}',
    )
    run = cli("grade", source(tmp_path, "", forged), "--lab", "csapp", write_trace("t", TRACE))
    assert run.status == 0, run.said
    team = run.out.split("Results for")[0]
    assert "  score" not in team and "score 100.0 / 100" in team, team
    assert all(line.startswith(("Team Name:", "Member 1 :", " " * 11)) for line in team.splitlines()
               if line and not line.startswith("Compiler")), team  # fmt: skip


def test_the_team_is_read_where_nothing_of_the_tools_process_is(
    cli, write_trace, tmp_path, monkeypatch
):
    # A constructor may fill the record with whatever it finds: the agent that reads it is a
    # program of its own, with none of this process's environment (nor its memory).
    monkeypatch.setenv("MALLOCSIM_TEAM_SECRET", "leaked")
    filler = (
        "#include <stdlib.h>\n__attribute__((constructor)) static void fill(void) {\n"
        '    char *found = getenv("MALLOCSIM_TEAM_SECRET");\n'
        '    team.teamname = found != NULL ? found : "clean";\n}\n'
    )
    run = cli(
        "grade", source(tmp_path, filler), "--lab", "csapp", "--throughput", "time",
        write_trace("t", TRACE),
    )  # fmt: skip
    assert run.status == 0, run.err
    assert run.out.splitlines()[0] == "Team Name:clean"


UNINIT = CSAPP_TEMPLATE.replace(
    "int mm_init(void) { return 0; }",
    "int mm_init(void) {\n"
    "    char *first = mem_sbrk(8);\n"  # trusts fresh heap memory to be zero
    "    long seen;\n"
    "    memcpy(&seen, first, sizeof seen);\n"
    "    return seen == 0 ? 0 : -1;\n"
    "}",
)


def test_reading_uninitialised_heap_fails_in_the_checked_pass_every_time(
    cli, write_trace, tmp_path
):
    # Under the lab's own rules (a poisoned fresh heap); the csapp driver's heap is zero there.
    path, trace = source(tmp_path, "", UNINIT), write_trace("t", TRACE)
    outputs = [replay(cli, path, "mallocsim", trace, "--dialect", "classic") for _ in range(2)]
    for run in outputs:
        assert run.status == 1 and "mm_init failed (returned -1)" in run.said
    assert outputs[0].out == outputs[1].out


def test_a_byte_no_pass_ever_writes_reads_zero_as_under_the_csapp_driver(
    cli, write_trace, tmp_path
):
    # The handout's heap is malloc'd once: a byte nothing writes is zero in every pass. A public
    # solution read such a footer (90 under the driver): poisoned, it crashed at mm_init, 0.
    path, trace = source(tmp_path, "", UNINIT), write_trace("t", TRACE)
    run = cli("grade", path, "--lab", "csapp", "--throughput", "time", trace)
    assert run.status == 0, run.said


def test_a_word_written_at_the_heaps_start_before_any_sbrk_is_memory(cli, write_trace, tmp_path):
    # The drivers' heaps are all there from the start: a public CS:APP file wrote *mem_heap_lo()
    # in mm_init before any mem_sbrk, harmless under its driver, SIGBUS here (lab check pass 5).
    early = CSAPP_TEMPLATE.replace(
        "int mm_init(void) { return 0; }",
        "int mm_init(void) {\n    *(int *)mem_heap_lo() = 42;\n    return 0;\n}",
    )
    assert early != CSAPP_TEMPLATE
    run = cli("grade", source(tmp_path, "", early), "--lab", "csapp", "--throughput", "time",
              write_trace("t", TRACE))  # fmt: skip
    assert run.status == 0, run.said


CMU_UNINIT = r"""
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "mm.h"
#include "memlib.h"
#define ALIGN(s) (((s) + 15) & ~(size_t)15)
bool mm_init(void) {
    char *first = mem_sbrk(8); /* never written: trusted to read zero */
    uint64_t seen;
    if (first == (void *)-1)
        return false;
    memcpy(&seen, first, sizeof seen);
    return seen == 0;
}
void *mm_malloc(size_t size) {
    char *p = mem_sbrk((intptr_t)ALIGN(size + 8));
    if (p == (void *)-1)
        return NULL;
    *(size_t *)p = size;
    return p + 8;
}
void mm_free(void *ptr) { (void)ptr; }
void *mm_realloc(void *ptr, size_t size) {
    void *q = mm_malloc(size);
    if (ptr != NULL && q != NULL) {
        size_t old = *(size_t *)((char *)ptr - 8);
        memcpy(q, ptr, old < size ? old : size);
    }
    return q;
}
void *mm_calloc(size_t n, size_t size) {
    void *p = mm_malloc(n * size);
    if (p != NULL)
        memset(p, 0, n * size);
    return p;
}
bool mm_checkheap(int lineno) { return lineno >= 0; }
"""


def test_a_byte_no_pass_ever_writes_reads_zero_as_under_the_cmu_driver(cli, write_trace, tmp_path):
    # F20's mem_init maps each trace's heap afresh; its autograder runs mdriver (and
    # mdriver-emulate), not the MemorySanitizer build it ships for debugging. A public file that
    # never wrote a free block's links had 10/10 there, 0 on a poisoned heap (lab check pass 5).
    path = tmp_path / "mm.c"
    path.write_text(CMU_UNINIT)
    trace = write_trace("t", "1\n2\n4\n0\na 0 24\na 1 100\nf 0\nf 1\n")
    run = cli("grade", path, "--lab", "cmu", "--throughput", "time", trace)
    assert run.status == 0, run.said


def test_the_csapp_drivers_realloc_bug_is_named_and_not_copied(cli, write_trace, tmp_path):
    trace = write_trace("ids", "a 0 8\na 130 8\nr 130 16\nf 130\nf 0\n")
    run = cli(
        "grade", source(tmp_path, ""), "--lab", "csapp", "--throughput", "time", trace
    )  # fmt: skip
    assert run.status == 0, run.err
    assert f"{trace}:3: the CS:APP driver would wrongly fail this realloc of id 130" in run.said


@pytest.mark.parametrize("lab", ["csapp", "mallocsim"])
def test_the_same_submission_gets_the_same_grade_every_run(cli, write_trace, tmp_path, lab):
    # Passes of some hundreds of ops, as a lab's traces have: a pass of 8 ops (a microsecond) is
    # no measure of the clock check's under load, which the hand-overs around each pass dominate
    # (one grade in a few took 247 times glibc's time per instruction and lost half its points).
    ops = "".join(f"a {i} {16 + 24 * (i % 7)}\n" for i in range(200))
    trace = write_trace(
        "t", ops + "".join(f"f {i}\n" for i in range(200)) + "a 2 100\nr 2 300\nf 2\n"
    )
    path = source(tmp_path, "", CSAPP_TEMPLATE.replace("#define ALIGN 8", "#define ALIGN 16"))
    extra = ("--dialect", "classic") if lab == "mallocsim" else ()
    outputs = [cli("grade", path, "--lab", lab, *extra, trace) for _ in range(3)]
    scores = {
        next(line for line in run.out.splitlines() if line.startswith("  score "))
        for run in outputs
    }
    instructions = {
        next(line for line in run.out.splitlines() if line.startswith("  throughput T"))
        for run in outputs
    }
    assert all(run.status == 0 for run in outputs), outputs[0].err
    assert len(scores) == 1 and len(instructions) == 1


@pytest.mark.parametrize(
    ("fixture", "note"),
    [
        (
            "realloc_drops_data",
            "the CS:APP driver passes this trace: it fills block 0 with 0x00 bytes",
        ),
        (
            "overlap",
            "the CS:APP driver checks only a new block's two ends for overlap",
        ),
        (  # a counter kept at a fixed heap offset, inside a live block: 97 under that driver
            "metadata_overwrite",
            "the CS:APP driver checks a block's bytes only when it is realloc'd",
        ),
    ],
)
def test_where_the_csapp_driver_cannot_see_a_fault_the_grade_says_so(
    cli, write_trace, tmp_path, fixture, note
):
    from .conftest import BUG_SHOWN_BY, fixture_allocator

    trace = write_trace("t", BUG_SHOWN_BY[fixture][1])
    source = tmp_path / f"{fixture}.c"  # the fixture with the team record the lab requires
    source.write_text(fixture_allocator(fixture).read_text() + TEAM)
    run = cli("grade", source, "--lab", "csapp", "--throughput", "time", trace)
    assert run.status == 1 and " ".join(note.split()) in run.said


@pytest.mark.parametrize("lab", ["cmu-2015", "cmu-pku", "cmu-pku-2022", "cmu-pku-2025"])
@pytest.mark.parametrize("ignore_ranges", [1, 0])
def test_where_the_2013_cmu_driver_skips_its_overlap_check_the_grade_says_so(
    cli, write_trace, tmp_path, lab, ignore_ranges
):
    # The 2013-era driver skips its overlap check on a trace whose header's fourth number
    # (ignore_ranges) is 1: an overlapping block passed there at 178% utilization, where mallocsim
    # fails it, silent on the driver (lab check run 23).
    from .conftest import fixture_allocator

    # The handout-style implicit list whose third malloc hands out the second one's block again.
    text = fixture_allocator("labs/cmu2015_implicit").read_text()
    text = text.replace(
        "int mm_init(void) {",
        "static int calls;\nstatic void *given;\nint mm_init(void) {\n    calls = 0;",
        1,
    ).replace(
        "void *malloc(size_t size) {",
        "static void *honest_malloc(size_t size);\n"
        "void *malloc(size_t size) {\n"
        "    void *p = calls++ == 2 ? given : honest_malloc(size);\n"
        "    given = p;\n"
        "    return p;\n"
        "}\n"
        "static void *honest_malloc(size_t size) {",
        1,
    )
    path = tmp_path / "mm.c"
    path.write_text(text)
    trace = write_trace("t", f"1\n3\n4\n{ignore_ranges}\na 0 32\nf 0\na 1 32\na 2 32\n")
    run = cli("grade", path, "--lab", lab, "--throughput", "time", trace)
    said = " ".join(run.said.split())
    assert run.status == 1 and "overlap" in said, said
    assert ("the 2013-era CMU driver skips its overlap check" in said) == bool(ignore_ranges)


@pytest.mark.parametrize(
    ("lost", "noted"),
    [
        ("memcpy(q, ptr, (old < size ? old : size) - 8); /* BUG */", True),  # zeros left
        ("memcpy(q, ptr, old < size ? old : size); *(char *)q = 0x50; /* BUG */", False),
    ],
)
def test_block_0s_lost_data_is_said_to_pass_the_csapp_driver_only_where_zeros_were_left(
    cli, write_trace, tmp_path, lost, noted
):
    # The driver expects 0x00 in block 0: data lost to zeros (fresh memory) passes there, any
    # other byte fails there too; the note said "might pass" of a header's 0x50 (lab check run 9).
    copy = "memcpy(q, ptr, old < size ? old : size);"
    assert copy in CSAPP_TEMPLATE
    path = source(tmp_path, "", CSAPP_TEMPLATE.replace(copy, lost))
    trace = write_trace("t", "a 0 48\nr 0 64\n")
    run = cli("grade", path, "--lab", "csapp", "--throughput", "time", trace)
    said = " ".join(run.said.split())
    assert run.status == 1 and "realloc did not keep the data" in said, said
    note = "the CS:APP driver passes this trace: it fills block 0 with 0x00 bytes"
    assert (note in said) == noted, said


@pytest.mark.parametrize(("block", "noted"), [(0, True), (1, False)])
def test_a_crash_reading_block_0s_data_is_said_to_pass_the_csapp_driver(
    cli, write_trace, tmp_path, block, noted
):
    # A public solution read a flag from a block's payload when it freed it: the handout's
    # driver fills block 0 with 0x00 bytes, so realloc2-bal passed there (98/100) and crashed
    # here, with no word of why (lab check run 8). Block 1 holds 0x01 bytes under that driver.
    reads_payload = "void mm_free(void *ptr) { char *flag = *(char **)ptr; if (flag) *flag = 0; }"
    template = CSAPP_TEMPLATE.replace("void mm_free(void *ptr) { (void)ptr; }", reads_payload)
    assert reads_payload in template
    trace = write_trace("t", f"a {block} 16\nf {block}\n")
    run = cli("grade", source(tmp_path, "", template), "--lab", "csapp", "--throughput", "time",
              trace)  # fmt: skip
    assert run.status == 1 and "crashed with SIGSEGV" in run.said, run.said
    note = "the CS:APP driver passes this trace: it fills block 0 with 0x00 bytes"
    assert (note in " ".join(run.said.split())) == noted, run.said


@pytest.mark.parametrize(("block", "noted"), [(0, True), (1, False)])
def test_a_later_crash_from_block_0s_data_is_said_to_pass_the_csapp_driver(
    cli, write_trace, tmp_path, block, noted
):
    # What a free read from block 0's data may crash a later op: a public file's realloc-bal
    # failed at a malloc after block 0's free, the driver's zero fill passing it, with no note
    # (lab check run 20). This free keeps a pointer read from the payload, and the next malloc
    # writes there. (No other block is freed: the driver's fill of block 9, 0x09 bytes, would
    # crash its next pass, and the replay with the driver's fill that confirms the note did.)
    keeps = "void mm_free(void *ptr) { kept = *(char **)ptr; }"
    template = CSAPP_TEMPLATE.replace("void mm_free(void *ptr) { (void)ptr; }", keeps)
    writes = "static char *kept;\nvoid *mm_malloc(size_t size) {\n    if (kept) *kept = 0;"
    template = template.replace("void *mm_malloc(size_t size) {", writes)
    assert keeps in template and writes in template
    trace = write_trace("t", f"a {block} 16\nf {block}\na 9 16\n")
    run = cli("grade", source(tmp_path, "", template), "--lab", "csapp", "--throughput", "time",
              trace)  # fmt: skip
    said = " ".join(run.said.split())
    assert run.status == 1 and "crashed with SIGSEGV at op 2 (a 9 16)" in said, said
    note = "(it crashed after freeing or reallocating block 0; replayed with that fill"
    assert (note in said) == noted, said


@pytest.mark.parametrize(("old", "noted"), [(4096, True), (48, False)])
def test_data_lost_past_the_cmu_drivers_maxfill_is_said_to_pass_there(
    cli, write_trace, tmp_path, old, noted
):
    # The F20 mdriver fills and checks a block's first 2048 bytes only (config.h's MAXFILL): a
    # public file whose realloc lost byte 131280 of a block passed syn-mix-realloc there, 70.9,
    # and failed here, with no word of why (lab check pass 7). This realloc drops the old
    # payload's last 16 bytes.
    path = tmp_path / "mm.c"
    copy = "memcpy(q, ptr, old < size ? old : size);"
    assert copy in CMU_UNINIT
    dropped = "memcpy(q, ptr, (old < size ? old : size) - 16); /* BUG */"
    path.write_text(CMU_UNINIT.replace(copy, dropped))
    trace = write_trace("t", f"a 0 {old}\nr 0 {2 * old}\n")
    run = cli("grade", path, "--lab", "cmu", "--throughput", "time", trace)
    assert run.status == 1 and "realloc did not keep the data" in run.said, run.said
    note = (
        f"the CMU driver passes this trace: it fills and checks only a block's first 2048 "
        f"bytes (config.h's MAXFILL), and the data was lost at byte {old - 16}"
    )
    assert (note in run.said) == noted, run.said


@pytest.mark.parametrize(("size", "noted"), [(4096, True), (1024, False)])
def test_a_crash_with_a_block_past_the_cmu_drivers_maxfill_live_is_said_to_pass_there(
    cli, write_trace, tmp_path, size, noted
):
    # An unfinished 2024 file crashed following a word of its own kept past byte 2048 of a live
    # block, which the driver leaves zero: valid there (78.3), a bare SIGSEGV here (lab check
    # runs 9 and 13). This free follows the block's last word as a pointer when it is not 0.
    path = tmp_path / "mm.c"
    free = "void mm_free(void *ptr) { (void)ptr; }"
    assert free in CMU_UNINIT
    follows = (
        "void mm_free(void *ptr) {\n"
        "    size_t size = *(size_t *)((char *)ptr - 8);\n"
        "    char *word = *(char **)((char *)ptr + (size - 8) / 8 * 8);\n"
        "    if (word != NULL)\n"
        "        *word = 0;\n"
        "}"
    )
    path.write_text(CMU_UNINIT.replace(free, follows))
    trace = write_trace("t", f"a 0 {size}\nf 0\n")
    for lab in ("cmu", "cmu-2022"):
        run = cli("grade", path, "--lab", lab, "--throughput", "time", trace)
        assert run.status == 1 and "crashed with SIGSEGV at op 1" in run.said, run.said
        said = " ".join(run.said.split())
        assert (
            "the CMU driver passes this trace: it fills only a block's first 2048" in said
        ) == noted, said


@pytest.mark.parametrize(
    ("lab", "ops"),
    [
        ("cmu", "a 0 4096\na 1 16\na 2 16\n"),  # a block past MAXFILL live at the crash
        ("csapp", "a 0 16\nf 0\na 1 16\na 2 16\n"),  # the crash after block 0's free
    ],
)
def test_a_crash_the_drivers_fill_would_not_prevent_is_not_said_to_pass_there(
    cli, write_trace, tmp_path, lab, ops
):
    # An unfinished CMU file crashed on its own header words with a 60 KB block live; the grade
    # said its driver "might pass" the trace, which crashed there at the same op (lab check run
    # 24). The note now stands only where the trace, replayed as the driver fills blocks, is
    # valid. This malloc crashes at its third call of a pass, whatever the blocks hold.
    template = CMU_UNINIT if lab == "cmu" else CSAPP_TEMPLATE
    init = "bool mm_init(void) {" if lab == "cmu" else "int mm_init(void) {"
    malloc = "void *mm_malloc(size_t size) {"
    assert init in template and malloc in template
    crashing = template.replace(init, "static int calls;\n" + init + "\n    calls = 0;").replace(
        malloc, malloc + "\n    if (++calls == 3)\n        *(volatile char *)8 = 0;"
    )
    trace = write_trace("t", ops)
    run = cli("grade", source(tmp_path, "", crashing), "--lab", lab, "--throughput", "time", trace)
    said = " ".join(run.said.split())
    assert run.status == 1 and "crashed with SIGSEGV at op" in said, said
    assert "passes this trace" not in said and "might pass" not in said, said


def test_a_csapp_file_without_a_team_record_is_told_so(cli, write_trace):
    from .conftest import fixture_allocator

    source = fixture_allocator("overlap")
    run = cli("grade", source, "--lab", "csapp", write_trace("t", TRACE))
    assert run.status == 1
    assert run.err.splitlines()[0] == (
        f"mallocsim grade: {source}: defines no team record (team_t team = {{...}}): the csapp "
        "lab's driver prints it and refuses to run without one (--no-team-check, or team_check "
        "= false in grading.toml, for a handout without it: its driver's -a)"
    )


def test_a_course_without_team_records_turns_the_check_off(cli, write_trace, tmp_path):
    # Handouts that dropped the record (SNU's CS:APP one) run under the driver's -a: a public
    # solution to one, 98 under its driver, got 0 here ("defines no team record") with no way out.
    from .conftest import fixture_allocator

    source = fixture_allocator("labs/csapp_implicit")
    text = source.read_text()
    assert "team_t team" in text
    bare = tmp_path / "mm.c"
    bare.write_text(
        text[: text.index("team_t team")] + text[text.index("};", text.index("team_t team")) + 2 :]
    )
    trace = write_trace("t", TRACE)
    run = cli("grade", bare, "--lab", "csapp", "--throughput", "time", "--no-team-check", trace)
    assert run.status == 0, run.said
    assert "Team Name" not in run.out
    toml = tmp_path / "grading.toml"
    toml.write_text('[grade]\nlab = "csapp"\nteam_check = false\n')
    run = cli("grade", bare, "--config", toml, "--throughput", "time", trace)
    assert run.status == 0, run.said
    assert cli("grade", bare, "--lab", "csapp", trace).status == 1  # on by default


# 100 blocks of 64 bytes live at once: a utilization that earns an index the deduction shows on.
LIVE_64 = "".join(f"a {i} 64\n" for i in range(100)) + "".join(f"f {i}\n" for i in range(100))


def _grade_cmu(cli, tmp_path, trace, extra: str):
    from .conftest import FIXTURE_ALLOCATORS

    path = tmp_path / "mm.c"  # cmu_segregated.c keeps 120 bytes of globals: its list heads
    path.write_text((FIXTURE_ALLOCATORS / "labs" / "cmu_segregated.c").read_text() + extra)
    run = cli("grade", path, "--lab", "cmu", "--throughput", "time", trace)
    assert run.status == 0, run.out + run.err
    return run


def test_the_cmu_lab_takes_a_point_per_8_bytes_of_global_data_past_128(cli, write_trace, tmp_path):
    trace = write_trace("t", LIVE_64)
    run = _grade_cmu(cli, tmp_path, trace, "char spare[136];\n")
    assert "global data: mm.c defines 256 bytes of writable variables (the lab allows 128" in (
        run.said
    )
    assert "256 bytes of global data, past the 128-byte limit: 16.00 points deducted" in run.said
    assert (
        "As its emulating driver prints it: 128-byte global data limit exceeded (using 256 "
        "bytes), deducting 16.00 points!"
    ) in run.said
    printed = re.search(r"Perf index = [\d.]+ \(util\) \+ [\d.]+ \(thru\) = ([\d.]+)/100", run.said)
    index = re.search(r"performance index +([\d.]+) / 100", run.out)
    assert printed and index
    assert float(printed[1]) > 16 and abs(float(printed[1]) - 16 - float(index[1])) < 0.06

    within = _grade_cmu(cli, tmp_path, trace, "")
    assert "mm.c defines 120 bytes" in within.said and "deducting" not in within.said


def test_the_csapp_lab_says_how_much_global_data_mm_c_keeps_and_takes_nothing(
    cli, write_trace, tmp_path
):
    run = cli("grade", source(tmp_path, ""), "--lab", "csapp", "--throughput", "time",
              write_trace("t", TRACE))  # fmt: skip
    assert run.status == 0, run.err
    assert "global data: mm.c defines 40 bytes of writable variables (no limit applied)" in (
        run.said
    )
    assert "deduct" not in run.said


# valgrind's client-request preamble and a request (harmless without valgrind: the four
# rotations make a full turn, and the exchange does nothing).
VALGRIND_REQUEST = """
static long ask_valgrind(long *args) {
    long answer = 0;
    __asm__ volatile("rolq $3, %%rdi; rolq $13, %%rdi; rolq $61, %%rdi; rolq $51, %%rdi;"
                     "xchgq %%rbx, %%rbx" : "+d"(answer) : "a"(args) : "cc", "memory");
    return answer;
}
int mm_check(void) { long args[6] = {0}; return ask_valgrind(args) == 0; }
"""


def test_code_that_talks_to_valgrind_cannot_be_graded_by_instruction_count(
    cli, write_trace, tmp_path
):
    path, trace = source(tmp_path, VALGRIND_REQUEST), write_trace("t", TRACE)
    run = cli("grade", path, "--lab", "csapp", trace)
    assert run.status == 1
    assert "contains a valgrind client request (valgrind.h's macros)" in run.said
    assert "or grade with --throughput time" in run.said
    timed = cli("grade", path, "--lab", "csapp", "--throughput", "time", trace)
    assert timed.status == 0, timed.err


def test_relocations_in_code_do_not_link(cli, write_trace, tmp_path):
    # The loader would write them into the code after the grader read it.
    text_relocation = 'asm(".text\\n.quad mm_malloc\\n.previous");\n'
    run = cli("grade", source(tmp_path, text_relocation), "--lab", "csapp", "--throughput",
              "time", write_trace("t", TRACE))  # fmt: skip
    assert run.status == 1 and "does not compile" in run.said


# 4-byte headers before 8-aligned payloads: a block of up to 4 bytes takes 8, so payloads lie
# 8 bytes apart, two of them in one 16-byte granule.
FOUR_BYTE_HEADERS = (
    "#include <string.h>\n"
    '#include "mm.h"\n'
    '#include "memlib.h"\n'
    + TEAM
    + "int mm_init(void) { return mem_sbrk(4) == (void *)-1 ? -1 : 0; }\n"
    "void *mm_malloc(size_t size) {\n"
    "    char *p = mem_sbrk((int)((size + 4 + 7) / 8 * 8));\n"
    "    unsigned header = (unsigned)size;\n"
    "    if (p == (void *)-1)\n"
    "        return NULL;\n"
    "    memcpy(p, &header, 4);\n"
    "    return p + 4;\n"
    "}\n"
    "void mm_free(void *ptr) { (void)ptr; }\n"
    "void *mm_realloc(void *ptr, size_t size) {\n"
    "    unsigned old;\n"
    "    char *q = mm_malloc(size);\n"
    "    if (ptr == NULL || q == NULL)\n"
    "        return q;\n"
    "    memcpy(&old, (char *)ptr - 4, 4);\n"
    "    memcpy(q, ptr, old < size ? old : size);\n"
    "    return q;\n"
    "}\n"
)


def test_blocks_8_bytes_apart_do_not_overlap_under_an_8_byte_alignment(cli, write_trace, tmp_path):
    # The overlap check's map had 16-byte granules: [heap+0x10, +2) and [heap+0x18, +2)
    # shared one and were failed as overlapping, as public CMU 2014-15 solutions were.
    path = source(tmp_path, "", FOUR_BYTE_HEADERS)
    trace = write_trace("tiny", "a 0 2\na 1 2\na 2 2\na 3 2\nr 1 3\nf 0\nf 1\nf 2\nf 3\n")
    run = replay(cli, path, "csapp", trace)
    assert run.status == 0, run.said
    assert "overlaps" not in run.said


@pytest.mark.parametrize(
    ("lab", "allocator", "head", "refusal"),
    [
        ("cmu-2015", "labs/cmu2015_implicit", "int mm_init(void) {", "return -1;"),
        ("cmu", "labs/cmu_segregated", "bool mm_init(void) {", "return false;"),
    ],
)
@pytest.mark.parametrize("throughput", ["time", "instructions"])
def test_the_cmu_labs_heap_starts_where_their_memlib_puts_it(
    cli, write_trace, tmp_path, lab, allocator, head, refusal, throughput
):
    # F15's memlib maps the heap at 0x800000000, F20's tries there first: a public 2015 solution
    # keeps 32-bit offsets OR'ed with that address (99 under its driver) and crashed at op 0 here,
    # where the heap was elsewhere (lab check pass 4). Counted too: mscount places it alike.
    text = fixture_allocator(allocator).read_text()
    assert head in text
    check = f"{head}\n    if (mem_heap_lo() != (void *)0x800000000)\n        {refusal}\n"
    path = tmp_path / "mm.c"
    path.write_text(text.replace(head, check, 1))
    trace = write_trace("t", "a 0 24\na 1 100\nf 0\nf 1\n")
    run = cli("grade", path, "--lab", lab, "--throughput", throughput, trace)
    assert run.status == 0, run.said
    assert "throughput not counted" not in run.said


def test_a_crash_on_a_poisoned_heap_says_the_heap_was_poisoned(cli, write_trace):
    # An unfinished CMU file followed a list link it never wrote: valid on its driver's zeroed
    # heap, a crash here, with nothing to say why the two differ (lab check pass 4).
    from .conftest import BUG_SHOWN_BY, fixture_allocator

    trace = write_trace("t", BUG_SHOWN_BY["segfault"][1])
    said = {}
    for lab in ("mallocsim", "csapp"):
        run = cli("grade", fixture_allocator("segfault"), "--lab", lab, "--dialect", "classic",
                  "--no-team-check", "--throughput", "time", trace)  # fmt: skip
        assert run.status == 1 and "crashed with SIGSEGV" in run.said
        said[lab] = " ".join(run.said.split())
    assert (
        "fresh heap memory holds 0xA5 bytes in the mallocsim lab's checked passes"
        in (said["mallocsim"])
    )
    assert "0xA5" not in said["csapp"]  # its driver's heap starts zeroed, as its grade's does


def test_a_drivers_blind_spot_on_several_traces_is_one_note_naming_them(cli, write_trace, tmp_path):
    from .conftest import BUG_SHOWN_BY, fixture_allocator

    traces = [write_trace(name, BUG_SHOWN_BY["metadata_overwrite"][1]) for name in ("t1", "t2")]
    source = tmp_path / "metadata_overwrite.c"
    source.write_text(fixture_allocator("metadata_overwrite").read_text() + TEAM)
    run = cli("grade", source, "--lab", "csapp", "--throughput", "time", *traces)
    said = " ".join(run.said.split())
    assert run.status == 1 and said.count("checks a block's bytes only when it is realloc'd") == 1
    assert "t1, t2: the CS:APP driver checks a block's bytes only when it is realloc'd" in said


# CMU_UNINIT counting its mallocs in the word its mm_init trusts to read zero, as a 2024 F22+
# handout's file did (lab check run 9): nothing clears it but a heap mapped afresh.
TRUSTS_A_ZERO_HEAP = CMU_UNINIT.replace(
    "    *(size_t *)p = size;\n", "    *(size_t *)p = size;\n    ++*(uint64_t *)mem_heap_lo();\n"
)


def test_the_f22_cmu_handouts_start_every_pass_on_a_zeroed_heap(cli, write_trace, tmp_path):
    # F20's mem_reset_brk moves the break and clears nothing: the timed passes run on what the
    # pass before left (a crash, there and here, as `cmu`); F22's maps the heap afresh before
    # every pass, and the file passes there (`cmu-2022`).
    path = tmp_path / "mm.c"
    path.write_text(TRUSTS_A_ZERO_HEAP)
    trace = write_trace("t", "a 0 24\na 1 100\nf 0\nf 1\n")
    assert TRUSTS_A_ZERO_HEAP != CMU_UNINIT
    run = cli("grade", path, "--lab", "cmu", "--throughput", "time", trace)
    assert run.status == 1 and "mm_init failed" in run.said and "timed pass 1" in run.said
    run = cli("grade", path, "--lab", "cmu-2022", "--throughput", "time", trace)
    assert run.status == 0, run.said
    assert "(1/1 valid)" in run.said


def test_the_f22_cmu_handouts_read_a_trace_strictly(cli, write_trace, tmp_path):
    # F20's fscanf keeps the last size for an op line without one; F22's tracefile.c refuses the
    # line, and the whole run.
    sizeless = write_trace("t", "a 0 24\na 1\nf 0\nf 1\n")
    source = tmp_path / "mm.c"
    source.write_text(fixture_allocator("labs/cmu_segregated").read_text())
    assert replay(cli, source, "cmu", sizeless).status == 0
    run = replay(cli, source, "cmu-2022", sizeless)
    assert run.status != 0 and "t.rep:" in run.err, run.said


def test_a_crash_once_the_heap_limit_is_reached_is_not_said_to_pass_under_the_cmu_driver(
    cli, write_trace, tmp_path
):
    # A file that used mem_sbrk's (void *)-1 crashed once the blocks live needed more than the
    # lab's 100 MB: the F22 driver fails the trace too ("Ran out of memory"), but the grade said
    # the driver might pass it, a 60 MB block being live (lab check run 15).
    path = tmp_path / "mm.c"
    checked = "    if (p == (void *)-1)\n        return NULL;\n"
    assert checked in CMU_UNINIT
    path.write_text(CMU_UNINIT.replace(checked, ""))
    trace = write_trace("t", "a 0 60000000\na 1 60000000\nf 0\nf 1\n")
    run = cli("grade", path, "--lab", "cmu-2022", "--throughput", "time", trace)
    assert run.status == 1 and "crashed with SIGSEGV at op 1" in run.said, run.said
    said = " ".join(run.said.split())
    assert "passes this trace" not in said
    assert "t: the blocks live when the allocator crashed need 114 MiB, more than the lab's" in said
    assert "past which mem_sbrk returns (void *)-1" in said


def test_a_file_that_defines_a_function_the_driver_calls_is_told_what_the_driver_would_do(
    cli, write_trace, tmp_path
):
    # The handouts link mm.o into mdriver: a malloc of the file's that calls mm_malloc, or a
    # memset gcc turns into a call to itself, crashed the CS:APP driver, where mallocsim keeps them
    # the file's own and grades it (lab check run 15).
    from .conftest import fixture_allocator

    source = fixture_allocator("good_bump").read_text()
    path = tmp_path / "mm.c"
    path.write_text(
        source + "\nvoid *malloc(size_t n);\nvoid *malloc(size_t n) { return mm_malloc(n); }\n"
    )
    run = cli("grade", path, "--lab", "csapp", "--no-team-check", write_trace("t", TRACE))
    said = " ".join(run.said.split())
    assert run.status == 0, run.said
    assert "mm.c defines malloc, which the lab's own driver calls too" in said
    path.write_text(source)
    run = cli("grade", path, "--lab", "csapp", "--no-team-check", write_trace("t", TRACE))
    assert "which the lab's own driver calls too" not in " ".join(run.said.split())


@pytest.mark.parametrize("chunk", ["64", "(1 << 12)"])
def test_a_2013_cmu_file_pays_the_brk_call_its_drivers_memlib_makes_at_each_growth(
    cli, write_trace, tmp_path, chunk
):
    # The 2013-era memlib calls the real sbrk at every mem_sbrk: under its driver a file that
    # grows its heap 64 bytes at a time (a public 2015 solution's CHUNKSIZE) ran amptjp at 7,058
    # Kops/s, at 54,540 with that one call taken out, and mallocsim timed it at 95,555 (lab
    # check run 23). Each growth of the checked pass is now charged to the timed pass.
    from mallocsim.sbrk_cost import SECONDS_PER_CALL, SECONDS_PER_NEW_PAGE

    from .conftest import fixture_allocator

    path = tmp_path / "mm.c"
    text = fixture_allocator("labs/cmu2015_implicit").read_text()
    path.write_text(text.replace("#define CHUNKSIZE (1 << 12)", f"#define CHUNKSIZE {chunk}", 1))
    live = 2000  # blocks of 48 bytes, all live at once: the heap grows at every malloc by 64
    trace = write_trace(
        "t",
        f"1\n{live}\n{2 * live}\n1\n"
        + "".join(f"a {i} 48\n" for i in range(live))
        + "".join(f"f {i}\n" for i in range(live)),
    )
    report = tmp_path / "grade.json"
    run = cli("grade", path, "--lab", "cmu-2015", "--throughput", "time", "--json", report, trace)
    assert run.status == 0, run.out + run.err
    grade = json.loads(report.read_text())["grade"]
    (result,) = grade["results"]
    (scored,) = grade["score"]["per_trace"]
    charge = (
        result["growth_calls"] * SECONDS_PER_CALL
        + result["growth_new_pages"] * SECONDS_PER_NEW_PAGE
    )
    assert scored["cost"] == pytest.approx(result["seconds"] + charge)
    said = " ".join(run.said.split())
    if chunk == "64":
        assert result["growth_calls"] >= live and result["growth_new_pages"] >= 25
        assert "mem_sbrk makes a brk system call for every growth of the heap" in said
        assert f"(most: t, {result['growth_calls']:,} growths a pass" in said
    else:  # a page at a time: a call in 64 mallocs, under the tenth of a millisecond said
        assert result["growth_calls"] <= live // 64 + 2
        assert "brk system call" not in said
