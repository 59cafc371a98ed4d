"""The grading configuration: a TOML file, validated, with a default for every key.

A file holds any of these tables (every key optional; see starter/grading.toml
for a commented example):

  [grade]   formula = "csapp" | "cmu", dialect, timeout, check_heap, min_seconds
  [score]   util_weight, mean, reference_throughput, min_util, max_util,
            min_speed_ratio, max_speed_ratio, invalid
  [points]  correctness, performance
  [[traces]] name, weight, utilization, throughput   (one table per trace)

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

from mallocsim.allocators import DIALECTS
from mallocsim.errors import UsageError
from mallocsim.isolate import MAX_TIMEOUT

FORMULAS = ("csapp", "cmu")
MEANS = ("arithmetic", "harmonic")
PENALTIES = ("zero", "trace")


class ConfigError(UsageError):
    """A grading file that cannot be read or holds a bad value: one line."""


@dataclass(frozen=True)
class TraceRule:
    """How one trace counts in the score."""

    name: str  # the trace file's stem ("amptjp-bal")
    weight: float = 1.0  # its weight in the utilization mean
    utilization: bool = True  # counted in the utilization U
    throughput: bool = True  # counted in the throughput T


@dataclass(frozen=True)
class GradingConfig:
    """Everything a grade depends on. The defaults are the CS:APP lab's."""

    formula: str = "csapp"  # "csapp": 60*U + 40*min(1, T/T_ref); "cmu": linear thresholds
    dialect: str | None = None  # of a student's mm.c or .so; None = say it on the command line
    timeout: float = 60.0  # seconds a trace may run before the allocator is stopped
    check_heap: bool = False  # call mm_checkheap after every op (slow)
    min_seconds: float = 0.05  # time each trace at least this long
    util_weight: float = 0.6  # the share of utilization in the index (1 - it: throughput)
    mean: str = "arithmetic"  # how per-trace utilizations are averaged
    reference_throughput: float | None = None  # T_ref, ops/s; None = measure glibc now
    min_util: float = 0.55  # cmu: no utilization points at or below this...
    max_util: float = 0.74  # ...all of them at or above this
    min_speed_ratio: float = 0.5  # cmu: no throughput points at or below this * T_ref...
    max_speed_ratio: float = 0.9  # ...all of them at or above this * T_ref
    invalid: str = "zero"  # "zero": any invalid trace zeroes the index; "trace": it counts 0
    correctness_points: float = 0.0  # split evenly over the traces, earned by valid ones
    performance_points: float = 100.0  # earned in proportion to the index
    traces: tuple[TraceRule, ...] = ()  # empty: every trace given, by its header weight


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


def _name(value: object) -> object:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a trace name (the file's stem), got {value!r}")
    return value.removesuffix(".rep")


_BIG = 1e18
# table -> key -> (GradingConfig field, validator)
_SCHEMA: dict[str, dict[str, tuple[str, Callable[[object], object]]]] = {
    "grade": {
        "formula": ("formula", _choice(FORMULAS)),
        "dialect": ("dialect", _choice(DIALECTS)),
        "timeout": ("timeout", _number(0, MAX_TIMEOUT, open_low=True)),
        "check_heap": ("check_heap", _boolean),
        "min_seconds": ("min_seconds", _number(0, 3600)),
    },
    "score": {
        "util_weight": ("util_weight", _number(0, 1)),
        "mean": ("mean", _choice(MEANS)),
        "reference_throughput": ("reference_throughput", _number(0, _BIG, open_low=True)),
        "min_util": ("min_util", _number(0, 1)),
        "max_util": ("max_util", _number(0, 1)),
        "min_speed_ratio": ("min_speed_ratio", _number(0, 1000)),
        "max_speed_ratio": ("max_speed_ratio", _number(0, 1000)),
        "invalid": ("invalid", _choice(PENALTIES)),
    },
    "points": {
        "correctness": ("correctness_points", _number(0, _BIG)),
        "performance": ("performance_points", _number(0, _BIG)),
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


def parse_config(document: Mapping[str, object], origin: str = "<config>") -> GradingConfig:
    """A GradingConfig from a parsed TOML document; errors name `origin`."""
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
    config = replace(GradingConfig(), **values)
    if config.min_util >= config.max_util:
        raise ConfigError(f"{origin}: [score] min_util must be below max_util")
    if config.min_speed_ratio >= config.max_speed_ratio:
        raise ConfigError(f"{origin}: [score] min_speed_ratio must be below max_speed_ratio")
    return config


def load_config(path: str | Path | None) -> GradingConfig:
    """The configuration in `path`, or the defaults when path is None."""
    if path is None:
        return GradingConfig()
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"{path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text") from None
    return parse_config(document, str(path))


def require_listed(config: GradingConfig, given: Iterable[str]) -> None:
    """Raise ConfigError unless every trace the configuration lists is among
    the names `given` (a grade never silently skips a listed trace)."""
    present = set(given)
    missing = [rule.name for rule in config.traces if rule.name not in present]
    if missing:
        raise ConfigError(
            f"the configuration grades {', '.join(missing)}, but no such trace was given"
        )
