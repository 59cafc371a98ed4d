"""Results as plain data: one TraceResult per (allocator, trace), and their JSON.

Metrics (as the design beside the project, ../shared/DESIGN.md, defines them):
  utilization      peak over the trace of the live requested bytes / the heap's
                   high-water mark at the end;
  alignment bound  peak live payload / peak of the live sizes rounded up to 16:
                   no 16-byte-aligned allocator can do better;
  throughput       ops / seconds of the median timed pass (no checks); the
                   checked pass's time is kept too, to show what checking costs,
                   and every timed pass's seconds, for the statistics (stats.py).

JSON format history (the "version" field):
  1  first version: {"format", "version", "runs": [{"allocator", "traces": [...]}]};
     later within 1: a trace's optional "peak_rss" and "not_measured", and the optional
     top-level "series" and "heap_map" of `mallocsim compare` (readers ignore what they do
     not know); later still, a failed trace's optional "fail_kind", "fail_op",
     "fail_phase", "fail_pass", "fail_block", "fail_offset", "fail_byte" and "init_status"
     (the failure as data, null where not known; an older file without them reads as not
     known)
  2  a trace's "pass_seconds" (every timed pass's seconds, in the order run) and the
     top-level "metadata" (metadata.py: when, where, on what and how the run was made);
     a version 1 file, or one with no "version" at all (the oldest), reads with neither
     (no per-pass times, no metadata); a version above 2 is refused with one line
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from mallocsim.errors import UsageError
from mallocsim.files import JSONRefused, require_regular_file, strict_json, write_text

JSON_FORMAT = "mallocsim-results"
JSON_VERSION = 2
READABLE_VERSIONS = (1, 2)  # what read_json_document takes (1: no metadata, no pass_seconds)


# The fail_phase values of the passes that give the ops one at a time and check each (the
# engine's PHASE_KEYS): a failure there is the trace's verdict, not a timing's.
CHECKED_PHASES = ("checked", "checked_again")


@dataclass(frozen=True)
class TraceResult:
    """What one allocator did on one trace. Measures are None where not measured."""

    allocator: str  # the allocator's name as the user gave it ("segfit", "mm.c")
    trace: str  # the trace's name (file stem)
    path: str | None  # the trace file
    valid: bool  # every check passed, both runs from a fresh heap
    error: str | None  # the first failure, one line ("file:line: op ...: what")
    ops: int  # ops in the trace
    weight: int  # the trace header's weight
    peak_payload: int | None = None  # bytes: max live requested payload
    peak_aligned: int | None = None  # bytes: max live payload rounded up to 16 each
    heap_size: int | None = None  # bytes: the heap's high-water mark
    # bytes: highest payload end above the heap's start, or of memory written past the break
    highest_used: int | None = None
    # bytes: the highest payload end above the heap's start in the timed passes, when it lies
    # past the checked passes' heap: that heap at least was used, and utilization is against it
    timed_highest_used: int | None = None
    # bytes: the second checked run's heap, when mm_init did not reset it to the first's size
    second_heap_size: int | None = None
    utilization: float | None = None  # peak_payload / heap_size
    # the calls that grew the heap in the first checked run (mm_init's included), and those of
    # them that took its break to a new page: a brk system call each under a lab's memlib that
    # calls the real sbrk (sbrk_cost.py); None where not counted (the system's malloc)
    growth_calls: int | None = None
    growth_new_pages: int | None = None
    alignment_bound: float | None = None  # peak_payload / peak_aligned
    seconds: float | None = None  # median timed pass
    seconds_min: float | None = None  # fastest timed pass
    seconds_max: float | None = None  # slowest timed pass
    passes: int = 0  # timed passes run (each a batch of pass_repeats passes)
    # passes timed together for each of pass_seconds (their mean): 1, or more for a pass too short
    # for the clock to time alone (the engine's batches, under 50 us a pass)
    pass_repeats: int = 1
    checked_seconds: float | None = None  # the faster of the two checked passes
    # the CPU time the allocator's process ran in the lesser of them (the kernel's count, in
    # its ticks): the allocator's work, and its side of each round trip to the grader
    checked_cpu_seconds: float | None = None
    # seconds: the time limit the timed passes ran past, the checked passes done; seconds is
    # then the checked pass's, and passes 0 (replay.timed_by_checked)
    timing_cut: float | None = None
    # with timing_cut: "cpu" when seconds is the CPU time the allocator's process ran in the
    # checked pass, "wall" when that pass's wall time (too few of the kernel's ticks to trust)
    timing_cut_clock: str | None = None
    # an allocator graded from outside its process, timed passes whose own clock claimed less
    # than the kernel counted: the kernel's count of CPU seconds a pass (boundaries included)
    cpu_seconds: float | None = None
    ops_per_sec: float | None = None  # ops / seconds
    peak_rss: int | None = None  # bytes: peak resident set of a reference allocator's process
    not_measured: str | None = None  # why a valid reference result has no utilization
    # A failure as data (None when valid, or not known); `error` is the same for people.
    # fail_kind: the engine's kinds (replay.ENGINE_FAIL_KINDS: "overlap", "init_failed",
    # "null_return"...) or the driver's ("crash", "assertion", "forbidden_call", "global_overrun",
    # "timeout", "exit").
    fail_kind: str | None = None
    fail_op: int | None = None  # the failing op's index (None: mm_init, or no one op)
    fail_phase: str | None = None  # "checked", "checked_again", "timed" or "load"
    fail_pass: int | None = None  # timed: the pass (1, 2...; 0 the untimed warm-up pass)
    fail_block: int | None = None  # the block id involved
    # the payload byte a block's data was lost at (overwritten, realloc_lost_data,
    # calloc_not_zero), from the block's start
    fail_offset: int | None = None
    fail_byte: int | None = None  # the value found at fail_offset
    init_status: int | None = None  # init_failed: what mm_init returned (cmu: 0 for false)
    # Every timed pass's seconds, in the order run (empty: not timed, or a file before
    # version 2); seconds, seconds_min and seconds_max are their median, min and max.
    pass_seconds: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        # JSON (a saved file, a child's answer) gives a list: keep results hashable and equal.
        if not isinstance(self.pass_seconds, tuple):
            object.__setattr__(self, "pass_seconds", tuple(self.pass_seconds))


def trace_outcome(result: TraceResult) -> str:
    """A result in a word for the progress lines: "valid", "oom" when it ran out
    of memory the machine does not have (fail_kind "out_of_memory": an outcome,
    not a failure; see out_of_memory.py), or how it failed (its fail_kind:
    "crash", "timeout", "overlap"...; "invalid" when not known)."""
    if result.fail_kind == "out_of_memory":
        return "oom"
    return "valid" if result.valid else result.fail_kind or "invalid"


def reset_note(result: TraceResult) -> str | None:
    """A line on a trace whose second checked run, valid, took a heap of another size than
    the first (mm_init left some state as it was); None for any other."""
    if result.second_heap_size is None or result.heap_size is None:
        return None
    return (
        f"{result.trace}: mm_init does not reset all its state: a second run from a fresh heap "
        f"used {result.second_heap_size:,} bytes of heap, the first {result.heap_size:,}; the "
        "labs' drivers accept that (and measure a later run), this measures the first"
    )


def past_break_note(result: TraceResult) -> str | None:
    """A line on a trace whose checked pass wrote memory past its break (the labs' drivers map
    their whole heap, so it is there), whose utilization is then measured against that; None
    for any other."""
    heap, used = result.heap_size or 0, result.highest_used or 0
    if used <= heap:
        return None
    return (
        f"{result.trace}: the allocator wrote memory past its break, up to {used:,} bytes above "
        f"the heap's start, beyond its heap of {heap:,}: memory its lab's driver maps, so "
        "utilization is measured against that"
    )


def timed_heap_note(result: TraceResult) -> str | None:
    """A line on a trace whose timed passes reached past the checked passes' heap, whose
    utilization is then measured against that reach; None for any other. Why it may have: an
    mm_init that leaves state as it was (reset_note) places later runs' blocks otherwise,
    honestly; else the allocator answered otherwise where it was not checked."""
    if result.timed_highest_used is None:
        return None
    why = (
        "mm_init leaves some state as it was, and the later runs placed their blocks otherwise"
        if result.second_heap_size is not None
        else "they placed blocks otherwise than the checked passes, as code that reads memory it "
        "never wrote (the word past the break, a block's stale bytes) can: an allocator must "
        "answer alike, checked or not"
    )
    return (
        f"{result.trace}: the timed passes used the heap up to {result.timed_highest_used:,} "
        "bytes above its start (their blocks, or memory they touched), past the checked passes' "
        f"heap of {result.heap_size or 0:,}: utilization is measured against that ({why})"
    )


def timing_cut_note(result: TraceResult) -> str | None:
    """A line on a trace whose timed passes ran out of its time limit, timed by its
    checked passes instead (replay.timed_by_checked); None for any other."""
    if result.timing_cut is None:
        return None
    of = "of its process's CPU time" if result.timing_cut_clock == "cpu" else "of wall time"
    took = f"{result.seconds:.3g} s {of}" if result.seconds is not None else "not timed"
    return (
        f"{result.trace}: the timed passes ran past the trace's time limit "
        f"({result.timing_cut:.3g} s of CPU time) after the checked passes were done: timed "
        f"by its checked passes instead ({took}, each op a round trip to the grader: slower "
        "than a timed pass, never faster)"
    )


@dataclass(frozen=True)
class Summary:
    """Figures across the traces of one allocator (valid traces only)."""

    traces: int
    valid: int
    mean_utilization: float | None  # arithmetic mean, as the CS:APP driver
    total_ops: int  # ops of the valid traces
    total_seconds: float | None
    ops_per_sec_total: float | None  # total ops / total seconds
    ops_per_sec_geomean: float | None  # geometric mean of per-trace ops/s


def summarize(results: Sequence[TraceResult]) -> Summary:
    valid = [r for r in results if r.valid]
    utils = [r.utilization for r in valid if r.utilization is not None]
    timed = [r for r in valid if r.seconds is not None and r.ops_per_sec]
    timed_ops = sum(r.ops for r in timed)
    total_seconds = sum(r.seconds or 0.0 for r in timed) if timed else None
    return Summary(
        traces=len(results),
        valid=len(valid),
        mean_utilization=sum(utils) / len(utils) if utils else None,
        total_ops=sum(r.ops for r in valid),
        total_seconds=total_seconds,
        ops_per_sec_total=timed_ops / total_seconds if total_seconds else None,
        ops_per_sec_geomean=geomean(r.ops_per_sec or 0.0 for r in timed),
    )


def geomean(values: Iterable[float]) -> float | None:
    logs = [math.log(v) for v in values if v > 0]
    return math.exp(sum(logs) / len(logs)) if logs else None


def to_json(results: Sequence[TraceResult], metadata: dict | None = None) -> dict:
    """The versioned JSON document for a list of results (grouped by allocator),
    with the run's metadata (metadata.collect) when given."""
    runs: dict[str, list[dict]] = {}
    for result in results:
        runs.setdefault(result.allocator, []).append(asdict(result))
    document: dict = {"format": JSON_FORMAT, "version": JSON_VERSION}
    if metadata is not None:
        document["metadata"] = metadata
    document["runs"] = [{"allocator": name, "traces": traces} for name, traces in runs.items()]
    return document


def write_json(
    results: Sequence[TraceResult], path: str | Path, metadata: dict | None = None
) -> None:
    write_text(path, json.dumps(to_json(results, metadata), indent=2) + "\n")


def read_json(path: str | Path) -> list[TraceResult]:
    """Read a results file; any malformed or foreign file is a UsageError."""
    return read_json_document(path)[0]


def read_json_document(path: str | Path) -> tuple[list[TraceResult], dict]:
    """A results file's results and its whole document (parsed once), for the
    top-level keys other modules add; any malformed or foreign file is a UsageError."""
    require_regular_file(path)
    try:
        text = Path(path).read_text()
        document = strict_json(text)
    except OSError as error:
        raise UsageError(f"{path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        if f'"{JSON_FORMAT}"' in text[:200]:  # one of ours, cut short or damaged
            raise UsageError(
                f"{path}: truncated or damaged results file ({error.msg} at byte {error.pos} "
                f"of {len(text)})"
            ) from None
        raise UsageError(f"{path}: not a mallocsim results file (bad JSON: {error})") from None
    except (UnicodeDecodeError, JSONRefused) as error:
        raise UsageError(f"{path}: not a mallocsim results file (bad JSON: {error})") from None
    if not isinstance(document, dict) or not _is_ours(document):
        raise UsageError(f"{path}: not a mallocsim results file")
    version = document.get("version", 1)  # the oldest files had no version: they are 1
    if type(version) is not int or version not in READABLE_VERSIONS:
        readable = f"{READABLE_VERSIONS[0]} to {READABLE_VERSIONS[-1]}"
        if type(version) is int and version > READABLE_VERSIONS[-1]:
            raise UsageError(
                f"{path}: results format version {version} is newer than this mallocsim "
                f"reads ({readable}): upgrade mallocsim to read it"
            )
        raise UsageError(
            f"{path}: results format version {version!r} is not one this mallocsim reads "
            f"({readable})"
        )
    metadata = document.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise UsageError(f"{path}: truncated or damaged results file (metadata is {metadata!r})")
    results = []
    try:
        for run in document["runs"]:
            for trace in run["traces"]:
                results.append(TraceResult(**_checked_fields(trace)))
    except (KeyError, TypeError, ValueError) as error:
        raise UsageError(f"{path}: truncated or damaged results file ({error})") from None
    return results, document


def _is_ours(document: dict) -> bool:
    """Our format by name, or a file from before the format was named: no
    "format" and no "version", just the runs."""
    if "format" in document:
        return document["format"] == JSON_FORMAT
    return "version" not in document and isinstance(document.get("runs"), list)


# The JSON types each TraceResult field may hold, by its annotation (the fail_*
# fields and init_status are "str | None" and "int | None" like the others).
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "str | None": (str, type(None)),
    "bool": (bool,),
    "int": (int,),
    "int | None": (int, type(None)),
    "float | None": (int, float, type(None)),
}
_FIELD_TYPES = {
    f.name: _JSON_TYPES.get(str(f.type), ()) for f in fields(TraceResult)
}  # pass_seconds (a list of numbers) is checked on its own


LARGEST_SAVED_FIGURE = 1e15  # no figure a run saves comes near: ops/s, seconds, ratios


def _is_seconds(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


def _checked_fields(trace: dict) -> dict[str, object]:
    """A saved result's known fields, each of its field's type (a damaged
    value is a ValueError here, not a TypeError deep in a report later)."""
    if not isinstance(trace, dict):
        raise ValueError(f"a result is {trace!r}, not an object")
    known = {k: v for k, v in trace.items() if k in _FIELD_TYPES}
    for key, value in known.items():
        if key == "pass_seconds":
            if not isinstance(value, list) or not all(_is_seconds(v) for v in value):
                raise ValueError(f"pass_seconds is {value!r}")
            continue
        allowed = _FIELD_TYPES[key]
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise ValueError(f"{key} is {value!r}")
        if isinstance(value, float) and not 0 <= value <= LARGEST_SAVED_FIGURE:
            # a hand-edited 1e308 ended `report` in an OverflowError (red-team pass 27)
            raise ValueError(f"{key} is {value!r}, out of any measure's range")
    return known
