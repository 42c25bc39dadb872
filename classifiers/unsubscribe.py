"""Unsubscribe requests a mail client sends for its user: opt-out feedback, never auto-replies.

Apple Mail's "Unsubscribe" banner (iOS 10+, macOS) answers a ``mailto:``
``List-Unsubscribe`` (RFC 2369) with a message written by the client, from the
user's own address, to the address in the header. Its wire format::

    From: Some User <user@icloud.example>
    To: unsubscribe+token@sender.example
    Subject: unsubscribe            (the mailto's subject, or empty)
    X-Apple-Unsubscribe: true
    Content-Type: text/plain; charset=utf-8

    Apple Mail sent this email to unsubscribe from the message "Weekly picks".

It is RFC 6650's ``opt-out`` in all but layout: the user asked to stop, so the
report is an ``arf`` of feedback type ``opt-out`` for the sender of the request.
Two signals, either enough: the ``X-Apple-Unsubscribe`` header, and the body
sentence (matched loosely: "e-mail"/"message", quoting, line breaks vary).
"""

from __future__ import annotations

import re
from email.message import Message

from classifiers._mime import body_text, decode_header_value
from classifiers._original import address_of, header, original_headers
from classifiers.types import Feedback, MessageReport, RecipientReport

__all__ = ["unsubscribe_report"]

_BODY = re.compile(
    r"\bsent\s+this\s+(?:e-?mail|message)\s+to\s+unsubscribe\s+(?:you\s+)?from\b", re.IGNORECASE
)


def unsubscribe_report(msg: Message, text: str | None = None) -> MessageReport | None:
    """The opt-out report for a client-generated unsubscribe request, or ``None``."""
    flag = decode_header_value(msg.get("X-Apple-Unsubscribe", "")).strip().lower()
    if flag not in ("true", "yes", "1"):
        body = body_text(msg, limit=4096) if text is None else text[:4096]
        if not _BODY.search(body):
            return None
    # The request comes from the subscriber's own mailbox (Sender when a client sets it).
    user = address_of(decode_header_value(msg.get("From", ""))) or address_of(
        decode_header_value(msg.get("Sender", ""))
    )
    original = original_headers(msg)
    extra = {
        k: v
        for k, v in (
            ("job_id", header(original, "X-Job")),
            ("acctpipe_id", header(original, "X-Acctpipe-Id")),
        )
        if v
    }
    feedback = Feedback(
        type="opt-out",
        user_agent="Apple Mail unsubscribe",
        original_rcpt_to=user,
        arrival_date=decode_header_value(msg.get("Date", "")),
        recovered_from="from" if user else "",
    )
    recipients = (
        (
            RecipientReport(
                user, "", "", "", "", "other", "complaint", "unsubscribe-request", "unknown"
            ),
        )
        if user
        else ()
    )
    reason = "unsubscribe request sent by the recipient's mail client (opt-out)"
    if not user:
        reason += "; recipient unrecoverable: no From address"
    return MessageReport("arf", recipients, feedback, reason, "apple-unsubscribe", extra)
