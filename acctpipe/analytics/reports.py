"""Named reports over the events database: fixed, parameterised SQL (docs/analytics.md).

Each :class:`Report` declares its parameters (typed, bounded) and its output
columns; user values reach DuckDB only as bound parameters, never spliced into
the SQL text. The counts and rates are those of :mod:`acctpipe.eventstore.rates`, the
one definition the ``daily_*_stats`` views, the dashboard and ``/metrics`` share
(bounce_rate = (``b`` + ``rb``) / attempted; complaint_rate = complaints / delivered).

Time windows are in UTC and end at ``now`` (a parameter of :meth:`Report.run`,
the current time by default).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from types import MappingProxyType
from typing import Any, Final, Literal

import duckdb

from acctpipe.analytics.errors import ReportParameterError, UnknownReportError
from acctpipe.analytics.result import QueryResult, to_csv
from acctpipe.analytics.source import EventSource
from acctpipe.analytics.sql import execute_bounded
from acctpipe.eventstore.rates import (
    COUNTED_TYPES_SQL,
    COUNTS,
    RATES,
    STAT_COLUMNS,
    STATS_SQL,
    daily_stats_sql,
)

__all__ = ["REPORTS", "Parameter", "Report", "run_report", "to_csv"]

ParamValue = int | str | None
Built = tuple[str, dict[str, object]]


@dataclass(frozen=True, slots=True)
class Parameter:
    """One report parameter: an ``int`` within bounds, or an optional ``str``."""

    name: str
    kind: Literal["int", "str"]
    description: str
    default: ParamValue = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    lower: bool = False  # compare in lower case (rcpt_domain is stored lowercased)
    max_length: int = 255

    def coerce(self, value: object) -> ParamValue:
        """``value`` (a Python value or query-string text) checked and converted."""
        if value is None or value == "":
            return self.default
        if self.kind == "int":
            return self._int(value)
        if not isinstance(value, str):
            raise ReportParameterError(self.name, "must be text")
        text = value.strip()
        if len(text) > self.max_length:
            raise ReportParameterError(self.name, f"longer than {self.max_length} characters")
        if not text:
            return self.default
        if self.lower:
            text = text.lower()
        if self.choices and text not in self.choices:
            raise ReportParameterError(self.name, f"must be one of {', '.join(self.choices)}")
        return text

    def _int(self, value: object) -> int:
        if isinstance(value, bool):
            raise ReportParameterError(self.name, "must be an integer")
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            number = int(value.strip())
        else:
            raise ReportParameterError(self.name, "must be an integer")
        if (self.minimum is not None and number < self.minimum) or (
            self.maximum is not None and number > self.maximum
        ):
            raise ReportParameterError(
                self.name, f"must be between {self.minimum} and {self.maximum}, got {number}"
            )
        return number


@dataclass(frozen=True, slots=True)
class Report:
    """A named, parameterised query; :meth:`run` binds, checks and executes it."""

    name: str
    description: str
    parameters: tuple[Parameter, ...]
    columns: tuple[str, ...]
    build: Callable[[Mapping[str, Any], datetime], Built]
    max_rows: Callable[[Mapping[str, Any]], int]

    def bind(self, params: Mapping[str, object] | None = None) -> dict[str, Any]:
        """Every parameter's value: given (checked, converted) or its default.

        Raises :class:`ReportParameterError` for an unknown name or a bad value.
        """
        given = dict(params or {})
        known = {p.name for p in self.parameters}
        for name in given:
            if name not in known:
                allowed = ", ".join(sorted(known)) or "none"
                raise ReportParameterError(name, f"unknown parameter (allowed: {allowed})")
        return {p.name: p.coerce(given.get(p.name)) for p in self.parameters}

    def run(
        self,
        conn: duckdb.DuckDBPyConnection,
        params: Mapping[str, object] | None = None,
        *,
        now: datetime | None = None,
        timeout: float = 30.0,
    ) -> QueryResult:
        """Run the report on ``conn``; ``truncated`` says the ``limit`` cut rows off."""
        bound = self.bind(params)
        at = now or datetime.now(UTC)
        if at.tzinfo is None:
            # A caller bug, not input (a plain ValueError): the clock is aware.
            raise ValueError("now must be timezone-aware")
        sql, args = self.build(bound, at.astimezone(UTC))
        return execute_bounded(conn, sql, args, max_rows=self.max_rows(bound), timeout=timeout)


def run_report(
    source: EventSource,
    name: str,
    params: Mapping[str, object] | None = None,
    *,
    now: datetime | None = None,
    timeout: float = 30.0,
) -> QueryResult:
    """Run the report called ``name`` on a connection from ``source``.

    Raises :class:`UnknownReportError`, :class:`ReportParameterError`,
    :class:`~acctpipe.analytics.errors.SqlTimeoutError` or
    :class:`~acctpipe.analytics.errors.EventsUnavailableError`.
    """
    report = REPORTS.get(name)
    if report is None:
        raise UnknownReportError(name, sorted(REPORTS))
    report.bind(params)  # refuse bad parameters before opening the database
    with source.connect() as conn:
        return report.run(conn, params, now=now, timeout=timeout)


# -- the SQL -------------------------------------------------------------------------------


_COUNT: Final = {c.name: c.sql for c in COUNTS}

# An empty day has zero counts and NULL rates.
_DAY_COUNTS: Final = ", ".join(f"coalesce({c.name}, 0) AS {c.name}" for c in COUNTS)
_DAY_RATES: Final = ", ".join(r.name for r in RATES)

_FILTERS: Final = """
    time_logged >= $since AND time_logged <= $until
    AND ($domain::VARCHAR IS NULL OR rcpt_domain = $domain)
    AND ($vmta::VARCHAR IS NULL OR vmta = $vmta)"""

_BY_PAIR: Final = f"""SELECT rcpt_domain, vmta,{STATS_SQL}
FROM events
WHERE {COUNTED_TYPES_SQL} AND{_FILTERS}
GROUP BY rcpt_domain, vmta
ORDER BY attempted DESC, rcpt_domain, vmta
LIMIT $limit + 1"""  # noqa: S608 - constant text; values are bound parameters

_BY_DAY: Final = f"""WITH days AS (
    SELECT CAST(d AS DATE) AS day
    FROM range($first_day::TIMESTAMP, $last_day::TIMESTAMP + INTERVAL 1 DAY, INTERVAL 1 DAY) t(d)
), stats AS (
{daily_stats_sql(where=COUNTED_TYPES_SQL + " AND" + _FILTERS)}
)
SELECT day, {_DAY_COUNTS}, {_DAY_RATES}
FROM days LEFT JOIN stats USING (day)
ORDER BY day"""  # noqa: S608 - constant text; values are bound parameters

_DIAGNOSTICS: Final = f"""SELECT dsn_diag, dsn_status, bounce_class, bounce_category,
    mode(fault) AS fault,
    mode(bounce_cat) AS bounce_cat,
    count(*) AS events,
    {_COUNT["bounced"]} AS bounces,
    {_COUNT["deferrals"]} AS deferrals,
    count(DISTINCT rcpt_domain) AS domains,
    min(time_logged) AS first_seen,
    max(time_logged) AS last_seen
FROM events
WHERE type IN ('b', 'rb', 't', 'tq') AND{_FILTERS}
    AND ($bounce_class::VARCHAR IS NULL OR bounce_class = $bounce_class)
GROUP BY dsn_diag, dsn_status, bounce_class, bounce_category
ORDER BY events DESC, dsn_diag
LIMIT $limit + 1"""  # noqa: S608 - constant text; values are bound parameters

_INGEST: Final = """SELECT file_id, path, kind, status, "offset", size_seen,
    greatest(size_seen - "offset", 0) AS bytes_behind, rows, quarantined,
    newest_time_logged,
    date_diff('millisecond', newest_time_logged, $now::TIMESTAMPTZ) / 1000.0 AS seconds_behind,
    updated_at
FROM files
ORDER BY status = 'active' DESC, updated_at DESC, file_id DESC
LIMIT $limit + 1"""


def _window(bound: Mapping[str, Any], since: datetime, until: datetime) -> dict[str, object]:
    return {"since": since, "until": until, "domain": bound["domain"], "vmta": bound["vmta"]}


def _midnight(now: datetime) -> datetime:
    return datetime.combine(now.date(), time(0), tzinfo=UTC)


def _by_pair(bound: Mapping[str, Any], now: datetime) -> Built:
    since = now - timedelta(days=bound["days"])
    return _BY_PAIR, {**_window(bound, since, now), "limit": bound["limit"]}


def _today(bound: Mapping[str, Any], now: datetime) -> Built:
    return _BY_PAIR, {**_window(bound, _midnight(now), now), "limit": bound["limit"]}


def _by_day(bound: Mapping[str, Any], now: datetime) -> Built:
    first = _midnight(now) - timedelta(days=bound["days"] - 1)
    days = {"first_day": first.date(), "last_day": now.date()}
    return _BY_DAY, {**_window(bound, first, now), **days}


def _diagnostics(bound: Mapping[str, Any], now: datetime) -> Built:
    since = now - timedelta(days=bound["days"])
    extra = {"limit": bound["limit"], "bounce_class": bound["bounce_class"]}
    return _DIAGNOSTICS, {**_window(bound, since, now), **extra}


def _ingest(bound: Mapping[str, Any], now: datetime) -> Built:
    return _INGEST, {"now": now, "limit": bound["limit"]}


def _days(default: int) -> Parameter:
    return Parameter("days", "int", "window length in days, ending now", default, 1, 366)


def _limit(default: int, maximum: int = 10_000) -> Parameter:
    return Parameter("limit", "int", "most rows returned", default, 1, maximum)


_DOMAIN: Final = Parameter("domain", "str", "only this recipient domain", lower=True)
_VMTA: Final = Parameter("vmta", "str", "only this virtual MTA")


def _limit_rows(bound: Mapping[str, Any]) -> int:
    return int(bound["limit"])


_REPORTS: Final = (
    Report(
        "delivery-by-domain",
        "Outcomes per recipient domain and vmta over the last `days` days.",
        (_days(7), _DOMAIN, _VMTA, _limit(100)),
        ("rcpt_domain", "vmta", *STAT_COLUMNS),
        _by_pair,
        _limit_rows,
    ),
    Report(
        "rates-by-day",
        "Per UTC day (every day of the window, empty ones included): counts and rates.",
        (_days(30), _DOMAIN, _VMTA),
        ("day", *STAT_COLUMNS),
        _by_day,
        lambda bound: 367,
    ),
    Report(
        "top-diagnostics",
        "The most frequent remote diagnostics of bounces and deferrals, with their class.",
        (
            _days(7),
            _DOMAIN,
            _VMTA,
            Parameter(
                "bounce_class",
                "str",
                "only this class",
                choices=("hard", "soft", "spam", "unknown"),
                lower=True,
            ),
            _limit(20, 1000),
        ),
        (
            "dsn_diag",
            "dsn_status",
            "bounce_class",
            "bounce_category",
            "fault",
            "bounce_cat",
            "events",
            "bounces",
            "deferrals",
            "domains",
            "first_seen",
            "last_seen",
        ),
        _diagnostics,
        _limit_rows,
    ),
    Report(
        "today",
        "Today's (UTC) outcomes per recipient domain and vmta — the dashboard's table.",
        (_DOMAIN, _VMTA, _limit(100)),
        ("rcpt_domain", "vmta", *STAT_COLUMNS),
        _today,
        _limit_rows,
    ),
    Report(
        "ingest-status",
        "Each followed file: committed offset, bytes not yet read, rows, quarantined rows"
        " and how far its newest event is behind now.",
        (_limit(100),),
        (
            "file_id",
            "path",
            "kind",
            "status",
            "offset",
            "size_seen",
            "bytes_behind",
            "rows",
            "quarantined",
            "newest_time_logged",
            "seconds_behind",
            "updated_at",
        ),
        _ingest,
        _limit_rows,
    ),
)

REPORTS: Final[Mapping[str, Report]] = MappingProxyType({r.name: r for r in _REPORTS})
"""Every named report, by name."""
