"""The forbidden-call check: the ELF reader agrees with what the library
imports, a clean allocator passes, each forbidden call is named, and a file
that is not a library is one line."""

from __future__ import annotations

import pytest

from mallocsim.allocators import AllocatorError, compile_source
from mallocsim.forbidden import ForbiddenCallError, check_library, dynamic_symbols

from .conftest import fixture_allocator


def build(tmp_path, name: str, dialect: str = "classic"):
    return compile_source(fixture_allocator(name), dialect, tmp_path)


def test_a_clean_allocator_imports_only_what_it_may(tmp_path):
    library = build(tmp_path, "good_bump")
    imported, defined = dynamic_symbols(library)
    assert {"mem_sbrk", "memcpy", "memset"} <= imported
    assert "malloc" not in imported
    assert {"mm_init", "mm_malloc", "mm_free", "mm_realloc", "mm_calloc"} <= defined
    check_library(library)  # no error


def test_the_system_malloc_is_refused_by_name(tmp_path):
    library = build(tmp_path, "calls_malloc")
    with pytest.raises(ForbiddenCallError) as caught:
        check_library(library, "calls_malloc.c")
    message = str(caught.value)
    assert message.startswith("calls_malloc.c: calls free, malloc: ")
    assert "only from mem_sbrk" in message and "\n" not in message


def test_sbrk_brk_and_mmap_are_refused(tmp_path):
    source = tmp_path / "mm.c"
    source.write_text(
        "#include <stdint.h>\n#include <sys/mman.h>\n#include <unistd.h>\n"
        '#include "mm.h"\nteam_t team;\n'
        "int mm_init(void) { return brk(sbrk(0)) + (int)syscall(0); }\n"
        "void *mm_malloc(size_t n) {\n"
        "    void *p = mmap(0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);\n"
        "    return p == MAP_FAILED ? 0 : p;\n}\n"
        "void mm_free(void *p) { (void)p; }\n"
        "void *mm_realloc(void *p, size_t n) { (void)p; return mm_malloc(n); }\n"
    )
    library = compile_source(source, "classic", tmp_path)
    with pytest.raises(ForbiddenCallError, match="calls brk, mmap, sbrk, syscall: "):
        check_library(library)


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


def test_the_allowed_heap_api_is_declared_by_memlib_h():
    from mallocsim.forbidden import STUDENT_HEAP_API, heap_functions

    assert STUDENT_HEAP_API < heap_functions()
    assert {"mem_reset", "mem_set_limit", "mem_fail_after"} <= heap_functions() - STUDENT_HEAP_API
