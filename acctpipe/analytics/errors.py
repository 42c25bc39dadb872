"""The analytics errors, placed in the one error tree of :mod:`mta.errors`.

Keyed on who must act::

    InputDataError                  the caller's input must change (HTTP 4xx)
    ├── SqlError                    DuckDB refused the query (binder, parser, runtime): 400
    │   ├── SqlRefusedError         the query is not allowed here (``reason``): 400
    │   └── SqlTimeoutError         it ran longer than allowed and was interrupted: 400
    ├── ReportParameterError        a report parameter is unknown or out of bounds: 400
    └── UnknownReportError          no report has this name: 404
    StoreError (LocalError)         this host: a retry may help (HTTP 5xx)
    └── EventsUnavailableError      the DuckDB file is missing or held by another process: 503
"""

from __future__ import annotations

from mta.errors import InputDataError, StoreError

__all__ = [
    "EventsUnavailableError",
    "ReportParameterError",
    "SqlError",
    "SqlRefusedError",
    "SqlTimeoutError",
    "UnknownReportError",
]


class EventsUnavailableError(StoreError):
    """The events database cannot be opened now (missing, or locked by another process)."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class SqlError(InputDataError):
    """DuckDB rejected the query; ``reason`` is the first line of its message."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class SqlRefusedError(SqlError):
    """The query is not a single read-only SELECT over the events database."""


class SqlTimeoutError(SqlError):
    """The query ran past its time limit and was interrupted."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(
            f"query interrupted after {timeout:g} s: narrow it (a WHERE on time_logged,"
            " fewer joins) or aggregate in a view"
        )


class ReportParameterError(InputDataError):
    """A report parameter is unknown, of the wrong type or out of bounds."""

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        super().__init__(f"{parameter}: {message}")


class UnknownReportError(InputDataError):
    """No report has this name; ``known`` lists the ones that exist."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"no report named {name!r}: the reports are {', '.join(known)}")
