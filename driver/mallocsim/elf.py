"""Read what the grader needs of an ELF file, without binutils.

A student's library or object file is read for five things: the names its
dynamic symbol table imports and defines (forbidden.py), the bytes its code
pages hold (forbidden.py looks there for valgrind's client requests), the
memory its writable segments take when loaded (the sandbox's allowance for
loading it), the writable global data an object file defines (the labs'
rule on global data; the library linked from it shows which of that data the
loader really makes read-only), and what of an object file's the loader would
run as it loads the library (`load_time_code`). Little-endian files are read, 64-bit and 32-bit
(a student's -m32 build, as the CS:APP handout's Makefile makes it).

Guarantee: every function here either answers or raises ElfError, one line
without the file's name (the caller names it); a damaged file never raises
anything else.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from mallocsim.safe_text import printable

SHT_SYMTAB = 2
SHT_DYNSYM = 11
_SHT_NOBITS = 8
SHN_UNDEF = 0
STT_OBJECT = 1
_STT_GNU_IFUNC = 10
_SHN_COMMON = 0xFFF2
_SHN_X86_64_LCOMMON = 0xFF02  # `.largecomm`: common data GNU ld puts in .lbss
_SHF_WRITE = 0x1
_SHF_ALLOC = 0x2
_PT_LOAD = 1
_PT_INTERP = 3
_PT_GNU_RELRO = 0x6474E552
_PF_W = 2
_PAGE = 4096


class _Format(NamedTuple):
    """The record layouts of one ELF class (64-bit, or 32-bit: a -m32 build's)."""

    bits: int
    # e_ident, e_type, e_machine, e_version, e_entry, e_phoff, e_shoff, e_flags, e_ehsize,
    # e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx (the same order in both)
    header: struct.Struct
    # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info, sh_addralign,
    # sh_entsize (the same order in both)
    section: struct.Struct
    symbol: struct.Struct
    symbol_order: tuple[int, ...]  # where st_name, st_shndx, st_value, st_size, st_info are
    program: struct.Struct
    program_order: tuple[
        int, ...
    ]  # where p_type, p_flags, p_offset, p_vaddr, p_filesz, p_memsz are


_ELF64 = _Format(
    64,
    struct.Struct("<16sHHIQQQIHHHHHH"),
    struct.Struct("<IIQQQQIIQQ"),
    struct.Struct("<IBBHQQ"),  # st_name, st_info, st_other, st_shndx, st_value, st_size
    (0, 3, 4, 5, 1),
    struct.Struct("<IIQQQQQQ"),  # p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, ...
    (0, 1, 2, 3, 5, 6),
)
_ELF32 = _Format(
    32,
    struct.Struct("<16sHHIIIIIHHHHHH"),
    struct.Struct("<IIIIIIIIII"),
    struct.Struct("<IIIBBH"),  # st_name, st_value, st_size, st_info, st_other, st_shndx
    (0, 5, 1, 2, 3),
    struct.Struct("<IIIIIIII"),  # p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags
    (0, 6, 1, 2, 4, 5),
)


def _format(data: bytes) -> _Format:
    return _ELF64 if data[4] == 2 else _ELF32


class ElfError(ValueError):
    """Not a readable little-endian ELF file, or a damaged one."""


class Section(NamedTuple):
    name: str
    kind: int  # sh_type
    flags: int
    offset: int
    size: int
    link: int  # sh_link: a symbol table's names
    addr: int = 0  # sh_addr: where a library's section is loaded
    align: int = 0  # sh_addralign: the section's start is a multiple of it once linked
    info: int = 0  # sh_info: a relocation section's target section


class Symbol(NamedTuple):
    name: str  # without a version suffix
    section: int  # st_shndx: SHN_UNDEF for an import
    size: int
    value: int  # in an object file: the offset in its section
    kind: int = 0  # ELF_ST_TYPE(st_info): STT_OBJECT for a variable


def read_elf(path: str | Path, kind: str = "file") -> bytes:
    """The file's bytes, checked to be a little-endian ELF file, 64-bit or 32-bit;
    `kind` names what it should be in the error ("shared library")."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ElfError(error.strerror or "cannot be read") from None
    if len(data) < _ELF64.header.size or data[:4] != b"\x7fELF":
        raise ElfError(f"not an ELF {kind}")
    if data[4] not in (1, 2) or data[5] != 1:  # ELFCLASS32 or ELFCLASS64, ELFDATA2LSB
        raise ElfError(f"not a little-endian ELF {kind} of 64 or 32 bits")
    return data


def word_bits(path: str | Path) -> int:
    """64 or 32: the word size a library or object file was built for."""
    return _format(read_elf(path)).bits


def library_bits(path: str | Path | None) -> int:
    """word_bits of a library to load, 64 for none or for a file that is no ELF (the
    64-bit loader then says what is wrong with it, as for any library)."""
    try:
        return word_bits(path) if path is not None else 64
    except ElfError:
        return 64


# Past 65,279 sections an object keeps their count in section 0 (e_shnum 0) and its names'
# section's index there too (e_shstrndx SHN_XINDEX): read there, or 65,300 empty sections in a
# file hid everything in it from every check here, a definition of __gmon_start__ and the global
# data the CMU lab counts (red-team pass 40).
_SHN_XINDEX = 0xFFFF


def sections(data: bytes) -> list[Section]:
    """The section headers, named; [] when they were stripped. Reads the extended numbering of
    a file with more than 65,279 sections."""
    form = _format(data)
    try:
        header = form.header.unpack_from(data)
        shoff, shentsize, shnum, shstrndx = header[6], header[11], header[12], header[13]
        if shoff != 0 and (shnum == 0 or shstrndx == _SHN_XINDEX):
            first = form.section.unpack_from(data, shoff)
            shnum = first[5] if shnum == 0 else shnum  # sh_size
            shstrndx = first[6] if shstrndx == _SHN_XINDEX else shstrndx  # sh_link
        if shnum * shentsize > len(data):
            raise ValueError
        raw = [form.section.unpack_from(data, shoff + i * shentsize) for i in range(shnum)]
        names = raw[shstrndx] if shnum else None
        return [
            Section(
                _string(data, names[4] + s[0]) if names else "",
                s[1],
                s[2],
                s[4],
                s[5],
                s[6],
                s[3],
                s[8],
                s[7],
            )
            for s in raw
        ]
    except (struct.error, IndexError, ValueError):
        raise ElfError("damaged ELF file (unreadable section headers)") from None


def symbols(data: bytes, table: Section, every: list[Section]) -> Iterator[Symbol]:
    """The symbols of a symbol table section (its null entry left out)."""
    form = _format(data)
    record = form.symbol
    try:
        strings = every[table.link]
        for at in range(table.offset + record.size, table.offset + table.size, record.size):
            fields = record.unpack_from(data, at)
            name_at, shndx, value, size, info = (fields[i] for i in form.symbol_order)
            name = _string(data, strings.offset + name_at) if name_at else ""
            yield Symbol(name.partition("@")[0], shndx, size, value, info & 0xF)
    except (struct.error, IndexError, ValueError):
        raise ElfError("damaged ELF file (unreadable symbol table)") from None


def _string(data: bytes, at: int) -> str:
    return data[at : data.index(b"\0", at)].decode(errors="replace")


class Segment(NamedTuple):
    flags: int  # p_flags: _PF_W (writable)...
    offset: int  # in the file
    vaddr: int
    filesz: int
    memsz: int


def is_program(path: str | Path) -> bool:
    """Whether the file names a program interpreter (PT_INTERP): an executable, a
    position-independent one too, which the loader will not preload as a library."""
    return bool(load_segments(read_elf(path), _PT_INTERP))


def load_segments(data: bytes, wanted: int = _PT_LOAD) -> list[Segment]:
    """The PT_LOAD segments of the program headers (or those of type `wanted`)."""
    form = _format(data)
    try:
        header = form.header.unpack_from(data)
        phoff, phentsize, phnum = header[5], header[9], header[10]
        segments = []
        for i in range(phnum):
            fields = form.program.unpack_from(data, phoff + i * phentsize)
            kind, flags, offset, vaddr, filesz, memsz = (fields[k] for k in form.program_order)
            if kind == wanted:
                segments.append(Segment(flags, offset, vaddr, filesz, memsz))
        return segments
    except struct.error:
        raise ElfError("damaged ELF file (unreadable program headers)") from None


def _page_down(n: int) -> int:
    return n // _PAGE * _PAGE


def _page_up(n: int) -> int:
    return -(-n // _PAGE) * _PAGE


def writable_load_bytes(path: str | Path) -> int:
    """The memory a library's writable segments take when loaded (its data and
    .bss, each rounded up to whole pages): what loading it may add to a process's
    private memory, beside the loader's own bookkeeping. 0 when unreadable."""
    try:
        segments = load_segments(read_elf(path))
    except ElfError:
        return 0
    return sum(
        _page_up(s.vaddr + s.memsz) - _page_down(s.vaddr) for s in segments if s.flags & _PF_W
    )


def loaded_bytes(path: str | Path) -> bytes:
    """Every byte a library's loadable segments map, code and data alike: whole pages,
    so that the tail of a page past its segment (whatever the file holds there) is in
    too. Several segments' pages are joined with a zero byte between them. (Code alone
    is not enough: valgrind's x86 tool runs code from any readable page, and a -m32
    build kept a client request in a const array, red-team pass 8.)"""
    data = read_elf(path)
    return b"\0".join(
        data[_page_down(s.offset) : _page_up(s.offset + s.filesz)] for s in load_segments(data)
    )


# Where GNU ld's default script for a shared library (x86-64 and i386 alike) puts an
# input section by its name alone, whatever flags the object gives it: into writable
# output (.data, .bss, .got.plt: an object's "a" or even unallocated `.got.plt` is
# writable once linked), or into output that the loader makes read-only once it has
# relocated it (RELRO): `const` tables of pointers and the constructor tables. A name
# is matched exactly or with a "." after it: `.data.rel.rox` is not RELRO, it is .data.
_WRITABLE_NAMES = (
    ".data", ".data1", ".gnu.linkonce.d", ".bss", ".gnu.linkonce.b", ".dynbss", ".got.plt",
    ".igot.plt", ".tdata", ".gnu.linkonce.td", ".tbss", ".gnu.linkonce.tb", ".tcommon",
    ".ldata", ".lbss", ".gnu.linkonce.lb", ".dynlbss",
)  # fmt: skip
_RELRO_NAMES = {  # an input section's name: the output section it goes to
    ".data.rel.ro": ".data.rel.ro",
    ".gnu.linkonce.d.rel.ro": ".data.rel.ro",
    # mm.o's constructors: the build's script puts them in a table of their own, in RELRO too
    # (ms_lab_constructors.ld).
    ".init_array": "ms_lab_constructors",
    ".ctors": "ms_lab_constructors",
    ".fini_array": ".fini_array",
    ".dtors": ".fini_array",
    ".preinit_array": ".preinit_array",
}


def _named(name: str, prefix: str) -> bool:
    """`name` is `prefix` or `prefix.something`, as a script's `prefix prefix.*` matches."""
    return name == prefix or name.startswith(prefix + ".")


def _relro_output(name: str) -> str | None:
    """The RELRO output section GNU ld puts an input section of this name in, if any."""
    return next((out for prefix, out in _RELRO_NAMES.items() if _named(name, prefix)), None)


def _writable_once_linked(section: Section) -> bool:
    """Whether GNU ld may put an object's section in writable memory (RELRO aside)."""
    if section.flags & _SHF_ALLOC and (section.flags & _SHF_WRITE or section.kind == _SHT_NOBITS):
        return True
    return any(_named(section.name, name) for name in _WRITABLE_NAMES)


def protected_sections(library: str | Path | None) -> set[str]:
    """The library's sections that the loader makes read-only once relocated: wholly in
    its PT_GNU_RELRO segment, whose last partial page stays writable (glibc protects whole
    pages from its start down). None without a library, nor of one that cannot be read.

    The object file cannot show this: a writable section the linker puts with .rodata
    (`.rodata.x`, "aw") merges the read-only segment with the data one, and ld then
    makes no PT_GNU_RELRO at all, so that .data.rel.ro stays writable."""
    if library is None:
        return set()
    try:
        data = read_elf(library, "shared library")
        relro = load_segments(data, _PT_GNU_RELRO)
        every = sections(data)
    except ElfError:
        return set()
    return {
        s.name
        for s in every
        for r in relro
        if s.flags & _SHF_ALLOC
        and r.vaddr <= s.addr
        and s.addr + s.size <= _page_down(r.vaddr + r.memsz)
    }


def global_data_bytes(path: str | Path, library: str | Path | None = None) -> int:
    """The writable global data an object file (a compiled mm.c, not linked)
    defines: its variables' sizes, initialised or zeroed, thread-local ones
    included, in any section, and common symbols, as the CMU lab counts them
    (the sizes of its variables: the padding the compiler puts between them to
    align the next one is not counted). Bytes of a writable section that no
    variable covers and that no alignment explains (data written in assembly,
    with no size) are counted too. This is the memory an allocator could keep
    state in beside the heap, which the labs' rules limit.

    A section counts when it is writable once linked: one with the write flag
    (of any type and any name: a note, `.rodata.x`, `my_stash`), one of zeros
    (SHT_NOBITS: ld makes one writable without the flag too, unless its name puts
    it with .rodata), or one whose name GNU ld puts in writable output whatever
    its flags (`.data.*`, `.bss.*`, `.got.plt`). Common symbols count, large ones
    (`.largecomm`) too. Read-only data is not counted, nor data that is read-only
    once relocated (RELRO: a `const` table of pointers in `.data.rel.ro` or
    `.data.rel.ro.*`, the constructor tables) -- the latter only when `library`,
    the shared library linked from this file, is given and its PT_GNU_RELRO
    segment really covers where that data went: without it, it is counted. No
    compiler puts data in the linker's own RELRO tables (.got, .dynamic): a
    section of that name is counted. Assumes GNU ld's default script (the
    build's linker, for gcc and clang)."""
    data = read_elf(path)
    every = sections(data)
    if not every:
        raise ElfError("no section headers")
    protected = protected_sections(library)
    counted = [
        i
        for i, s in enumerate(every)
        if _writable_once_linked(s) and _relro_output(s.name) not in protected
    ]
    spans: dict[int, list[tuple[int, int]]] = {i: [] for i in counted}
    total = 0
    for table in every:
        if table.kind != SHT_SYMTAB:
            continue
        for symbol in symbols(data, table, every):
            if symbol.section in (_SHN_COMMON, _SHN_X86_64_LCOMMON):
                # a common's value is its alignment
                total += symbol.size + _padding_room(symbol.value, symbol.size)
            elif symbol.section in spans and symbol.size > 0:
                spans[symbol.section].append((symbol.value, symbol.value + symbol.size))
    for i in counted:
        section = every[i]
        total += _covered_bytes(section.size, sorted(spans[i]))
        total += _padding_room(section.align, section.size)
    return total


def _unasked_alignment(size: int) -> int:
    """The most alignment a compiler gives a variable of `size` bytes unasked: 8 below 16
    bytes (a pointer's, a size_t's; clang shrinks a size_t only ever set to two values to one
    byte and keeps its alignment: a public file's 1-byte variables 8 bytes apart), 16 below 32
    (long double, __int128, arrays), 32 below 64 and 64 beyond (gcc's for arrays). So 7 bytes
    after a 1-byte variable go uncounted, as the padding they may be: an allocator could keep
    data there, 8 bytes a variable for 1 counted (left, docs/labs.md)."""
    if size >= 64:
        return 64
    if size >= 32:
        return 32
    return 16 if size >= 16 else 8


def _padding_room(alignment: int, size: int) -> int:
    """The writable bytes the linker may pad before a section or common symbol of `size`
    bytes aligned to `alignment`, when that is more than a compiler gives such data unasked
    (_unasked_alignment; its variables' alignments are no more, each no bigger than the
    whole): counted as global data, as a gap between variables is (_covered_bytes). The
    linker pads the output before each, room no variable of mm.o covers: a 1-byte variable
    aligned to 2 MiB in a section of its own gave a CMU file 1 MiB beside its "17 bytes of
    global data" (red-team pass 30); forty aligned to 64 or 16, in sections of their own or
    as common symbols, 63 or 15 bytes each. None for an empty section."""
    return alignment - 1 if size > 0 and alignment > _unasked_alignment(size) else 0


def borrowed_data_bytes(path: str | Path, provider: str | Path) -> int:
    """The bytes of the variables an object file uses and does not define that `provider`, a
    shared library it is linked with, defines: the labs' drivers' globals (`msg`, `verbose`),
    which the heap's library defines for students' files. A file can keep state there as in its
    own: 1 KiB of list heads kept in the CS:APP driver's msg[] measured "8 bytes" and dodged CMU's
    deduction, 80.0 -> 100.0 (red-team pass 26)."""
    data = read_elf(path)
    every = sections(data)
    used = {
        symbol.name
        for table in every
        if table.kind == SHT_SYMTAB
        for symbol in symbols(data, table, every)
        if symbol.section == SHN_UNDEF
    }
    library = read_elf(provider, "shared library")
    tables = sections(library)
    return sum(
        symbol.size
        for table in tables
        if table.kind == SHT_DYNSYM
        for symbol in symbols(library, table, tables)
        if symbol.section != SHN_UNDEF and symbol.kind == STT_OBJECT and symbol.name in used
    )


def _covered_bytes(size: int, spans: list[tuple[int, int]]) -> int:
    """A section's bytes less the alignment padding between its variables: a gap
    before a variable counts unless it is shorter than the alignment a compiler
    gives a variable of that size unasked (_unasked_alignment) and ends on a
    boundary of the next power of two above it. Forty 1-byte variables aligned
    to 64 by hand left 63 bytes uncounted each, 2.5 KB of list heads measured as
    40 bytes (red-team pass 31); aligned to 16, 15 bytes each (pass 32)."""
    total, cursor = 0, 0
    for start, end in spans:
        gap = start - cursor
        unasked = _unasked_alignment(end - start)
        if gap > 0 and not (gap < unasked and start % (1 << gap.bit_length()) == 0):
            total += gap
        if end > cursor:
            total += end - max(start, cursor)
            cursor = end
    return total + max(0, size - cursor)


# What of an object file's code the loader runs as it loads the library it is linked into,
# besides its constructors (which the build takes from the loader: ms_lab_constructors.ld). The
# sections GNU ld's script puts in the library's _init or the table run before any
# constructor's (a shared library may not have one, ld says, but it is refused before ld is
# asked), and the C runtime's hooks: crti.o's _init calls __gmon_start__ when it is defined,
# crtbeginS.o's constructor _ITM_registerTMCloneTable (red-team pass 39 ran its payload in a
# function named __gmon_start__, with no constructor at all). And what runs as it unloads, which a
# close before the seal ran (red-team pass 41: a file that hid mm_realloc; the engine no longer
# closes it there): a .fini section, in the library's _fini, and crtbeginS.o's call of
# __cxa_finalize. Its destructors (.fini_array) stay: a process leaves by _exit until it is sealed.
_LOAD_TIME_SECTIONS = (".init", ".preinit_array", ".fini")
# GCC's link-time optimisation: the linker's plugin builds the library from this bytecode in place
# of mm.o's code, an object no script names (red-team pass 40: a constructor in it ran at load).
_BYTECODE_SECTIONS = (".gnu.lto_", ".gnu.debuglto_", ".gnu.offload_lto_", ".llvmbc", ".llvmcmd")
# What the linker builds for the loader: its relocations, the dynamic section and symbol table,
# the GOT and the PLT. A section of mm.o so named is copied into the library's own (red-team pass
# 44: `.rela.bss.rt`, a loaded section of one record that wrote mm.c's function into DT_INIT,
# which the loader then ran at dlopen). A compiler's own relocations are of their own kind, never
# loaded.
_LINKER_SECTIONS = (
    ".dynamic", ".dynsym", ".dynstr", ".hash", ".gnu.hash", ".gnu.version", ".gnu.version_d",
    ".gnu.version_r", ".got", ".plt", ".interp", ".eh_frame_hdr",
)  # fmt: skip
_RELOCATION_NAMES = (".rel", ".rela", ".relr")
_SHT_RELA, _SHT_REL, _SHF_ALLOC = 4, 9, 0x2
_LOAD_TIME_HOOKS = frozenset(
    (
        "_init", "_fini", "__gmon_start__", "_ITM_registerTMCloneTable",
        "_ITM_deregisterTMCloneTable", "__cxa_finalize",
    )
)  # fmt: skip


def load_time_code(path: str | Path) -> str | None:
    """What in an object file the loader would run as its library loads, said as "a section
    .init", "an ifunc resolver (name)" or "a definition of __gmon_start__"; None when there is
    nothing (its constructors aside). An ifunc's resolver runs as the loader relocates."""
    data = read_elf(path)
    every = sections(data)
    for section in every:
        if any(_named(section.name, name) for name in _LOAD_TIME_SECTIONS):
            return f"a section {section.name}"
        if _linkers_own(section, every):
            return f"a section {section.name}, which the linker would take for its own"
        if section.name.startswith(_BYTECODE_SECTIONS):
            return (
                f"compiler bytecode ({section.name}), which the linker builds in place of its code"
            )
    return _symbol_run_at_load(data, every, (SHT_SYMTAB,), _LOAD_TIME_HOOKS)


def _linkers_own(section: Section, every: list[Section]) -> bool:
    """Is an object's section named as one the linker builds for the loader? A relocation
    section is a compiler's only as a compiler makes it: of its kind, not loaded, its symbols
    the object's symbol table, and named for the section it relocates, which it names. GNU ld
    takes any other for plain bytes, one of the library's own relocations by its name (red-team
    pass 45: a `.rela.bss.rt` of that kind, sh_info 0, pointed a GOT slot at mm.c's function)."""
    if any(_named(section.name, name) for name in _LINKER_SECTIONS):
        return True
    if not any(_named(section.name, name) for name in _RELOCATION_NAMES):
        return False
    relocations = (_SHT_RELA, _SHT_REL)
    if section.kind not in relocations or section.flags & _SHF_ALLOC:
        return True
    if not 0 < section.info < len(every) or not 0 < section.link < len(every):
        return True
    target = every[section.info]
    prefix = ".rela" if section.kind == _SHT_RELA else ".rel"
    return (
        target.kind in relocations
        or every[section.link].kind != SHT_SYMTAB
        or section.name != prefix + target.name
    )


def _symbol_run_at_load(
    data: bytes, every: list[Section], tables: tuple[int, ...], hooks: frozenset[str]
) -> str | None:
    """The first symbol of the symbol tables of these kinds that the loader would run: an ifunc
    resolver, or a definition of one of `hooks`; said as load_time_code says it."""
    for table in (s for s in every if s.kind in tables):
        for symbol in symbols(data, table, every):
            if symbol.kind == _STT_GNU_IFUNC:
                return f"an ifunc resolver ({printable(symbol.name)})"
            if symbol.section != SHN_UNDEF and symbol.name in hooks:
                return f"a definition of {symbol.name}"
    return None


_PT_DYNAMIC = 2
_DT_NULL, _DT_PREINIT_ARRAYSZ, _DT_INIT_ARRAYSZ = 0, 33, 27
# R_X86_64_IRELATIVE, R_386_IRELATIVE: an ifunc's resolver, run as the loader relocates.
_IRELATIVE = {64: 37, 32: 42}
# A relocation section's records (r_offset, r_info[, r_addend]) by its type (SHT_RELA, SHT_REL)
_RELOCATIONS = {
    4: {64: struct.Struct("<QQq"), 32: struct.Struct("<IIi")},
    9: {64: struct.Struct("<QQ"), 32: struct.Struct("<II")},
}
# The C runtime's own (crti.o): defined in every library, run by the loader as DT_INIT, DT_FINI.
_RUNTIME_OWN = frozenset(("_init", "_fini"))


def _dynamic_entries(data: bytes) -> list[tuple[int, int]]:
    """The dynamic section's (tag, value) pairs, by its program header."""
    form = _format(data)
    word = struct.Struct("<qQ" if form.bits == 64 else "<iI")
    entries = []
    for segment in load_segments(data, _PT_DYNAMIC):
        for at in range(segment.offset, segment.offset + segment.filesz, word.size):
            tag, value = word.unpack_from(data, at)
            if tag == _DT_NULL:
                break
            entries.append((tag, value))
    return entries


def library_load_time_code(path: str | Path) -> str | None:
    """What in a linked library, beyond the C runtime's own, the loader would run as it loads it,
    said as in load_time_code; None when nothing. Checked in the library, whatever brought it
    there: an archive member the link pulled in (libgcc's morestack.o, by a reference to
    __morestack, kept its constructor table in .init_array), the linker's plugin. Its constructor
    table may hold crtbeginS.o's one entry; no preinit table, no ifunc, no hook defined."""
    try:
        data = read_elf(path, "shared library")
        form = _format(data)
        entries = dict(_dynamic_entries(data))
        every = sections(data)
        word = form.bits // 8
        if entries.get(_DT_INIT_ARRAYSZ, 0) > word:
            count = entries[_DT_INIT_ARRAYSZ] // word - 1
            return f"{count} constructor(s) from what the link brought in besides mm.c"
        if entries.get(_DT_PREINIT_ARRAYSZ, 0) > 0:
            return "a table of functions run before any constructor (.preinit_array)"
        dynamic = [(d.vaddr, d.vaddr + d.memsz) for d in load_segments(data, _PT_DYNAMIC)]
        written: set[int] = set()
        for table in every:
            if table.kind not in _RELOCATIONS or not table.flags & _SHF_ALLOC:
                continue
            record = _RELOCATIONS[table.kind][form.bits]
            for at in range(table.offset, table.offset + table.size, record.size):
                offset, info = record.unpack_from(data, at)[:2]
                if (info & 0xFFFFFFFF if form.bits == 64 else info & 0xFF) == _IRELATIVE[form.bits]:
                    return "an ifunc resolver (an IRELATIVE relocation)"
                # what the loader reads to know what to run (DT_INIT among it): the linker writes
                # no relocation there (red-team pass 44's record did)
                if any(low <= offset < high for low, high in dynamic):
                    return "a relocation that rewrites its dynamic section (what the loader runs)"
                # the linker relocates a word once: a second record of mm.o's own, after its
                # GLOB_DAT, pointed the __gmon_start__ slot crti's _init calls at mm.c (pass 45)
                if offset in written:
                    return "two relocations of one word (a record the linker did not make)"
                written.add(offset)
        tables = (SHT_SYMTAB, SHT_DYNSYM)
        return _symbol_run_at_load(data, every, tables, _LOAD_TIME_HOOKS - _RUNTIME_OWN)
    except (struct.error, IndexError, ValueError):
        return "an unreadable dynamic section"
