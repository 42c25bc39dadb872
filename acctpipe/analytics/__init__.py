"""Analytics for the HTTP API: read-only SQL, named reports, Prometheus metrics.

The API layer (``acctpipe.api``) calls these; nothing here speaks HTTP.

* :mod:`~acctpipe.analytics.source` — where events are read from
  (:class:`SharedStore` in the tailer's process, :class:`ReadOnlyFile` otherwise);
* :mod:`~acctpipe.analytics.sql` — :func:`run_readonly`: one validated SELECT,
  bounded in rows and time;
* :mod:`~acctpipe.analytics.reports` — :data:`REPORTS`, fixed parameterised queries;
  :mod:`~acctpipe.analytics.throttles` — :func:`throttle_history` from the SQL store;
* :mod:`~acctpipe.analytics.metrics` — :func:`build_registry` / :func:`render`;
* :mod:`~acctpipe.analytics.result` — :class:`QueryResult`, :func:`jsonable`, :func:`to_csv`;
* :mod:`~acctpipe.analytics.errors` — the errors, and which are the caller's fault.
"""

from acctpipe.analytics.errors import (
    EventsUnavailableError,
    ReportParameterError,
    SqlError,
    SqlRefusedError,
    SqlTimeoutError,
    UnknownReportError,
)
from acctpipe.analytics.metrics import build_registry, render
from acctpipe.analytics.reports import REPORTS, Parameter, Report, run_report
from acctpipe.analytics.result import QueryResult, jsonable, to_csv
from acctpipe.analytics.source import EventSource, ReadOnlyFile, SharedStore
from acctpipe.analytics.sql import check_readonly, execute_bounded, run_readonly
from acctpipe.analytics.throttles import throttle_history

__all__ = [
    "REPORTS",
    "EventSource",
    "EventsUnavailableError",
    "Parameter",
    "QueryResult",
    "ReadOnlyFile",
    "Report",
    "ReportParameterError",
    "SharedStore",
    "SqlError",
    "SqlRefusedError",
    "SqlTimeoutError",
    "UnknownReportError",
    "build_registry",
    "check_readonly",
    "execute_bounded",
    "jsonable",
    "render",
    "run_readonly",
    "run_report",
    "throttle_history",
    "to_csv",
]
