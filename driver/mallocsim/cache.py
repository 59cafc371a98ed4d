"""The content-keyed cache: builds, grades, reference counts and time limits.

Everything kept lives under $XDG_CACHE_HOME/mallocsim (~/.cache/mallocsim),
one folder per kind, one JSON file per entry, named by a digest of everything
the entry was computed from. An entry is written whole to a private file and
renamed into place, so concurrent graders never read half of one; a damaged
entry reads as missing and is computed again. The digest of mallocsim's own
code (`code_digest`) is part of every key that depends on how mallocsim
grades, so a new version never serves an old verdict.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from mallocsim.trace import Trace

PACKAGE_DIR = Path(__file__).resolve().parent


def cache_root() -> Path:
    """The folder all of mallocsim's caches live in."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mallocsim"


def content_key(*parts: bytes | str) -> str:
    """A digest of the parts, in order, each length-prefixed (so ("ab", "c") and
    ("a", "bc") differ)."""
    digest = hashlib.sha256()
    for part in parts:
        # surrogateescape: a name's bytes that are not UTF-8 (a trace file's) are keyed as such
        data = part.encode(errors="surrogateescape") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()[:32]


def trace_parts(traces: Sequence[Trace]) -> Iterator[bytes | str]:
    """The parts of a key that stand for traces: each one's name and bytes, in order."""
    for trace in traces:
        yield trace.name
        yield Path(trace.path).read_bytes() if trace.path else b""


def digested_files() -> list[Path]:
    """What code_digest reads: the Python code and the whole native engine, its programs
    (the agent and the count's supervisor too: a sandbox mended there alone once served
    grades cached before it) and the headers and linker script a student's build reads."""
    return sorted(
        path
        for pattern in (
            "**/*.py",
            "_native/*.so",
            "_native/ms*",
            "_native/i386/*",
            "_native/include/**/*.h",
            "_native/include/**/*.ld",
        )
        for path in PACKAGE_DIR.glob(pattern)
        if path.is_file()
    )


@cache
def code_digest() -> str:
    """A digest of mallocsim's Python code and native engine (what a verdict
    depends on), computed once per process."""
    files = digested_files()
    return content_key(*(part for path in files for part in (path.name, path.read_bytes())))


def load(kind: str, key: str) -> Any | None:
    """The entry of `kind` under `key`, None when there is none (or it is damaged)."""
    try:
        return json.loads((cache_root() / kind / f"{key}.json").read_text())
    except (OSError, ValueError):
        return None


def store(kind: str, key: str, value: Any) -> None:
    """Keep `value` (plain JSON data) under `key`; a cache that cannot be written
    is skipped silently: it only saves time."""
    folder = cache_root() / kind
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, scratch = tempfile.mkstemp(prefix=f".{key}.", dir=folder)
    except OSError:
        return
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(value, out)
        os.replace(scratch, folder / f"{key}.json")
    except OSError:
        Path(scratch).unlink(missing_ok=True)
