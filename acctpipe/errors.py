"""Every error acctpipe raises on purpose, in one place: the tree of :mod:`mta.errors` and
acctpipe's own leaves.

Import errors from here (``from acctpipe.errors import AddressError``); the modules that
raise them re-export their own for older imports. The tree, keyed on *who* failed and
*whether a retry helps* (:mod:`mta.errors` draws the shared part)::

    AcctpipeError
    ├── ConfigError
    │   └── InvalidConfigError
    ├── InputDataError
    │   ├── AccountingFormatError
    │   ├── InputError  (also a ValueError)
    │   │   ├── AddressError, InvalidValueError, BadFilterError, BadCursorError,
    │   │   │   InvalidRuleError, InvalidSubscriptionError, BadFormatError
    │   ├── NotFoundError  (also a LookupError)
    │   │   ├── UnknownSubscriptionError    no webhook subscription has this id
    │   │   └── UnknownReportError          no analytics report has this name
    │   ├── SqlError                        DuckDB refused the sandbox's query
    │   │   ├── SqlRefusedError             not a single read-only SELECT
    │   │   └── SqlTimeoutError             interrupted after its time limit
    │   ├── ReportParameterError            a report parameter unknown or out of bounds
    │   └── RejectedError                   an ESP post refused (``status`` to answer)
    ├── LocalError
    │   ├── StoreError
    │   │   ├── EventsUnavailableError      the DuckDB file missing or locked
    │   │   └── SqlStoreError               the SQL database refused a statement (a
    │   │       │                           constraint, bad SQL); retrying does not help
    │   │       └── SqlStoreUnavailableError  the SQL database cannot be reached or did
    │   │                                   not answer in time; retrying helps
    │   ├── MtaUnavailableError             the MTA's management port did not answer
    │   └── DemoDirError                    the demo's data directory cannot be used
    └── RemotePeerError
        ├── TransientPeerError
        └── PermanentPeerError

``RuleError`` (a rule table that cannot be used) belongs to :mod:`classifiers`, which
imports nothing of ours: it is a ValueError, re-exported here and answered like
:class:`InvalidRuleError`.
"""

from __future__ import annotations

from classifiers import RuleError
from mta.errors import (
    AccountingFormatError,
    AcctpipeError,
    AddressError,
    BadCursorError,
    BadFilterError,
    BadFormatError,
    ConfigError,
    InputDataError,
    InputError,
    InvalidConfigError,
    InvalidRuleError,
    InvalidSubscriptionError,
    InvalidValueError,
    LocalError,
    NotFoundError,
    PermanentPeerError,
    RemotePeerError,
    StoreError,
    TransientPeerError,
)

__all__ = [
    "AccountingFormatError",
    "AcctpipeError",
    "AddressError",
    "BadCursorError",
    "BadFilterError",
    "BadFormatError",
    "ConfigError",
    "DemoDirError",
    "EventsUnavailableError",
    "InputDataError",
    "InputError",
    "InvalidConfigError",
    "InvalidRuleError",
    "InvalidSubscriptionError",
    "InvalidValueError",
    "LocalError",
    "MtaUnavailableError",
    "NotFoundError",
    "PermanentPeerError",
    "RejectedError",
    "RemotePeerError",
    "ReportParameterError",
    "RuleError",
    "SqlError",
    "SqlRefusedError",
    "SqlStoreError",
    "SqlStoreUnavailableError",
    "SqlTimeoutError",
    "StoreError",
    "TransientPeerError",
    "UnknownReportError",
    "UnknownSubscriptionError",
    "one_line",
]


class MtaUnavailableError(LocalError):
    """The MTA's status could not be had (not running, wrong port); a retry may help."""


class DemoDirError(AcctpipeError):
    """The data directory cannot be used: it holds something else, or a demo still runs."""


class EventsUnavailableError(StoreError):
    """The events database cannot be opened now (missing, or locked by another process)."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class SqlStoreError(StoreError):
    """The SQL store (SQLite or PostgreSQL) failed a statement for a reason a retry does
    not mend: a constraint the store does not handle itself, SQL the database refuses.

    Raised in place of SQLAlchemy's ``DBAPIError`` by the engines
    :func:`acctpipe.sqlstore.make_engine` makes; the driver's exception is the
    ``__cause__`` and SQLAlchemy's wrapper is ``original``. The message names the URL
    (password hidden) and the driver's error class and code, never the driver's text
    (which can quote hosts, users and row values).
    """

    retryable = False

    def __init__(
        self, message: str, *, path: str | None = None, original: Exception | None = None
    ) -> None:
        super().__init__(message, path=path)
        self.original = original


class SqlStoreUnavailableError(SqlStoreError):
    """The SQL store cannot be reached now: a refused or dropped connection, a server
    shutting down, a statement timeout, a call cut off by the client-side deadline
    (:mod:`acctpipe.sqlstore.deadline`). Retrying later can succeed."""

    retryable = True


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


class UnknownReportError(NotFoundError):
    """No report has this name; ``known`` lists the ones that exist."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.known = known
        super().__init__(f"no report named {name!r}: the reports are {', '.join(known)}", name=name)


class UnknownSubscriptionError(NotFoundError):
    """No (undeleted) subscription has this id (a LookupError, via :class:`NotFoundError`)."""

    def __init__(self, subscription_id: int) -> None:
        super().__init__(
            f"no webhook subscription with id {subscription_id}", name=str(subscription_id)
        )
        self.subscription_id = subscription_id


class RejectedError(InputDataError):
    """A post we refuse: ``status`` 403 (not authentic, stale), 413 (too big), 422 (malformed).

    Refusals are the sender's to fix (or an attack); retrying the same post does not help.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def one_line(exc: BaseException) -> str:
    """The one line the CLI prints for ``exc``: a config error as ``path:line: <section>:
    message``, a lookup without KeyError's quotes, else the first line of its text (its
    class name when it has none)."""
    if isinstance(exc, InvalidConfigError):
        return str(exc)  # one line per error found, each located
    if isinstance(exc, ConfigError):
        return exc.location_text()
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    first = text.splitlines()[0]
    if isinstance(exc, LookupError) and first.startswith("'"):
        first = first.strip("'")  # KeyError quotes its message
    return first
