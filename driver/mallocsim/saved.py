"""A comparison saved to a file and read back: the results JSON and its extras.

The file is mallocsim.results' versioned results JSON (read_json_document
checks its format and version, and says so for a truncated file), with its
"metadata" (metadata.py; none in a file before format 2) and three optional
top-level keys that other readers ignore: "missing" (references that were not
installed, and why), "series" and "heap_map" (the data of the pictures), so
that `mallocsim report` draws everything from the file alone.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from mallocsim.compare import Comparison, build
from mallocsim.errors import UsageError
from mallocsim.files import write_text
from mallocsim.heapmap import HeapMap
from mallocsim.pictures import Pictures
from mallocsim.results import read_json_document, to_json
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
        series = [Series(**s) for s in document.get("series") or []]
        raw_map = document.get("heap_map")
        heap_map = HeapMap(**raw_map) if raw_map else None
        missing = dict(document.get("missing") or {})
    except (TypeError, ValueError) as error:
        raise UsageError(f"{path}: damaged series or heap map ({error})") from None
    return SavedRun(
        build(results, missing=missing),
        Pictures(series, heap_map),
        document.get("metadata"),
        document.get("version", 1),
    )
