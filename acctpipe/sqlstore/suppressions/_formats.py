"""The CSV import formats: an ordered table, detected by header, first match wins.

Header names are compared as lower-case letters and digits only, so
``EmailAddress``, ``email_address`` and ``Email Address`` are one key.

| format   | header (keys)                               | our reason                          |
| -------- | ------------------------------------------- | ----------------------------------- |
| acctpipe | address, scope, reason, … (our export)      | as written                          |
| ses      | EmailAddress, Reason, LastUpdateTime        | BOUNCE → hard-bounce, COMPLAINT →   |
|          |                                             | complaint                           |
| sendgrid | email, created (+ ip)                       | complaint (spam reports)            |
|          | email, created (+ reason / status)          | hard-bounce (bounces, blocks,       |
|          |                                             | invalid emails)                     |
|          | email, created                              | unsubscribe (global, group)         |
| mailgun  | address, code, error, created_at            | hard-bounce (bounces)               |
|          | address, tags, created_at                   | unsubscribe                         |
|          | address, created_at                         | complaint                           |
| postmark | Email / EmailAddress / Recipient, with      | HardBounce → hard-bounce,           |
|          | Reason / SuppressionReason / Type / Origin  | SpamComplaint → complaint,          |
|          |                                             | ManualSuppression → unsubscribe     |
|          |                                             | (Origin Recipient) or manual        |
| plain    | one address per line, or a column named     | manual (or ``--reason``)            |
|          | email / address / emailaddress / recipient  |                                     |

A bounce row whose SMTP reply classifies as spam-class (the receiver refused
*us*: blocklists, content, reputation) is skipped, not imported: such refusals
never suppress the address (DESIGN.md), and ESP "blocks" exports share the
bounce header.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, get_args

from acctpipe._csvsafe import restore
from acctpipe.policy.types import SuppressionReason
from classifiers import classify_diag
from mta.errors import BadFormatError

__all__ = [
    "ADDRESS_KEYS",
    "FORMATS",
    "ImportFormat",
    "Parsed",
    "SkippedRow",
    "header_key",
    "parse_time",
]

Row = Mapping[str, str]
ADDRESS_KEYS: Final = ("email", "emailaddress", "address", "recipient")
_REASONS: Final[frozenset[str]] = frozenset(get_args(SuppressionReason))


class SkippedRow(ValueError):  # noqa: N818 - a verdict on a row, reported, not an error
    """A readable row that deliberately does not become a suppression."""


@dataclass(frozen=True, slots=True)
class Parsed:
    """What one row says: an address (as written), a reason and when."""

    address: str
    reason: SuppressionReason
    detail: str = ""
    created: datetime | None = None
    expires_at: datetime | None = None
    scope: str | None = None  # only formats that carry one (our own export)


@dataclass(frozen=True, slots=True)
class ImportFormat:
    """One format: its name, how to recognise its header, how to read a row."""

    name: str
    title: str
    detect: Callable[[frozenset[str]], bool]
    read: Callable[[Row], Parsed]


def header_key(name: str) -> str:
    """The comparison key of a header name: lower-case letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def parse_time(text: str) -> datetime | None:
    """A timestamp as ESPs write them: epoch seconds (or ms), ISO 8601 or RFC 2822.

    Empty gives None; a time without a zone is taken as UTC; anything else
    raises ValueError (a time beyond what datetime holds too: it is one row's
    mistake, not a reason to stop the import).
    """
    value = text.strip()
    if not value:
        return None
    try:
        return _utc(value)
    except OverflowError as exc:
        raise BadFormatError(f"unreadable time {value!r}") from exc


def _utc(value: str) -> datetime:
    if re.fullmatch(r"\d+(\.\d+)?", value):
        seconds = float(value)
        return datetime.fromtimestamp(seconds / 1000 if seconds > 1e11 else seconds, UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError) as exc:
            raise BadFormatError(f"unreadable time {value!r}") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _created(row: Row, *keys: str) -> datetime | None:
    for key in keys:
        try:
            when = parse_time(row.get(key, ""))
        except ValueError:
            continue  # an odd date must not lose the address: fall back to the import time
        if when is not None:
            return when
    return None


def _first(row: Row, keys: tuple[str, ...]) -> str:
    return next((row[k] for k in keys if row.get(k, "").strip()), "")


def _bounce(address: str, diag: str, status: str, source: str, created: datetime | None) -> Parsed:
    verdict = classify_diag(diag, status)
    shown = " ".join(f"{status} {diag}".split())[:200]
    if verdict.cls == "spam":
        raise SkippedRow(f"spam-class refusal ({verdict.rule_id}): not the address's fault")
    return Parsed(address, "hard-bounce", f"{source} bounce: {shown}".strip(": "), created)


def _acctpipe(row: Row) -> Parsed:
    reason = row["reason"].strip()
    if reason not in _REASONS:
        raise BadFormatError(f"unknown reason {reason!r}")
    # Our export wrote a would-be formula as "'=…" (acctpipe._csvsafe): take it back.
    return Parsed(
        address=restore(row["address"]),
        reason=reason,  # type: ignore[arg-type]  # checked against the Literal above
        detail=restore(row.get("detail", "")),
        created=_created(row, "createdat"),
        expires_at=parse_time(row.get("expiresat", "")),
        scope=restore(row.get("scope", "")) or None,
    )


_SES: Final[dict[str, SuppressionReason]] = {"bounce": "hard-bounce", "complaint": "complaint"}


def _ses(row: Row) -> Parsed:
    reason = _SES.get(row["reason"].strip().lower())
    if reason is None:
        raise BadFormatError(f"unknown SES reason {row['reason']!r} (BOUNCE or COMPLAINT)")
    created = _created(row, "lastupdatetime")
    return Parsed(row["emailaddress"], reason, f"ses {row['reason'].strip().lower()}", created)


def _sendgrid(row: Row) -> Parsed:
    created = _created(row, "created")
    if "ip" in row:
        return Parsed(row["email"], "complaint", "sendgrid spam report", created)
    if "reason" in row or "status" in row:
        return _bounce(
            row["email"], row.get("reason", ""), row.get("status", ""), "sendgrid", created
        )
    return Parsed(row["email"], "unsubscribe", "sendgrid unsubscribe", created)


def _mailgun(row: Row) -> Parsed:
    created = _created(row, "createdat")
    if "code" in row or "error" in row:
        diag = f"{row.get('code', '')} {row.get('error', '')}".strip()
        return _bounce(row["address"], diag, "", "mailgun", created)
    if "tags" in row:
        tags = row["tags"].strip()
        detail = "mailgun unsubscribe" + (f" (tags: {tags})" if tags not in ("", "*") else "")
        return Parsed(row["address"], "unsubscribe", detail, created)
    return Parsed(row["address"], "complaint", "mailgun complaint", created)


_POSTMARK: Final[dict[str, SuppressionReason | None]] = {
    "hardbounce": "hard-bounce",
    "badmailbox": "hard-bounce",
    "spamcomplaint": "complaint",
    "spamnotification": "complaint",
    "unsubscribe": "unsubscribe",
    "manualsuppression": "manual",  # "unsubscribe" when Origin is Recipient
    # bounce types that do not suppress an address
    "softbounce": None,
    "transient": None,
    "autoresponder": None,
    "blocked": None,
    "dnserror": None,
}


def _postmark(row: Row) -> Parsed:
    raw = _first(row, ("suppressionreason", "reason", "type"))
    key = header_key(raw)
    if key not in _POSTMARK:
        raise BadFormatError(f"unknown Postmark reason {raw!r}")
    reason = _POSTMARK[key]
    if reason is None:
        raise SkippedRow(f"Postmark {raw!r} does not suppress an address")
    origin = row.get("origin", "").strip()
    if reason == "manual" and header_key(origin) == "recipient":
        reason = "unsubscribe"  # the recipient used the unsubscribe link
    detail = f"postmark {raw.strip()}" + (f" ({origin})" if origin else "")
    created = _created(row, "createdat", "date", "bouncedat", "suppressedat")
    return Parsed(_first(row, ("emailaddress", "email", "recipient")), reason, detail, created)


def _plain(row: Row) -> Parsed:
    return Parsed(_first(row, ADDRESS_KEYS), "manual", "imported list")


FORMATS: Final[tuple[ImportFormat, ...]] = (
    ImportFormat(
        "acctpipe",
        "acctpipe export",
        lambda k: {"address", "scope", "reason"} <= k,
        _acctpipe,
    ),
    ImportFormat(
        "ses",
        "Amazon SES account suppression list",
        lambda k: {"emailaddress", "reason", "lastupdatetime"} <= k,
        _ses,
    ),
    ImportFormat(
        "sendgrid",
        "SendGrid bounces, blocks, invalid emails, spam reports, unsubscribes",
        lambda k: {"email", "created"} <= k,
        _sendgrid,
    ),
    ImportFormat(
        "mailgun",
        "Mailgun bounces, unsubscribes, complaints",
        lambda k: "address" in k and bool(k & {"code", "error", "tags", "createdat"}),
        _mailgun,
    ),
    ImportFormat(
        "postmark",
        "Postmark suppressions or bounces",
        lambda k: (
            bool(k & {"email", "emailaddress", "recipient"})
            and bool(k & {"reason", "suppressionreason", "type", "origin"})
        ),
        _postmark,
    ),
    ImportFormat(
        "plain",
        "one address per line, or a column email/address",
        lambda k: bool(k & set(ADDRESS_KEYS)),
        _plain,
    ),
)
