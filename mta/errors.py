"""The one error tree of acctpipe.

Errors are keyed on *who* failed and *whether a retry helps*::

    AcctpipeError                   base; ``retryable`` says whether trying again can help
    ├── ConfigError                 the operator's configuration (path, line, section); no retry
    │   └── InvalidConfigError      every ConfigError found in one load, reported together
    ├── InputDataError              data handed to us (accounting rows, DSNs, imports); no retry
    │   ├── AccountingFormatError   an accounting or reject-log file (path, offset)
    │   ├── InputError              a value a user or caller gave that we refuse (field);
    │   │   │                       also a ValueError
    │   │   ├── AddressError        a mailbox, domain or scope that is not RFC 5321/6531
    │   │   │                       (address, reason)
    │   │   ├── InvalidValueError   a scalar that does not parse as its kind: a duration, size,
    │   │   │                       rate, number, date, timestamp, host[:port], one of a choice
    │   │   ├── BadFilterError      a filter or selection: webhook filters, a status, a replay
    │   │   ├── BadCursorError      a page token or change-log cursor this API did not hand out
    │   │   ├── InvalidRuleError    a rule or profile file a user wrote (simulator profiles)
    │   │   ├── InvalidSubscriptionError  a webhook subscription: URL, event types, secret
    │   │   └── BadFormatError      a file or body not in its format: a suppression import, a
    │   │                           bulk body, a snapshot, a config file that is not text
    │   └── NotFoundError           a name or id that names nothing (name); also a LookupError
    ├── LocalError                  this host: disk, permissions, spool — a retry may help
    │   └── StoreError              a store: DuckDB events or the SQL database (path or URL)
    └── RemotePeerError             a peer: SMTP server, webhook receiver, database (reply_code,
        │                           enhanced_status)
        ├── TransientPeerError      4xx-style: retry later
        └── PermanentPeerError      5xx-style: retrying the same thing will fail again

Compatibility: every :class:`InputError` is also a :class:`ValueError` and every
:class:`NotFoundError` a :class:`LookupError`. Pydantic validators and typer callbacks turn
a ValueError into their own validation error, and callers written as ``except ValueError``
(the config loader wraps a value's ValueError into a located :class:`ConfigError`) keep
working unchanged. Code that raises a plain ValueError or TypeError outside this tree is
reporting a bug in its caller (a naive datetime handed to a function that documents an
aware one, a limit of zero in a constructor): the HTTP API answers those with a 500 that
does not show their text.

Bad input is a value, not an exception, wherever a stream must go on: a malformed
accounting row is yielded as a ``MalformedRow`` for the quarantine, and a
malformed DSN is classified ``unknown`` with a reason. Exceptions are for the
caller that must stop (a config that cannot load, a file that cannot be read).

Foreign exceptions are translated where they enter (the SQL store, the DuckDB event store,
address validation, ESP intake), with the original kept as ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePath

__all__ = [
    "AccountingFormatError",
    "AcctpipeError",
    "AddressError",
    "BadCursorError",
    "BadFilterError",
    "BadFormatError",
    "ConfigError",
    "InputDataError",
    "InputError",
    "InvalidConfigError",
    "InvalidRuleError",
    "InvalidSubscriptionError",
    "InvalidValueError",
    "LocalError",
    "NotFoundError",
    "PermanentPeerError",
    "RemotePeerError",
    "StoreError",
    "TransientPeerError",
]


class AcctpipeError(Exception):
    """Base of every error acctpipe raises on purpose."""

    retryable: bool = False


class ConfigError(AcctpipeError):
    """A configuration problem, located as ``path:line: <section>: message``."""

    def __init__(
        self,
        message: str,
        *,
        path: str | PurePath | None = None,
        line: int | None = None,
        section: str | None = None,
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.section = section
        super().__init__(self.location_text())

    def location_text(self) -> str:
        """Render the one-line form users grep for: ``path:line: <section>: message``."""
        parts: list[str] = []
        if self.path is not None:
            parts.append(f"{self.path}:{self.line}" if self.line is not None else self.path)
        if self.section:
            parts.append(f"<{self.section}>")
        parts.append(self.message)
        return ": ".join(parts)


class InvalidConfigError(ConfigError):
    """Every :class:`ConfigError` found while loading one configuration."""

    def __init__(self, errors: Iterable[ConfigError], *, total: int | None = None) -> None:
        self.errors: tuple[ConfigError, ...] = tuple(errors)
        # How many were found: more than listed when a long list was cut short.
        self.total = len(self.errors) if total is None else total
        first = self.errors[0] if self.errors else ConfigError("invalid configuration")
        super().__init__(first.message, path=first.path, line=first.line, section=first.section)

    def __str__(self) -> str:
        return "\n".join(e.location_text() for e in self.errors)


class InputDataError(AcctpipeError):
    """Data handed to us is malformed; the data, not the program, must change."""


class AccountingFormatError(InputDataError):
    """An accounting or reject-log file cannot be read as one."""

    def __init__(self, message: str, *, path: str | None = None, offset: int | None = None) -> None:
        self.path = path
        self.offset = offset
        where = f"{path}@{offset}: " if path is not None and offset is not None else ""
        super().__init__(f"{where}{message}")


class InputError(ValueError, InputDataError):
    """A value a user or caller gave that we refuse; ``field`` names it when known.

    A ValueError first, so code that refuses bad input with ``except ValueError`` (pydantic
    validators, typer callbacks, the config loader) keeps working.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.message = message
        self.field = field
        super().__init__(message)


class AddressError(InputError):
    """A mailbox, domain or scope that fails validation; ``reason`` says why and ``kind``
    which of the three it was (``address``, ``domain`` or ``scope``)."""

    def __init__(self, address: str, reason: str, *, kind: str = "address") -> None:
        self.address = address
        self.reason = reason
        self.kind = kind
        shown = address if len(address) <= 80 else address[:77] + "..."
        super().__init__(f"invalid {kind} {shown!r}: {reason}")


class InvalidValueError(InputError):
    """A scalar that does not parse as its kind (duration, size, rate, number, timestamp,
    host[:port]) or is not one of the allowed choices."""


class BadFilterError(InputError):
    """A filter or selection that cannot be applied: a webhook filter, a status, a replay."""


class BadCursorError(InputError):
    """A page token or change-log cursor that this API did not hand out."""


class InvalidRuleError(InputError):
    """A rule or profile file a user wrote that cannot be used (a simulator profile)."""


class InvalidSubscriptionError(InputError):
    """A webhook subscription that cannot be made: its URL, event types or secret."""


class BadFormatError(InputError):
    """A file or body that is not in its format: a suppression import (CSV, JSON lines), a
    bulk body, a suppression snapshot, a config file that is not UTF-8 text."""


class NotFoundError(LookupError, InputDataError):
    """A name or id that names nothing (``name``); a LookupError, so ``except LookupError``
    callers keep working."""

    def __init__(self, message: str, *, name: str | None = None) -> None:
        self.name = name
        super().__init__(message)


class LocalError(AcctpipeError):
    """This host failed us (disk full, permissions, spool state); a retry may help."""

    retryable = True


class StoreError(LocalError):
    """A store cannot be opened or used: the DuckDB event store (locked by a writer, newer
    schema) or the SQL database (unreachable, cannot migrate)."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path is not None else message)


class RemotePeerError(AcctpipeError):
    """A remote peer refused or failed: SMTP server, webhook receiver, database."""

    def __init__(
        self,
        message: str,
        *,
        reply_code: int | None = None,
        enhanced_status: str | None = None,
    ) -> None:
        self.reply_code = reply_code
        self.enhanced_status = enhanced_status
        super().__init__(message)


class TransientPeerError(RemotePeerError):
    """The peer said "later" (4xx): retrying can succeed."""

    retryable = True


class PermanentPeerError(RemotePeerError):
    """The peer said "never" (5xx): the same attempt will fail again."""
