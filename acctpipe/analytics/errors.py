"""The analytics errors (defined in :mod:`acctpipe.errors`, the one tree), re-exported.

Keyed on who must act::

    InputDataError                  the caller's input must change (HTTP 4xx)
    ├── SqlError                    DuckDB refused the query (binder, parser, runtime): 400
    │   ├── SqlRefusedError         the query is not allowed here (``reason``): 400
    │   └── SqlTimeoutError         it ran longer than allowed and was interrupted: 400
    ├── ReportParameterError        a report parameter is unknown or out of bounds: 400
    └── NotFoundError               a name that names nothing (also a LookupError)
        └── UnknownReportError      no report has this name: 404
    StoreError (LocalError)         this host: a retry may help (HTTP 5xx)
    └── EventsUnavailableError      the DuckDB file is missing or held by another process: 503
"""

from __future__ import annotations

from acctpipe.errors import (
    EventsUnavailableError,
    ReportParameterError,
    SqlError,
    SqlRefusedError,
    SqlTimeoutError,
    UnknownReportError,
)

__all__ = [
    "EventsUnavailableError",
    "ReportParameterError",
    "SqlError",
    "SqlRefusedError",
    "SqlTimeoutError",
    "UnknownReportError",
]
