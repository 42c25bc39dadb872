"""Postmark bounce and spam-complaint webhooks (``RecordType`` Bounce / SpamComplaint).

Postmark posts one JSON object per bounce. Abridged::

    {"RecordType": "Bounce", "Type": "HardBounce", "TypeCode": 1,
     "Email": "a@example.com", "From": "news@sender.example",
     "Description": "The server was unable to deliver your message …",
     "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist",
     "MessageID": "…", "BouncedAt": "2024-06-28T10:00:00Z", "Inactive": true}

``Details`` (the receiver's reply) decides the class; ``Type`` is the fallback.
``Description`` is Postmark's fixed text for the type, so it is never classified.
An ``AutoResponder`` "bounce" is an auto-reply: not read. A ``SpamComplaint``
(record or bounce type) is an abuse complaint; ``Unsubscribe`` an opt-out.
"""

from __future__ import annotations

from classifiers.esp._common import (
    as_dict,
    bounce_recipient,
    bounce_report,
    complaint_report,
    text,
)
from classifiers.types import BounceCategory, BounceClass, MessageReport

__all__ = ["DETECTOR", "read"]

DETECTOR = "postmark"

_TYPES: dict[str, tuple[BounceCategory, BounceClass]] = {
    "hardbounce": ("bad-mailbox", "hard"),
    "bademailaddress": ("bad-mailbox", "hard"),
    "softbounce": ("other", "soft"),
    "transient": ("other", "soft"),
    "dnserror": ("bad-connection", "soft"),
    "spamnotification": ("spam-related", "spam"),
    "blocked": ("spam-related", "spam"),
    "dmarcpolicy": ("policy-related", "spam"),
    "virusnotification": ("virus-related", "soft"),
    "challengeverification": ("other", "unknown"),
    "manuallydeactivated": ("other", "unknown"),
    "unknown": ("other", "unknown"),
}


def read(value: object) -> MessageReport | None:
    """The report for one Postmark bounce or spam-complaint webhook, or ``None``."""
    doc = as_dict(value)
    record = text(doc.get("RecordType")).lower()
    if record not in ("bounce", "spamcomplaint"):
        return None
    btype = text(doc.get("Type")).lower()
    address = text(doc.get("Email"))
    extra = {"message_id": m} if (m := text(doc.get("MessageID"))) else {}
    if record == "spamcomplaint" or btype == "spamcomplaint":
        return complaint_report(
            DETECTOR,
            [address],
            "abuse",
            mail_from=text(doc.get("From")),
            arrival=text(doc.get("BouncedAt")),
            extra=extra,
        )
    if btype in ("unsubscribe", "listunsubscribe"):
        return complaint_report(DETECTOR, [address], "opt-out", extra=extra)
    if btype not in _TYPES:
        return None  # AutoResponder, Subscribe, AddressChange, OpenRelayTest, …
    r = bounce_recipient(
        address,
        diag=text(doc.get("Details")),
        status="",
        permanent=_TYPES[btype][1] != "soft",
        fallback=_TYPES[btype],
        rule=f"postmark-{btype}",
    )
    return bounce_report(DETECTOR, [r], f"{text(doc.get('Type'))} bounce", extra)
