"""ESP notifications: the bounce and complaint events of sending services, read into reports.

An ESP tells its customer about a bounce or a complaint with a JSON document,
posted over HTTP (Amazon SNS, webhooks) or mailed (an SNS e-mail subscription
carries the same JSON in the body). One plug-in per ESP (Amazon SES, SendGrid,
Mailgun, Postmark, SparkPost, Mandrill) reads the decoded JSON
into the :class:`~classifiers.types.MessageReport` that returned mail gives, so
the MTA's return processor turns it into the same ``rb`` / ``f`` records:

* :func:`read_notifications` / :func:`read_notification` — a decoded JSON value
  (what an HTTP endpoint has): one report per event, or one for the batch;
* :func:`notification_report` — a parsed message whose body holds such JSON.

Pure functions: no I/O. Each plug-in's ``read`` answers ``None`` for a document
that is not its own, so the order of :data:`READERS` only matters for speed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from email.message import Message
from urllib.parse import unquote_plus

from classifiers._mime import iter_parts, part_body, text_of
from classifiers.esp import mailgun, mandrill, postmark, sendgrid, ses, sparkpost
from classifiers.types import MessageReport

__all__ = [
    "MARKERS",
    "READERS",
    "find_json",
    "notification_report",
    "read_notification",
    "read_notifications",
]

Reader = Callable[[object], "MessageReport | None"]

READERS: tuple[Reader, ...] = (
    ses.read,
    sendgrid.read,
    mailgun.read,
    postmark.read,
    sparkpost.read,
    mandrill.read,
)
"""The ESP plug-ins, each ``read(one_event) -> MessageReport | None``."""

_JSON_TYPES = frozenset(
    {
        "text/plain",
        "application/json",
        "text/json",
        "text/x-json",
        "application/x-www-form-urlencoded",
    }
)
_FORM_FIELD = re.compile(r"(?:^|&)mandrill_events=([^&\s]+)")
# Every reader keys on one of these names; a body without any is not looked at.
# (classifiers.message gates on the same names at the byte level.)
MARKERS = (
    "notificationType",
    "eventType",
    "sg_event_id",
    "event-data",
    "RecordType",
    "msys",
    "log-level",
    "mandrill_events",
    '"msg"',
)
_MAX_TRIES = 8
_MAX_EVENTS = 1000  # a webhook batch is bounded; refuse to walk a bomb


def read_notifications(value: object) -> list[MessageReport]:
    """One report per ESP event in ``value``: an event object, or a batch (a JSON array)."""
    events = value[:_MAX_EVENTS] if isinstance(value, list) else [value]
    reports: list[MessageReport] = []
    for event in events:
        for reader in READERS:
            report = reader(event)
            if report is not None:
                reports.append(report)
                break
    return reports


def read_notification(value: object) -> MessageReport | None:
    """The report for a decoded ESP notification, or ``None`` when it holds none.

    A batch becomes one report: the first event's family (complaints, or bounces
    and delays) with every recipient of that family's events; ``dsn`` when any
    of them failed, as a DSN with failed and delayed recipients is.
    :func:`read_notifications` gives every event its own report.
    """
    reports = read_notifications(value)
    if not reports:
        return None
    first = reports[0]
    family = {"arf"} if first.kind == "arf" else {"dsn", "delay"}
    same = [r for r in reports if r.kind in family]
    if len(same) == 1:
        return first
    recipients = tuple(r for report in same for r in report.recipients)
    kind = "dsn" if any(r.kind == "dsn" for r in same) else first.kind
    reason = f"{first.reason} and {len(same) - 1} more event(s)"
    return replace(first, kind=kind, recipients=recipients, reason=reason)


def notification_report(msg: Message) -> MessageReport | None:
    """The report for a message whose body is an ESP's JSON notification, or ``None``."""
    for part in iter_parts(msg):
        try:
            ctype = part.get_content_type()
        except (TypeError, ValueError):
            continue
        if part.is_multipart() or ctype not in _JSON_TYPES:
            continue
        charset = part.get_content_charset("utf-8") or "utf-8"
        text = text_of(part_body(part), charset)
        if not any(marker in text for marker in MARKERS):
            continue
        if (form := _FORM_FIELD.search(text)) is not None:  # Mandrill's raw POST body
            text = unquote_plus(form.group(1))
        for value in find_json(text):
            report = read_notification(value)
            if report is not None:
                return report
    return None


def find_json(text: str) -> list[object]:
    """The JSON objects in ``text``, which may have prose before and after them.

    An SNS e-mail subscription mails the notification with an unsubscribe footer;
    a person forwarding it adds a line above. Objects and arrays (webhook batches)
    count; a bracket in the prose that starts no JSON is skipped.
    """
    decoder = json.JSONDecoder()
    found: list[object] = []
    start = _next_open(text, 0)
    tries = 0
    while start != -1 and tries < _MAX_TRIES:
        tries += 1
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            start = _next_open(text, start + 1)
            continue
        if isinstance(value, (dict, list)):
            found.append(value)
        start = _next_open(text, end)
    return found


def _next_open(text: str, start: int) -> int:
    """Where the next JSON object or array may begin, or -1."""
    positions = [p for p in (text.find("{", start), text.find("[", start)) if p != -1]
    return min(positions) if positions else -1
