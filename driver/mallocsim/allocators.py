"""Allocators by name: built-in policies, shared libraries, and mm.c sources.

A spec is what a user types after --allocator:
  implicit, implicit:best, segfit   a built-in policy, options after the colon
  glibc (or system)                 the process's own malloc family
  path/to/lib.so                    a library exporting the mm.h names
  path/to/mm.c                      a student's allocator, compiled here against
                                    our mm.h and memlib (the simulated heap)
A library or source must say which lab dialect it is written in (classic:
int mm_init, 0 = success; cmu: bool mm_init, true = success): it is never guessed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mallocsim._native import HEADER_DIR, NATIVE_DIR
from mallocsim.errors import UsageError

DIALECTS = ("classic", "cmu")
SYSTEM_NAMES = ("glibc", "system")
DEFAULT_POLICY = "segfit"
# Warnings a student sees while we build their mm.c; errors stop the build.
# DRIVER is what the lab Makefiles define: the CMU handout's mm.c renames its
# malloc/free/realloc/calloc (and memset/memcpy) to the mm_ and mem_ names under it.
STUDENT_CFLAGS = ("-std=gnu11", "-O2", "-g", "-Wall", "-Wextra", "-fPIC", "-shared", "-DDRIVER")


class AllocatorError(UsageError):
    """An allocator that cannot be named, built or loaded."""


@dataclass(frozen=True)
class AllocatorSpec:
    """A resolved allocator: what to load and how to call it."""

    name: str  # as the user wrote it (the name in reports)
    kind: str  # "builtin", "library", "source" or "system"
    path: Path | None  # the library (or source) to load
    dialect: str  # "classic", "cmu" or "system"
    options: str  # for mm_configure ("" = none)


def builtin_policies() -> list[str]:
    """Names of the built-in policies shipped in the native directory."""
    return sorted(p.name[len("libmm-") : -len(".so")] for p in NATIVE_DIR.glob("libmm-*.so"))


def resolve(spec: str, dialect: str | None = None) -> AllocatorSpec:
    """Turn what the user typed into an AllocatorSpec, or say clearly why not."""
    if dialect is not None and dialect not in DIALECTS:
        raise AllocatorError(f"unknown dialect {dialect!r}: expected classic or cmu")
    if spec in SYSTEM_NAMES:
        return AllocatorSpec(spec, "system", None, "system", "")
    if spec.endswith((".so", ".c")) or os.sep in spec:
        path = Path(spec)
        if not path.is_file():
            raise AllocatorError(f"{spec}: no such file")
        if dialect is None:
            raise AllocatorError(
                f"{spec}: say which lab dialect it is written in: --dialect classic "
                "(int mm_init, 0 = success) or --dialect cmu (bool mm_init, true = success)"
            )
        kind = "source" if spec.endswith(".c") else "library"
        return AllocatorSpec(spec, kind, path.resolve(), dialect, "")
    policy, _, options = spec.partition(":")
    if policy not in builtin_policies():
        known = ", ".join([*builtin_policies(), *SYSTEM_NAMES])
        raise AllocatorError(
            f"unknown allocator {spec!r}: expected one of {known}, a .so or an mm.c file"
        )
    return AllocatorSpec(spec, "builtin", NATIVE_DIR / f"libmm-{policy}.so", "cmu", options)


def build_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mallocsim" / "build"


def compile_source(source: Path, dialect: str, out_dir: Path | None = None) -> Path:
    """Compile an mm.c into a shared library over our heap; cached by content
    (the source's, the flags' and our headers', so a new mm.h rebuilds it).

    Raises AllocatorError carrying the compiler's messages when it fails.
    """
    flags = [*STUDENT_CFLAGS, f"-I{HEADER_DIR}"]
    if dialect == "cmu":
        flags.append("-DMM_DIALECT_CMU")
    digest = hashlib.sha256(source.read_bytes() + " ".join(flags).encode())
    for header in sorted(HEADER_DIR.glob("*.h")):
        digest.update(header.read_bytes())
    key = digest.hexdigest()[:16]
    out_dir = out_dir or build_cache_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    library = out_dir / f"{source.stem}-{key}.so"
    if library.exists():
        return library
    partial = library.with_suffix(f".{os.getpid()}.tmp")
    command = [
        os.environ.get("CC", "cc"),
        *flags,
        "-o",
        str(partial),
        str(source),
        f"-L{NATIVE_DIR}",
        "-lmsheap",
        f"-Wl,-rpath,{NATIVE_DIR}",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise AllocatorError(f"{source}: no C compiler ({command[0]}) to build it") from None
    if done.returncode != 0:
        messages = done.stderr.strip() or done.stdout.strip()
        raise AllocatorError(f"{source}: does not compile:\n{messages}")
    partial.replace(library)
    return library


def library_for(spec: AllocatorSpec) -> Path | None:
    """The shared library to load for a spec (building a source first)."""
    if spec.kind == "source":
        assert spec.path is not None
        return compile_source(spec.path, spec.dialect)
    return spec.path
