"""Building a student's mm.c as its lab does: every heap checker signature
students write builds and is really called (a static one too), a checker the
lab's build leaves out is said once, warnings are kept with the dangerous ones
first, and a hint names only a lab the file really builds under."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from mallocsim.allocators import AllocatorError, build_of
from mallocsim.build import find_checker, lab_flags, narrowed_pointer, split_warnings
from mallocsim.elf import (
    library_load_time_code,
    load_time_code,
    protected_sections,
    read_elf,
    sections,
)
from mallocsim.labs import lab_named

from .conftest import TESTS, fixture_allocator

# A CS:APP-style allocator (8-byte aligned bump pointer) with a slot for a checker.
CSAPP_TEMPLATE = """\
#include <stdbool.h>
#include <string.h>
#include "mm.h"
#include "memlib.h"

team_t team = {"t", "A. Student", "astudent", "", ""};

#define ALIGN 8 /* each block: an ALIGN-byte header holding the size, then the payload */
int mm_init(void) { return 0; }
void *mm_malloc(size_t size) {
    size_t need = (size + 2 * ALIGN - 1) / ALIGN * ALIGN;
    char *p = mem_sbrk((int)need);
    if (p == (void *)-1)
        return NULL;
    memcpy(p, &size, sizeof size);
    return p + ALIGN;
}
void mm_free(void *ptr) { (void)ptr; }
void *mm_realloc(void *ptr, size_t size) {
    void *q = mm_malloc(size);
    size_t old;
    if (ptr == NULL || q == NULL)
        return q;
    memcpy(&old, (char *)ptr - ALIGN, sizeof old);
    memcpy(q, ptr, old < size ? old : size);
    return q;
}
/* CHECKER */
"""
TRACE = "a 0 12\na 1 20\nr 0 40\nf 1\nf 0\n"


def source(tmp_path, checker: str, template: str = CSAPP_TEMPLATE):
    path = tmp_path / "mm.c"
    path.write_text(template.replace("/* CHECKER */", checker))
    return path


@pytest.mark.parametrize(
    ("checker", "signature"),
    [
        ("int mm_check(void) { return OK; }", "int mm_check(void)"),
        ("static int mm_check(void) { return OK; }", "static int mm_check(void)"),
        (
            "int mm_checkheap(int verbose) { return OK + 0 * verbose; }",
            "int mm_checkheap(int verbose)",
        ),
        ("bool mm_checkheap(int line) { (void)line; return OK; }", "_Bool mm_checkheap(int line)"),
        ("static bool mm_check(void) { return OK; }", "static _Bool mm_check(void)"),
        # an attribute between its type and its name (the csapp_explicit.c fixture's)
        (
            "static int __attribute__((unused)) mm_check(void) { return OK; }",
            "static int __attribute__((unused)) mm_check(void)",
        ),
    ],
)
def test_every_checker_signature_builds_and_is_really_called(
    cli, write_trace, tmp_path, checker, signature
):
    trace = write_trace("t", TRACE)
    path = source(tmp_path, "#define OK 1\n" + checker)
    build = build_of(path, "classic", "csapp")
    assert (build.checker, build.checker_note) == (signature, None)
    run = cli("replay", "-a", path, "--lab", "csapp", "--check-heap", "--no-timing", trace)
    assert run.status == 0, run.out + run.err
    # The same checker finding the heap broken fails the trace at op 0: it is called.
    broken = source(tmp_path, "#define OK 0\n" + checker)
    run = cli("replay", "-a", broken, "--lab", "csapp", "--check-heap", "--no-timing", trace)
    assert run.status == 1 and "op 0 (a 0 12): mm_checkheap failed" in run.said


def test_a_void_checker_is_called_and_said_to_report_only_by_crashing(tmp_path):
    path = source(tmp_path, "void mm_checkheap(int verbose) { (void)verbose; }")
    build = build_of(path, "classic", "csapp")
    assert build.checker == "void mm_checkheap(int verbose)"
    assert "returns void: it runs after every op, but only a crash" in build.checker_note


def test_a_checker_behind_debug_is_said_once_per_lab_build(tmp_path):
    path = source(tmp_path, "#ifdef DEBUG\nint mm_check(void) { return 1; }\n#endif")
    build = build_of(path, "classic", "csapp")
    assert build.checker is None
    assert "mm_check is not compiled in the csapp lab's build" in build.checker_note


def test_a_checker_of_no_known_signature_is_not_called(tmp_path):
    path = source(tmp_path, "int mm_checkheap(int a, int b) { return a + b; }")
    build = build_of(path, "classic", "csapp")
    assert build.checker is None
    assert "int mm_checkheap(int a, int b) is not a heap checker signature" in build.checker_note


def test_a_long_statement_is_searched_for_the_checker_in_linear_time():
    # 100,000 lines with no `;`, `{`, `}` or `#` (one constant's expression, 300 KB): the
    # single regex that read the checker's words back from every line start took minutes.
    statement = "static const long big = 0\n" + "+0\n" * 100_000 + ";\n"
    text = statement + "static int mm_check(void) { return 1; }\n" + statement
    started = time.monotonic()
    found = find_checker(lab_named("csapp"), text, text)
    assert time.monotonic() - started < 2.0
    assert found == ("mm_check", "static int mm_check(void)", None)
    started = time.monotonic()
    found = find_checker(lab_named("csapp"), statement, statement)
    assert time.monotonic() - started < 2.0
    assert found == (None, None, "no heap checker (mm_check or mm_checkheap) is defined")


def test_warnings_are_kept_with_the_dangerous_ones_first(tmp_path):
    path = source(
        tmp_path,
        "static int unused_variable(void) { int x; return 0; }\n"
        "int mm_check(void) { return (int)(long)mm_malloc(1) != 0 && (int)mem_heap_lo(); }",
    )
    build = build_of(path, "classic", "csapp", word_size="64")  # -m32 would warn of none
    assert len(build.warnings) >= 2
    assert "pointer-to-int-cast" in build.warnings[0]
    assert build.warnings[0].startswith("mm.c: In function") or build.warnings[0].startswith(
        "mm.c:"
    )


def test_the_build_measures_the_writable_global_data_mm_c_defines(tmp_path):
    # The template's team record is 5 pointers (40 bytes); the rest is counted wherever the
    # compiler puts it (a static array in a function, thread-local data, a section of its
    # own), and read-only data is not: constants, nor a const table of pointers.
    counted = (
        "long count;\n"
        "_Thread_local long per_thread;\n"
        '__attribute__((section("kept"))) long stash[8] = {1};\n'
        "long *spare(void) { static long kept[12]; kept[0] = count + per_thread; return kept; }\n"
    )
    constants = (
        "const long table[64] = {1, 2, 3};\n"
        'static const char *const names[] = {"a", "b"};\n'
        "const char *name(int i) { return names[i & 1]; }\n"
    )
    build = build_of(source(tmp_path, counted + constants), "classic", "csapp")
    assert build.global_data == 40 + 8 + 8 + 64 + 96  # not the 24 bytes aligning `kept`
    assert build_of(source(tmp_path, constants), "classic", "csapp").global_data == 40
    # Data written in assembly has no size, and is counted all the same.
    hidden = 'asm(".section .bss\\nhidden: .zero 4096\\n.text");\n'
    assert build_of(source(tmp_path, hidden), "classic", "csapp").global_data == 40 + 4096


@pytest.mark.parametrize("word_size", ["64", "32"])
def test_the_drivers_globals_a_file_uses_count_as_its_global_data(tmp_path, word_size):
    # The heap's library defines the drivers' msg[1024] and verbose for files that use them: 1
    # KiB of list heads kept in msg measured "8 bytes" and dodged CMU's deduction, 80.0 -> 100.0
    # (red-team pass 26).
    uses = "extern char msg[];\nextern int verbose;\n"
    uses += "void *heads(void) { return verbose ? (void *)0 : (void *)msg; }\n"
    build = build_of(source(tmp_path, uses), "classic", "csapp", word_size=word_size)
    pointers = 20 if word_size == "32" else 40
    assert build.global_data == pointers + 1024 + 4
    reads = "extern int verbose;\nint loud(void) { return verbose; }\n"
    assert (
        build_of(source(tmp_path, reads), "classic", "csapp", word_size=word_size).global_data
        == pointers + 4
    )


@pytest.mark.parametrize(
    ("declared", "counted"),
    [
        ('__attribute__((section(".bss.pad"), aligned(1 << 21))) char pad;', 1 + (1 << 21) - 1),
        ("__attribute__((aligned(1 << 12))) char page[16];", 16 + (1 << 12) - 1),
        ('asm(".comm pad,1,2097152");\n', 1 + (1 << 21) - 1),
        ("__attribute__((aligned(64))) char line[64];", 64),  # a cache line's: no padding counted
        # 1-byte variables aligned to 64 by hand: the 63 bytes before the second one (pass 31)
        ("__attribute__((aligned(64))) char a, b;", 1 + 63 + 1),
        ("__attribute__((aligned(16))) char a, b;", 1 + 15 + 1),  # and to 16 (pass 32)
        ("char a; long b; char c; int d;", 1 + 8 + 1 + 4),  # a compiler's own padding: none
        ("__attribute__((aligned(8))) char a, b;", 1 + 1),  # as clang leaves shrunk size_ts
        # the same room before a section or a common of its own (pass 31's variants)
        ('__attribute__((section(".bss.p"), aligned(64))) char p;', 1 + 63),
        ('asm(".comm pad,1,16");\n', 1 + 15),
        ("long x; __attribute__((aligned(32))) long y[4];", 8 + 32),  # as gcc aligns arrays
    ],
    ids=[
        "section",
        "variable",
        "common",
        "cache line",
        "gaps by hand",
        "gaps of 16",
        "a compiler's",
        "shrunk by clang",
        "own section",
        "own common",
        "array's own",
    ],
)
def test_the_room_the_linker_pads_before_over_aligned_data_counts(tmp_path, declared, counted):
    # A 1-byte variable aligned to 2 MiB in a section of its own: the linker pads the output
    # below it, writable memory no variable of mm.o covers, used for 1 MiB of a CMU file's
    # tables beside its "17 bytes of global data" (red-team pass 30).
    build = build_of(source(tmp_path, declared), "classic", "csapp", word_size="64")
    assert build.global_data == 40 + counted


# Writable data a section's name or type could hide (512 bytes): a name next to RELRO's (the
# linker puts `.data.rel.rox` in .data), a read-only name given the write flag, thread-local
# zeros in a section of their own, a writable note, a writable section typed as constructors
# but not named so, read-only data in a section the linker makes writable by its name, zeros
# with no write flag (the linker gives them writable memory), and large common data.
ASM_DATA = 'asm(".globl stash\\n.type stash,@object\\n.size stash,512\\n{}");\n'


@pytest.mark.parametrize(
    "hidden",
    [
        '__attribute__((section(".data.rel.rox"))) long stash[64] = {1};',
        '__attribute__((section(".rodata.x"))) long stash[64] = {1};',
        '__attribute__((section(".tbss.x"))) _Thread_local long stash[64];',
        ASM_DATA.format('.section .stash,\\"aw\\",@note\\nstash: .zero 512\\n.text'),
        ASM_DATA.format('.section .init_stash,\\"aw\\",@init_array\\nstash: .zero 512\\n.text'),
        ASM_DATA.format('.section .stash,\\"a\\",@nobits\\nstash: .zero 512\\n.text'),
        'asm(".largecomm stash,512,8");\n',
    ],
    ids=[
        "relro-like name",
        "rodata",
        "tbss",
        "note",
        "init_array type",
        "nobits",
        "largecomm",
    ],
)
def test_writable_global_data_is_counted_whatever_its_section(tmp_path, hidden):
    build = build_of(source(tmp_path, hidden), "classic", "csapp", word_size="64")
    assert build.global_data == 40 + 512


def test_data_is_left_out_as_read_only_only_where_the_loader_protects_it(tmp_path):
    # In .data.rel.ro.* a writable array is made read-only once relocated, as a const table
    # of pointers is, and a constructor's table too; not when one writable byte with
    # .rodata merges the read-only segment with the data one and leaves no RELRO.
    relro = (
        '__attribute__((section(".data.rel.ro.x"))) long stash[64] = {1};\n'
        'static const char *const names[] = {"a", "b"};\n'
        "const char *name(int i) { return names[i & 1]; }\n"
        '__attribute__((constructor)) static void early(void) { asm volatile(""); }\n'
    )
    for word_size in ("64", "32"):
        assert build_of(
            source(tmp_path, relro), "classic", "csapp", word_size=word_size
        ).global_data == (40 if word_size == "64" else 20)
    unprotected = relro + '__attribute__((section(".rodata.x"))) char flag = 1;\n'
    build = build_of(source(tmp_path, unprotected), "classic", "csapp", word_size="64")
    assert build.global_data == 40 + 512 + 16 + 8 + 1  # the array, the table, the constructor


def test_the_slots_the_loader_fills_are_read_only_once_filled(tmp_path):
    # Linked with lazy binding, .got.plt stayed writable for good: an allocator kept 56 list
    # heads in the jump slots of libm functions it never called, where no count of mm.o's data
    # looks (456 bytes of globals read as 81, red-team pass 39). Linked -z now, the loader fills
    # every slot at load and protects them with the rest of RELRO.
    for word_size in ("64", "32"):
        build = build_of(fixture_allocator("good_bump"), "classic", "csapp", word_size=word_size)
        slots = [s.name for s in sections(read_elf(build.library)) if s.name.startswith(".got")]
        assert slots and set(slots) <= protected_sections(build.library), slots


def test_split_warnings_groups_context_lines():
    stderr = (
        "mm.c: In function 'f':\n"
        "mm.c:3:5: warning: unused variable 'x' [-Wunused-variable]\n"
        "    3 |     int x;\n"
        "mm.c:9:12: warning: cast to pointer from integer of different size "
        "[-Wint-to-pointer-cast]\n"
        "    9 |     return (void *)n;\n"
    )
    first, second = split_warnings(stderr)
    assert first.startswith("mm.c:9:12") and "(void *)n" in first
    assert second.startswith("mm.c: In function 'f':") and "int x;" in second


def test_split_warnings_leaves_out_the_include_chain_of_another_files_note():
    # gcc's note on a team_t field left out points into mm.h, which own_context drops; its
    # chain stood alone before the next warning of mm.c's.
    stderr = (
        "mm.c:43:1: warning: missing initializer for field 'id2' of 'team_t' "
        "[-Wmissing-field-initializers]\n"
        "   43 | };\n"
        "In file included from mm.c:18:\n"
        "mm.h:15:11: note: 'id2' declared here\n"
        "   15 |     char *id2;\n"
        "mm.c: In function 'mm_free':\n"
        "mm.c:98:20: warning: unused parameter 'ptr' [-Wunused-parameter]\n"
    )
    first, second = split_warnings(stderr)
    assert first.startswith("mm.c:43:1") and "In file included" not in first
    assert second.startswith("mm.c: In function 'mm_free':\nmm.c:98:20"), second


def test_a_clang_build_shows_its_warnings_and_nothing_of_the_steps_after(tmp_path):
    # The assembler and the linker were given the compile's -std and -D: clang named each
    # "argument unused during compilation", and its "1 warning generated." count, after the last
    # warning of the student's.
    text = fixture_allocator("labs/cmu_segregated").read_text() + "static int unused_here;\n"
    path = tmp_path / "mm.c"
    path.write_text(text)
    built = build_of(path, "cmu", "cmu", out_dir=tmp_path / "b")
    assert built.warnings and built.warnings[-1].count("\n") <= 3, built.warnings
    shown = "\n".join(built.warnings)
    assert "argument unused" not in shown and "generated." not in shown, shown


def test_a_file_for_another_lab_gets_a_hint_that_builds(cli, write_trace, tmp_path):
    f20 = CSAPP_TEMPLATE.replace(
        "int mm_init(void) { return 0; }", "bool mm_init(void) { return true; }"
    )
    f20 = f20.replace('team_t team = {"t", "A. Student", "astudent", "", ""};\n', "")
    path = source(tmp_path, "", f20)
    with pytest.raises(AllocatorError, match="does not compile"):
        build_of(path, "classic", "csapp")
    run = cli("grade", path, "--lab", "csapp", write_trace("t", TRACE))
    assert run.status == 1
    assert f"{path} builds as a cmu lab's mm.c: try --lab cmu" in run.err


def test_the_hints_builds_stop_at_their_time_budget(cli, write_trace, tmp_path, monkeypatch):
    # Each lab tried for a hint is a whole build: a file slow to compile held the grade minutes.
    import mallocsim.grading

    monkeypatch.setattr(mallocsim.grading, "HINT_SECONDS", 0.0)
    f20 = CSAPP_TEMPLATE.replace(
        "int mm_init(void) { return 0; }", "bool mm_init(void) { return true; }"
    )
    path = source(tmp_path, "", f20)
    run = cli("grade", path, "--lab", "csapp", "--no-cache", write_trace("t", TRACE))
    assert run.status == 1 and "does not compile" in run.err and "builds as a" not in run.err


def test_a_file_that_builds_nowhere_gets_no_hint(cli, write_trace, tmp_path):
    path = source(tmp_path, "int broken(void) { return }")
    run = cli("grade", path, "--lab", "csapp", write_trace("t", TRACE))
    assert run.status == 1 and "does not compile" in run.err and "try --lab" not in run.err


@pytest.mark.parametrize(("left", "right"), [("\u2018", "\u2019"), ("'", "'")])
def test_a_pointer_kept_in_a_4_byte_integer_is_found_in_the_warnings(left, right):
    def warning(line: int, text: str) -> str:
        return f"mm.c:{line}:5: warning: {text.replace('<', left).replace('>', right)}\n"

    harmless = (
        warning(3, "unused variable <x> [-Wunused-variable]")
        + warning(
            4,
            "assignment to <void *> from <size_t> {aka <long unsigned int>} makes "
            "pointer from integer without a cast [-Wint-conversion]",
        )
        + warning(
            5,
            "assignment to <long int> from <char *> makes integer from pointer "
            "without a cast [-Wint-conversion]",
        )
    )
    assert narrowed_pointer(split_warnings(harmless)) is None  # 8-byte integers hold pointers
    for text in (
        "cast from pointer to integer of different size [-Wpointer-to-int-cast]",
        "cast to pointer from integer of different size [-Wint-to-pointer-cast]",
        "assignment to <unsigned int> from <void *> makes integer from pointer without a "
        "cast [-Wint-conversion]",
        "initialization of <char *> from <int> makes pointer from integer without a cast "
        "[-Wint-conversion]",
    ):
        what = text.split(" [")[0].removesuffix(" without a cast")
        expected = f"mm.c:9 ({what.replace('<', left).replace('>', right)})"
        assert narrowed_pointer(split_warnings(harmless + warning(9, text))) == expected


def test_the_cmu_lab_builds_with_clang_as_its_makefile_does(tmp_path):
    # What students' mm.c files for the F20 handout do and only clang accepts: a file-scope
    # array bounded by a `static const` (folded to a constant), and _Pragma inside an
    # expression (the later handouts' dbg_ macros); and clang's own headers are the system's.
    clang_only = (
        "#include <inttypes.h>\n"
        "static const int classes = 4;\n"
        "static void *clang_folds_this[classes];\n"
        '#define quiet(e) (_Pragma("GCC diagnostic push") (void)(e) '
        '_Pragma("GCC diagnostic pop"))\n'
        "void *first_list(void) { quiet(clang_folds_this[1]); return clang_folds_this[0]; }\n"
    )
    path = tmp_path / "mm.c"
    path.write_text(clang_only + fixture_allocator("labs/cmu_segregated").read_text())
    build = build_of(path, "cmu", "cmu")
    assert build.library.exists()
    with pytest.raises(AllocatorError, match="variably modified"):  # gcc, the CS:APP compiler
        build_of(path, "cmu", "mallocsim")


def test_a_file_links_the_libraries_its_labs_makefile_links(tmp_path):
    # F20's Makefile links mdriver with -lm -lrt: a size class by log2 links there; the older
    # handouts', F22's and CS:APP's link no libm (red-team pass 33: "does not compile", 0).
    path = tmp_path / "mm.c"
    path.write_text(
        "#include <math.h>\n"
        "double size_class(double size);\n"
        "double size_class(double size) { return log2(size); }\n"
        + fixture_allocator("labs/cmu_segregated").read_text()
    )
    assert build_of(path, "cmu", "cmu").library.exists()
    for other in ("cmu-2022", "mallocsim"):
        with pytest.raises(AllocatorError, match="undefined reference to `log2'"):
            build_of(path, "cmu", other)


def test_the_older_cmu_handouts_contracts_header_is_there(tmp_path):
    # The F13-S15 handouts ship contracts.h (ASSERT, REQUIRES, ENSURES), which students'
    # files include; checked in the debug build only, the condition never evaluated otherwise.
    contracts = (
        '#include "contracts.h"\n'
        "static int evaluated;\n"
        "int contracts_checked(void) { REQUIRES(++evaluated > 0); return evaluated; }\n"
    )
    path = tmp_path / "mm.c"
    path.write_text(contracts + fixture_allocator("labs/cmu2015_implicit").read_text())
    for debug in (False, True):
        assert build_of(path, "classic", "cmu-2015", debug=debug).library.exists()
    with pytest.raises(AllocatorError, match=r"contracts\.h"):  # no other lab's handout has it
        build_of(path, "classic", "csapp")


def test_the_older_cmu_handouts_checker_builds_as_void_or_int_and_graded_without_asserts(
    tmp_path,
):
    # F15's mm.h declares void mm_checkheap(int), S14's and F14's int mm_checkheap(int): a file
    # that calls it before defining it builds with its own semester's type. Their graded build
    # sets NDEBUG (the S14/F14 Makefiles' mdriver.fast).
    fixture = fixture_allocator("labs/cmu2015_implicit").read_text()
    calls_first = (
        '#include "mm.h"\n'
        "#ifndef NDEBUG\n#error the graded build sets NDEBUG\n#endif\n"
        "int checks(void) { return (mm_checkheap(0), 0); }\n"
    )
    as_int = fixture.replace("void mm_checkheap(int lineno) {", "int mm_checkheap(int lineno) {")
    path = tmp_path / "mm.c"
    for text, returns in ((fixture, "void"), (as_int, "int")):
        path.write_text(text.replace('#include "mm.h"\n', calls_first, 1))
        build = build_of(path, "classic", "cmu-2015")
        assert build.checker == f"{returns} mm_checkheap(int lineno)"


@pytest.mark.parametrize("lab", ["cmu-pku", "cmu-pku-2022", "cmu-pku-2025"])
def test_the_pku_handouts_build_keeps_the_students_asserts(tmp_path, lab):
    # No PKU Makefile defines NDEBUG, as cmu-2015's S14/F14 ones do: an assert that fires aborts
    # the PKU driver, and was compiled out here (lab check run 23: 83/100 for a file its driver
    # aborts on).
    fixture = fixture_allocator("labs/cmu2015_implicit").read_text()
    path = tmp_path / "mm.c"
    path.write_text(
        fixture.replace(
            '#include "mm.h"\n', '#include "mm.h"\n#ifdef NDEBUG\n#error asserts off\n#endif\n', 1
        )
    )
    assert build_of(path, "classic", lab).library.exists()


# --------------------------------------------------- what a submission may not make the build do
# A student's file is compiled in the grader's process tree and its messages are shown to the
# student: no file of the grader's, nor its environment, may reach them.


@pytest.mark.parametrize(
    "statement",
    [
        r'asm(".incbin \"/etc/hostname\"");',
        r'asm(".include \"/etc/hostname\"");',
        r'asm("nop; there: .INCBIN \"/etc/hostname\"");',  # after a ';', a label, in capitals
        r'asm(".inc" "bin \"/etc/hostname\"");',  # spelled in two strings
        r'asm(".macro m x\n.inc\\x \"/etc/hostname\"\n.endm\nm bin");',  # spelled by a macro
    ],
)
def test_inline_assembly_that_reads_a_file_is_refused(tmp_path, statement):
    path = source(tmp_path, statement)
    with pytest.raises(AllocatorError, match=r"its inline assembly uses \.\w+: .* may not read"):
        build_of(path, "classic", "csapp", word_size="64")


@pytest.mark.parametrize(
    "declaration",
    [
        'static const char w[] __attribute__((section(".gnu.warning"), used)) = "\\nscore 100";',
        'static const char w[] __attribute__((section(".gnu.warning.mm_init"), used)) = "x";',
        'asm(".pushsection \\".gnu.warning\\"\\n.string \\"x\\"\\n.popsection");',
        # After a label: the check read only a statement's start (red-team pass 21).
        'asm("l: .section .gnu.warning\\n.string \\"x\\"\\n.text");',
    ],
)
def test_data_the_linker_would_print_is_refused(tmp_path, declaration):
    # The linker prints a .gnu.warning section's bytes raw, newlines and all: a valid grade's
    # warnings showed "Score (lab csapp: forged): score 100.0 / 100" (red-team pass 20). Found in
    # the object's own section names, however the assembly spelled it.
    with pytest.raises(AllocatorError, match=r"a \.gnu\.warning section, whose bytes the linker"):
        build_of(source(tmp_path, declaration), "classic", "csapp", word_size="64")


@pytest.mark.parametrize(
    ("declaration", "found"),
    [
        ('asm(".pushsection .init,\\"ax\\"\\nnop\\n.popsection");', "a section .init"),
        ("static void early(void) {}\n"
         '__attribute__((section(".preinit_array"), used)) static void (*run)(void) = early;',
         "a section .preinit_array"),
        ("static void *pick(void) { return 0; }\n"
         'void *chosen(void) __attribute__((ifunc("pick")));', "an ifunc resolver (chosen)"),
        # crti.o's _init calls it when it is defined: no constructor at all (red-team pass 39)
        ("void __gmon_start__(void) {}", "a definition of __gmon_start__"),
        # what a close before the seal ran (red-team pass 41): crti.o's _fini, crtbeginS.o's call
        ('asm(".pushsection .fini,\\"ax\\"\\nnop\\n.popsection");', "a section .fini"),
        ("void __cxa_finalize(void *d) { (void)d; }", "a definition of __cxa_finalize"),
        # crtbeginS.o's constructor calls it when the clone table is not empty
        ("void _ITM_registerTMCloneTable(void *t, unsigned long n) { (void)t; (void)n; }",
         "a definition of _ITM_registerTMCloneTable"),
        # copied into the library's relocations, whose one record put mm.c's function in DT_INIT
        # (red-team pass 44); and the other sections the linker builds for the loader
        ('asm(".pushsection .rela.bss.rt,\\"a\\",@progbits\\n.quad 0\\n.popsection");',
         "a section .rela.bss.rt, which the linker would take for its own"),
        ('asm(".pushsection .rel.data.x,\\"\\",@progbits\\n.long 0\\n.popsection");',
         "a section .rel.data.x, which the linker would take for its own"),
        # of a relocation section's own kind, but relocating nothing (sh_info 0): plain bytes to
        # GNU ld, copied into the library's relocations by its name (red-team pass 45)
        ('asm(".pushsection .rela.bss.rt,\\"\\",@4\\n.quad 0, 0, 0\\n.popsection");',
         "a section .rela.bss.rt, which the linker would take for its own"),
        # once a stash no count of its data saw (now counted wherever it is, the test above)
        ('asm(".pushsection .got.plt,\\"a\\"\\n.zero 512\\n.popsection");',
         "a section .got.plt, which the linker would take for its own"),
    ],
)  # fmt: skip
def test_code_the_loader_would_run_is_refused(tmp_path, declaration, found):
    # The loader runs it as the library loads, before the grader's sandbox is sealed: a
    # constructor could rewrite the process there, and left the seal open (red-team pass 39).
    # mm.c's constructors are deferred (the next test); what else the loader would run is refused.
    with pytest.raises(AllocatorError, match=rf"it has {re.escape(found)}, code the loader would"):
        build_of(source(tmp_path, declaration), "classic", "csapp", word_size="64")


# libgcc's morestack.o, which a reference to __morestack links in, keeps a constructor table of its
# own that calls __morestack_load_mmap: a file that defines it ran it as the library loaded.
MORESTACK = """\
void __morestack_load_mmap(void) {}
void __generic_morestack_set_initial_sp(void *sp, unsigned long len) { (void)sp; (void)len; }
void *__generic_morestack(void) { return 0; }
void *__generic_releasestack(void) { return 0; }
void *__generic_findstack(void) { return 0; }
void __morestack_block_signals(void) {}
void __morestack_unblock_signals(void) {}
__asm__(".pushsection .data.rel.ro.linked,\\"aw\\"\\n.balign 8\\n.quad __morestack\\n.popsection");
"""


@pytest.mark.parametrize(
    ("declaration", "found"),
    [
        # red-team pass 40: what the link brings in besides mm.o, checked in the library
        (MORESTACK, r"its library has 2 constructor\(s\) from what the link brought in"),
        # GCC's bytecode, which the linker's plugin would build in place of mm.o's code
        ('__attribute__((section(".gnu.lto_.main.0"), used)) static const char ir[] = "x";',
         r"it has compiler bytecode \(\.gnu\.lto_\.main\.0\)"),
        ('__attribute__((section(".gnu.offload_lto_.x"), used)) static const char ir[] = "x";',
         r"it has compiler bytecode \(\.gnu\.offload_lto_\.x\)"),
    ],
)  # fmt: skip
def test_code_that_the_link_would_bring_in_to_run_at_load_is_refused(tmp_path, declaration, found):
    with pytest.raises(AllocatorError, match=found):
        build_of(source(tmp_path, declaration), "classic", "csapp", word_size="64")


def test_a_library_whose_relocations_are_not_the_linkers_is_refused(tmp_path):
    # A record of mm.o's own among the library's relocations wrote mm.c's function into DT_INIT
    # (red-team pass 44), then, after the linker's own record for the __gmon_start__ slot that
    # crti's _init calls, into that slot (pass 45): run at dlopen either way. The object's check
    # refuses the sections that bring them; the library's, whatever brought them, a record that
    # writes where the loader reads what to run, and a second record for one word. Built twice:
    # the first build says where its dynamic section and its first relocated word lie.
    def built(offset: int) -> Path:
        record = f".quad {offset}\\n.quad 0\\n.quad 0"  # R_X86_64_NONE: nothing written
        pushed = f'.pushsection .rela.bss.x,\\"a\\",@progbits\\n{record}\\n.popsection'
        code = f'void f(void) {{}}\nasm("{pushed}");\n'
        (tmp_path / "lib.c").write_text(code)
        library = tmp_path / f"lib{offset}.so"
        subprocess.run(["cc", "-shared", "-fPIC", "-o", library, tmp_path / "lib.c"], check=True)
        return library

    first = built(0)
    assert library_load_time_code(first) is None
    data = read_elf(first)
    dynamic = next(s for s in sections(data) if s.name == ".dynamic")
    assert library_load_time_code(built(dynamic.addr + 8)) == (
        "a relocation that rewrites its dynamic section (what the loader runs)"
    )
    relocations = next(s for s in sections(data) if s.name == ".rela.dyn")
    relocated = int.from_bytes(data[relocations.offset : relocations.offset + 8], "little")
    assert relocated != 0
    assert library_load_time_code(built(relocated)) == (
        "two relocations of one word (a record the linker did not make)"
    )


def test_an_object_of_more_sections_than_its_header_counts_is_read(tmp_path):
    # Past 65,279 sections an object keeps their count in section 0, which went unread: every
    # check of mm.o saw no section at all, and a definition of __gmon_start__ and 4 KiB of
    # globals (20 points under CMU's rule) passed (red-team pass 40).
    sections_asm = "".join(f'.section .text.s{i},"ax"\n' for i in range(65_300))
    (tmp_path / "many.s").write_text(
        sections_asm + ".text\n.globl __gmon_start__\n__gmon_start__: ret\n"
    )
    obj = tmp_path / "many.o"
    subprocess.run(["as", "-o", obj, tmp_path / "many.s"], check=True)
    named = [s.name for s in sections(read_elf(obj))]
    assert len(named) > 65_300 and ".text.s65299" in named
    assert load_time_code(obj) == "a definition of __gmon_start__"
    pushed = "".join(f'.pushsection .text.s{i},\\"ax\\"\\n.popsection\\n' for i in range(65_300))
    path = source(tmp_path, f'__asm__("{pushed}");\n')
    with pytest.raises(AllocatorError, match=r"its object file has \d+ sections"):
        build_of(path, "classic", "csapp", word_size="64")


# mm_init succeeds only when every constructor ran before it, each once, in the loader's order:
# by priority first, then the others, a `.ctors` entry among them.
CONSTRUCTORS = """\
#include <unistd.h>
static char ran[8];
static int count;
static void note(char c) { if (getpid() > 0 && count < 7) ran[count++] = c; }
__attribute__((constructor)) static void plain(void) { note('c'); }
__attribute__((constructor(101))) static void first(void) { note('a'); }
__attribute__((constructor(200))) static void second(void) { note('b'); }
static void old_style(void) { note('d'); }
__attribute__((section(".ctors"), used)) static void (*const listed)(void) = old_style;
static int constructors_ran(void) { return count == 4 && memcmp(ran, "abcd", 4) == 0; }
"""


@pytest.mark.parametrize("word_size", ["64", "32"])
def test_a_files_constructors_run_once_after_the_load_in_the_loaders_order(
    cli, write_trace, tmp_path, word_size
):
    # The library's own table runs none of them (DT_INIT_ARRAY holds the C runtime's only): the
    # engine starts them once the process that loaded the library is sealed, before mm_init, in
    # the agent (replay, grade), in the count, and in a process of the grader's (bench).
    template = CSAPP_TEMPLATE.replace(
        "int mm_init(void) { return 0; }",
        "static int constructors_ran(void);\n"
        "int mm_init(void) { return constructors_ran() ? 0 : -1; }",
    )
    path = source(tmp_path, CONSTRUCTORS, template)
    build = build_of(path, "classic", "csapp", word_size=word_size)
    data = read_elf(build.library)
    tables = {s.name: s.size for s in sections(data)}
    assert tables[".init_array"] == int(word_size) // 8  # crtbeginS.o's frame_dummy alone
    assert tables["ms_lab_constructors"] == 4 * int(word_size) // 8
    assert "ms_lab_constructors" in protected_sections(build.library)  # read-only once relocated
    trace = write_trace("t", TRACE)
    words = ["--lab", "csapp", "--word-size", word_size]
    run = cli("grade", path, *words, "-q", "--throughput", "instructions", trace)
    assert run.status == 0 and "not counted" not in run.out, run.out + run.err
    assert re.search(r"valid traces +1 / 1", run.out), run.out
    if word_size == "64":  # a 32-bit build runs only in the 32-bit agent
        run = cli("bench", "-a", path, "--lab", "csapp", "-q", trace)
        assert run.status == 0, run.out + run.err


def test_inline_assembly_that_reads_nothing_builds(tmp_path):
    path = source(tmp_path, 'int mm_check(void) { asm volatile("nop; pause" ::: "memory"); '
                            "return 1; }")  # fmt: skip
    assert build_of(path, "classic", "csapp", word_size="64").checker == "int mm_check(void)"


def test_a_line_directive_naming_another_file_does_not_quote_it(tmp_path, monkeypatch):
    # gcc quotes the line of the file a diagnostic is placed in: here the grader's environment.
    monkeypatch.setenv("GRADER_SECRET", "hunter2-token")
    secret = tmp_path / "secret.txt"
    secret.write_text("the-answer-key = 42;\n")
    for named in ("/proc/self/environ", str(secret)):
        path = source(tmp_path, f'#line 1 "{named}"\nint broken = ;\n')
        with pytest.raises(AllocatorError) as raised:
            build_of(path, "classic", "csapp", word_size="64")
        message = str(raised.value)
        assert f"{named}:1:" in message  # where, still said
        assert "hunter2" not in message and "answer-key" not in message


def test_the_compiler_keeps_nothing_of_the_graders_environment():
    from mallocsim.build import kept_environment

    kept = kept_environment(Path("/tmp/work"))
    assert "PATH" in kept and kept["TMPDIR"] == "/tmp/work"
    allowed = ("PATH", "HOME", "LANG", "LANGUAGE", "SOURCE_DATE_EPOCH", "TMPDIR")
    assert all(name in allowed or name.startswith(("LC_", "CCACHE_")) for name in kept)


def test_a_link_to_a_file_outside_its_folder_is_never_read(tmp_path):
    outside = tmp_path / "elsewhere.c"
    outside.write_text("the-answer-key\n")
    student = tmp_path / "alice"
    student.mkdir()
    (student / "mm.c").symlink_to(outside)
    with pytest.raises(AllocatorError, match=r"a symbolic link to .*elsewhere\.c, outside its"):
        build_of(student / "mm.c", "classic", "csapp")


def test_a_link_within_its_folder_is_followed(tmp_path):
    real = source(tmp_path, "")
    (tmp_path / "final.c").symlink_to(real)
    assert build_of(tmp_path / "final.c", "classic", "csapp").library.exists()


def test_macros_that_expand_without_end_stop_at_the_compilers_limits(tmp_path, monkeypatch):
    import mallocsim.build

    monkeypatch.setattr(mallocsim.build, "COMPILE_OUTPUT", 1 << 20)  # 1 MiB: quick to reach
    bomb = "".join(f"#define A{i + 1} A{i} A{i}\n" for i in range(24))
    path = source(tmp_path, "#define A0 x\n" + bomb + "int y = sizeof(A24);\n")
    with pytest.raises(AllocatorError, match="the compiler was stopped at its limits"):
        build_of(path, "classic", "csapp", word_size="64")


def test_a_build_that_fails_on_a_full_disk_is_the_graders_fault_not_the_files(
    tmp_path, monkeypatch
):
    # A classmate's count filled the disk: every build failed, "does not compile: no message",
    # and those zeros were kept in the cache (red-team pass 20). A file that does compile is not
    # asked about the disk.
    import mallocsim.build
    from mallocsim.errors import GraderFault

    full = shutil.disk_usage(tmp_path)._replace(free=4096)
    room = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(mallocsim.build.shutil, "disk_usage", lambda folder: full)
    with pytest.raises(GraderFault, match=r"is full \(4,096 bytes free\)"):
        build_of(source(tmp_path, "int oops = ;\n"), "classic", "csapp", word_size="64")
    build_of(source(tmp_path, "int fine;\n"), "classic", "csapp", word_size="64")
    # The file's own words are no measure of the disk (red-team pass 21).
    monkeypatch.setattr(mallocsim.build.shutil, "disk_usage", lambda folder: room)
    with pytest.raises(AllocatorError, match="does not compile"):
        build_of(source(tmp_path, '#error "No space left on device"\n'), "classic", "csapp",
                 word_size="64")  # fmt: skip


def test_initialized_data_past_the_compilers_file_limit_is_refused(tmp_path):
    # 250 MiB of initialized data in an 11 KB file: a 262 MB object and library kept in the build
    # cache for good (red-team pass 20); 30 MiB once the limit was 32 MiB (pass 21).
    path = source(tmp_path, "char ballast[16 << 20] = {1};\n")
    with pytest.raises(AllocatorError, match="the compiler was stopped at its limits"):
        build_of(path, "classic", "csapp", word_size="64")


def test_a_missing_compiler_is_the_graders_fault_not_the_files(tmp_path, monkeypatch):
    # Every cmu file got 0, "no C compiler (clang)", on an image without clang: the student's
    # result, where the grader's set-up had failed (lab check run 11).
    from mallocsim.errors import GraderFault

    monkeypatch.setenv("CC", "clang-not-installed")
    with pytest.raises(GraderFault, match=r"no C compiler \(clang-not-installed\)"):
        build_of(source(tmp_path, "int fine;\n"), "classic", "csapp", word_size="64")


def test_control_characters_in_compiler_messages_are_shown_as_escapes(tmp_path):
    path = source(tmp_path, '#error "\x1b[8m hidden\b\u202e"\n')
    with pytest.raises(AllocatorError) as raised:
        build_of(path, "classic", "csapp", word_size="64")
    message = str(raised.value)
    assert "\\x1b[8m hidden\\x08\\u202e" in message
    assert not any(c in message for c in "\x1b\b\u202e")


def test_the_compiler_reads_no_file_outside_the_system_and_the_build(tmp_path):
    # The include checks run before the compiler, which a file can tell apart from them: gated on
    # a file a later step writes, an #include of another student's file passed the scan.
    other = tmp_path / "bob.c"
    other.write_text("int bob_secret_allocator;\n")
    gated = f'#define S(x) #x\n#if __has_include("mm.i")\n#include S({other})\n#endif\n'
    # Every step sees the same folder (mm.i is there from the start): the scan refuses it.
    with pytest.raises(AllocatorError, match=r"includes \S*bob\.c: a submission may include"):
        build_of(source(tmp_path, gated), "classic", "csapp", word_size="64")


def test_a_build_cannot_tell_a_file_it_may_not_read_from_one_that_is_not_there(tmp_path):
    # Landlock refused the compiler a file with EACCES, and a missing one was ENOENT: the build of
    # `#if __has_include("/home/bob/mm.c")` failed where the file existed and passed where it did
    # not, and a macro-spelled #include said "Permission denied" or "No such file": one bit a
    # build about any path (red-team pass 39). The compiler sees both as missing now.
    private = tmp_path / "private"
    private.mkdir()
    (private / "there.c").write_text("int bob_secret_allocator;\n")
    for name in ("there.c", "not-there.c"):
        path = private / name
        gate = f'#if __has_include("{path}")\n#error "seen"\n#endif\n'
        assert build_of(source(tmp_path, gate), "classic", "csapp", word_size="64").library
        spelled = f'#define OTHER "{path}"\n#include OTHER\n'
        with pytest.raises(AllocatorError, match=rf"includes {re.escape(str(path))}: a submission"):
            build_of(source(tmp_path, spelled), "classic", "csapp", word_size="64")


@pytest.mark.parametrize(
    "gate", ['#if __has_include("mm.i")\n', '#if __has_include(".compiler.deps")\n']
)
def test_a_header_the_scan_did_not_see_is_refused_where_it_is_read(tmp_path, gate):
    # Gated on a file that a later step writes, the include escaped the scan, and the system
    # file's lines became the team's name and the compiler's errors (a red-team pass).
    leak = f'#define LEAK "/usr/lib/os-release"\n{gate}#include LEAK\n#endif\n'
    with pytest.raises(AllocatorError, match=r"includes /usr/lib/os-release: a submission may"):
        build_of(source(tmp_path, leak), "classic", "csapp", out_dir=tmp_path / "b", word_size="64")


def test_a_quoted_label_does_not_hide_a_directive(tmp_path):
    path = source(tmp_path, r'asm("\"leak\": .incbin \"/etc/hostname\"");')
    with pytest.raises(AllocatorError, match=r"its inline assembly uses \.incbin"):
        build_of(path, "classic", "csapp", word_size="64")


def test_a_pragma_message_with_escapes_is_refused(tmp_path):
    # Its text is printed as it is: "\n  score 100 / 100" made a line like the grade's own.
    path = source(tmp_path, '_Pragma("message(\\"\\\\n  score 100 / 100\\")")\n')
    with pytest.raises(AllocatorError, match=r"a #pragma message .* with an escape"):
        build_of(path, "classic", "csapp", word_size="64")


@pytest.mark.parametrize(
    "declaration",
    [
        '__attribute__((warning("x\\n  score 100.0 / 100"))) void f(void);\nvoid g(void) { f(); }',
        '__attribute__((error(")))\\n  score 100.0 / 100"))) void f(void);',
        '[[deprecated("\\x1b[8m")]] void f(void);',
    ],
    ids=["warning", "brackets-in-the-string", "c2x-deprecated"],
)
def test_an_attribute_message_with_escapes_is_refused(tmp_path, declaration):
    # gcc prints warning("...")'s text with its escapes made characters: a newline in it printed
    # "  score 100.0 / 100" among the grade's compiler warnings (a red-team pass).
    path = source(tmp_path, declaration + "\n")
    with pytest.raises(AllocatorError, match=r"an attribute's message .* with an escape"):
        build_of(path, "classic", "csapp", word_size="64")


def test_a_message_printed_as_it_is_preprocessed_shows_its_newlines_as_escapes(tmp_path):
    # gcc runs #pragma GCC warning as it preprocesses, printing its "\\n" as newlines, before any
    # check can read the text; gated on a file a later step writes, it printed a forged score
    # among the grade's warnings (a red-team pass).
    gated = '#if __has_include("mm.i")\n#pragma GCC warning "x\\n  score 100.0 / 100"\n#endif\n'
    built = build_of(source(tmp_path, gated), "classic", "csapp", out_dir=tmp_path / "b")
    shown = "\n".join(built.warnings)
    assert "warning: x\\x0a  score 100.0 / 100" in shown, shown
    assert not any(line.startswith("  score") for line in shown.splitlines()), shown


def test_an_inlined_warnings_own_lines_are_kept_as_lines():
    # gcc's "In function 'f'," before "inlined from" starts a line of its own, which was joined
    # to the caret line before it with a "\\x0a" (red-team pass 34).
    from mallocsim.build import newlines_shown

    messages = (
        "mm.c:3:5: warning: unused [-Wunused]\n    3 | int x;\n      |     ^\n"
        "In function 'block_size',\n    inlined from 'mm_checkheap' at mm.c:30:5:\n"
        "mm.c:12:10: warning: array subscript 9 is outside array bounds [-Warray-bounds]\n"
    )
    assert newlines_shown(messages) == messages


def test_an_attribute_message_is_checked_in_the_text_that_is_compiled(tmp_path):
    # Gated on the flag the adapter adds after the check (an int checker's), the attribute was
    # not in the text checked, and its escapes printed as lines (a red-team pass).
    gated = (
        "#ifdef MS_CHECKER_RETURNS_INT\n"
        '__attribute__((warning("x\\n  score 100.0 / 100"))) void f(void);\n'
        "void g(void) { f(); }\n#endif\n"
        "int mm_check(void) { return 1; }\n"
    )
    with pytest.raises(AllocatorError, match=r"an attribute's message .* with an escape"):
        build_of(source(tmp_path, gated), "classic", "csapp", out_dir=tmp_path / "b")


def test_a_line_directive_naming_a_file_with_escapes_is_refused(tmp_path):
    # gcc prints a #line's file name raw at the start of each message, newlines included, and
    # quotes no source line for a file that is not there: "...\\nscore 100.0 / 100\\nmm.c"
    # printed a forged score line among the warnings and into Gradescope (red-team pass 8).
    forged = '#line 900 "mm.c:900:1: warning: x\\n  score 100.0 / 100\\nmm.c"\nstatic int unused;\n'
    with pytest.raises(AllocatorError, match=r"a #line directive whose file name holds an escape"):
        build_of(source(tmp_path, forged), "classic", "csapp", out_dir=tmp_path / "b")
    plain = '#line 40 "mm.c"\nint placed_there;\n'
    assert build_of(source(tmp_path, plain), "classic", "csapp", out_dir=tmp_path / "p")


def test_inline_assembly_that_prints_a_message_is_refused(tmp_path):
    # The assembler prints .warning's string with its escapes made newlines (red-team pass 8).
    forged = '__asm__(".warning \\"see below\\\\n  score 100.0 / 100\\"");\n'
    with pytest.raises(AllocatorError, match=r"inline assembly uses \.warning"):
        build_of(source(tmp_path, forged), "classic", "csapp", out_dir=tmp_path / "b")


def test_brackets_and_escapes_in_ordinary_strings_are_no_attribute(tmp_path):
    # "[[" in a debug string was taken for a C2x attribute, read on to the next string's escape,
    # and an honest file was refused (red-team pass 8).
    honest = (
        '#include <stdio.h>\nvoid dump(void) {\n    printf("[[heap end]\\n");\n'
        '    printf("done\\n");\n}\n'
    )
    assert build_of(source(tmp_path, honest), "classic", "csapp", out_dir=tmp_path / "b")


def test_attributes_without_escapes_build(tmp_path):
    plain = '__attribute__((deprecated("use g"), unused)) static void f(void) {}\n'
    assert build_of(source(tmp_path, plain), "classic", "csapp", word_size="64").library.exists()


@pytest.mark.parametrize(
    ("padding", "lab", "allocator"),
    [
        ("\n" * 160_000, "csapp", None),  # the include scan took 22 s on this
        # 100,000 blank lines after the preprocessor (gcc -P keeps one an empty expansion): the
        # team record's search took 26 s, and a file of 8 MiB would have held a grade for hours
        ("#define E\n" + "E\n" * 100_000, "cmu-2015", "labs/cmu2015_implicit"),
    ],
    ids=["blank-lines", "empty-expansions"],
)
def test_a_file_of_blank_lines_is_scanned_in_linear_time(tmp_path, padding, lab, allocator):
    path = source(tmp_path, padding)
    if allocator is not None:
        path.write_text(padding + fixture_allocator(allocator).read_text())
    started = time.monotonic()
    build_of(path, "classic", lab, out_dir=tmp_path / "builds", word_size="64")  # no cached build
    assert time.monotonic() - started < 8


def test_a_build_has_one_time_limit_for_all_its_compiler_runs(tmp_path, monkeypatch):
    # Each of a build's five compiler runs had a minute of its own: a file whose macros took a
    # minute a pass took five, and more again for each lab the grade tried it under for a hint.
    # And the run stopped was gcc's driver alone: its cc1 went on after the grade had gone.
    import mallocsim.build

    monkeypatch.setattr(mallocsim.build, "BUILD_TIMEOUT", 0.5)
    macros = "#define A0 1\n" + "".join(f"#define A{i} (A{i - 1}+A{i - 1})\n" for i in range(1, 19))
    slow = macros + "#if A18 == 0\n#error never\n#endif\n" * 16  # two seconds or so a pass
    builds = tmp_path / "b"
    started = time.monotonic()
    with pytest.raises(AllocatorError, match=r"did not finish within 0.5 s"):
        build_of(source(tmp_path, slow), "classic", "csapp", out_dir=builds, word_size="64")
    assert time.monotonic() - started < 3
    gone = time.monotonic() + 1.0  # a SIGKILL is delivered, not waited for
    while (left := [p for p in Path("/proc").glob("[0-9]*") if _works_in(p, builds)]) and (
        time.monotonic() < gone
    ):
        time.sleep(0.02)
    assert not left, [(p / "comm").read_text() for p in left]


def _works_in(process: Path, folder: Path) -> bool:
    try:
        return (process / "cwd").resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def test_the_linkers_messages_do_not_name_the_graders_folders(tmp_path):
    # They named mm.o and mm.c by their whole paths: the grader's home and cache folder.
    path = source(tmp_path, "extern void nope(void);\nvoid call(void) { nope(); }\n")
    builds = tmp_path / "grader-cache"
    with pytest.raises(AllocatorError, match=r"undefined reference to .nope") as raised:
        build_of(path, "classic", "csapp", out_dir=builds, word_size="64")
    message = str(raised.value).removeprefix(f"{path}: ")
    assert str(builds) not in message and "\nmm.c:" in message, message


def test_a_submission_past_the_size_limit_is_refused_unread(tmp_path, monkeypatch):
    import mallocsim.build

    monkeypatch.setattr(mallocsim.build, "SOURCE_BYTES", 4096)
    path = source(tmp_path, "/*" + "x" * 8192 + "*/")
    with pytest.raises(AllocatorError, match=r"MiB, more than a submission may be"):
        build_of(path, "classic", "csapp")


def test_a_build_left_unfinished_by_a_killed_grader_is_removed_by_the_next(tmp_path):
    import os

    path = source(tmp_path, "")
    out = tmp_path / "builds"
    done = build_of(path, "classic", "csapp", out_dir=out, word_size="64")
    folder = done.library.parent
    stale, fresh = Path(f"{folder}.killed1"), Path(f"{folder}.running")
    for unfinished in (stale, fresh):
        unfinished.mkdir()
        (unfinished / "mm.c").write_text("")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    shutil.rmtree(folder)  # so that the file is built again
    build_of(path, "classic", "csapp", out_dir=out, word_size="64")
    assert not stale.exists() and fresh.exists()


def test_a_grade_shows_the_first_warnings_and_counts_the_rest(cli, write_trace, tmp_path):
    many = "".join(f"#warning number {i}\n" for i in range(200))  # 1.1 MB of output at 20,000
    run = cli("grade", source(tmp_path, many), "--lab", "csapp", write_trace("t", TRACE))
    assert "Compiler warnings (200, the dangerous ones first):" in run.out
    assert "  ... and 150 more, not shown" in run.out and "number 199" not in run.out


@pytest.mark.parametrize(
    ("lab", "dialect", "allocator", "checks"),
    [
        ("csapp", "classic", "csapp_implicit", "ALIGNMENT == 8 && MAX_HEAP == 20 * (1 << 20)"),
        ("cmu-2015", "classic", "cmu2015_implicit", "ALIGNMENT == 8 && MAX_HEAP == 100 << 20"),
        ("cmu", "cmu", "cmu_segregated", "ALIGNMENT == 16 && MAX_DENSE_HEAP == 100 << 20"),
    ],
)
def test_the_handouts_config_h_is_there_with_the_labs_values(
    tmp_path, lab, dialect, allocator, checks
):
    # Each handout ships a config.h beside mm.h, and students include it for MAX_HEAP or
    # ALIGNMENT: "config.h: No such file or directory" gave an honest file 0 (red-team pass 8).
    path = tmp_path / "mm.c"
    included = f'#include "config.h"\n_Static_assert({checks}, "the lab\'s values");\n'
    path.write_text(included + fixture_allocator(f"labs/{allocator}").read_text())
    assert build_of(path, dialect, lab, out_dir=tmp_path / "b", word_size="64")


def test_the_f20_handouts_stree_h_is_there_to_include(tmp_path):
    # F20 ships the driver's splay tree header beside mm.h: a public file that includes it (and
    # uses none of it) built under the handout, and stopped here at "stree.h: file not found"
    # (lab check pass 5). Its types are the handout's.
    path = tmp_path / "mm.c"
    included = (
        '#include "stree.h"\n'
        '_Static_assert(sizeof(tkey_t) == sizeof(long), "the handout\'s key");\n'
        "static tree_t *unused_tree(void) { return NULL; }\n"
    )
    path.write_text(included + fixture_allocator("labs/cmu_segregated").read_text())
    assert build_of(path, "cmu", "cmu", out_dir=tmp_path / "b", word_size="64")


# A C99 `inline` function with no external definition: it links only where every call is inlined.
INLINE_ONLY = (
    "inline unsigned long mix(unsigned long x, unsigned long y) {\n"
    "    for (int r = 0; r < 5; r++) {\n"
    + "".join(
        f"        x ^= y * 0x9e3779b97f4a7c{i:02x}UL; x = (x << {i * 7 % 60 + 1}) | "
        f"(x >> {63 - i * 7 % 60}); y += x * {31 + 2 * i} + (y >> {i % 20 + 1});\n"
        for i in range(12)
    )
    + "    }\n    return x ^ y;\n}\n"
    "unsigned long use_mix(unsigned long a, unsigned long b) { return mix(a, b) + mix(b, a); }\n"
)


def test_each_lab_builds_at_its_makefiles_optimisation_level(tmp_path):
    # The CMU handouts build -O3, CS:APP's -O2; a public 2015 solution whose functions are C99
    # `inline` without an external definition scored 99 under its driver and did not link here.
    assert "-O2" in lab_flags(lab_named("csapp"), "classic", False)
    for lab in ("cmu", "cmu-2015"):
        assert "-O3" in lab_flags(lab_named(lab), "classic", False)
    path = tmp_path / "mm.c"
    path.write_text(fixture_allocator("labs/cmu2015_implicit").read_text() + INLINE_ONLY)
    assert build_of(path, "classic", "cmu-2015", out_dir=tmp_path / "b", word_size="64")


def test_a_function_named_like_a_c_library_one_is_the_files_own_as_under_the_driver(
    cli, write_trace, tmp_path
):
    # The handouts link mm.o into mdriver, where the file's own functions win; loaded as a shared
    # library, its helper splice() bound to the C library's splice(2), and a public CS:APP
    # solution valid on 9 of 11 traces under its driver was invalid on all (lab check run 14).
    helper = "long random(void) { return 42; } /* the file's own, called by mm_init */\n"
    init = "int mm_init(void) { return random() == 42 ? 0 : -1; }"
    template = CSAPP_TEMPLATE.replace("int mm_init(void) { return 0; }", helper + init)
    path = source(
        tmp_path,
        "",
        template.replace("#include <string.h>", "#include <stdlib.h>\n#include <string.h>"),
    )
    run = cli("grade", path, "--lab", "csapp", write_trace("t", TRACE))
    assert run.status == 0, run.out + run.err


def test_a_file_for_a_courses_lab_is_never_told_to_try_mallocsims_own_rules(
    cli, write_trace, tmp_path
):
    # A CS:APP file that used uint64_t without <stdint.h> was told "try --lab mallocsim": its
    # mm.h includes it, but no course grades by those rules (lab check run 14).
    template = CSAPP_TEMPLATE.replace(
        "#define ALIGN 8", "static uint64_t counter;\n#define ALIGN 8"
    )
    path = source(tmp_path, "", template)
    run = cli("grade", path, "--lab", "csapp", write_trace("t", TRACE))
    assert run.status == 1 and "does not compile" in run.err
    assert "try --lab" not in run.err


@pytest.mark.parametrize("word_size", ["64", "32"])
def test_a_file_that_uses_the_drivers_own_globals_links_as_under_the_driver(
    cli, write_trace, tmp_path, word_size
):
    # mdriver.c defines `int verbose` and `char msg[MAXLINE]`, and the handouts link mm.o with it:
    # a 2015 CS:APP solution declared verbose extern and read it (58 under its driver, "undefined
    # reference to `verbose'" and 0 here: lab check run 15).
    uses = "extern int verbose;\nextern char msg[];\n"
    uses += "int mm_init(void) { msg[0] = '\\0'; return verbose ? -1 : 0; }"
    template = CSAPP_TEMPLATE.replace("int mm_init(void) { return 0; }", uses)
    run = cli("grade", source(tmp_path, "", template), "--lab", "csapp", "--word-size", word_size,
              write_trace("t", TRACE))  # fmt: skip
    assert run.status == 0, run.out + run.err


def test_a_heap_function_defined_by_a_file_is_named_as_the_file_wrote_it(
    cli, write_trace, tmp_path
):
    # The CS:APP lab's memlib.h maps mem_sbrk to mem_sbrk_int (it takes an int there): a file
    # that defined its own mem_sbrk was told it "defines mem_sbrk_int" (lab check run 15).
    own = "void *mem_sbrk(int incr) { (void)incr; return (void *)-1; }\n"
    run = cli("grade", source(tmp_path, own), "--lab", "csapp", write_trace("t", TRACE))
    assert run.status == 1 and "defines mem_sbrk: an allocator may not replace" in run.err
    assert "mem_sbrk_int" not in run.out + run.err
    own = "static void *mem_sbrk(int incr) { (void)incr; return (void *)-1; }\n"
    run = cli("grade", source(tmp_path, own), "--lab", "csapp", write_trace("t", TRACE))
    assert run.status == 1 and re.search(r"static declaration of .mem_sbrk\W", run.err)
    assert "mem_sbrk_int" not in run.out + run.err


def test_a_cmu_files_own_helper_named_as_only_another_labs_memlib_names_it_is_its_own(
    cli, write_trace, tmp_path
):
    # Only the CS:APP lab's memlib.h renames mem_sbrk: a cmu file defining a helper of its own
    # named mem_sbrk_int was told it "defines mem_sbrk" (red-team pass 26), then refused as
    # replacing the heap's functions, which the F20 memlib does not have (red-team pass 33).
    own = (
        "\nvoid *mem_sbrk_int(int incr);\nvoid *mem_sbrk_int(int incr) { (void)incr; return 0; }\n"
    )
    path = tmp_path / "mm.c"
    path.write_text((TESTS / "allocators" / "labs" / "cmu_segregated.c").read_text() + own)
    run = cli("grade", path, "--lab", "cmu", write_trace("t", TRACE))
    assert run.status == 0 and "defines" not in run.err, run.said
