"""The delivery counts and rates, defined once for every place that shows them.

The dashboard's cards and table, the named reports, the ``daily_*_stats`` views,
``/v1/dashboard`` and ``/metrics`` all take their figures from here, so a rate
means the same thing wherever it is read (docs/analytics.md):

* ``attempted`` = ``d`` + ``b`` rows: messages whose delivery ended;
* ``delivered`` = ``d`` rows;
* ``bounced`` = ``b`` + ``rb`` rows (synchronous and remote bounces), split by our
  ``bounce_class`` into ``hard_bounces``, ``soft_bounces`` and ``spam_blocks``;
* ``deferrals`` = ``t`` + ``tq`` rows; ``complaints`` = ``f`` rows;
* ``delivery_rate`` = delivered / attempted;
* ``bounce_rate`` = bounced / attempted, and by class ``hard_bounce_rate``,
  ``soft_bounce_rate``, ``spam_block_rate`` (that class's bounces / attempted);
* ``complaint_rate`` = complaints / delivered — the way mailbox providers count it.

A rate is NULL (None) when its divisor is 0. An ``rb`` bounces a message that had
a ``d`` first, so ``bounce_rate`` can exceed what ``delivery_rate`` leaves over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from classifiers import BounceClass
from mta.acct import RecordType

__all__ = [
    "COUNTED_TYPES",
    "COUNTED_TYPES_SQL",
    "COUNTS",
    "DAY_SQL",
    "RATES",
    "STATS_SQL",
    "STAT_COLUMNS",
    "Count",
    "Rate",
    "daily_stats_sql",
    "describe",
    "rate",
    "rates_of",
]


@dataclass(frozen=True, slots=True)
class Count:
    """A count of event rows: record ``types``, optionally of one ``bounce_class``."""

    name: str
    types: tuple[RecordType, ...]
    description: str
    bounce_class: BounceClass | None = None

    @property
    def sql(self) -> str:
        """The aggregate over ``events`` (constant text, nothing spliced from input)."""
        kinds = ", ".join(f"'{t}'" for t in self.types)
        where = f"type = {kinds}" if len(self.types) == 1 else f"type IN ({kinds})"
        if self.bounce_class is not None:
            where += f" AND bounce_class = '{self.bounce_class}'"
        return f"count(*) FILTER (WHERE {where})"


@dataclass(frozen=True, slots=True)
class Rate:
    """``numerator`` / ``denominator`` (two :class:`Count` names); NULL when it is 0."""

    name: str
    numerator: str
    denominator: str
    description: str

    @property
    def sql(self) -> str:
        """The quotient of the two counts (which must be selected before it, by name)."""
        return f"{self.numerator} / nullif({self.denominator}, 0)"


COUNTS: Final = (
    Count("attempted", ("d", "b"), "d + b rows: messages whose delivery ended"),
    Count("delivered", ("d",), "d rows"),
    Count("bounced", ("b", "rb"), "b + rb rows: synchronous and remote bounces"),
    Count("hard_bounces", ("b", "rb"), "bounced rows of class hard", "hard"),
    Count("soft_bounces", ("b", "rb"), "bounced rows of class soft", "soft"),
    Count("spam_blocks", ("b", "rb"), "bounced rows of class spam", "spam"),
    Count("deferrals", ("t", "tq"), "t + tq rows"),
    Count("complaints", ("f",), "f rows (feedback-loop reports)"),
)
"""Every count, in column order."""

RATES: Final = (
    Rate("delivery_rate", "delivered", "attempted", "delivered / attempted"),
    Rate("bounce_rate", "bounced", "attempted", "(b + rb) / attempted (d + b)"),
    Rate("hard_bounce_rate", "hard_bounces", "attempted", "hard bounces / attempted"),
    Rate("soft_bounce_rate", "soft_bounces", "attempted", "soft bounces / attempted"),
    Rate("spam_block_rate", "spam_blocks", "attempted", "spam blocks / attempted"),
    Rate("complaint_rate", "complaints", "delivered", "complaints (f) / delivered (d)"),
)
"""Every rate, in column order (after the counts)."""

STAT_COLUMNS: Final = tuple(c.name for c in (*COUNTS, *RATES))
"""The names :data:`STATS_SQL` selects, in order."""

STATS_SQL: Final = "".join(f"\n    {m.sql} AS {m.name}," for m in (*COUNTS, *RATES))[:-1]
"""The select-list of every count then every rate, to aggregate ``events`` rows."""

COUNTED_TYPES: Final[tuple[RecordType, ...]] = tuple(
    dict.fromkeys(t for c in COUNTS for t in c.types)
)
"""Every record type some count counts (``d b rb t tq f``): the rows worth aggregating."""

COUNTED_TYPES_SQL: Final = "type IN ({})".format(", ".join(f"'{t}'" for t in COUNTED_TYPES))
"""The condition that keeps only :data:`COUNTED_TYPES` rows."""

DAY_SQL: Final = "CAST(timezone('UTC', time_logged) AS DATE)"
"""The UTC day of an event, the key of every per-day figure."""


def daily_stats_sql(column: str = "", *, where: str = "") -> str:
    """Every count and rate per UTC ``day`` (and per ``column`` if given) over ``events``.

    ``where`` (constant SQL text, bound parameters only) filters the rows first. The
    ``daily_*_stats`` views and the ``rates-by-day`` report are this query.
    """
    keys = f"{DAY_SQL} AS day, {column}," if column else f"{DAY_SQL} AS day,"
    lines = [f"SELECT {keys}{STATS_SQL}", "FROM events"]
    if where:
        lines.append(f"WHERE {where}")
    lines.append("GROUP BY ALL")
    return "\n".join(lines)


_BY_NAME: Final[Mapping[str, Count | Rate]] = {m.name: m for m in (*COUNTS, *RATES)}


def describe(name: str) -> str:
    """What the count or rate called ``name`` counts (for API field descriptions)."""
    return _BY_NAME[name].description


def rate(numerator: int, denominator: int) -> float | None:
    """``numerator / denominator``, or None when the divisor is 0 (as ``nullif`` in SQL)."""
    return numerator / denominator if denominator else None


def rates_of(counts: Mapping[str, int]) -> dict[str, float | None]:
    """Every rate of :data:`RATES` from ``counts`` (by :data:`COUNTS` name)."""
    return {r.name: rate(counts[r.numerator], counts[r.denominator]) for r in RATES}
