"""Accounting records for one classified returned message: PowerMTA's ``rb``, ``rs`` and ``f``.

Pure functions of a :class:`~classifiers.types.MessageReport` and the envelope
facts in :class:`Envelope`; :mod:`mta.returns.intake` decides which to call. The fields
each record carries are listed in ``docs/returns.md``:

* ``rb`` (remote bounce): one per recipient a DSN or vendor bounce says *failed*;
* ``rs`` (remote status): one per recipient it says *delayed*, *delivered*,
  *relayed* or *expanded* — not a failure, but still news about the recipient;
* ``f`` (feedback loop): one per complaining recipient of an ARF / JMRP report
  (an ARF names each with its own ``Original-Rcpt-To``) or of an ESP's complaint
  notification; one with the VERP recipient, or none, when the report names nobody.

Our own spool id has no PowerMTA field of its own. It goes under
``header_X-Acctpipe-Id``: PowerMTA logs a header of the returned original under
``header_<Name>`` in these records, so a PowerMTA-compatible reader already keeps
that column (ours puts it in ``events.extra``), and a file logs it once an
operator lists it in ``record-fields``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from classifiers.types import MessageReport, RecipientReport
from mta.acct import parse_time

__all__ = [
    "ID_FIELD",
    "Envelope",
    "arrival_date",
    "dsn_records",
    "feedback_record",
    "feedback_records",
    "recovered_record",
]

Record = dict[str, object]

ID_FIELD = "header_X-Acctpipe-Id"
"""Where the ``X-Acctpipe-Id`` of the returned original goes (see the module docstring)."""

# RFC 3464 §2.3.3 action-value: only "failed" is a bounce; the others are statuses.
_FAILED = "failed"
_CATEGORISED = frozenset({"failed", "delayed"})


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the records need besides the report: when, where from, and sent to whom.

    ``return_path`` is the processor address the return was sent to — for a DSN
    that is the original's MAIL FROM, since a DSN goes to the reverse-path
    (RFC 5321 §4.5.5). ``verp_rcpt`` is the recipient it carries as VERP, or ``""``.
    ``headers`` holds ``header_<Name>`` fields read from the returned original.
    """

    now: datetime
    return_path: str = ""
    verp_rcpt: str = ""
    peer_ip: str = ""
    headers: Mapping[str, str] | None = None


def _common(report: MessageReport, env: Envelope) -> Record:
    record: Record = {"timeLogged": env.now}
    if env.peer_ip:
        record["srcType"] = "smtp"
        record["srcMta"] = env.peer_ip
    if job := report.extra.get("job_id"):
        record["jobId"] = job
    if ident := report.extra.get("acctpipe_id"):
        record[ID_FIELD] = ident
    record.update(env.headers or {})
    return record


def _recipient_record(report: MessageReport, env: Envelope, r: RecipientReport) -> Record:
    record = _common(report, env)
    record.update(
        type="rb" if r.action == _FAILED else "rs",
        orig=env.return_path,
        rcpt=r.address,
        dsnAction=r.action,
        dsnStatus=r.status,
        dsnDiag=r.diag,
        dsnMta=r.remote_mta,
    )
    if r.action in _CATEGORISED:
        # A success report has no bounce category; the classifier's "other" would mislead.
        record["bounceCat"] = r.category
    return record


def dsn_records(report: MessageReport, env: Envelope) -> list[Record]:
    """One ``rb`` or ``rs`` record per recipient of a DSN, delay report or vendor bounce."""
    return [_recipient_record(report, env, r) for r in report.recipients]


def recovered_record(report: MessageReport, env: Envelope, rcpt: str) -> Record:
    """An ``rb`` for a bounce that names no readable recipient, sent to ``rcpt``'s VERP address.

    Nothing in it says why, so the status and diagnostic stay empty and the
    category is ``other``; the ``rb`` itself is the news (the address bounced).
    """
    record = _common(report, env)
    record.update(
        type="rb",
        orig=env.return_path,
        rcpt=rcpt,
        dsnAction=_FAILED,
        bounceCat="other",
    )
    return record


def feedback_records(report: MessageReport, env: Envelope) -> list[Record]:
    """The ``f`` records of an ARF (RFC 5965), JMRP or ESP complaint: one per recipient.

    A report that names nobody still gives one record (with the VERP recipient
    when the return path carries one): the complaint itself is the news.
    """
    if len(report.recipients) <= 1:
        return [feedback_record(report, env)]
    return [feedback_record(report, env, r.address) for r in report.recipients]


def feedback_record(report: MessageReport, env: Envelope, rcpt: str = "") -> Record:
    """The ``f`` record of an ARF (RFC 5965) or JMRP report for ``rcpt`` (default: its first)."""
    fb = report.feedback
    record = _common(report, env)
    verp_path = env.return_path if env.verp_rcpt else ""
    record.update(
        type="f",
        # An FBL address is not our MAIL FROM; only a VERP one is (ISPs that send
        # complaints to the Return-Path).
        orig=(fb.original_mail_from if fb else "") or verp_path,
        rcpt=rcpt or (fb.original_rcpt_to if fb else "") or env.verp_rcpt,
        feedbackType=fb.type if fb else "other",
        format=_FORMATS.get(report.detector, "arf"),
        userAgent=fb.user_agent if fb else "",
        reportedDomain=fb.reported_domain if fb else "",
        arrivalDate=arrival_date(fb.arrival_date) if fb else None,
        sourceIp=fb.source_ip if fb else "",
    )
    return record


# The f record's ``format``: the report's layout ("arf" for RFC 5965 and anything
# else that has no name of its own).
_FORMATS = {"jmrp": "jmrp", "amazon-ses": "amazon-ses"}


def arrival_date(text: str) -> datetime | None:
    """An ARF ``Arrival-Date`` (RFC 5322 date-time, or ISO 8601) as an aware datetime.

    ``None`` when it is absent or unreadable: the accounting reader refuses a row
    whose timestamp it cannot parse, so a bad date must not reach the file.
    """
    text = text.strip()
    if not text:
        return None
    try:
        parsed = parsedate_to_datetime(text)
    except (ValueError, TypeError, IndexError, OverflowError):
        try:
            return parse_time(text)
        except ValueError:
            return None
    # RFC 5322 §3.3: "-0000" means UTC with the local offset unknown (naive here).
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
