"""Text a submission wrote, made safe to show: its team record, the compiler's messages about it.

A student's string reaches the instructor's terminal, the Gradescope page and the gradebook. Left
as written, an escape sequence could hide the lines after it (ESC[8m), a carriage return could
print a forged score over the real one, and a bidirectional override could show text in another
order than it has ("Trojan Source"). printable() shows each such character as an escape of its
code instead: C0 and C1 control characters (but newline and tab, where lines are kept), DEL, the
Unicode line and paragraph separators (U+2028, U+2029: str.splitlines() and some terminals break
lines there, so a team name held a forged "score 100.0 / 100" line of its own), and the Unicode
bidirectional embeddings, overrides and isolates. So are the lone surrogates by which Python
decodes a file name's bytes that are not UTF-8 (os.fsdecode: b"caf\xff" is "caf\udcff"), as the
byte they stand for: no encoder takes them, and a class folder so named ended the class run in a
traceback (red-team pass 10). So are U+FFFE and U+FFFF, which no XML may hold: an assert()'s
message with them made a JUnit file unreadable (red-team pass 12). Everything else is kept as it
is.
"""

from __future__ import annotations

import re

_BIDI = "\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c"
_SEPARATORS = "\u2028\u2029"
_SURROGATES = "\ud800-\udfff"
_NONCHARACTERS = "\ufffe\uffff"  # no XML may hold them: a JUnit file with one was unreadable
_OTHER = f"{_BIDI}{_SEPARATORS}{_SURROGATES}{_NONCHARACTERS}"
_UNSAFE_LINES = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_OTHER}]")
_UNSAFE_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_OTHER}]")
_ESCAPED_BYTES = range(0xDC80, 0xDD00)  # os.fsdecode's stand-ins for the bytes 0x80-0xff


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code in _ESCAPED_BYTES:
        return f"\\x{code - 0xDC00:02x}"
    # A C1 control as \\u0085, not \\x85, which is the byte 0x85's: two folder names, one with
    # each, printed alike and stopped a class as "two submissions" (red-team pass 25).
    return f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}"


def printable(text: str, lines: bool = True) -> str:
    """`text` with every character that could move the cursor, hide or reorder what is shown
    written as an escape (ESC as \\x1b); with `lines`, newlines and tabs are kept."""
    return (_UNSAFE_LINES if lines else _UNSAFE_LINE).sub(_escape, text)
