"""Mailgun webhook events: failed (permanent or temporary), complained, unsubscribed.

Mailgun posts one event per request, signed, with the event under ``event-data``::

    {"signature": {"timestamp": "…", "token": "…", "signature": "…"},
     "event-data": {"event": "failed", "severity": "permanent",   # or "temporary"
                    "reason": "bounce",                          # suppress-bounce, generic, …
                    "recipient": "a@example.com",
                    "delivery-status": {"code": 550, "enhanced-code": "5.1.1",
                                        "message": "5.1.1 The email account … does not exist",
                                        "description": "", "mx-host": "mx.example.com"},
                    "message": {"headers": {"message-id": "…"}}}}

The SMTP code and message decide the class; the severity is the fallback and a
temporary failure (Mailgun will retry) is a delay, never hard. The bare event
object (without the envelope) is read too.
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

DETECTOR = "mailgun"


def read(value: object) -> MessageReport | None:
    """The report for one Mailgun event (with or without its signature envelope), or ``None``."""
    doc = as_dict(value)
    data = as_dict(doc.get("event-data")) if "event-data" in doc else doc
    event = text(data.get("event")).lower()
    address = text(data.get("recipient"))
    if not address or ("id" not in data and "event-data" not in doc):
        return None
    headers = as_dict(as_dict(data.get("message")).get("headers"))
    extra = {"message_id": m} if (m := text(headers.get("message-id"))) else {}
    if event == "complained":
        return complaint_report(DETECTOR, [address], "abuse", extra=extra)
    if event == "unsubscribed":
        return complaint_report(DETECTOR, [address], "opt-out", extra=extra)
    if event not in ("failed", "bounced", "dropped"):
        return None
    ds = as_dict(data.get("delivery-status"))
    code, message = text(ds.get("code")), text(ds.get("message")) or text(ds.get("description"))
    diag = f"{code} {message}".strip() if code and not message.startswith(code) else message
    severity = text(data.get("severity")).lower()
    temporary = severity == "temporary"
    reason = text(data.get("reason")).lower()
    fallback: Verdict = ("other", "soft") if temporary else ("bad-mailbox", "hard")
    if reason == "suppress-bounce":  # Mailgun did not send: the address bounced before
        diag, fallback = "", ("bad-mailbox", "hard")
    r = bounce_recipient(
        address,
        diag=diag,
        status=text(ds.get("enhanced-code")),
        permanent=not temporary,
        fallback=fallback,
        rule=f"mailgun-{severity or 'failed'}-{reason or 'bounce'}",
        remote=text(ds.get("mx-host")),
        delayed=temporary,
    )
    return bounce_report(DETECTOR, [r], f"{event} ({severity or '-'}) event", extra)
