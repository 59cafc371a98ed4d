"""Numbers as the terminal shows them: the one place that decides how a
utilization, a throughput, a time, a ratio or a size is written, so that
replay, bench, compare and grade print the same figure the same way.

Every function takes None for "not measured" and answers "-" for it, never
raises for a number, and keeps its text short (at most 9 characters for the
figures tables hold, a size's unit included), so that a table's width is
set by its names, not its numbers.
"""

from __future__ import annotations

MISSING = "-"  # a figure not measured
_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def percent(value: float | None) -> str:
    """A fraction as a percentage with one decimal: 0.9314 -> "93.1%"."""
    return MISSING if value is None else f"{100 * value:.1f}%"


def kops(value: float | None) -> str:
    """Operations per second as thousands of them, grouped: 42409000 -> "42,409"."""
    return MISSING if value is None else f"{value / 1000:,.0f}"


def duration(value: float | None) -> str:
    """Seconds in the unit that keeps three significant figures readable:
    "235.8 us", "12.50 ms", "1.234 s"."""
    if value is None:
        return MISSING
    if value < 1e-3:
        return f"{value * 1e6:.1f} us"
    if value < 1:
        return f"{value * 1e3:.2f} ms"
    return f"{value:.3f} s"


def ratio(value: float | None) -> str:
    """A ratio with two decimals and an x: 2.754 -> "2.75x"."""
    return MISSING if value is None else f"{value:.2f}x"


def count(value: float | None) -> str:
    """A count, rounded and grouped: 10000 -> "10,000"."""
    return MISSING if value is None else f"{value:,.0f}"


def per_op(value: float | None) -> str:
    """A count per op (instructions), rounded and grouped; below 1 as "<1": a
    figure below what subtracting a pass's fixed cost can resolve (tiny
    traces), never a negative."""
    if value is None:
        return MISSING
    return "<1" if value < 1 else f"{value:,.0f}"


def size(value: int | None) -> str:
    """Bytes in binary units, three significant figures: 25769804800 ->
    "24.0 GiB", 512 -> "512 B"."""
    if value is None:
        return MISSING
    amount, unit = float(value), _BYTE_UNITS[0]
    for unit in _BYTE_UNITS:
        if abs(amount) < 1024 or unit == _BYTE_UNITS[-1]:
            break
        amount /= 1024
    if unit == "B":
        return f"{value:,} B"
    return f"{amount:.1f} {unit}" if amount < 100 else f"{amount:.0f} {unit}"
