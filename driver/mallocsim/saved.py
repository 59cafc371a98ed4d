"""A comparison saved to a file and read back: the results JSON and its extras.

The file is mallocsim.results' versioned results JSON (read_json_document
checks its format and version, and says so for a truncated file), with its
"metadata" (metadata.py; none in a file before format 2) and four optional
top-level keys that other readers ignore: "missing" (references that were not
installed, and why), "series" and "heap_map" (the data of the pictures), and
"rounds" (a comparison measured in rounds: each round's Kops/s per cell, whose
median rounds are the results), so that `mallocsim report` draws and tells
everything from the file alone.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from mallocsim.compare import Comparison, build
from mallocsim.errors import UsageError
from mallocsim.files import write_text
from mallocsim.heapmap import HeapMap
from mallocsim.pictures import Pictures
from mallocsim.results import read_json_document, to_json
from mallocsim.rounds import RoundSpeeds
from mallocsim.timeline import Series


def to_document(
    comparison: Comparison, pictures: Pictures | None = None, metadata: dict | None = None
) -> dict:
    """The results JSON (mallocsim.results' format) with what a report needs
    besides: the run's metadata, the missing references, the series and the heap map."""
    results = [
        r for t in comparison.traces for a in comparison.allocators if (r := comparison.cell(a, t))
    ]
    results.sort(key=lambda r: comparison.allocators.index(r.allocator))
    document = to_json(results, metadata)
    document["missing"] = comparison.missing
    if comparison.round_speeds:
        document["rounds"] = [
            [{"allocator": a, "trace": t, "ops_per_sec": v} for (a, t), v in speeds.items()]
            for speeds in comparison.round_speeds
        ]
    if pictures is not None:
        document["series"] = [asdict(s) for s in pictures.series]
        document["heap_map"] = asdict(pictures.heap_map) if pictures.heap_map else None
    return document


def write_document(
    comparison: Comparison,
    pictures: Pictures | None,
    path: str | Path,
    metadata: dict | None = None,
) -> None:
    write_text(path, json.dumps(to_document(comparison, pictures, metadata)) + "\n")


# What each field of the pictures' data may hold, checked as the file is read: a hand-edited
# file whose series held a null, or a heap map's blocks, ended `report` in a traceback, 16 ways
# (red-team pass 27). "ints": a list of whole numbers; "rows": a list of such lists.
SERIES_FIELDS = {"allocator": "str", "trace": "str", "ops": "ints", "live": "ints", "heap": "ints"}
HEAP_MAP_FIELDS = {
    "allocator": "str",
    "trace": "str",
    "ops": "int",
    "total_ops": "int",
    "heap_sizes": "ints",
    "blocks": "rows",
}
BLOCK_FIELDS = 5  # first op live, op freed, offset, requested bytes, usable bytes


def _list(value: object) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{value!r} is not a list")
    return value


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _ints(value: object) -> bool:
    return isinstance(value, list) and all(map(_whole, value))


def _rows(value: object) -> bool:
    return isinstance(value, list) and all(_ints(row) and len(row) == BLOCK_FIELDS for row in value)


def _speed(value: object) -> bool:
    """Operations per second, or None for a cell that failed or was not timed."""
    if value is None:
        return True
    real = isinstance(value, (int, float)) and not isinstance(value, bool)
    return real and math.isfinite(value) and value >= 0


_KINDS = {
    "str": lambda value: isinstance(value, str),
    "int": _whole,
    "ints": _ints,
    "rows": _rows,
    "speed": _speed,
}
ROUND_FIELDS = {"allocator": "str", "trace": "str", "ops_per_sec": "speed"}


def _checked(raw: object, kinds: dict[str, str]) -> dict:
    """`raw`'s fields, each of the kind `kinds` names; a ValueError naming the first that is not."""
    if not isinstance(raw, dict) or set(raw) - {*kinds, "beside"} or set(kinds) - set(raw):
        raise ValueError(f"fields {sorted(raw) if isinstance(raw, dict) else raw!r}")
    for name, kind in kinds.items():
        if not _KINDS[kind](raw[name]):
            raise ValueError(f"{name} is {raw[name]!r:.60}")
    return raw


def _series(raw: object) -> Series:
    fields = _checked(raw, SERIES_FIELDS)
    if not len(fields["ops"]) == len(fields["live"]) == len(fields["heap"]):
        raise ValueError("ops, live and heap are not one sample each")
    return Series(**fields)


def _round(raw: object) -> RoundSpeeds:
    cells = [_checked(cell, ROUND_FIELDS) for cell in _list(raw)]
    return {(c["allocator"], c["trace"]): c["ops_per_sec"] for c in cells}


def _heap_map(raw: object) -> HeapMap:
    fields = _checked(raw, HEAP_MAP_FIELDS)
    if len(fields["heap_sizes"]) != fields["ops"] or fields["ops"] > fields["total_ops"]:
        raise ValueError("heap_sizes is not one size an op replayed")
    beside = [_heap_map(m) for m in _list(fields.get("beside"))]
    return HeapMap(**{**fields, "beside": beside})


@dataclass(frozen=True)
class SavedRun:
    """A saved run read back: the comparison, its pictures' data, its metadata
    (None before format 2) and its format version."""

    comparison: Comparison
    pictures: Pictures
    metadata: dict | None
    version: int


def read_document(path: str | Path) -> tuple[Comparison, Pictures]:
    """A saved comparison (or any results file) back, with its pictures' data.
    Raises UsageError for a file from another version, truncated or damaged."""
    saved = read_saved(path)
    return saved.comparison, saved.pictures


def read_saved(path: str | Path) -> SavedRun:
    """A saved run back, everything it holds (read_document's, and the metadata)."""
    results, document = read_json_document(path)  # checks the format and version
    try:
        series = [_series(s) for s in _list(document.get("series"))]
        raw_map = document.get("heap_map")
        heap_map = _heap_map(raw_map) if raw_map is not None else None
        missing = {str(k): str(v) for k, v in dict(document.get("missing") or {}).items()}
        rounds = tuple(_round(r) for r in _list(document.get("rounds")))
    except (TypeError, ValueError) as error:
        raise UsageError(f"{path}: damaged series, heap map or rounds ({error})") from None
    return SavedRun(
        replace(build(results, missing=missing), round_speeds=rounds),
        Pictures(series, heap_map),
        document.get("metadata"),
        document.get("version", 1),
    )
