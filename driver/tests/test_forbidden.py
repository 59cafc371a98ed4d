"""The forbidden-call check: the ELF reader agrees with what the library
imports, a clean allocator passes, each forbidden call is named, and a file
that is not a library is one line."""

from __future__ import annotations

import re

import pytest

from mallocsim._native import NATIVE32_DIR, NATIVE_DIR
from mallocsim.allocators import AllocatorError, compile_source
from mallocsim.constants import FORBIDDEN
from mallocsim.forbidden import ForbiddenCallError, check_library, dynamic_symbols

from .conftest import fixture_allocator, handed_in_library


def build(tmp_path, name: str, dialect: str = "classic"):
    return compile_source(fixture_allocator(name), dialect, tmp_path)


def test_a_clean_allocator_imports_only_what_it_may(tmp_path):
    library = build(tmp_path, "good_bump")
    imported, defined = dynamic_symbols(library)
    assert {"mem_sbrk", "memcpy", "memset"} <= imported
    assert "malloc" not in imported
    assert {"mm_init", "mm_malloc", "mm_free", "mm_realloc", "mm_calloc"} <= defined
    check_library(library)  # no error


SYSTEM_CALLS = (
    "#include <stdint.h>\n#include <sys/mman.h>\n#include <unistd.h>\n"
    '#include "mm.h"\nteam_t team;\n'
    "int mm_init(void) { return brk(sbrk(0)) + (int)syscall(0); }\n"
    "void *mm_malloc(size_t n) {\n"
    "    void *p = mmap(0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);\n"
    "    return p == MAP_FAILED ? 0 : p;\n}\n"
    "void mm_free(void *p) { (void)p; }\n"
    "void *mm_realloc(void *p, size_t n) { (void)p; return mm_malloc(n); }\n"
)


def test_a_handed_in_library_that_imports_the_system_malloc_is_refused_by_name(tmp_path):
    library = handed_in_library(fixture_allocator("calls_malloc"), tmp_path / "handed_in.so")
    with pytest.raises(ForbiddenCallError) as caught:
        check_library(library, "calls_malloc.so")
    message = str(caught.value)
    assert message.startswith("calls_malloc.so: calls free, malloc: ")
    assert "only from mem_sbrk" in message and "\n" not in message


def test_a_handed_in_library_that_imports_sbrk_brk_mmap_or_syscall_is_refused(tmp_path):
    source = tmp_path / "mm.c"
    source.write_text(SYSTEM_CALLS)
    with pytest.raises(ForbiddenCallError, match="calls brk, mmap, sbrk, syscall: "):
        check_library(handed_in_library(source, tmp_path / "handed_in.so"))


def test_a_built_files_forbidden_names_lead_to_the_trap_not_the_system(tmp_path):
    source = tmp_path / "mm.c"
    source.write_text(SYSTEM_CALLS)
    library = compile_source(source, "classic", tmp_path)
    imported, _ = dynamic_symbols(library)
    assert not imported & FORBIDDEN
    assert {"__wrap_brk", "__wrap_sbrk", "__wrap_syscall", "__wrap_mmap"} <= imported
    check_library(library)  # nothing of the system's to refuse


@pytest.mark.parametrize("word_size", ["64", "32"])
def test_every_forbidden_name_has_its_trap_in_the_heaps_library(word_size):
    # build.py links each mm.c with --wrap for every forbidden name; a trap missing here would
    # make every file that names that function fail to link ("does not compile").
    engine = NATIVE_DIR if word_size == "64" else NATIVE32_DIR
    _, defined = dynamic_symbols(engine / "libmsheap.so")
    assert {f"__wrap_{name}" for name in FORBIDDEN} <= defined


@pytest.mark.parametrize("called", [False, True])
def test_a_forbidden_call_fails_where_it_is_made_and_code_never_run_grades_as_under_the_driver(
    cli, write_trace, tmp_path, called
):
    # A CS:APP solution keeps an old realloc, never called, that calls free: its driver, which
    # links mm.o with the C library, grades it 86; refused for the import before any trace, it
    # got 0 here (lab check run 16).
    text = fixture_allocator("labs/csapp_implicit").read_text()
    text += "\nvoid *mm_realloc_old(void *p, size_t n) { free(p); return malloc(n); }\n"
    if called:
        text = text.replace("int mm_init(void) {", "int mm_init(void) {\n    free(mem_heap_lo());")
    source = tmp_path / "mm.c"
    source.write_text(text)
    trace = write_trace("t", CHURN)
    run = cli("grade", source, "--lab", "csapp", "--throughput", "time", trace)
    said = " ".join(run.said.split())
    if called:
        assert run.status == 1 and "called free at mm_init in the checked pass" in said, said
    else:
        plain = tmp_path / "plain" / "mm.c"
        plain.parent.mkdir()
        plain.write_text(fixture_allocator("labs/csapp_implicit").read_text())
        honest = cli("grade", plain, "--lab", "csapp", "--throughput", "time", trace)
        assert run.status == 0, said
        score = re.compile(r"score\s+[0-9.]+ / 100")
        assert score.findall(run.out) == score.findall(honest.out) != []


@pytest.mark.parametrize(
    ("call", "name"),
    [
        ("CPU_FREE(CPU_ALLOC(64))", "__sched_cpualloc"),
        ("free(strdup(\"x\"))", "strdup"),
        ("setenv(\"HEADS\", \"0123456789\", 1)", "setenv"),  # getenv's then: red-team pass 29
        ("{ char *cwd = getcwd(0, 4096); (void)cwd; }", "getcwd"),
        ("{ extern void *__libc_reallocarray(void *, size_t, size_t); "
         "__libc_reallocarray(0, 1, 8); }", "__libc_reallocarray"),
        # red-team pass 30: a directory's buffer, thread-specific values
        ("{ extern void *opendir(const char *); opendir(\".\"); }", "opendir"),
        ("{ extern int pthread_key_create(unsigned *, void (*)(void *)); unsigned k; "
         "pthread_key_create(&k, 0); }", "pthread_key_create"),
        # red-team pass 39: the resolver's state, _res, as storage
        ("{ extern void *__res_state(void); *(long *)__res_state() = 1; }", "__res_state"),
    ],
)  # fmt: skip
def test_what_returns_the_c_librarys_memory_is_trapped_too(cli, write_trace, tmp_path, call, name):
    # Memory from CPU_ALLOC or __libc_reallocarray held a CMU file's 40 list heads where the
    # global-data rule did not see them, 80.0 -> 100.0 (red-team pass 28).
    text = fixture_allocator("labs/csapp_implicit").read_text()
    text = "#define _GNU_SOURCE\n#include <sched.h>\n#include <unistd.h>\n" + text.replace(
        "int mm_init(void) {", f"int mm_init(void) {{\n    {call};"
    )
    source = tmp_path / "mm.c"
    source.write_text(text)
    run = cli("grade", source, "--lab", "csapp", "--throughput", "time", write_trace("t", CHURN))
    assert run.status == 1 and f"called {name} at mm_init" in " ".join(run.said.split())


def test_an_honest_files_stdio_in_mm_init_grades_as_without_it(cli, write_trace, tmp_path):
    # Trapped for the buffers it keeps, a debug fopen of /proc/self/statm in mm_init failed
    # every trace of an honest file: 46.3 -> 0 (red-team pass 31). stdio's streams are not
    # trapped: stdin's and stdout's own buffers are there for any file anyway.
    text = fixture_allocator("labs/csapp_implicit").read_text()
    text = text.replace(
        "int mm_init(void) {",
        "int mm_init(void) {\n"
        '    { FILE *f = fopen("/proc/self/statm", "r"); long pages;\n'
        '      if (f != NULL && fscanf(f, "%ld", &pages) == 1 && pages < 0) return -1;\n'
        "      if (f != NULL) fclose(f); }",
    )
    source = tmp_path / "mm.c"
    source.write_text(text)
    trace = write_trace("t", CHURN)
    run = cli("grade", source, "--lab", "csapp", "--throughput", "time", "-q", trace)
    honest = cli("grade", fixture_allocator("labs/csapp_implicit"), "--lab", "csapp",
                 "--throughput", "time", "-q", trace)  # fmt: skip
    assert run.status == 0 and "called" not in run.said, run.said
    said, honest_said = " ".join(run.said.split()), " ".join(honest.said.split())
    assert "valid traces 1 / 1" in said and "valid traces 1 / 1" in honest_said, said


def test_not_a_library_is_one_line(tmp_path):
    text = tmp_path / "mm.so"
    text.write_text("not an ELF file\n")
    with pytest.raises(AllocatorError, match="not an ELF shared library"):
        dynamic_symbols(text)
    truncated = tmp_path / "cut.so"
    truncated.write_bytes(build(tmp_path, "good_bump").read_bytes()[:200])
    with pytest.raises(AllocatorError, match="damaged ELF file"):
        dynamic_symbols(truncated)
    with pytest.raises(AllocatorError, match="No such file"):
        dynamic_symbols(tmp_path / "none.so")


def test_the_drivers_heap_controls_are_refused(tmp_path):
    source = tmp_path / "mm.c"
    source.write_text(
        '#include <stdint.h>\n#include "memlib.h"\n#include "mm.h"\nteam_t team;\n'
        "int mm_init(void) { return 0; }\n"
        "void *mm_malloc(size_t n) {\n"
        "    mem_reset(); /* forget the heap so far: a perfect utilization */\n"
        "    void *p = mem_sbrk((intptr_t)((n + 15) & ~(size_t)15));\n"
        "    return p == (void *)-1 ? 0 : p;\n}\n"
        "void mm_free(void *p) { (void)p; }\n"
        "void *mm_realloc(void *p, size_t n) { (void)p; return mm_malloc(n); }\n"
    )
    library = compile_source(source, "classic", tmp_path)
    with pytest.raises(ForbiddenCallError, match="calls mem_reset: only the driver may reset"):
        check_library(library)


# Ops that make an allocator split, merge and reuse blocks.
CHURN = "".join(f"a {i} {24 + 40 * (i % 5)}\n" for i in range(40)) + "".join(
    f"f {i}\n" for i in range(0, 40, 2)
)
FORGETFUL_BUMP = (
    '#include "memlib.h"\n#include "mm.h"\n'
    'team_t team = {"t", "A. Student", "astudent", "", ""};\n'
    "int mm_init(void) { return 0; }\n"
    "void *mm_malloc(size_t n) {\n"
    "    mem_reset_brk(); /* forget the heap so far: a perfect utilization? */\n"
    "    void *p = mem_sbrk((int)((n + 7) & ~(size_t)7));\n"
    "    return p == (void *)-1 ? 0 : p;\n}\n"
    "void mm_free(void *p) { (void)p; }\n"
    "void *mm_realloc(void *p, size_t n) { (void)p; return mm_malloc(n); }\n"
)


@pytest.mark.parametrize(
    ("case", "valid"), [("dead-mem_deinit", True), ("mem_reset_brk-in-mm_init", True),
                        ("a-new-heap-in-mm_init", True),
                        ("mem_reset_brk-to-forget-the-heap", False)],
)  # fmt: skip
def test_the_csapp_handouts_own_heap_calls_build_and_grade_as_its_driver(
    cli, write_trace, tmp_path, case, valid
):
    # The handout's memlib.h declares mem_init, mem_deinit and mem_reset_brk, and its driver lets
    # mm.c call them: a public solution with mem_deinit on a failure path got 98 there, and 0
    # here ("only the driver may reset or limit the heap"). They reach the sandboxed copy of the
    # heap only: a reset cannot fake the utilization, and blocks then overlap, invalid. A public
    # solution's mm_init makes itself a new heap (mem_deinit, mem_init, mem_reset_brk): 11/11
    # under the driver, whose mem_deinit frees the heap for mem_init to malloc afresh; 0/11 here,
    # the sandboxed agent's heap unmapped and no mapping allowed (lab check pass 6).
    text = fixture_allocator("labs/csapp_implicit").read_text()
    init = "int mm_init(void) {"
    if case == "dead-mem_deinit":
        text = text.replace(
            init, f"{init}\n    if (mem_heapsize() > (1ul << 40))\n        mem_deinit();"
        )
    elif case == "mem_reset_brk-in-mm_init":
        text = text.replace(init, f"{init}\n    mem_reset_brk();")
    elif case == "a-new-heap-in-mm_init":
        text = text.replace(
            init, f"{init}\n    mem_deinit();\n    mem_init();\n    mem_reset_brk();"
        )
    else:
        text = FORGETFUL_BUMP
    source = tmp_path / "mm.c"
    source.write_text(text)
    run = cli("grade", source, "--lab", "csapp", "--throughput", "time", write_trace("t", CHURN))
    assert (run.status == 0) == valid, run.said
    if not valid:
        assert "overlaps block" in run.said, run.said


def test_replacing_the_heaps_functions_is_refused(tmp_path):
    source = tmp_path / "mm.c"
    source.write_text(
        '#include <stdint.h>\n#include "memlib.h"\n#include "mm.h"\nteam_t team;\n'
        "static char arena[1 << 20];\nstatic size_t used;\n"
        "void *mem_sbrk(intptr_t n) { void *p = arena + used; used += (size_t)n; return p; }\n"
        "int mm_init(void) { used = 0; return 0; }\n"
        "void *mm_malloc(size_t n) { return mem_sbrk((intptr_t)((n + 15) & ~(size_t)15)); }\n"
        "void mm_free(void *p) { (void)p; }\n"
        "void *mm_realloc(void *p, size_t n) { (void)p; return mm_malloc(n); }\n"
    )
    library = compile_source(source, "classic", tmp_path)
    with pytest.raises(ForbiddenCallError, match="defines mem_sbrk: an allocator may not replace"):
        check_library(library)


@pytest.mark.parametrize(("lab", "refused"), [("csapp", False), ("cmu", True)])
def test_a_helper_named_as_only_another_memlib_names_it_is_the_files_own(
    cli, write_trace, tmp_path, lab, refused
):
    # mem_write is the F20 memlib's, not the CS:APP one's: a CS:APP file's helper of that name
    # links under its driver, and was refused here by the engine's memlib.h (red-team pass 33).
    fixture = "labs/csapp_implicit" if lab == "csapp" else "labs/cmu_segregated"
    source = tmp_path / "mm.c"
    source.write_text(  # as the F20 memlib.h declares it
        fixture_allocator(fixture).read_text()
        + "\nvoid mem_write(void *p, uint64_t v, size_t n);\n"
        + "void mem_write(void *p, uint64_t v, size_t n) { memcpy(p, &v, n); }\n"
    )
    run = cli("grade", source, "--lab", lab, "--throughput", "time", write_trace("t", CHURN))
    said = "defines mem_write: an allocator may not replace the heap's functions"
    assert (said in run.said) == refused, run.said


def test_the_allowed_heap_api_is_declared_by_memlib_h():
    from mallocsim.forbidden import STUDENT_HEAP_API, heap_functions

    assert STUDENT_HEAP_API < heap_functions()
    assert {"mem_reset", "mem_set_limit", "mem_fail_after"} <= heap_functions() - STUDENT_HEAP_API
