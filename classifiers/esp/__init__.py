"""ESP notifications: the bounce and complaint events of sending services, read into reports.

An ESP tells its customer about a bounce or a complaint with a JSON document,
posted over HTTP (Amazon SNS, webhooks) or mailed (an SNS e-mail subscription
carries the same JSON in the body). One plug-in per ESP reads the decoded JSON
into the :class:`~classifiers.types.MessageReport` that returned mail gives, so
the MTA's return processor turns it into the same ``rb`` / ``f`` records:

* :func:`read_notification` — a decoded JSON value (what an HTTP endpoint has);
* :func:`notification_report` — a parsed message whose body holds such JSON.

Pure functions: no I/O. Each plug-in's ``read`` answers ``None`` for a document
that is not its own, so the order of :data:`READERS` only matters for speed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from email.message import Message

from classifiers._mime import iter_parts, part_body, text_of
from classifiers.esp import ses
from classifiers.types import MessageReport

__all__ = ["READERS", "find_json", "notification_report", "read_notification"]

Reader = Callable[[object], "MessageReport | None"]

READERS: tuple[Reader, ...] = (ses.read,)
"""The ESP plug-ins, each ``read(json_value) -> MessageReport | None``."""

_JSON_TYPES = frozenset({"text/plain", "application/json", "text/json", "text/x-json"})
# Every reader keys on one of these names; a body without any is not looked at.
_MARKERS = ("notificationType", "eventType")
_MAX_TRIES = 8


def read_notification(value: object) -> MessageReport | None:
    """The report for one decoded ESP notification (a JSON object or list), or ``None``."""
    for reader in READERS:
        report = reader(value)
        if report is not None:
            return report
    return None


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
        if not any(marker in text for marker in _MARKERS):
            continue
        for value in find_json(text):
            report = read_notification(value)
            if report is not None:
                return report
    return None


def find_json(text: str) -> list[object]:
    """The JSON objects in ``text``, which may have prose before and after them.

    An SNS e-mail subscription mails the notification with an unsubscribe footer;
    a person forwarding it adds a line above. Only objects (``{…}``) count.
    """
    decoder = json.JSONDecoder()
    found: list[object] = []
    start = text.find("{")
    tries = 0
    while start != -1 and tries < _MAX_TRIES:
        tries += 1
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            start = text.find("{", start + 1)
            continue
        found.append(value)
        start = text.find("{", end)
    return found
