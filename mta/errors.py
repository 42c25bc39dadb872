"""The one error tree of acctpipe.

Errors are keyed on *who* failed and *whether a retry helps*::

    AcctpipeError                 base; ``retryable`` says whether trying again can help
    ├── ConfigError               the operator's configuration (path, line, section); no retry
    │   └── InvalidConfigError    every ConfigError found in one load, reported together
    ├── InputDataError            data handed to us (accounting rows, DSNs, imports); no retry
    │   ├── AccountingFormatError an accounting or reject-log file (path, offset)
    │   └── AddressError          a mailbox that is not RFC 5321/6531 (address, reason);
    │                             also a ValueError
    ├── LocalError                this host: disk, permissions, spool — a retry may help
    │   └── StoreError            a store: DuckDB events or the SQL database (path or URL)
    └── RemotePeerError           a peer: SMTP server, webhook receiver, database (reply_code,
        │                         enhanced_status)
        ├── TransientPeerError    4xx-style: retry later
        └── PermanentPeerError    5xx-style: retrying the same thing will fail again

Bad input is a value, not an exception, wherever a stream must go on: a malformed
accounting row is yielded as a ``MalformedRow`` for the quarantine, and a
malformed DSN is classified ``unknown`` with a reason. Exceptions are for the
caller that must stop (a config that cannot load, a file that cannot be read).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePath

__all__ = [
    "AccountingFormatError",
    "AcctpipeError",
    "AddressError",
    "ConfigError",
    "InputDataError",
    "InvalidConfigError",
    "LocalError",
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


class AddressError(ValueError, InputDataError):
    """A mailbox that fails :func:`mta.address.check_mailbox`; ``reason`` says why.

    A ValueError first, so code that refuses bad input with ``except ValueError`` keeps
    working and a handler keyed on ValueError (the API's 422) takes it before one keyed on
    InputDataError.
    """

    def __init__(self, address: str, reason: str) -> None:
        self.address = address
        self.reason = reason
        shown = address if len(address) <= 80 else address[:77] + "..."
        super().__init__(f"invalid address {shown!r}: {reason}")


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
