"""Sane ranges for numeric directive values: the check the tree pass runs, and its wording.

A value may parse and still be absurd: ``retry-after 0s`` retries in a busy loop,
``max-smtp-out 999999999999`` or ``max-msg-rate 1e300/s`` remove every limit by
accident, ``bounce-after 99999999d`` keeps mail forever. Each numeric directive in
:mod:`mta.config.schema` declares ``bounds=(low, high)`` in its own unit — seconds
for durations, bytes for sizes, events per second for rates — and a value outside
is a located error ``path:line: <section>: NAME value V out of range (LOW..HIGH)``.
The generated config reference prints the same range.
"""

from __future__ import annotations

import math

from mta.config.values import Rate, format_duration

__all__ = ["DAY", "GIB", "YEAR", "Bounds", "describe", "out_of_range"]

Bounds = tuple[float, float]
DAY = 86400.0
YEAR = 365 * DAY
GIB = 1 << 30
_SIZE_UNITS = (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10))


def _duration(seconds: float) -> str:
    return format_duration(seconds)


def _size(n: float) -> str:
    for unit, mult in _SIZE_UNITS:
        if n >= mult and n % mult == 0:
            return f"{int(n // mult)}{unit}"
    return f"{n:g}"


def _number(n: float) -> str:
    return f"{int(n)}" if n == int(n) and abs(n) < 1e15 else f"{n:g}"


def _show(kind: str, value: float) -> str:
    if kind in ("duration", "durations"):
        return _duration(value) if math.isfinite(value) and value < 1e15 else f"{value:g}s"
    if kind == "size":
        return _size(value)
    if kind == "rate":
        return f"{_number(value)}/s"
    return _number(value)


def describe(kind: str, bounds: Bounds) -> str:
    """``1..10000``, ``100ms..30d``, ``0/s..1000000/s``: a range as the reference shows it."""
    return f"{_show(kind, bounds[0])}..{_show(kind, bounds[1])}"


def _magnitudes(value: object) -> list[float]:
    """The numbers a parsed value is judged by (none for ``None``/unlimited sentinels)."""
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, Rate):
        return [] if value.is_unlimited else [value.per_second]
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, tuple):
        return [m for item in value for m in _magnitudes(item)]
    return []


def out_of_range(name: str, kind: str, bounds: Bounds | None, value: object) -> str | None:
    """The error message when ``value`` is outside ``bounds``, else ``None``.

    ``0`` where it means "unlimited" (``max-msg-per-connection 0``) is inside every
    such directive's range, so it needs no special case here.
    """
    if bounds is None:
        return None
    low, high = bounds
    for magnitude in _magnitudes(value):
        if not (math.isfinite(magnitude) and low <= magnitude <= high):
            shown = _show(kind, magnitude) if math.isfinite(magnitude) else "infinite"
            if len(shown) > 40:
                shown = shown[:40] + "…"
            return f"{name} value {shown} out of range ({describe(kind, bounds)})"
    return None
