"""The grader's secret for the keyed payload pattern, and the key of an allocator on a trace.

A sandboxed allocator sees its payloads, so the checker fills them with a pattern keyed by a
secret it cannot work out (c/src/payload_pattern.h). Drawn afresh for every pass, that secret
made the grade of code that reads payloads as its own data a matter of chance: a public CS:APP
solution whose mm_free read a flag from the block's payload crashed on realloc2-bal or passed it
from one run to the next, 0 or 98 (lab check run 9). The secret is now drawn once per grader and
kept in its cache folder (mode 0600, where no sandboxed process may read), and each allocator on
each trace gets a key derived from it: the same code on the same trace sees the same bytes on
every run of that grader, another file or trace other bytes, and nothing the agent sees tells the
secret. Where the folder cannot keep it, each pass draws its own, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from mallocsim.cache import cache_root, content_key, trace_parts
from mallocsim.trace import Trace

SECRET_FILE = "pattern-secret"
SECRET_BYTES = 32
SEED_BYTES = 80  # the engine's MS_PATTERN_SEED_BYTES: the keyed pattern's round keys


def grader_secret() -> bytes | None:
    """This grader's secret, drawn the first time and kept, drawn again when the file kept is
    damaged (a secret of another length quietly gave every pass a key of its own: red-team pass
    19); None when the cache folder can neither give one nor keep a new one."""
    path = cache_root() / SECRET_FILE
    try:
        secret: bytes | None = path.read_bytes()
    except FileNotFoundError:
        secret = _keep_new(path, over=False)
    except OSError:
        return None
    if secret is not None and len(secret) != SECRET_BYTES:
        secret = _keep_new(path, over=True)
    return secret if secret is not None and len(secret) == SECRET_BYTES else None


def _keep_new(path: Path, over: bool) -> bytes | None:
    """A new secret put at `path` whole (a private file linked, or `over` a damaged one renamed,
    into place: a grader beside this one reads it whole or not at all, and the first to link it
    wins), then read back."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, scratch = tempfile.mkstemp(prefix=f".{SECRET_FILE}.", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(os.urandom(SECRET_BYTES))
            if over:
                os.replace(scratch, path)
            else:
                with contextlib.suppress(FileExistsError):
                    os.link(scratch, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(scratch)
        return path.read_bytes()
    except OSError:
        return None


def pattern_seed(library: Path | None, trace: Trace) -> bytes | None:
    """The keyed pattern's round keys for `library` (the allocator's built code) on `trace`:
    the same for the same bytes of both under this grader; None without a grader secret."""
    secret = grader_secret()
    if secret is None:
        return None
    code = library.read_bytes() if library is not None else b""
    digest = content_key(secret, code, *trace_parts([trace]))
    return hashlib.shake_256(secret + bytes.fromhex(digest)).digest(SEED_BYTES)
