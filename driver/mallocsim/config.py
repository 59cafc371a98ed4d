"""The grading configuration: a TOML file, validated, over a lab's defaults.

A file holds any of these tables (every key optional; see starter/grading.toml
for a commented example):

  [grade]   lab, dialect, timeout, check_heap, word_size, min_seconds, throughput,
            team_check, alignment, heap_limit
  [score]   formula, util_weight, mean, throughput_mean, reference_throughput,
            reference, reference_scale, timed_reference_scale, min_util, max_util,
            min_speed_ratio, max_speed_ratio, invalid, global_data_limit,
            global_data_bytes_per_point, global_data_max_deduction, zero_below
  [points]  correctness, performance
  [gradescope] visibility, stdout_visibility, score_digits, leaderboard
  [[traces]] name, weight, utilization, throughput   (one table per trace)

Every key left out takes the lab's value (labs.py: `lab = "csapp"` scores with
the CS:APP driver's constants); a key given overrides the lab, so a course that
edited its driver's constants says so here. `--lab` on the command line picks
the lab the file's other keys then apply to.

Guarantees: load_config returns a GradingConfig whose values are all in range,
or raises ConfigError with one line naming the file, the key and what was
expected. Unknown tables and keys are errors (a typo must not silently fall
back to a default).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from mallocsim.constants import DIALECTS, MAX_TIMEOUT, MIN_TIMEOUT, THROUGHPUT_MEASURES
from mallocsim.errors import UsageError
from mallocsim.files import require_regular_file
from mallocsim.labs import (
    DEFAULT_LAB,
    LABS,
    MIB,
    WORD_SIZES,
    LabProfile,
    TraceRule,
    lab_named,
)

FORMULAS = ("csapp", "cmu")
MEANS = ("arithmetic", "harmonic")
THROUGHPUT_MEANS = ("total", "harmonic")
PENALTIES = ("zero", "trace")
# Gradescope's documented visibility settings (tests, and the autograder's stdout).
GRADESCOPE_VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


class ConfigError(UsageError):
    """A grading file that cannot be read or holds a bad value: one line."""


@dataclass(frozen=True)
class GradingConfig:
    """Everything a grade depends on. The defaults are the mallocsim lab's;
    for_lab() gives any other lab's."""

    lab: str = DEFAULT_LAB  # the lab profile (labs.LABS) whose rules apply
    formula: str = "csapp"  # "csapp": 60*U + 40*min(1, T/T_ref); "cmu": linear thresholds
    dialect: str | None = None  # of a student's mm.c or .so; None = the lab's
    # seconds a trace may run before the allocator is stopped; None: each trace's
    # limit from the reference allocator's time on it (limits.py)
    timeout: float | None = None
    check_heap: bool = False  # call the heap checker after every op (slow)
    # the lab's team check (csapp: a team_t team record, filled in, before any trace), which the
    # CS:APP driver skips with -a, for handouts that dropped the record
    team_check: bool = True
    # a student's mm.c built for 64 bits, 32 (-m32) or "auto" (labs.WORD_SIZES); None: the lab's
    word_size: str | None = None
    min_seconds: float = 0.05  # time each trace at least this long
    # A course's own handout constants, where it changed its config.h (an ALIGNMENT of 4, a bigger
    # MAX_HEAP): every payload a multiple of `alignment` bytes, and mem_sbrk refusing to grow the
    # heap past `heap_limit` bytes. None: the lab's.
    alignment: int | None = None
    heap_limit: int | None = None
    # "instructions": T and T_ref counted in instructions (valgrind), the same on every
    # run; "time": seconds, as the lab's own driver measures them
    throughput: str = "instructions"
    util_weight: float = 0.6  # the share of utilization in the index (1 - it: throughput)
    mean: str = "arithmetic"  # how per-trace utilizations are averaged
    throughput_mean: str = "total"  # "total": total ops / total cost; "harmonic": per trace
    reference_throughput: float | None = None  # a fixed T_ref, ops/s (time only)
    reference: str = "glibc"  # the allocator T_ref is measured from when not fixed
    reference_scale: float = 1.0  # T_ref = this * the reference's throughput (0.5: half its speed)
    timed_reference_scale: float | None = None  # the same, timed, where it differs (None: the same)
    min_util: float = 0.55  # cmu: no utilization points at or below this...
    max_util: float = 0.74  # ...all of them at or above this
    min_speed_ratio: float = 0.5  # cmu: no throughput points at or below this * T_ref...
    max_speed_ratio: float = 0.9  # ...all of them at or above this * T_ref
    invalid: str = "zero"  # "zero": any invalid trace zeroes the index; "trace": it counts 0
    global_data_limit: int | None = None  # bytes of global data before points come off
    global_data_bytes_per_point: float = 8.0  # one index point per this many bytes past it...
    global_data_max_deduction: float = 20.0  # ...at most this many
    index_digits: int = 0  # decimals the lab's driver prints the index with
    index_joiner: str = "+"  # what the lab's driver prints between the index's two parts
    index_out_of: float = 100.0  # what the lab's driver prints the index out of (PKU 2025: 80)
    # the index, out of index_out_of, below which no performance points are given (PKU's
    # PERF_THRESHHOLD); 0: none
    zero_below: float = 0.0
    correctness_points: float = 0.0  # split evenly over the traces, earned by valid ones
    performance_points: float = 100.0  # earned in proportion to the index
    traces: tuple[TraceRule, ...] = ()  # empty: the lab's list, or every trace given
    # Gradescope's results.json: when students see the tests and the autograder's stdout, the
    # decimals of every score, and whether the submission goes on the leaderboard.
    gradescope_visibility: str = "visible"
    gradescope_stdout_visibility: str = "hidden"
    score_digits: int = 2
    leaderboard: bool = False

    @property
    def profile(self) -> LabProfile:
        """The lab's rules, with the handout constants this course set otherwise."""
        lab = LABS[self.lab]
        return replace(
            lab,
            alignment=self.alignment or lab.alignment,
            heap_limit=self.heap_limit or lab.heap_limit,
        )

    def reference_scale_for(self, measure: str) -> float:
        """T_ref's scale when throughput is measured in `measure` ("instructions" or "time")."""
        if measure == "time" and self.timed_reference_scale is not None:
            return self.timed_reference_scale
        return self.reference_scale


# The scoring values a lab sets (for_lab): what grading.toml shows as the lab's, and what a grade
# says it graded otherwise when a configuration sets another value.
LAB_SCORING = (
    "formula", "util_weight", "throughput_mean", "reference", "reference_scale",
    "timed_reference_scale",
    "reference_throughput", "min_util", "max_util", "min_speed_ratio", "max_speed_ratio",
    "global_data_limit", "global_data_bytes_per_point", "global_data_max_deduction",
    "zero_below",
)  # fmt: skip
# Of those, the ones that set T_ref only where throughput is timed.
TIMED_ONLY = ("reference_throughput", "timed_reference_scale")


def lab_overrides(config: GradingConfig) -> str | None:
    """A note naming each scoring value and handout constant `config` sets otherwise than its
    lab's driver does, or None: a course's grading.toml that kept another lab's values (the
    mallocsim lab's, written by `init` before it took --lab) graded 60.0 where the lab gave
    53.4, and said nothing (lab check run 14). A timed T_ref's value (TIMED_ONLY) in a grade
    that counts instructions is named as unused instead."""
    lab = for_lab(config.lab)
    # With the values every lab leaves at their default, and the traces a course names: a
    # harmonic mean (67.0 -> 63.9), invalid traces counted as 0 (0.0 -> 39.3) and a trace rule
    # that made a correctness-only trace count in U (92.4% -> 82.7%) went unsaid (red-team pass
    # 26).
    # And a course's own handout constants: what its driver checks, so what its grade means.
    pairs = [(name, config, lab) for name in (*LAB_SCORING, "mean", "invalid")]
    pairs += [(name, config.profile, lab.profile) for name in ("alignment", "heap_limit")]
    differ = [(name, c, d) for name, c, d in pairs if getattr(c, name) != getattr(d, name)]
    # A timed T_ref's setting in a grade that counts instructions sets nothing: said so, not as
    # a value graded otherwise (red-team pass 49: a course's reference_throughput, reported as
    # applied, where T_ref was segfit's count).
    unused = [name for name, _, _ in differ if name in TIMED_ONLY and config.throughput != "time"]
    changed = [
        f"{name} {_shown(getattr(course, name))} (the lab's: {_shown(getattr(driver, name))})"
        for name, course, driver in differ
        if name not in unused
    ]
    if config.traces != lab.traces:
        named = ", ".join(rule.name for rule in config.traces[:4])
        more = f" and {len(config.traces) - 4} more" if len(config.traces) > 4 else ""
        changed.append(f"its own [[traces]] ({named}{more})")
    said = []
    if changed:
        said.append(f"scored otherwise than the {config.lab} lab's driver: {', '.join(changed)}")
    if unused:
        said.append(
            f"{' and '.join(unused)} set T_ref where throughput is timed (--throughput time): "
            "unused here, where it is counted"
        )
    return "; ".join(said) or None


def _shown(value: object) -> str:
    return "none" if value is None else str(value)


def for_lab(name: str) -> GradingConfig:
    """The configuration a lab's own driver grades with."""
    lab = lab_named(name)
    s = lab.scoring
    return GradingConfig(
        lab=lab.name,
        formula=s.formula,
        dialect=lab.dialect,
        util_weight=s.util_weight,
        throughput_mean=s.throughput_mean,
        reference_throughput=s.reference_throughput,
        reference=s.reference_allocator,
        reference_scale=s.reference_scale,
        timed_reference_scale=s.timed_reference_scale,
        min_util=s.min_util,
        max_util=s.max_util,
        min_speed_ratio=s.min_speed_ratio,
        max_speed_ratio=s.max_speed_ratio,
        index_digits=s.index_digits,
        index_joiner=s.index_joiner,
        index_out_of=s.index_out_of,
        zero_below=s.zero_below,
        performance_points=s.index_out_of,
        global_data_limit=s.global_data_limit,
        global_data_bytes_per_point=s.global_data_bytes_per_point,
        global_data_max_deduction=s.global_data_max_deduction,
    )


def _number(low: float, high: float, *, open_low: bool = False) -> Callable[[object], object]:
    """A validator for a number in [low, high] (or (low, high] when open_low)."""

    def check(value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expected a number, got {value!r}")
        number = float(value)
        below = number <= low if open_low else number < low
        if math.isnan(number) or below or number > high:
            bracket = "(" if open_low else "["
            raise ValueError(f"expected a number in {bracket}{low:g}, {high:g}], got {value!r}")
        return number

    return check


def _choice(options: tuple[str, ...]) -> Callable[[object], object]:
    def check(value: object) -> object:
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {value!r}")
        return value

    return check


def _boolean(value: object) -> object:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _digits(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 6:
        raise ValueError(f"expected a whole number of decimals from 0 to 6, got {value!r}")
    return value


def _bytes(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a whole number of bytes, got {value!r}")
    return value


MAX_ALIGNMENT = 4096  # a page: no handout asks for more
MAX_HEAP_LIMIT = 1 << 40  # the most heap the engine reserves (memlib.c)


def _alignment(value: object) -> object:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 4 <= value <= MAX_ALIGNMENT
        or value & (value - 1)
    ):
        raise ValueError(f"expected a power of two from 4 to {MAX_ALIGNMENT}, got {value!r}")
    return value


def _heap_limit(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int) or not MIB <= value <= MAX_HEAP_LIMIT:
        raise ValueError(
            f"expected a whole number of bytes from {MIB} (1 MiB) to {MAX_HEAP_LIMIT} (1 TiB), "
            f"got {value!r}"
        )
    return value


def _reference(value: object) -> object:
    if not isinstance(value, str) or not value or "/" in value or value.endswith((".c", ".so")):
        raise ValueError(f"expected glibc or a built-in policy name, got {value!r}")
    return value


def _name(value: object) -> object:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a trace name (the file's stem), got {value!r}")
    return value.removesuffix(".rep")


_BIG = 1e18
# table -> key -> (GradingConfig field, validator)
_SCHEMA: dict[str, dict[str, tuple[str, Callable[[object], object]]]] = {
    "grade": {
        "lab": ("lab", _choice(tuple(LABS))),
        "formula": ("formula", _choice(FORMULAS)),  # kept here too: older files set it in [grade]
        "dialect": ("dialect", _choice(DIALECTS)),
        "throughput": ("throughput", _choice(THROUGHPUT_MEASURES)),
        "timeout": ("timeout", _number(MIN_TIMEOUT, MAX_TIMEOUT)),  # as --timeout
        "check_heap": ("check_heap", _boolean),
        "team_check": ("team_check", _boolean),
        "word_size": ("word_size", _choice(WORD_SIZES)),
        "min_seconds": ("min_seconds", _number(0, 3600)),
        "alignment": ("alignment", _alignment),
        "heap_limit": ("heap_limit", _heap_limit),
    },
    "score": {
        "formula": ("formula", _choice(FORMULAS)),
        "util_weight": ("util_weight", _number(0, 1)),
        "mean": ("mean", _choice(MEANS)),
        "throughput_mean": ("throughput_mean", _choice(THROUGHPUT_MEANS)),
        "reference": ("reference", _reference),
        "reference_scale": ("reference_scale", _number(0, 1000, open_low=True)),
        "timed_reference_scale": ("timed_reference_scale", _number(0, 1000, open_low=True)),
        "reference_throughput": ("reference_throughput", _number(0, _BIG, open_low=True)),
        "min_util": ("min_util", _number(0, 1)),
        "max_util": ("max_util", _number(0, 1)),
        "min_speed_ratio": ("min_speed_ratio", _number(0, 1000)),
        "max_speed_ratio": ("max_speed_ratio", _number(0, 1000)),
        "invalid": ("invalid", _choice(PENALTIES)),
        "global_data_limit": ("global_data_limit", _bytes),
        "global_data_bytes_per_point": (
            "global_data_bytes_per_point",
            _number(0, _BIG, open_low=True),
        ),
        "global_data_max_deduction": ("global_data_max_deduction", _number(0, 100)),
        "zero_below": ("zero_below", _number(0, 100)),
    },
    "points": {
        "correctness": ("correctness_points", _number(0, _BIG)),
        "performance": ("performance_points", _number(0, _BIG)),
    },
    "gradescope": {
        "visibility": ("gradescope_visibility", _choice(GRADESCOPE_VISIBILITIES)),
        "stdout_visibility": ("gradescope_stdout_visibility", _choice(GRADESCOPE_VISIBILITIES)),
        "score_digits": ("score_digits", _digits),
        "leaderboard": ("leaderboard", _boolean),
    },
}
_TRACE_SCHEMA: dict[str, Callable[[object], object]] = {
    "name": _name,
    "weight": _number(0, _BIG),
    "utilization": _boolean,
    "throughput": _boolean,
}


def _unknown(where: str, key: str, known: Mapping[str, object]) -> ConfigError:
    return ConfigError(f"{where}: unknown key {key!r} (expected one of {', '.join(known)})")


def _trace_rule(origin: str, index: int, table: object) -> TraceRule:
    where = f"{origin}: [[traces]] #{index + 1}"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table")
    values: dict[str, object] = {}
    for key, value in table.items():
        if key not in _TRACE_SCHEMA:
            raise _unknown(where, key, _TRACE_SCHEMA)
        try:
            values[key] = _TRACE_SCHEMA[key](value)
        except ValueError as error:
            raise ConfigError(f"{where} {key}: {error}") from None
    if "name" not in values:
        raise ConfigError(f"{where}: no name (the trace file's stem)")
    return TraceRule(**values)  # type: ignore[arg-type]  # validated above


def parse_config(
    document: Mapping[str, object], origin: str = "<config>", lab: str | None = None
) -> GradingConfig:
    """A GradingConfig from a parsed TOML document over its lab's defaults (`lab`,
    when given, wins over the document's); errors name `origin`."""
    values: dict[str, object] = {}
    for table_name, table in document.items():
        if table_name == "traces":
            if not isinstance(table, list):
                raise ConfigError(f"{origin}: traces must be an array of tables ([[traces]])")
            rules = tuple(_trace_rule(origin, i, t) for i, t in enumerate(table))
            names = [rule.name for rule in rules]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ConfigError(f"{origin}: [[traces]] names {', '.join(twice)} more than once")
            values["traces"] = rules
            continue
        schema = _SCHEMA.get(table_name)
        if schema is None:
            raise _unknown(origin, table_name, {**_SCHEMA, "traces": None})
        if not isinstance(table, dict):
            raise ConfigError(f"{origin}: {table_name} must be a table ([{table_name}])")
        for key, value in table.items():
            if key not in schema:
                raise _unknown(f"{origin}: [{table_name}]", key, schema)
            field, check = schema[key]
            try:
                values[field] = check(value)
            except ValueError as error:
                raise ConfigError(f"{origin}: [{table_name}] {key}: {error}") from None
    chosen = lab or str(values.pop("lab", DEFAULT_LAB))
    values.pop("lab", None)
    try:
        base = for_lab(chosen)
    except UsageError as error:
        raise ConfigError(f"{origin}: {error}") from None
    config = replace(base, **values)
    if config.min_util >= config.max_util:
        raise ConfigError(f"{origin}: [score] min_util must be below max_util")
    if config.min_speed_ratio >= config.max_speed_ratio:
        raise ConfigError(f"{origin}: [score] min_speed_ratio must be below max_speed_ratio")
    return config


def load_config(path: str | Path | None, lab: str | None = None) -> GradingConfig:
    """The configuration in `path` (over its lab's defaults, or over `lab`'s
    when given), or the lab's own when path is None."""
    if path is None:
        try:
            return for_lab(lab or DEFAULT_LAB)
        except UsageError as error:
            raise ConfigError(str(error)) from None
    require_regular_file(path, ConfigError)
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"{path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text") from None
    return parse_config(document, str(path), lab)


def require_listed(config: GradingConfig, given: Iterable[str]) -> None:
    """Raise ConfigError unless every trace the configuration lists is among
    the names `given` (a grade never silently skips a listed trace)."""
    present = set(given)
    missing = [rule.name for rule in config.traces if rule.name not in present]
    if missing:
        raise ConfigError(
            f"the configuration grades {', '.join(missing)}, but no such trace was given"
        )
