"""The import formats read fast: each row's fields, by index, to what its format reads.

:data:`acctpipe.sqlstore.suppressions._formats.FORMATS` is the specification: each
format reads a row as a mapping of header keys. :func:`compile_reader` builds, once
per file from its header, a function of the row's fields (a list as wide as the
header) that gives the same :class:`Read` — or raises the same error — without a
mapping per row:

* columns are found by index once (a repeated key reads its last column, as the
  mapping did);
* what costs per distinct value is remembered in a bounded memo: the bounce
  verdict and detail per (reply, status) — ``classify_diag`` walks a rule table —,
  Postmark's reason per (reason, origin);
* times go through :func:`~acctpipe.sqlstore.suppressions._fasttime.fast_time`.

A test checks, format by format over generated rows, that the reading equals the
specification's.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import datetime
from operator import itemgetter
from typing import Final, TypeVar

from acctpipe._csvsafe import restore
from acctpipe.policy.types import SuppressionReason
from acctpipe.sqlstore.suppressions import _formats as spec
from acctpipe.sqlstore.suppressions._fasttime import fast_time
from mta.errors import BadFormatError

__all__ = ["Fields", "Memo", "Read", "compile_reader"]

Fields = list[str]
# (address as written, reason, detail, created, expires_at, scope): a Parsed as a tuple
Read = tuple[str, SuppressionReason, str, datetime | None, datetime | None, str | None]
Reader = Callable[[Fields], Read]
Cell = Callable[[Fields], str]
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
_MEMO: Final = 65_536  # distinct values remembered per memo before it starts over


class Memo(dict[K, V]):
    """A dict that forgets everything when it reaches ``size`` entries (bounded memory)."""

    def __init__(self, make: Callable[[K], V], size: int = _MEMO) -> None:
        super().__init__()
        self._make = make
        self._size = size

    def __missing__(self, key: K) -> V:
        value = self._make(key)  # an error is raised, not remembered
        if len(self) >= self._size:
            self.clear()
        self[key] = value
        return value


class _Columns:
    """Where each header key is: its last column, as a mapping built from the row had it."""

    def __init__(self, keys: list[str]) -> None:
        self.at = {key: i for i, key in enumerate(keys)}

    def __contains__(self, key: str) -> bool:
        return key in self.at

    def cell(self, key: str) -> Cell:
        """The field of ``key`` ("" when the header has no such column)."""
        return itemgetter(self.at[key]) if key in self.at else (lambda _: "")

    def first(self, keys: tuple[str, ...]) -> Cell:
        """The first of ``keys``' fields that is not blank, as written ("" if none)."""
        at = [self.at[k] for k in keys if k in self.at]
        if len(at) == 1:
            (only,) = at

            def one(fields: Fields) -> str:
                value = fields[only]
                return value if value.strip() else ""

            return one

        def first(fields: Fields) -> str:
            for i in at:
                if fields[i].strip():
                    return fields[i]
            return ""

        return first

    def created(self, *keys: str) -> Callable[[Fields], datetime | None]:
        """The first readable time among ``keys`` (an odd date is passed over)."""
        cells = [itemgetter(self.at[k]) for k in keys if k in self.at]
        if len(cells) == 1:
            (cell,) = cells

            def one(fields: Fields) -> datetime | None:
                try:
                    return fast_time(cell(fields))
                except ValueError:
                    return None

            return one

        def created(fields: Fields) -> datetime | None:
            for cell in cells:
                try:
                    when = fast_time(cell(fields))
                except ValueError:
                    continue
                if when is not None:
                    return when
            return None

        return created


def _bounce_detail(source: str) -> Memo[tuple[str, str], tuple[str, bool]]:
    """(reply, status) -> (detail, False), or (skip message, True) for a spam-class reply."""

    def verdict(key: tuple[str, str]) -> tuple[str, bool]:
        try:
            return spec._bounce("", key[0], key[1], source, None).detail, False
        except spec.SkippedRow as skipped:
            return str(skipped), True

    return Memo(verdict)


def _bounce(cols: _Columns, address: Cell, diag: Cell, status: Cell, source: str) -> Reader:
    created = cols.created("created" if source == "sendgrid" else "createdat")
    verdicts = _bounce_detail(source)

    def read(fields: Fields) -> Read:
        when = created(fields)
        detail, skipped = verdicts[diag(fields), status(fields)]
        if skipped:
            raise spec.SkippedRow(detail)
        return address(fields), "hard-bounce", detail, when, None, None

    return read


def _fixed(
    cols: _Columns, address: Cell, reason: SuppressionReason, detail: str, *t: str
) -> Reader:
    created = cols.created(*t)

    def read(fields: Fields) -> Read:
        return address(fields), reason, detail, created(fields), None, None

    return read


def _ses(cols: _Columns) -> Reader:
    address, raw, created = (
        cols.cell("emailaddress"),
        cols.cell("reason"),
        cols.created("lastupdatetime"),
    )

    def read(fields: Fields) -> Read:
        written = raw(fields)
        key = written.strip().lower()
        reason = spec._SES.get(key)
        if reason is None:
            raise BadFormatError(f"unknown SES reason {written!r} (BOUNCE or COMPLAINT)")
        return address(fields), reason, f"ses {key}", created(fields), None, None

    return read


def _sendgrid(cols: _Columns) -> Reader:
    email = cols.cell("email")
    if "ip" in cols:
        return _fixed(cols, email, "complaint", "sendgrid spam report", "created")
    if "reason" in cols or "status" in cols:
        return _bounce(cols, email, cols.cell("reason"), cols.cell("status"), "sendgrid")
    return _fixed(cols, email, "unsubscribe", "sendgrid unsubscribe", "created")


def _mailgun(cols: _Columns) -> Reader:
    address = cols.cell("address")
    if "code" in cols or "error" in cols:
        code, error = cols.cell("code"), cols.cell("error")
        return _bounce(
            cols, address, lambda f: f"{code(f)} {error(f)}".strip(), lambda _: "", "mailgun"
        )
    if "tags" in cols:
        tags = cols.cell("tags")
        created = cols.created("createdat")

        def read(fields: Fields) -> Read:
            when = created(fields)
            written = tags(fields).strip()
            extra = f" (tags: {written})" if written not in ("", "*") else ""
            return address(fields), "unsubscribe", "mailgun unsubscribe" + extra, when, None, None

        return read
    return _fixed(cols, address, "complaint", "mailgun complaint", "createdat")


def _postmark_reason(key: tuple[str, str]) -> tuple[SuppressionReason, str]:
    raw, origin = key
    row = {"reason": raw, "origin": origin, "email": "x"}
    parsed = spec._postmark(row)  # raises for an unknown or a non-suppressing reason
    return parsed.reason, parsed.detail


def _postmark(cols: _Columns) -> Reader:
    raw = cols.first(("suppressionreason", "reason", "type"))
    origin = cols.cell("origin")
    address = cols.first(("emailaddress", "email", "recipient"))
    created = cols.created("createdat", "date", "bouncedat", "suppressedat")
    reasons: Memo[tuple[str, str], tuple[SuppressionReason, str]] = Memo(_postmark_reason)

    def read(fields: Fields) -> Read:
        reason, detail = reasons[raw(fields), origin(fields)]
        return address(fields), reason, detail, created(fields), None, None

    return read


def _acctpipe(cols: _Columns) -> Reader:
    address, raw, detail = cols.cell("address"), cols.cell("reason"), cols.cell("detail")
    expires, scope = cols.cell("expiresat"), cols.cell("scope")
    created = cols.created("createdat")

    def read(fields: Fields) -> Read:
        reason = raw(fields).strip()
        if reason not in spec._REASONS:
            raise BadFormatError(f"unknown reason {reason!r}")
        return (
            restore(address(fields)),
            reason,  # type: ignore[return-value]  # checked against the Literal above
            restore(detail(fields)),
            created(fields),
            fast_time(expires(fields)),
            restore(scope(fields)) or None,
        )

    return read


def _plain(cols: _Columns) -> Reader:
    return _fixed(cols, cols.first(spec.ADDRESS_KEYS), "manual", "imported list")


_COMPILERS: Final[dict[str, Callable[[_Columns], Reader]]] = {
    "acctpipe": _acctpipe,
    "ses": _ses,
    "sendgrid": _sendgrid,
    "mailgun": _mailgun,
    "postmark": _postmark,
    "plain": _plain,
}


def compile_reader(format_name: str, keys: list[str]) -> Reader:
    """The reader of format ``format_name`` for a file whose header keys are ``keys``.

    Its argument is a row's fields padded or cut to ``len(keys)``.
    """
    return _COMPILERS[format_name](_Columns(keys))
