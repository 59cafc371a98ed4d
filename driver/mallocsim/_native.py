"""The binding to the native core: one FFI, its cdef read from mallocsim.h.

The cdef is the text between CDEF-BEGIN and CDEF-END in the shipped header, so
the C side and the Python side cannot drift apart silently; the library's
ms_abi_version() must match the header's MS_ABI_VERSION, or loading fails with
a clear message instead of crashing later on a stale layout.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from cffi import FFI

from mallocsim.errors import UsageError

NATIVE_DIR = Path(__file__).resolve().parent / "_native"
HEADER_DIR = NATIVE_DIR / "include"
# The engine built 32-bit (Makefile): the agent and counter of a student's -m32 build.
NATIVE32_DIR = NATIVE_DIR / "i386"
HEAP_LIBRARY = "libmsheap.so"  # in each: the heap every allocator links with


class NativeError(UsageError):
    """The native core is missing, stale or does not match this driver."""


def _read_cdef(header: Path) -> tuple[str, int]:
    text = header.read_text()
    match = re.search(r"/\* CDEF-BEGIN \*/(.*)/\* CDEF-END \*/", text, re.S)
    version = re.search(r"#define MS_ABI_VERSION (\d+)", text)
    if match is None or version is None:
        raise NativeError(f"{header}: no CDEF-BEGIN/CDEF-END section or MS_ABI_VERSION")
    return match.group(1), int(version.group(1))


@cache
def _load() -> tuple[FFI, object]:
    header = HEADER_DIR / "mallocsim.h"
    library = NATIVE_DIR / "libmscore.so"
    if not header.exists() or not library.exists():
        raise NativeError(
            f"the native core is not built ({library} missing): run `make` in the checkout "
            "or reinstall the package"
        )
    cdef, version = _read_cdef(header)
    ffi = FFI()
    ffi.cdef(cdef)
    lib = ffi.dlopen(str(library))
    if lib.ms_abi_version() != version:
        raise NativeError(
            f"{library} has ABI version {lib.ms_abi_version()}, the header says {version}: "
            "rebuild with `make`"
        )
    return ffi, lib


def engine_dir(library: Path | None, word_size: str | None = None) -> Path:
    """Where the engine's programs (msagent, mscount) that can load `library` are:
    NATIVE32_DIR for a 32-bit library (a -m32 build), else NATIVE_DIR; with no
    library (the system's malloc), NATIVE32_DIR when `word_size` is "32". Raises
    NativeError when the 32-bit engine is needed and not built."""
    from mallocsim.elf import library_bits

    narrow = word_size == "32" if library is None else library_bits(library) == 32
    if narrow and not (NATIVE32_DIR / "msagent").exists():
        raise NativeError(
            f"{library or 'the system malloc'} is wanted 32-bit, and the 32-bit engine "
            f"({NATIVE32_DIR}) is not built: run `make` in the checkout (it needs Debian's "
            "gcc-multilib and libseccomp-dev:i386)"
        )
    return NATIVE32_DIR if narrow else NATIVE_DIR


class _Lazy:
    """`ffi` or `lib`, loaded on first use: importing a module that binds them
    never needs the native core, so `--help`, `gen`, `diff` and `report` work
    without the C build, and a missing build is one clear NativeError when a
    command first replays something."""

    def __init__(self, index: int) -> None:
        self._index = index

    def __getattr__(self, name: str) -> object:
        return getattr(_load()[self._index], name)


ffi: FFI = _Lazy(0)  # type: ignore[assignment]
lib: object = _Lazy(1)
