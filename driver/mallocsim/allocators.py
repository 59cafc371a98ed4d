"""Allocators by name: built-in policies, shared libraries, and mm.c sources.

A spec is what a user types after --allocator:
  implicit, implicit:best, segfit   a built-in policy, options after the colon
  glibc (or system)                 the process's own malloc family
  jemalloc, mimalloc, tcmalloc      a production reference (references.py), when
                                    the caller takes them: replayed in a process
                                    of its own with the library preloaded
  path/to/lib.so                    a library exporting the mm.h names
  path/to/mm.c                      a student's allocator, compiled here against
                                    our mm.h and memlib (the simulated heap)
A library or source is written for a lab (labs.py): its profile says how an
mm.c is built (build.py) and which dialect mm_init has (classic: int mm_init,
0 = success; cmu: bool mm_init, true = success). A library given under the
mallocsim lab must say its dialect: it is never guessed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mallocsim._native import NATIVE_DIR
from mallocsim.build import Build, BuildError, build_source
from mallocsim.constants import DIALECTS
from mallocsim.errors import UsageError
from mallocsim.files import require_regular_file
from mallocsim.labs import DEFAULT_LAB, LABS, lab_named

SYSTEM_NAMES = ("glibc", "system")
# The references other than glibc: each replays in a process that preloads it
# (references.REFERENCES holds how; named here too, since that module imports
# this one through the engine).
PRELOADED = ("jemalloc", "mimalloc", "tcmalloc")
DEFAULT_POLICY = "segfit"


class AllocatorError(UsageError):
    """An allocator that cannot be named, built or loaded."""


@dataclass(frozen=True)
class AllocatorSpec:
    """A resolved allocator: what to load and how to call it."""

    name: str  # as the user wrote it (the name in reports)
    kind: str  # "builtin", "library", "source", "system" or "reference"
    path: Path | None  # the library (or source) to load; a reference's to preload
    dialect: str  # "classic", "cmu" or "system"
    options: str  # for mm_configure ("" = none)
    lab: str = DEFAULT_LAB  # the lab whose rules build and replay it (labs.LABS)
    debug: bool = False  # an mm.c built as its lab's debug build (for heap checks)
    word_size: str | None = None  # an mm.c's word size (labs.WORD_SIZES); None: its lab's


def builtin_policies() -> list[str]:
    """Names of the built-in policies shipped in the native directory."""
    return sorted(p.name[len("libmm-") : -len(".so")] for p in NATIVE_DIR.glob("libmm-*.so"))


def say_which_lab(written: str) -> str:
    """What to say of files graded under the mallocsim lab with no dialect given: `written` is
    "it is" or "they are"."""
    labs = ", ".join(name for name in LABS if LABS[name].dialect)
    return (
        f"say which lab {written} written for (--lab {labs}) or, under mallocsim's own rules, "
        "the dialect: --dialect classic (int mm_init, 0 = success) or --dialect cmu (bool "
        "mm_init, true = success)"
    )


def resolve(
    spec: str,
    dialect: str | None = None,
    lab: str = DEFAULT_LAB,
    debug: bool = False,
    references: bool = False,
    word_size: str | None = None,
) -> AllocatorSpec:
    """Turn what the user typed into an AllocatorSpec, or say clearly why not.
    A .c or .so takes `dialect`, else its lab's; `debug` builds an mm.c as its
    lab's heap-checking build, for `word_size` (None: the lab's). With
    `references`, jemalloc, mimalloc and tcmalloc name the production
    references (kind "reference", its library as path; not installed: the one
    line that says which package installs it); grading takes none, since no lab
    grades them."""
    if dialect is not None and dialect not in DIALECTS:
        raise AllocatorError(f"unknown dialect {dialect!r}: expected classic or cmu")
    profile = lab_named(lab)
    if spec in SYSTEM_NAMES:
        return AllocatorSpec(spec, "system", None, "system", "", lab)
    if references and spec in PRELOADED:
        return _reference(spec, lab)
    if spec.endswith((".so", ".c")) or os.sep in spec:
        path = Path(spec)
        require_regular_file(path, AllocatorError)  # a FIFO or a folder: said as such
        if not path.is_file():
            raise AllocatorError(f"{spec}: no such file")
        dialect = dialect or profile.dialect
        if dialect is None:
            raise AllocatorError(f"{spec}: {say_which_lab('it is')}")
        kind = "source" if spec.endswith(".c") else "library"
        # The folder resolved, not the file: a link in a student's folder is the build's to
        # judge (build.py: one leading outside its folder is refused, never read).
        where = path.parent.resolve() / path.name
        return AllocatorSpec(spec, kind, where, dialect, "", lab, debug, word_size)
    policy, _, options = spec.partition(":")
    if policy not in builtin_policies():
        known = ", ".join([*builtin_policies(), *SYSTEM_NAMES, *(PRELOADED if references else ())])
        raise AllocatorError(
            f"unknown allocator {spec!r}: expected one of {known}, a .so or an mm.c file"
        )
    return AllocatorSpec(spec, "builtin", NATIVE_DIR / f"libmm-{policy}.so", "cmu", options, lab)


def _reference(name: str, lab: str) -> AllocatorSpec:
    """A production reference's spec: its library found (ReferenceMissing's
    apt-get line as an AllocatorError when it is not installed)."""
    from mallocsim.references import REFERENCES, ReferenceMissing, require

    try:
        library = require(REFERENCES[name])
    except ReferenceMissing as error:
        raise AllocatorError(str(error)) from None
    return AllocatorSpec(name, "reference", library, "system", "", lab)


def compile_source(
    source: Path,
    dialect: str,
    out_dir: Path | None = None,
    lab: str = DEFAULT_LAB,
    debug: bool = False,
) -> Path:
    """Compile an mm.c as `lab` builds it (build.py); the library's path.
    Raises AllocatorError carrying the compiler's messages when it fails."""
    return build_of(source, dialect, lab, debug, out_dir).library


def build_of(
    source: Path,
    dialect: str,
    lab: str,
    debug: bool = False,
    out_dir: Path | None = None,
    word_size: str | None = None,
) -> Build:
    """The build of an mm.c for a lab (cached), with its warnings and heap checker."""
    try:
        return build_source(source, lab_named(lab), dialect, debug, out_dir, word_size)
    except BuildError as error:
        raise AllocatorError(str(error)) from None


def spec_build(spec: AllocatorSpec) -> Build | None:
    """The build of a spec's mm.c; None for anything that is not a source."""
    if spec.kind != "source":
        return None
    assert spec.path is not None
    return build_of(spec.path, spec.dialect, spec.lab, spec.debug, word_size=spec.word_size)


def library_for(spec: AllocatorSpec) -> Path | None:
    """The shared library to load for a spec (building a source first)."""
    build = spec_build(spec)
    return build.library if build is not None else spec.path
