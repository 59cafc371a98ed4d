"""The subcommands of `mallocsim`, one module each (see mallocsim.cli), and the
argument types they share: a bad number is argparse's one-line usage error,
never a run that fails later (a negative time limit stopped every trace)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from mallocsim.constants import MAX_TIMEOUT, MIN_TIMEOUT


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number of seconds: {text!r}")
    return value


def positive_seconds(text: str) -> float:
    """A time limit: a number of seconds, MIN_TIMEOUT at least (less than a
    child takes to start would stop every trace as hung), at most a day."""
    value = _seconds(text)
    if value < MIN_TIMEOUT:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_TIMEOUT:g} seconds, not {text}")
    if value > MAX_TIMEOUT:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_TIMEOUT:g} seconds, not {text}")
    return value


def non_negative_seconds(text: str) -> float:
    """A least duration: a finite number of seconds, 0 or more."""
    value = _seconds(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 seconds or more, not {text}")
    return value


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def positive_count(text: str) -> int:
    """A count of things at once (-j): a whole number, 1 or more."""
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {text}")
    return value


def count_between(least: int, most: int) -> Callable[[str], int]:
    """An argument type: a whole number from `least` to `most`, both included
    (a size the command must finish on in bounded time and memory)."""

    def count(text: str) -> int:
        value = _whole(text)
        if not least <= value <= most:
            raise argparse.ArgumentTypeError(f"must be from {least:,} to {most:,}, not {text}")
        return value

    return count


def factor_between(least: float, most: float) -> Callable[[str], float]:
    """An argument type: a number from `least` to `most`, both included (a
    multiplier of work, which must stay bounded)."""

    def factor(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not least <= value <= most:
            raise argparse.ArgumentTypeError(f"must be from {least:g} to {most:g}, not {text}")
        return value

    return factor
