"""SendGrid Event Webhook events: bounce, blocked, dropped, deferred, spamreport, unsubscribe.

SendGrid posts a JSON array of events, one object each. Abridged::

    [{"email": "a@example.com", "timestamp": 1719568800, "event": "bounce",
      "type": "bounce",                  # or "blocked"
      "status": "5.1.1", "reason": "550 5.1.1 The email account … does not exist",
      "sg_event_id": "…", "sg_message_id": "…", "smtp-id": "<…>"},
     {"email": "b@example.com", "event": "deferred", "response": "421 try later", …},
     {"email": "c@example.com", "event": "spamreport", …},
     {"email": "d@example.com", "event": "unsubscribe", …}]

The reason decides the class, as a DSN's diagnostic does; the event type is the
fallback (``bounce`` hard, ``blocked`` spam, ``deferred`` soft and delayed). A
``dropped`` event for a "Bounced Address" is an earlier hard bounce, repeated.
"""

from __future__ import annotations

from classifiers.esp._common import (
    Verdict,
    as_dict,
    bounce_recipient,
    bounce_report,
    complaint_report,
    text,
)
from classifiers.types import MessageReport

__all__ = ["DETECTOR", "read"]

DETECTOR = "sendgrid"

_OPT_OUT = frozenset({"unsubscribe", "group_unsubscribe"})


def read(value: object) -> MessageReport | None:
    """The report for one SendGrid event object, or ``None``."""
    doc = as_dict(value)
    if not ("sg_event_id" in doc or "sg_message_id" in doc or "smtp-id" in doc):
        return None
    event = text(doc.get("event")).lower()
    address = text(doc.get("email"))
    extra = {"message_id": m} if (m := text(doc.get("sg_message_id"))) else {}
    if event == "spamreport":
        return complaint_report(DETECTOR, [address], "abuse", extra=extra)
    if event in _OPT_OUT:
        return complaint_report(DETECTOR, [address], "opt-out", extra=extra)
    diag = text(doc.get("reason")) or text(doc.get("response"))
    status = text(doc.get("status"))
    if event == "bounce":
        blocked = text(doc.get("type")).lower() == "blocked"
        fallback: Verdict = ("spam-related", "spam") if blocked else ("bad-mailbox", "hard")
        rule = "sendgrid-blocked" if blocked else "sendgrid-bounce"
        r = bounce_recipient(
            address, diag=diag, status=status, permanent=None, fallback=fallback, rule=rule
        )
    elif event == "deferred":
        r = bounce_recipient(
            address,
            diag=diag,
            status=status,
            permanent=False,
            fallback=("other", "soft"),
            rule="sendgrid-deferred",
            delayed=True,
        )
    elif event == "dropped" and "bounce" in diag.lower():
        r = bounce_recipient(
            address,
            diag="",
            status="",
            permanent=True,
            fallback=("bad-mailbox", "hard"),
            rule="sendgrid-dropped-bounced-address",
        )
    else:
        return None
    return bounce_report(DETECTOR, [r], f"{event} event", extra)
