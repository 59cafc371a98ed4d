"""Refuse allocators that get memory behind the heap's back.

A student's allocator may take memory only from mem_sbrk. A library that
calls the system malloc family, sbrk, brk or mmap imports those names, so
they are undefined symbols in its ELF dynamic symbol table: this module
reads that table itself (no binutils needed) and names every forbidden one.

Guarantee: check_library returns normally only when the library imports none
of FORBIDDEN, nor any of the heap controls that are the driver's alone
(DRIVER_ONLY: resetting the heap mid-trace would fake the utilization);
otherwise it raises ForbiddenCallError, one line naming them.
Anything that is not a readable 64-bit little-endian ELF shared object is an
AllocatorError, one line.
"""

from __future__ import annotations

import struct
from pathlib import Path

from mallocsim.allocators import AllocatorError, AllocatorSpec, library_for

FORBIDDEN = frozenset(
    {
        "malloc",
        "calloc",
        "realloc",
        "reallocarray",
        "free",
        "posix_memalign",
        "aligned_alloc",
        "memalign",
        "valloc",
        "pvalloc",
        "sbrk",
        "brk",
        "mmap",
        "mmap64",
        "mremap",
    }
)
# The heap's controls belong to the driver: an allocator that reset the heap
# or its high-water mark mid-trace could fake its utilization.
DRIVER_ONLY = frozenset(
    {"mem_init", "mem_deinit", "mem_reset", "mem_reset_brk", "mem_set_limit", "mem_fail_after"}
)

_SHT_DYNSYM = 11
_SHN_UNDEF = 0
_ELF_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")
_SECTION = struct.Struct("<IIQQQQIIQQ")
_SYMBOL = struct.Struct("<IBBHQQ")


class ForbiddenCallError(AllocatorError):
    """The allocator calls functions it may not (the system malloc family...)."""


def imported_symbols(path: str | Path) -> set[str]:
    """The names a shared library imports (undefined dynamic symbols), without
    version suffixes."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise AllocatorError(f"{path}: {error.strerror}") from None
    if len(data) < _ELF_HEADER.size or data[:4] != b"\x7fELF":
        raise AllocatorError(f"{path}: not an ELF shared library")
    if data[4] != 2 or data[5] != 1:  # ELFCLASS64, ELFDATA2LSB
        raise AllocatorError(f"{path}: not a 64-bit little-endian ELF library")
    try:
        header = _ELF_HEADER.unpack_from(data)
        shoff, shentsize, shnum = header[6], header[11], header[12]
        sections = [_SECTION.unpack_from(data, shoff + i * shentsize) for i in range(shnum)]
        names: set[str] = set()
        for section in sections:
            if section[1] != _SHT_DYNSYM:
                continue
            strtab = sections[section[6]]  # sh_link: the symbol names
            strings = data[strtab[4] : strtab[4] + strtab[5]]
            offset, size, entsize = section[4], section[5], section[9] or _SYMBOL.size
            for at in range(offset + entsize, offset + size, entsize):  # entry 0 is null
                name_at, _, _, shndx, _, _ = _SYMBOL.unpack_from(data, at)
                if shndx == _SHN_UNDEF and name_at:
                    end = strings.index(b"\0", name_at)
                    names.add(strings[name_at:end].decode(errors="replace"))
    except (struct.error, IndexError, ValueError):
        raise AllocatorError(f"{path}: damaged ELF file (unreadable symbol table)") from None
    return {name.partition("@")[0] for name in names}


def check_library(path: str | Path, shown_as: str | None = None) -> None:
    """Raise ForbiddenCallError if the library imports a forbidden function.
    `shown_as` names the allocator in the message (its source, say)."""
    imported = imported_symbols(path)
    calls = sorted(imported & FORBIDDEN)
    if calls:
        raise ForbiddenCallError(
            f"{shown_as or path}: calls {', '.join(calls)}: an allocator may get memory only "
            "from mem_sbrk (the system malloc family, sbrk, brk and mmap are forbidden)"
        )
    controls = sorted(imported & DRIVER_ONLY)
    if controls:
        raise ForbiddenCallError(
            f"{shown_as or path}: calls {', '.join(controls)}: only the driver may reset "
            "or limit the heap"
        )


def checked_library(spec: AllocatorSpec) -> Path | None:
    """The library to load for `spec`, built first if it is an mm.c, and
    refused if it makes forbidden calls. Built-in policies and the system
    allocator are ours and not checked."""
    library = library_for(spec)
    if spec.kind in ("source", "library") and library is not None:
        check_library(library, spec.name)
    return library
