"""Refuse allocators that get memory behind the heap's back.

A student's allocator may take memory only from mem_sbrk. A library that
calls the system malloc family, sbrk, brk or mmap imports those names, so
they are undefined symbols in its ELF dynamic symbol table: this module
reads that table (elf.py) and names every forbidden one (constants.FORBIDDEN).
An mm.c the grader builds imports none of them: its references go to traps
that fail the pass where a call is made (build.py, c/src/forbidden_calls.c),
as the handouts' drivers grade code that names them and never calls them;
the check holds for a library handed in ready-made.

Guarantee: check_library returns normally only when the library imports none
of FORBIDDEN, calls of the heap (memlib.h) only STUDENT_HEAP_API (the rest
resets or limits the heap: the driver's alone), and defines none of the
heap's functions (an allocator with its own mem_sbrk would take memory the
driver cannot see); otherwise it raises ForbiddenCallError, one line naming
them.
check_uncounted refuses, for an instruction-counted grade, code that holds
valgrind's client requests (by which it could change its own count).
Anything that is not a readable 64-bit little-endian ELF shared object is an
AllocatorError, one line.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from mallocsim._native import HEADER_DIR
from mallocsim.allocators import AllocatorError, AllocatorSpec, library_for
from mallocsim.constants import FORBIDDEN
from mallocsim.elf import (
    SHN_UNDEF,
    SHT_DYNSYM,
    ElfError,
    loaded_bytes,
    read_elf,
    sections,
    symbols,
)
from mallocsim.labs import LABS, as_written

# What an allocator may call of the heap (memlib.h): the lab's own API and
# the read-only extensions. Everything else memlib.h declares resets, limits
# or rewinds the heap: the driver's alone, since an allocator resetting the
# heap mid-trace would fake its utilization.
STUDENT_HEAP_API = frozenset(
    {
        "mem_sbrk",
        "mem_heap_lo",
        "mem_heap_hi",
        "mem_heapsize",
        "mem_pagesize",
        "mem_memset",
        "mem_memcpy",
        "mem_high_water",
        "mem_limit",
        "mem_sbrk_calls",
        # the labs' handout APIs (include/labs/): the CS:APP int mem_sbrk, the
        # CMU reads, writes and heap bound
        "mem_sbrk_int",
        "mem_read",
        "mem_write",
        "mem_read128",
        "mem_write128",
        "mem_get_max_addr",
        # what the CS:APP handout's memlib.h declares besides: its driver lets mm.c call them
        # (a public solution called mem_deinit on a failure path that never ran: 98 under the
        # driver, refused here). They reach the sandboxed agent's copy of the heap only, whose
        # break, high-water mark and limit are the grader's (mem_follow): the grade's
        # utilization cannot be reset, and blocks that overlap after a reset fail as they do
        # under the driver.
        "mem_init",
        "mem_deinit",
        "mem_deinit_lab",  # mem_deinit, as the labs' memlib.h map the name
        "mem_reset_brk",
    }
)


@cache
def heap_functions() -> frozenset[str]:
    """Every function the shipped memlib.h declares: the engine's heap, which no allocator
    may call but those of STUDENT_HEAP_API."""
    text = (HEADER_DIR / "memlib.h").read_text()
    return frozenset(re.findall(r"\b(mem_\w+)\s*\(", text))


@cache
def lab_heap_functions(lab: str) -> frozenset[str]:
    """The heap functions a file for `lab` may not define: the names its handout's memlib.h
    has (and the engine's that they are mapped to), or, for a lab without headers of its own,
    the shipped memlib.h's. A name only the engine has is a student's to use: a CS:APP file
    with a helper named mem_write, which its driver links, was refused (red-team pass 33)."""
    headers = LABS[lab].headers if lab in LABS else None
    if headers is None:
        return heap_functions()
    text = (HEADER_DIR / "labs" / headers / "memlib.h").read_text()
    return frozenset(re.findall(r"\bmem_\w+", text))


class ForbiddenCallError(AllocatorError):
    """The allocator calls functions it may not (the system malloc family...)."""


def dynamic_symbols(path: str | Path) -> tuple[set[str], set[str]]:
    """(imported, defined): the names in a shared library's dynamic symbol
    table that it takes from other objects and that it provides itself,
    without version suffixes."""
    try:
        data = read_elf(path, "shared library")
        every = sections(data)
        tables = [s for s in every if s.kind == SHT_DYNSYM]
        if not tables:
            # Its section headers stripped or its symbol table hidden: nothing could be checked.
            raise ElfError("no dynamic symbol table to check (section headers stripped?)")
        imported: set[str] = set()
        defined: set[str] = set()
        for table in tables:
            for symbol in symbols(data, table, every):
                if symbol.name:
                    (imported if symbol.section == SHN_UNDEF else defined).add(symbol.name)
    except ElfError as error:
        raise AllocatorError(f"{path}: {error}") from None
    return imported, defined


def check_library(path: str | Path, shown_as: str | None = None, lab: str = "") -> None:
    """Raise ForbiddenCallError if the library imports a forbidden function or
    replaces the heap's own. `shown_as` names the allocator in the message, whose
    heap functions are named as a file for `lab` writes them."""
    imported, defined = dynamic_symbols(path)
    who = shown_as or path
    calls = sorted(imported & FORBIDDEN)
    if calls:
        raise ForbiddenCallError(
            f"{who}: calls {', '.join(calls)}: an allocator may get memory only "
            "from mem_sbrk (the system malloc family, sbrk, brk, mmap, and dlsym or syscall "
            "to reach them, are forbidden)"
        )
    controls = sorted(imported & (heap_functions() - STUDENT_HEAP_API))
    if controls:
        raise ForbiddenCallError(
            f"{who}: calls {as_written(', '.join(controls), lab)}: only the driver may reset or "
            "limit the heap"
        )
    replaced = sorted(defined & lab_heap_functions(lab))
    if replaced:
        raise ForbiddenCallError(
            f"{who}: defines {as_written(', '.join(replaced), lab)}: an allocator may not replace "
            "the heap's functions (memlib.h)"
        )


# valgrind's client-request preambles: on x86-64 rolq $3, $13, $61, $51 of %rdi; in a -m32
# build roll $3, $13, $29, $19 of %edi. valgrind reads the instruction after one as a request,
# such as running a function uncounted (VALGRIND_NON_SIMD_CALL0) or switching callgrind's count
# off.
VALGRIND_REQUESTS = (
    bytes.fromhex("48c1c703 48c1c70d 48c1c73d 48c1c733"),
    bytes.fromhex("c1c703 c1c70d c1c71d c1c713"),
)


def check_uncounted(path: str | Path, shown_as: str | None = None) -> None:
    """Raise ForbiddenCallError if the library's pages (code or data: valgrind's x86
    tool runs code from readable pages too) hold a valgrind client request, by which
    code counted by valgrind can change its own count."""
    try:
        code = loaded_bytes(path)
    except ElfError as error:
        raise AllocatorError(f"{path}: {error}") from None
    if any(request in code for request in VALGRIND_REQUESTS):
        raise ForbiddenCallError(
            f"{shown_as or path}: contains a valgrind client request (valgrind.h's macros): "
            "code counted by valgrind could change its own instruction count; remove them, "
            "or grade with --throughput time"
        )


def checked_library(spec: AllocatorSpec) -> Path | None:
    """The library to load for `spec`, built first if it is an mm.c, and
    refused if it makes forbidden calls. Built-in policies and the system
    allocator are ours and not checked."""
    library = library_for(spec)
    if spec.kind in ("source", "library") and library is not None:
        check_library(library, spec.name, spec.lab)
    return library
