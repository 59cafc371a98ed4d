"""Build a student's mm.c as its lab builds it: a shared library over our heap.

What the lab's Makefile does, and what a grader needs on top:
  - the source is copied alone into a private folder as mm.c, so that the lab's
    own mm.h and memlib.h (include/labs/<lab>/) are found, never copies beside
    the student's file; the compiler runs there, so its messages say "mm.c:42";
  - the lab's defines are passed (CMU: -DDRIVER; its debug build, which heap
    checks use, adds -DDEBUG=1);
  - the heap checker that is really compiled is found in the preprocessed text,
    whatever the student called it (mm_check, mm_checkheap), returned (int, bool,
    void) or hid (static); the adapter (include/labs/ms_lab_adapter.h) is
    appended to the same translation unit, so that the driver can call it through
    one exported function with one type. A checker that cannot be called is
    said once, in `Build.checker_note`, not as an error;
  - warnings are kept even when the build succeeds, the dangerous ones (pointer
    and integer sizes, implicit declarations, missing returns) first;
  - the writable global data mm.c defines is measured in its object file, for
    the labs' rule on global data (the CMU lab deducts points past 128 bytes);
  - the word size (LabProfile.word_size): the CS:APP handout's Makefile builds
    with -m32, and most public solutions to it keep pointers in 4-byte integers;
    "auto" builds such a file -m32, against the 32-bit engine (_native/i386/),
    and one that compiles only there, and every other x86-64, as courses that
    moved the lab to 64 bits do (a
    grade then tries -m32 too when every trace failed as such code fails:
    grading.py).
Builds are cached by content: the source, the flags, the headers, the lab and
what a build records (BUILD_FORMAT).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from mallocsim._native import HEADER_DIR, HEAP_LIBRARY, NATIVE32_DIR, NATIVE_DIR, ffi, lib
from mallocsim.cache import cache_root
from mallocsim.constants import FORBIDDEN
from mallocsim.elf import (
    ElfError,
    borrowed_data_bytes,
    global_data_bytes,
    library_load_time_code,
    load_time_code,
    read_elf,
    sections,
)
from mallocsim.errors import GraderFault, UsageError
from mallocsim.labs import WORD_SIZES, LabProfile, as_written
from mallocsim.safe_text import printable

# And the lab's optimisation level. -fPIC for a shared library, whose functions the compiler
# would then not inline unless static (any could be interposed): a solution whose helpers are
# not static counted 299.8 instructions an op against 168.6 static, where the handouts build mm.o
# into the driver and gcc inlines them (red-team pass 33); -Bsymbolic binds them as the driver
# does, and -fno-semantic-interposition says so to the compiler.
CFLAGS = ("-std=gnu11", "-g", "-Wall", "-Wextra", "-fPIC", "-fno-semantic-interposition")
COMPILE_TIMEOUT = 60.0  # seconds; a compiler stuck on an #include of a device stops here
# seconds for all of a build's compiler runs (five: the include scan, -E, -S, -c, the link):
# each within COMPILE_TIMEOUT alone, a file whose macros took a minute a pass took five.
BUILD_TIMEOUT = 120.0
# What the compiler may use (a student's file is someone else's code too): an
# #include of /dev/zero eats memory, of a huge file fills the disk.
COMPILE_MEMORY = 2 << 30  # bytes of address space
COMPILE_CPU = 60  # seconds
# Bytes a file it writes may grow to: a lab's object file is some 100 KB, a file preprocessed
# with <immintrin.h> 1.3 MB. At 256 MiB, an 11 KB file holding `char ballast[250 << 20] = {1}`
# left 503 MB in the build cache for good, and took the grader 796 MB to measure (red-team pass
# 20); at 32 MiB, 61 MB a file (pass 21).
COMPILE_OUTPUT = 8 << 20
# [ \t], not \s, at a line's start (here and in every regex over a file): \s crosses lines, and
# 160,000 blank lines then took 22 s (quadratic); the team record's took 26 s on 100,000.
_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*[<"]([^>"\n]+)[>"]', re.M)
# A pragma whose text the compiler prints with its escapes made characters (_Pragma is one too,
# once preprocessed): "\n  score 100 / 100" printed a line that looked like the grade's.
_PRAGMA_ESCAPE = re.compile(
    r"^[ \t]*#[ \t]*pragma[ \t]+(?:message|GCC[ \t]+(?:warning|error))\b[^\n]*\\", re.M
)
# An attribute whose string the compiler prints in a diagnostic: gcc prints warning("...") and
# error("...") with their escapes made characters, clang deprecated("...") and unavailable("...")
# too; no attribute a malloc lab uses needs an escape in a string.
_ATTRIBUTE_OR_LITERAL = re.compile(r"__attribute__[ \t\n]*\(\(|\[\[|[\"']")
# A line marker of the preprocessed text (what `#line N "name"` becomes) whose name holds an
# escape other than a backslash's or a quote's (which gcc writes for a real file's name): gcc and
# clang print the name raw, newlines included, and `#line 900 "mm.c:900:1: warning: x\nscore
# 100.0 / 100\nmm.c"` printed a forged score line with no source line quoted around it.
_NAMED_WITH_ESCAPE = re.compile(
    r'^#[ \t]*(?:line[ \t]+)?\d+[ \t]+"(?:[^"\\\n]|\\[\\"])*\\[^\\"]', re.M
)
# The classic team record's definition: `team_t team = {...}`, const or static, and with
# attributes (`team_t team __attribute__((used)) = ...` was read as no record at all: 0).
_ATTRIBUTES = r"(?:__attribute__[ \t]*\(\((?:[^()\n]|\([^()\n]*\))*\)\)[ \t]*)*"
_TEAM_RECORD = re.compile(
    rf"^[ \t]*(?:(?:const|static)[ \t]+)*team_t\s+{_ATTRIBUTES}team\s*{_ATTRIBUTES}[=;]",
    re.M,
)
ATTRIBUTE_CHARS = 4096  # read of an attribute, at most, from its start
SOURCE_BYTES = 8 << 20  # a submission larger than this is refused: a lab's mm.c is some 30 KB
MESSAGE_BYTES = 1 << 20  # of the compiler's messages, what is read and shown
_STOPPED_AT_A_LIMIT = re.compile(
    rb"(limit exceeded|Killed) signal terminated program|virtual memory exhausted"
)
# The grader's environment variables the compiler and the instruction count keep (and LC_*,
# CCACHE_*: a CC of "ccache gcc" finds its cache through HOME or CCACHE_DIR): no secret of the
# grader's reaches a process that reads the student's file or runs its code.
_KEPT_VARIABLES = ("PATH", "HOME", "LANG", "LANGUAGE", "SOURCE_DATE_EPOCH")
_KEPT_PREFIXES = ("LC_", "CCACHE_")
# Where a submission's #include may lead: the lab's headers and the system's.
# clang's own headers (stddef.h, inttypes.h) live in /usr/lib/llvm-<version>/lib/clang/.
SYSTEM_HEADER_ROOTS = (Path("/usr/include"), Path("/usr/lib/gcc"), Path("/usr/local/include"),
                       Path("/usr/lib/llvm"), Path("/usr/lib/clang"),
                       *sorted(Path("/usr/lib").glob("llvm-*")))  # fmt: skip
LABS_HEADER_DIR = HEADER_DIR / "labs"
ADAPTER = "ms_lab_adapter.h"
# Added to the linker's script (beside the adapter): mm.o's constructors in a table the loader does
# not run, which the adapter's ms_lab_start runs once the process that loads the library is sealed.
CONSTRUCTORS_SCRIPT = "ms_lab_constructors.ld"
# Warnings that usually explain a crash: shown first.
_DANGEROUS = re.compile(
    r"\[-W(int-to-pointer-cast|pointer-to-int-cast|int-conversion|incompatible-pointer-types|"
    r"implicit-function-declaration|implicit-int|return-type|uninitialized|maybe-uninitialized|"
    r"array-bounds|stringop-overflow|shorten-64-to-32|sizeof-pointer-memaccess|"
    r"pointer-arith|builtin-declaration-mismatch)\]"
)
_DIAGNOSTIC = re.compile(r"^mm\.c:\d+(:\d+)?: (warning|error)")
_GENERATED = re.compile(r"^\d+ (warnings?|errors?)( and \d+ errors?)? generated\.$")
_KNOWN_RETURNS = ("int", "_Bool", "bool", "void")
BUILD_FORMAT = b"31"  # raised when a build keeps or finds otherwise: no cached build is stale
OBJECT = "mm.o"  # the compiled mm.c, kept beside the library
OBJECT_SECTIONS = 10_000  # of mm.o: 65,300 empty ones hid what the checks read (red-team pass 40)
# What only a compile of C uses (the preprocessor's, and code generation's from C)
_PREPROCESSING_FLAGS = ("-D", "-I", "-std=", "-fno-semantic-interposition")
DEPENDENCIES = ".compiler.deps"  # the headers a compiler run read (-MD -MF)
STEM_CHARS = 40  # of a file's name, in its build folder's


class BuildError(UsageError):
    """An mm.c that does not compile: the compiler's messages, first line a summary."""


@dataclass(frozen=True)
class Build:
    """A built allocator library and what its build found."""

    library: Path
    warnings: tuple[str, ...]  # one compiler diagnostic each, with its context lines
    checker: str | None  # the heap checker compiled in, e.g. "void mm_checkheap(int verbose)"
    checker_note: str | None  # why heap checks will not (or cannot fully) use it
    global_data: int | None = None  # bytes of writable global data mm.c defines (elf.py)
    word_bits: int = 64  # 32: built -m32, run by the 32-bit agent
    word_note: str | None = None  # why it was built -m32 when the lab builds either


def _include_flags(lab: LabProfile, dialect: str) -> list[str]:
    flags = [f"-I{LABS_HEADER_DIR / lab.headers}"] if lab.headers else [f"-I{HEADER_DIR}"]
    if lab.headers is None and dialect == "cmu":
        flags.append("-DMM_DIALECT_CMU")  # mallocsim's own mm.h declares both dialects
    return [*flags, f"-I{LABS_HEADER_DIR}"]


def lab_flags(lab: LabProfile, dialect: str, debug: bool, word_bits: int = 64) -> list[str]:
    """The compiler flags a lab's build of mm.c uses (debug: its heap-checking build;
    word_bits 32: the -m32 build)."""
    defines = [*lab.defines, *(lab.debug_defines if debug else ())]
    arch = ["-m32"] if word_bits == 32 else []
    return [*CFLAGS, lab.optimization, *arch, *(f"-D{d}" for d in defines),
            *_include_flags(lab, dialect)]  # fmt: skip


def _key(source: bytes, flags: list[str], lab: LabProfile) -> str:
    digest = hashlib.sha256(BUILD_FORMAT)
    digest.update(source)
    digest.update(" ".join(flags).encode())
    digest.update(lab.name.encode())
    digest.update(lab_compiler(lab).encode())
    for header in sorted([*HEADER_DIR.rglob("*.h"), *HEADER_DIR.rglob("*.ld")]):
        digest.update(str(header.relative_to(HEADER_DIR)).encode())
        digest.update(header.read_bytes())
    return digest.hexdigest()[:16]


def build_source(
    source: Path,
    lab: LabProfile,
    dialect: str,
    debug: bool = False,
    out_dir: Path | None = None,
    word_size: str | None = None,
) -> Build:
    """Compile `source` for `lab` (cached), for `word_size` (WORD_SIZES; None: the
    lab's). Raises BuildError with the compiler's messages when it does not compile."""
    text = _read_source(source)
    word_size = word_size or lab.word_size
    if word_size not in WORD_SIZES:
        raise UsageError(f"unknown word size {word_size!r}: expected {', '.join(WORD_SIZES)}")
    if word_size == "32":
        return _cached_build(source, text, lab, dialect, debug, out_dir, 32)
    try:
        built = _cached_build(source, text, lab, dialect, debug, out_dir, 64)
    except BuildError as wide:
        if word_size != "auto":
            raise
        # Code that compiles at 32 bits alone (mm_malloc(unsigned), as size_t is there): the
        # handout's -m32 driver gave a public file 91, and "does not compile" here gave 0 (lab
        # check run 20).
        try:
            narrow = _cached_build(source, text, lab, dialect, debug, out_dir, 32)
        except BuildError:
            raise wide from None
        first = next((line.strip() for line in str(wide).splitlines() if "error" in line), "")
        return replace(
            narrow,
            word_note=(
                f"built -m32, as the {lab.name} handout's Makefile builds it: mm.c does not "
                f"compile for x86-64 ({first})"
            ),
        )
    where = narrowed_pointer(built.warnings) if word_size == "auto" else None
    if where is None:
        return built
    try:
        narrow = _cached_build(source, text, lab, dialect, debug, out_dir, 32)
    except BuildError:  # it does not build -m32 either: its 64-bit build is graded
        return built
    return replace(
        narrow,
        word_note=(
            f"built -m32, as the {lab.name} handout's Makefile builds it: mm.c keeps pointers in "
            f"4-byte integers, which only a 32-bit build holds; first at {where}"
        ),
    )


# A build folder of this file's that is this old belongs to a grader that was killed mid-build
# (every step is bounded by COMPILE_TIMEOUT): nobody will finish or remove it.
STALE_BUILD_SECONDS = 3600.0


def _plain_stem(source: Path) -> str:
    """The file's stem as a build folder's name may hold it (the key beside it tells builds
    apart): a student's file name of 248 bytes made the folder's too long to create, and gave
    that student a zero ("File name too long") with the name's escapes in the class summary."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", source.stem)[:STEM_CHARS] or "mm"


def _remove_stale_builds(folder: Path) -> None:
    """Remove the unfinished build folders (FOLDER.<random>) a killed grader left of this build."""
    now = time.time()
    for stale in folder.parent.glob(f"{glob.escape(folder.name)}.*"):
        try:
            if stale.is_dir() and now - stale.stat().st_mtime > STALE_BUILD_SECONDS:
                shutil.rmtree(stale, ignore_errors=True)
        except OSError:
            pass  # another grader's cleanup got there first


def link_out_of_folder(path: Path) -> Path | None:
    """Where `path` leads when it is a symbolic link out of its own folder, else None. Such a
    link is never followed to a submission: a student's mm.c linked to /etc/shadow, or to
    another student's file, would have that file's lines quoted in the compiler's messages, and
    its grade cached under that file's content."""
    if not path.is_symlink():
        return None
    target = Path(os.path.realpath(path))  # no exception for a loop, as resolve() raises
    return None if target.is_relative_to(os.path.realpath(path.parent)) else target


def oversize(source: Path) -> str | None:
    """Why `source` is too large to be a submission, told without reading it (it may be a 4 GiB
    sparse file), or None. Raises OSError when it cannot be looked at."""
    size = source.stat().st_size
    if size <= SOURCE_BYTES:
        return None
    limit = SOURCE_BYTES >> 20
    return f"{source}: {size / (1 << 20):.1f} MiB, more than a submission may be ({limit} MiB)"


def _read_source(source: Path) -> bytes:
    """The file's bytes: not a link out of its folder (link_out_of_folder), nor past
    SOURCE_BYTES."""
    target = link_out_of_folder(source)
    if target is not None:
        raise BuildError(
            f"{source}: a symbolic link to {target}, outside its folder: a submission must be a "
            "file of its own"
        )
    try:
        why = oversize(source)
        if why is not None:
            raise BuildError(why)
        return source.read_bytes()
    except OSError as error:
        raise UsageError(f"{source}: {error.strerror}") from None


def _cached_build(
    source: Path,
    text: bytes,
    lab: LabProfile,
    dialect: str,
    debug: bool,
    out_dir: Path | None,
    word_bits: int,
) -> Build:
    flags = lab_flags(lab, dialect, debug, word_bits)
    folder = (out_dir or cache_root() / "build") / f"{_plain_stem(source)}-{_key(text, flags, lab)}"
    meta = folder / "build.json"
    if meta.exists():
        try:
            saved = json.loads(meta.read_text())
            library = Path(saved["library"])
            return Build(**{**saved, "library": library,
                            "global_data": _global_data(folder / OBJECT, library, word_bits),
                            "warnings": tuple(saved["warnings"])})  # fmt: skip
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a damaged cache entry is rebuilt
    folder.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(folder)
    work = Path(tempfile.mkdtemp(prefix=f"{folder.name}.", dir=folder.parent))
    try:
        built = _build(source, text, lab, flags, work, word_bits)
        final = replace(built, library=folder / built.library.name)  # where it will be
        (work / "build.json").write_text(
            json.dumps({**asdict(final), "library": str(final.library)})
        )
        try:
            work.rename(folder)
        except OSError:  # another process built it first: theirs serves
            shutil.rmtree(work, ignore_errors=True)
        return final
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def lab_compiler(lab: LabProfile) -> str:
    """The lab's compiler (LabProfile.compiler), or CC from the environment."""
    return os.environ.get("CC") or lab.compiler


def _limit_compiler() -> None:
    """In the compiler's process, before it starts: its resource limits."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (COMPILE_MEMORY, COMPILE_MEMORY))
    resource.setrlimit(resource.RLIMIT_CPU, (COMPILE_CPU, COMPILE_CPU))
    resource.setrlimit(resource.RLIMIT_FSIZE, (COMPILE_OUTPUT, COMPILE_OUTPUT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


# What a build may read, besides its own folder and the system's programs, libraries and headers
# (Landlock, sandbox.c): the lab's headers, the engine it links with and the compiler's own
# installation. No other file: the checks on what a file includes run before the compiler, which
# a file can tell apart from the checks (__has_include of a file a later step writes) and then
# include another student's file. And the compiler sees such a file as missing (UNSEEN_LIBRARY):
# Landlock's EACCES told a file that exists from one that does not, by `__has_include` or by the
# message of an #include, one bit a build about any path (red-team pass 39).
UNSEEN_LIBRARY = "libmsunseen.so"
_MISSING = re.compile(r"fatal error: ([^:\n]+): No such file or directory")


class _Confinement:
    """The compiler's process, before it starts: its limits, and (where the kernel has Landlock)
    files read only beneath the system's folders, the lab's and the engine's folders and the
    compiler's own installation, written only in the build folder. The C strings are made here,
    in the grader, so that the forked child only calls."""

    def __init__(self, work: Path, compiler: str) -> None:
        found = shutil.which(compiler)
        home = [str(Path(found).resolve().parent.parent)] if found else []
        roots = [str(HEADER_DIR), str(NATIVE_DIR), str(NATIVE32_DIR), *home]
        self.strings = [ffi.new("char[]", root.encode()) for root in roots]
        self.roots = ffi.new("const char *[]", self.strings)
        self.work = ffi.new("char[]", str(work).encode())
        self.error = ffi.new("ms_error *")
        self.landlock = lib.ms_sandbox_landlock_abi() > 0  # else only the checks around it hold

    def __call__(self) -> None:
        _limit_compiler()
        if self.landlock and not lib.ms_sandbox_confine_build(
            self.roots, len(self.strings), self.work, self.error
        ):
            raise OSError("the compiler could not be confined")


def kept_environment(work: Path | str) -> dict[str, str]:
    """What a process that reads a student's file or runs its code inherits (the compiler,
    valgrind counting it): the search path and the language of its messages, its temporary files
    in `work`, nothing else of the grader's environment."""
    kept = {
        k: v for k, v in os.environ.items() if k in _KEPT_VARIABLES or k.startswith(_KEPT_PREFIXES)
    }
    return {**kept, "TMPDIR": str(work)}


def _run(
    command: list[str], cwd: Path, source: Path, deadline: float
) -> subprocess.CompletedProcess[str]:
    """The compiler's run in the build folder, within its limits, and done by `deadline` (the
    build's: time.monotonic()). Its output goes to files, so that RLIMIT_FSIZE bounds it too (a
    pipe took 9 GB of the grader's memory from a 6 KB file whose macros expanded without end);
    of its messages, the first MESSAGE_BYTES are read."""
    out, err = cwd / ".compiler.out", cwd / ".compiler.err"
    timeout = min(COMPILE_TIMEOUT, deadline - time.monotonic())
    if timeout <= 0:
        raise BuildError(f"{source}: the build did not finish within {BUILD_TIMEOUT:g} s")
    try:
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(
                command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                env={**kept_environment(cwd), "LD_PRELOAD": str(NATIVE_DIR / UNSEEN_LIBRARY)},
                preexec_fn=_Confinement(cwd, command[0]),
            )  # fmt: skip
    except FileNotFoundError:
        # The grader's installation, not the file: as a BuildError every file of the cmu lab
        # got 0 where clang was not installed (lab check run 11, a Gradescope image).
        raise GraderFault(f"no C compiler ({command[0]}) to build {source}: install it") from None
    except subprocess.SubprocessError as error:  # the confinement, in the child
        raise BuildError(f"{source}: the compiler could not be started: {error}") from None
    try:
        returncode = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        # gcc's driver and what it runs (cc1, as, ld) all: killed alone, the driver left its
        # cc1 running on, up to its CPU limit, after the grade had gone.
        _kill_tree(process.pid)
        process.wait()
        what = (
            f"the compiler did not finish within {COMPILE_TIMEOUT:g} s"
            if timeout == COMPILE_TIMEOUT
            else f"the build did not finish within {BUILD_TIMEOUT:g} s"
        )
        raise BuildError(f"{source}: {what}") from None
    with out.open("rb") as stdout, err.open("rb") as stderr:
        said, told = stdout.read(MESSAGE_BYTES + 1), stderr.read(MESSAGE_BYTES + 1)
    # Killed by a limit: its memory (SIGSEGV/SIGABRT), CPU or output; gcc's driver survives its
    # cc1 and says how it died.
    if returncode < 0 or _STOPPED_AT_A_LIMIT.search(told):
        raise BuildError(
            f"{source}: the compiler was stopped at its limits ({COMPILE_MEMORY >> 30} GiB of "
            f"memory, {COMPILE_CPU} s of CPU, {COMPILE_OUTPUT >> 20} MiB files): does an "
            "#include name a device or a huge file, or do its macros expand without end?"
        )
    if returncode != 0:
        _check_room(cwd)
    cut = "\n(the rest of the compiler's messages left out)" if len(told) > MESSAGE_BYTES else ""
    return subprocess.CompletedProcess(
        command,
        returncode,
        said[:MESSAGE_BYTES].decode(errors="replace"),
        newlines_shown(told[:MESSAGE_BYTES].decode(errors="replace")) + cut,
    )


# A build that failed where fewer bytes than this were free failed for want of room: the machine's
# fault, not the file's.
BUILD_ROOM_BYTES = 8 << 20


def _check_room(folder: Path) -> None:
    """Raise GraderFault when a failed build failed for want of disk space: a classmate's count
    that filled the disk had every build fail, "does not compile: no message", and the zeros
    were cached (red-team pass 20). No grade is given then, and none kept. Told by the space
    measured, not by the compiler's words: `#error "No space left on device"` made a file's own
    error the grader's fault (red-team pass 21)."""
    free = shutil.disk_usage(folder).free
    if free < BUILD_ROOM_BYTES:
        raise GraderFault(
            f"the build could not be made: the disk holding {folder.parent} is full "
            f"({free:,} bytes free)"
        )


# gcc's message lines: a source line quoted in its gutter ("   36 | ...", "      |  ^~~"), a
# diagnostic's first line ("mm.c:36:21: warning: ..."; the linker's "mm.c:5: undefined ..."),
# and the lines around them (where a file was included or a function inlined from, the function
# a diagnostic is in, the tools that report).
_GUTTER = re.compile(r"[ \t]*(?:\d+|\+\+\+)?[ \t]*\|")  # "+++ |+#include": a fix-it's line
_MESSAGE_LINE = re.compile(
    r"[^\s:][^:\n]*:\d+(?::\d+)?: |In file included from |[ \t]+(?:from|inlined from) "
    r"|[^\s:][^:\n]*: (?:In |At top level)|compilation terminated|(?:cc1|collect2|lto\S*): "
    r"|\S*ld: "
    # where a warning was inlined from, its first line: "In function 'f'," (red-team pass 34)
    r"|In (?:member )?function "
)


def newlines_shown(messages: str) -> str:
    """gcc's messages with each line that is none of a message's own (gcc printed a newline of
    the file's own there) joined to the line before as an escape: `#pragma GCC warning` with
    "\\n" in its text, gated on a file a later step writes, printed "  score 100.0 / 100" among
    the grade's warnings, and gcc runs that pragma as it preprocesses, before any check can read
    it. Messages that quote no source line in a gutter (clang's, which escapes that text) are
    left as they are."""
    body = messages.rstrip("\n")  # the newline that ends the last message is none of this
    lines = body.split("\n")
    if not any(_GUTTER.match(line) for line in lines):
        return messages
    joined: list[str] = []
    for line in lines:
        if joined and not (_GUTTER.match(line) or _MESSAGE_LINE.match(line)):
            joined[-1] += "\\x0a" + line
        else:
            joined.append(line)
    return "\n".join(joined) + messages[len(body) :]


def _kill_tree(pid: int) -> None:
    """SIGKILL a process and every process below it, found in /proc before any is killed (a
    child whose parent died first would be another's to find). The compiler's processes are
    the grader's own children: no new session or group, so that a class worker's group, killed
    when it overruns, holds them too."""
    tree, seen = [pid], 0
    while seen < len(tree):
        for children in glob.glob(f"/proc/{tree[seen]}/task/*/children"):
            try:
                tree.extend(int(c) for c in Path(children).read_text().split())
            except (OSError, ValueError):
                pass  # gone meanwhile
        seen += 1
    for member in tree:
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _readable_headers() -> tuple[Path, ...]:
    """Where a submission's #include may lead: the lab's headers and the system's (and to mm.c
    itself, in its build folder). Read at each call: HEADER_DIR is the engine's, or a test's."""
    return (HEADER_DIR.resolve(), *SYSTEM_HEADER_ROOTS)


def _may_include(name: str) -> bool:
    """Whether an #include of `name` may lead where it says, by its words alone (no look at the
    file, whose existence is not the submission's to learn): a relative name that does not climb
    (it is searched for in the include folders), an absolute one beneath the headers."""
    if ".." in Path(name).parts:
        return False
    return not name.startswith("/") or any(
        Path(os.path.normpath(name)).is_relative_to(root) for root in _readable_headers()
    )


def _check_includes(
    compiler: str, flags: list[str], work: Path, source: Path, deadline: float
) -> None:
    """Refuse a file whose #include leads outside the lab's and the system's
    headers (/etc/passwd, another student's file): its contents would reach the
    compiler's messages, which the student reads. Only the student's own lines
    of the scan's messages are shown."""
    # An #include written as an absolute path outside the headers is refused before
    # the compiler opens it: /dev/ptmx would block it until its time limit.
    for name in _INCLUDE.findall((work / "mm.c").read_text(errors="replace")):
        if not _may_include(name):
            raise BuildError(
                f"{source}: includes {name}: a submission may include only its lab's headers "
                "and the system's"
            )
    scan = _run([compiler, *flags, "-M", "mm.c"], work, source, deadline)
    if scan.returncode != 0:
        own = [line for line in _messages(scan).splitlines() if line.startswith("mm.c")]
        # An include spelled by a macro: missing or not, the same words outside the headers.
        missing = _MISSING.search("\n".join(own))
        if missing is not None and not _may_include(missing.group(1)):
            raise BuildError(
                f"{source}: includes {missing.group(1)}: a submission may include only its lab's "
                "headers and the system's"
            )
        raise BuildError(f"{source}: does not compile:\n" + ("\n".join(own) or "an #include fails"))
    _refuse_foreign_headers(scan.stdout, work, source)


def _refuse_foreign_headers(rule: str, work: Path, source: Path) -> None:
    """Raise BuildError when a make rule of the compiler's (-M, -MD) lists a file other than
    mm.c itself, the lab's headers and the system's: the build folder's other files are the
    compiler's own output, which differs from one step to the next."""
    allowed = _readable_headers()
    own = (work / "mm.c").resolve()
    for name in rule.replace("\\\n", " ").split()[1:]:
        path = (work / name).resolve()
        if path != own and not any(path.is_relative_to(root) for root in allowed):
            raise BuildError(
                f"{source}: includes {path}: a submission may include only its lab's headers "
                "and the system's"
            )


def _compile(
    compiler: str, flags: list[str], step: list[str], work: Path, source: Path, deadline: float
) -> subprocess.CompletedProcess[str]:
    """A compiler run that reads mm.c (-E, -S), its headers checked as it read them (-MD) before
    anything it made or said is used: the scan before it (_check_includes) ran without the
    adapter and its flags, which a file can tell apart (an #include gated on the folder the
    scan saw, #if __has_include("mm.i") before _build made every file present from the start,
    had /usr/lib/os-release's lines become the team's name and the compiler's errors)."""
    done = _run([compiler, *flags, "-MD", "-MF", DEPENDENCIES, *step], work, source, deadline)
    try:
        rule = (work / DEPENDENCIES).read_text(errors="replace")
    except OSError:
        rule = ""  # the compiler stopped before it read anything
    _refuse_foreign_headers(rule, work, source)
    return done


def _build(
    source: Path, text: bytes, lab: LabProfile, flags: list[str], work: Path, word_bits: int
) -> Build:
    (work / "mm.c").write_bytes(text)
    # Every file a compile of mm.c writes exists, empty, before the first: each sees the same
    # folder (`#if __has_include("mm.i")`, true once -E had written it, gated what the checks
    # below never saw), and none may be included (_refuse_foreign_headers).
    for written in ("mm.i", "mm.s", DEPENDENCIES):
        (work / written).touch()
    compiler = lab_compiler(lab)
    deadline = time.monotonic() + BUILD_TIMEOUT
    _check_includes(compiler, flags, work, source, deadline)
    expanded = _compile(compiler, flags, ["-E", "-P", "-o", "mm.i", "mm.c"], work, source, deadline)
    if expanded.returncode != 0:
        raise BuildError(f"{source}: does not compile:\n{_messages(expanded, lab.name)}")
    expanded.stdout = (work / "mm.i").read_text(errors="replace")
    checker, signature, note = find_checker(lab, text.decode(errors="replace"), expanded.stdout)
    # The handouts of one lab disagree on the checker's type (cmu-2015's mm.h: void in F15, int
    # in S14 and F14): the lab's mm.h declares the one the file defines.
    if checker is not None and re.search(rf"\bint\s+{checker}\s*\(", signature or ""):
        flags = [*flags, "-DMS_CHECKER_RETURNS_INT"]
    tail = ['\n#line 1 "<mallocsim lab adapter>"']
    if checker is not None:
        tail.append(f"#define MS_CHECKER {checker}")
    # The team record is read wherever a file defines one; a lab that requires one says so when
    # there is none (grading.py), unless the course turned its check off.
    if _TEAM_RECORD.search(expanded.stdout):
        tail.append("#define MS_LAB_TEAM")
    tail.append(f'#include "{ADAPTER}"\n')
    (work / "mm.c").write_bytes(text + b"\n" + "\n".join(tail).encode())
    # Named relative to the build folder, where the compiler runs (the linker's messages named
    # mm.o by its whole path: the grader's home and cache folder), and the folder mapped away
    # in the debug information, for the same reason.
    flags = [*flags, f"-ffile-prefix-map={work}=."]
    # Preprocessed again as it will be compiled, with the same flags, in the same folder: what
    # the compile prints is checked in that text. Checked in the scan above only, a pragma gated
    # on the adapter's flag was not there yet, and the compile printed its forged lines. (The
    # compile reads mm.c itself, not this text: compiled from it, warnings inside macros lose
    # their context, and clang gave a CMU starter's dbg_ macros 97 of them.)
    whole = _compile(compiler, flags, ["-E", "-o", "mm.i", "mm.c"], work, source, deadline)
    if whole.returncode != 0:
        raise BuildError(f"{source}: does not compile:\n{_messages(whole, lab.name)}")
    _refuse_printed_escapes((work / "mm.i").read_text(errors="replace"), source)
    library, obj, assembly = work / "libmm.so", work / OBJECT, work / "mm.s"
    engine = _engine(word_bits)
    # Compiled to assembly, which is read before it is assembled (_check_assembly), then
    # linked: the object file is where the global data is measured (the library adds the
    # linker's own tables to it).
    done = _compile(compiler, flags, ["-S", "-o", assembly.name, "mm.c"], work, source, deadline)
    # The assembler and the linker get none of those: clang named each "argument unused
    # during compilation" after a student's last warning.
    flags = [f for f in flags if not f.startswith(_PREPROCESSING_FLAGS)]
    if done.returncode == 0:
        _check_assembly(assembly, source)
        compiled = done
        done = _run([compiler, *flags, "-c", "-o", obj.name, assembly.name], work, source, deadline)
        done.stderr = compiled.stderr + done.stderr
    if done.returncode == 0:
        _check_object(obj, source)
        compiled = done
        link = [
            compiler, *flags, "-shared", "-o", library.name, obj.name,
            f"-L{engine}", "-lmsheap", f"-Wl,-rpath,{engine}", "-Wl,-z,defs",
            # No relocations in code (the loader would write into it, after forbidden.py
            # read it) and no executable stack.
            "-Wl,-z,text", "-Wl,-z,noexecstack",
            # Every slot the loader fills read-only once it has (full RELRO): with lazy binding's
            # .got.plt writable for good, an allocator kept 56 list heads in the jump slots of
            # libm functions it never called, which no count of mm.o's data sees (456 bytes of
            # globals, 20 points off under CMU's rule, read as 81: red-team pass 39).
            "-Wl,-z,relro", "-Wl,-z,now",
            # The file's own functions called as its own, as when the handouts link mm.o into
            # mdriver: a helper named splice() bound to the C library's splice(2) and a solution
            # valid on 9 of 11 traces under its driver was invalid on all (lab check run 14).
            # forbidden.py keeps it from defining the heap's functions.
            "-Wl,-Bsymbolic",
            # No code of mm.c's runs as the library loads, before the sandbox seals the process
            # that loads it: a constructor there pointed the seal's own jump slots at code that
            # left it open (red-team pass 39). Its constructors wait for ms_allocator_start.
            f"-Wl,-T,{LABS_HEADER_DIR / CONSTRUCTORS_SCRIPT}",
            # A call of what an allocator may not call ends the pass where it is made
            # (c/src/forbidden_calls.c); a reference in code that never runs grades as under the
            # driver, which links mm.o with the C library (a realloc kept but never called that
            # calls free: 86 there, refused here, lab check run 16).
            *(f"-Wl,--wrap={name}" for name in sorted(FORBIDDEN)),
            # What the lab's Makefile links mdriver with (F20's -lm: log2 linked there, "does
            # not compile" here, red-team pass 33).
            *lab.libraries,
        ]  # fmt: skip
        done = _run(link, work, source, deadline)
        done.stderr = compiled.stderr + done.stderr
    if done.returncode != 0:
        raise BuildError(f"{source}: does not compile:\n{_messages(done, lab.name)}")
    # What the link brought in besides mm.o is checked in the library itself: an archive member
    # (libgcc's morestack.o, pulled in by a reference to __morestack) kept its constructors in the
    # loader's table, and ran mm.c's code as it loaded (red-team pass 40).
    runs = library_load_time_code(library)
    if runs is not None:
        raise BuildError(f"{source}: its library has {runs}{_OUTSIDE_THE_SEAL}")
    (work / "mm.c").write_bytes(text)  # the student's file as given, for anyone who looks
    warnings = split_warnings(done.stderr)
    global_data = _global_data(obj, library, word_bits)
    return Build(library, warnings, signature, note, global_data, word_bits)


# Assembler directives that read a file (.include, .incbin: /etc/passwd assembled into the team
# name, or quoted in the assembler's errors), make directives out of text (macros, repeats,
# which could spell those), or print a message of the file's own (.warning "\nscore 100.0 / 100"
# printed a forged score line among the warnings, red-team pass 8): a malloc lab's inline
# assembly has no use for any of them.
_FORBIDDEN_DIRECTIVES = (".include", ".incbin", ".macro", ".altmacro", ".rept", ".irp", ".irpc",
                         ".warning", ".error", ".err", ".print", ".abort", ".fail")  # fmt: skip
# Anywhere in a statement: labels may be quoted ("leak": .incbin), and more forms may come.
_DIRECTIVE = re.compile(r"(?<![\w.$])(\.[A-Za-z_]+)")


# A section the linker prints as a warning, raw, newlines and all: a variable placed there by a
# plain section attribute printed "Score (lab csapp: forged): score 100.0 / 100" among a valid
# grade's compiler warnings (red-team pass 20).
_PRINTED_SECTION = ".gnu.warning"


def _check_assembly(assembly: Path, source: Path) -> None:
    """Refuse assembly (the compiler's, with the file's inline assembly in it) that uses a
    forbidden directive, in any statement of any line (x86's assemblers also end a statement
    at ';'), in any case."""
    for line in assembly.read_text(errors="replace").splitlines():
        for statement in line.split(";"):
            for found in _DIRECTIVE.finditer(statement):
                if found.group(1).lower() in _FORBIDDEN_DIRECTIVES:
                    raise BuildError(
                        f"{source}: its inline assembly uses {found.group(1)}: a submission's "
                        "assembly may not read files, define assembler macros nor print messages"
                    )


# Why code that runs as a library loads or unloads is refused (elf.load_time_code).
_OUTSIDE_THE_SEAL = (
    ", code the loader would run outside the grader's sealed sandbox, as it loads or unloads the "
    "library: a submission's code runs only inside it (its constructors are run there)"
)


def _check_object(obj: Path, source: Path) -> None:
    """Refuse an object file, before it is linked, with a section the linker prints, however
    the assembly spelled it (a section attribute, `.pushsection`, `.section` after a label: red-
    team passes 20 and 21, which a search of the assembly's text missed), a section name that
    would print a line of its own (an escaped newline the assembler turned into one), or code
    the loader would run as it loads the library (elf.load_time_code)."""
    try:
        names = [section.name for section in sections(read_elf(obj))]
    except ElfError as error:  # what no check here can read, nothing may link (red-team pass 40)
        raise BuildError(f"{source}: its object file cannot be read: {error}") from None
    if not names or len(names) > OBJECT_SECTIONS:
        raise BuildError(
            f"{source}: its object file has {len(names)} sections (a C file makes some 20 to a "
            f"few hundred; at most {OBJECT_SECTIONS:,} are read)"
        )
    if any(name.startswith(_PRINTED_SECTION) for name in names):
        raise BuildError(
            f"{source}: it puts data in a {_PRINTED_SECTION} section, whose bytes the linker "
            "prints as a message: a submission may not print messages of its own"
        )
    if any(not name.isprintable() for name in names):
        raise BuildError(f"{source}: a section's name holds a control character")
    runs = load_time_code(obj)
    if runs is not None:
        raise BuildError(f"{source}: it has {runs}{_OUTSIDE_THE_SEAL}")


def _engine(word_bits: int) -> Path:
    """The engine folder a build for `word_bits` links with (its heap library)."""
    return NATIVE32_DIR if word_bits == 32 else NATIVE_DIR


def _global_data(obj: Path, library: Path, word_bits: int) -> int | None:
    """mm.c's writable global data, measured in its object file (kept beside the library, so
    that a cached build is measured by the code that grades it): its own variables (the library
    shows which of its data the loader really makes read-only), and the drivers' globals the heap's
    library defines that it uses (driver_globals.c)."""
    engine = _engine(word_bits)
    try:
        return global_data_bytes(obj, library) + borrowed_data_bytes(obj, engine / HEAP_LIBRARY)
    except ElfError:
        return None


def _messages(done: subprocess.CompletedProcess[str], lab: str = "") -> str:
    """The compiler's messages as a student may read them: mm.c's own lines, the adapter named,
    the lab's renamed heap functions (labs.as_written) as the file wrote them."""
    said = own_context(done.stderr).strip() or done.stdout.strip() or "no message"
    said = said.replace("././mm.c:", "mm.c:")  # the linker's name for it (-ffile-prefix-map)
    said = as_written(said.replace('"<mallocsim lab adapter>"', "(mallocsim's adapter)"), lab)
    return printable(said)


# A diagnostic's first line, in gcc's and clang's form: where, then what.
_LOCATED = re.compile(r"^([^\s:][^:\n]*):\d+(?::\d+)?: (?:fatal error|error|warning|note)")
_OWN_FILES = ("mm.c", "<mallocsim lab adapter>")


def own_context(stderr: str) -> str:
    """The compiler's messages with the source lines it quotes kept only where they are mm.c's
    own: `#line 1 "/proc/self/environ"` makes it quote the named file's lines (the grader's
    environment, another student's file) under each diagnostic placed there."""
    kept, foreign = [], False
    for line in stderr.splitlines():
        located = _LOCATED.match(line)
        if located is not None:
            foreign = located.group(1) not in _OWN_FILES
            kept.append(line)
        elif not foreign or line.startswith(("mm.c:", "In file included")):
            foreign = False
            kept.append(line)
    return "\n".join(kept)


def split_warnings(stderr: str) -> tuple[str, ...]:
    """The compiler's diagnostics, one string each (with the "In function" line
    before it and the context lines after), dangerous ones first. An include chain
    ("In file included from mm.c:18:") leads to a diagnostic in another file, which
    own_context leaves out: the chain goes with it, and a CS:APP file's missing team
    field put one, alone, before the next warning of mm.c's (lab check run 12)."""
    blocks: list[list[str]] = []
    pending: list[str] = []  # the "mm.c: In function 'f':" line waiting for its diagnostic
    for line in printable(own_context(stderr)).splitlines():
        if _GENERATED.match(line) or line.startswith("In file included"):
            pending = []  # clang's count of them, or the chain of a diagnostic left out
            continue
        if _DIAGNOSTIC.match(line):
            blocks.append([*pending, line])
            pending = []
        elif line.startswith("mm.c: In "):
            pending = [line]
        elif blocks and not pending:
            blocks[-1].append(line)
    texts = ["\n".join(block).rstrip() for block in blocks]
    return tuple(sorted(texts, key=lambda t: not _DANGEROUS.search(t)))


# A pointer kept in a 4-byte integer, or made from one: code written for a 32-bit build, where
# that fits (the CS:APP handout's Makefile compiles with -m32). gcc quotes a type as 'int' in the
# C locale, and with typographic quotes in a UTF-8 one.
_INT = "[\u2018'](?:unsigned )?int[\u2019']"
_POINTER = "[\u2018'][^\u2019']*\\*[\u2019']"
_NARROWED_POINTER = re.compile(
    r"^(mm\.c:\d+):\d+: warning: (cast from pointer to integer of different size"
    r"|cast to pointer from integer of different size"
    rf"|.*{_INT} from {_POINTER} makes integer from pointer"
    rf"|.*{_POINTER} from {_INT} makes pointer from integer)",
    re.M,
)


def narrowed_pointer(warnings: tuple[str, ...]) -> str | None:
    """Where mm.c first keeps a pointer in a 4-byte integer or makes one from it, as
    "mm.c:76 (cast from pointer to integer of different size)"; None when nowhere.
    On x86-64 a heap address loses its upper half there."""
    for warning in warnings:
        found = _NARROWED_POINTER.search(warning)
        if found is not None:
            return f"{found.group(1)} ({found.group(2)})"
    return None


def _without_attributes(text: str) -> str:
    """`text` less its GCC attributes (__attribute__((...)), parentheses balanced)."""
    out, at = [], 0
    while (start := text.find("__attribute__", at)) >= 0:
        out.append(text[at:start])
        depth, end = 0, start + len("__attribute__")
        while end < len(text) and (depth > 0 or text[end] in " \t\n("):
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            end += 1
            if depth == 0 and text[end - 1] == ")":
                break
        out.append(" ")
        at = end
    return "".join(out) + text[at:]


def _definition(name: str, text: str) -> tuple[str, str] | None:
    """(the words before `name`, its parameters) where `text` first defines a
    function `name`: `name(params) {`, its words read back to the `;` or `}` that
    ends the statement before, or to the line after a `{` or `#`.

    One regex for all of it (`(^|[;}\\n])([^;{}#]*?)\\bname...`) tried every
    newline as a start and read on to the next `;{}#`: quadratic in text with few
    of those, and a 300 KB file of "0\\n+0\\n" lines held the grader ten minutes.
    Here each place `name(...) {` is written is found once, and the words are
    read back only as far as the place before (its `{` ends them), so the text is
    read a bounded number of times. The answers are the regex's, as it found them.
    """
    floor = 0  # the previous definition's `{`: no words are read back past it
    for match in re.finditer(rf"\b{name}\s*\(([^()]*)\)\s*\{{", text):
        at = match.start()
        stop = max(text.rfind(mark, floor, at) for mark in ";{}#")
        if stop < 0:
            start = 0
        elif text[stop] in ";}":
            start = stop + 1
        else:  # after a `{` or a `#` the words start on a line of their own
            newline = text.find("\n", stop + 1, at)
            if newline < 0:
                floor = match.end() - 1
                continue
            start = newline + 1
        return text[start:at], match.group(1)
    return None


def _refuse_printed_escapes(text: str, source: Path) -> None:
    """Raise BuildError when the preprocessed `text` has a message the compiler would print
    with its escapes made characters: a newline in it would print lines of the file's own."""
    if _NAMED_WITH_ESCAPE.search(text):
        raise BuildError(
            f"{source}: a #line directive whose file name holds an escape: the compiler prints "
            "that name as it is at the start of each message, and a newline in it would print "
            "lines of the file's own among the grade's"
        )
    if _PRAGMA_ESCAPE.search(text) or attribute_with_escape(text):
        raise BuildError(
            f"{source}: a #pragma message (or GCC warning/error), or an attribute's message "
            "(warning, error, deprecated...), with an escape in its text: the compiler prints "
            "that text as it is, and a newline in it would print lines of the file's own among "
            "the grade's"
        )


def attribute_with_escape(text: str) -> bool:
    """Whether an attribute in the preprocessed `text` holds a string literal with a backslash
    escape. String and character literals outside attributes are skipped whole (a debug string
    "[[heap]" opened no attribute); each attribute is read to its closing brackets (literals
    inside skipped whole too, so a bracket inside one closes nothing), ATTRIBUTE_CHARS at most,
    and the next one looked for after it: linear in `text`."""
    at = 0
    while (start := _ATTRIBUTE_OR_LITERAL.search(text, at)) is not None:
        if start.group() in "\"'":
            at = _literal_end(text, start.start(), len(text))[0]
            continue
        closing = "]]" if start.group() == "[[" else "))"
        depth, at, end = 0, start.end(), min(len(text), start.end() + ATTRIBUTE_CHARS)
        while at < end and not (depth == 0 and text.startswith(closing, at)):
            char = text[at]
            if char in "\"'":
                at, escaped = _literal_end(text, at, end)
                if escaped and char == '"':  # an escape in an attribute's string: the answer
                    return True
                continue
            if char in "([":
                depth += 1
            elif char in ")]":
                depth -= 1
            at += 1
    return False


def _literal_end(text: str, start: int, end: int) -> tuple[int, bool]:
    """(where the string or character literal at `start` ends, one past its closing quote or at
    its line's end; whether it holds a backslash escape), read no further than `end`."""
    quote, at, escaped = text[start], start + 1, False
    while at < end and text[at] not in (quote, "\n"):
        if text[at] == "\\":
            escaped = True
            at += 1  # the escaped character: '\'' holds no end
        at += 1
    return min(at + 1, end) if at < end and text[at] == quote else at, escaped


def find_checker(
    lab: LabProfile, raw: str, expanded: str
) -> tuple[str | None, str | None, str | None]:
    """(name to call, its signature, a note) for the heap checker compiled in:
    the first of the lab's checker names that the preprocessed text defines with
    a signature the adapter can call; a note when none can be called."""
    for name in lab.checkers:
        found = _definition(name, expanded)
        if found is None:
            continue
        declared, params = found
        words = declared.split()
        params = " ".join(params.split())
        typed = _without_attributes(declared).split()  # static int __attribute__((unused))
        returns = next((w for w in reversed(typed) if w not in ("static", "inline", "extern")), "")
        signature = f"{' '.join(words)} {name}({params})".strip()
        if returns not in _KNOWN_RETURNS or not re.fullmatch(r"(void|int( \w+)?)?", params):
            return (
                None,
                None,
                (
                    f"{signature} is not a heap checker signature any lab calls "
                    "(expected int, bool or void, taking an int or nothing): not called"
                ),
            )
        if returns == "void":
            return (
                name,
                signature,
                (
                    f"{signature} returns void: it runs after every op, but only a crash or an "
                    "exit can show a broken heap"
                ),
            )
        return name, signature, None
    written = [name for name in lab.checkers if re.search(rf"\b{name}\s*\(", raw)]
    if written:
        return (
            None,
            None,
            (
                f"{written[0]} is not compiled in the {lab.name} lab's build (it sits behind "
                "a preprocessor condition, such as #ifdef DEBUG, that the lab's Makefile does "
                "not set): heap checks cannot call it"
            ),
        )
    return None, None, f"no heap checker ({' or '.join(lab.checkers)}) is defined"
