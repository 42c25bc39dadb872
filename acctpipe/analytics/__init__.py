"""Analytics for the HTTP API: read-only SQL, named reports, Prometheus metrics.

The API layer (``acctpipe.api``) calls these; nothing here speaks HTTP.

* :mod:`~acctpipe.analytics.source` — where events are read from
  (:class:`SharedStore` in the tailer's process, :class:`ReadOnlyFile` otherwise);
* :mod:`~acctpipe.analytics.sql` — :func:`run_readonly`: one validated SELECT,
  bounded in rows, bytes and time, run in the SQL sandbox
  (:mod:`~acctpipe.analytics.sandbox`: worker processes over a snapshot,
  :mod:`~acctpipe.analytics.snapshot`);
* :mod:`~acctpipe.analytics.reports` — :data:`REPORTS`, fixed parameterised queries;
  :mod:`~acctpipe.analytics.throttles` — :func:`throttle_history` from the SQL store;
* :mod:`~acctpipe.analytics.metrics` — :func:`build_registry` / :func:`render`;
* :mod:`~acctpipe.analytics.result` — :class:`QueryResult`, :func:`jsonable`, :func:`to_csv`;
* :mod:`~acctpipe.analytics.errors` — the errors, and which are the caller's fault.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Imported on first use (PEP 562): the SQL sandbox's worker process imports one
# submodule of this package and must not pay for the rest (SQLAlchemy, polars...).
_WHERE: dict[str, str] = {
    "EventSource": "acctpipe.analytics.source",
    "EventsUnavailableError": "acctpipe.analytics.errors",
    "Parameter": "acctpipe.analytics.reports",
    "QueryResult": "acctpipe.analytics.result",
    "REPORTS": "acctpipe.analytics.reports",
    "ReadOnlyFile": "acctpipe.analytics.source",
    "Report": "acctpipe.analytics.reports",
    "ReportParameterError": "acctpipe.analytics.errors",
    "SharedStore": "acctpipe.analytics.source",
    "SqlError": "acctpipe.analytics.errors",
    "SqlRefusedError": "acctpipe.analytics.errors",
    "SqlTimeoutError": "acctpipe.analytics.errors",
    "UnknownReportError": "acctpipe.analytics.errors",
    "build_registry": "acctpipe.analytics.metrics",
    "check_readonly": "acctpipe.analytics.sql",
    "execute_bounded": "acctpipe.analytics.sql",
    "jsonable": "acctpipe.analytics.result",
    "render": "acctpipe.analytics.metrics",
    "run_readonly": "acctpipe.analytics.sql",
    "run_report": "acctpipe.analytics.reports",
    "throttle_history": "acctpipe.analytics.throttles",
    "to_csv": "acctpipe.analytics.result",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


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
