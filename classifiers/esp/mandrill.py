"""Mandrill (Mailchimp Transactional) webhook events: bounces, deferrals, spam, unsub, reject.

Mandrill posts a form field ``mandrill_events`` holding a JSON array; each event
wraps the message's state in ``msg``. Abridged::

    [{"event": "hard_bounce", "_id": "…", "ts": 1719568800,
      "msg": {"ts": 1719568790, "_id": "…", "state": "bounced",
              "email": "a@example.com", "sender": "news@sender.example",
              "subject": "…", "tags": [], "metadata": {},
              "bounce_description": "bad_mailbox", "bgtools_code": 10,
              "diag": "smtp;550 5.1.1 The email account … does not exist."}},
     {"event": "deferral", "msg": {"state": "deferred", "email": "b@example.com",
              "smtp_events": [{"ts": …, "type": "deferred",
                               "diag": "451 4.3.5 Temporarily unavailable"}]}},
     {"event": "spam", "msg": {"state": "sent", "email": "c@example.com", …}},
     {"event": "unsub", "msg": {…}},
     {"event": "reject", "msg": {"state": "rejected", "reject": {"reason": "hard-bounce"}}}]

``msg.diag`` (the receiver's reply) decides the class, as a DSN's diagnostic
does; ``bounce_description`` is the fallback, then the event (``hard_bounce``
hard, ``soft_bounce`` soft). A deferral is a delay whose reply is the last
``smtp_events`` entry. ``spam`` is an abuse complaint, ``unsub`` an opt-out. A
``reject`` for an address Mandrill refused because it bounced before is a hard
bounce, repeated; other rejects (its own rules, test mode) are not read.
"""

from __future__ import annotations

from classifiers.esp._common import (
    Verdict,
    as_dict,
    as_list,
    bounce_recipient,
    bounce_report,
    complaint_report,
    text,
)
from classifiers.types import MessageReport

__all__ = ["DETECTOR", "read"]

DETECTOR = "mandrill"

_DESCRIPTIONS: dict[str, Verdict] = {
    "bad_mailbox": ("bad-mailbox", "hard"),
    "invalid_address": ("bad-mailbox", "hard"),
    "invalid_domain": ("bad-domain", "hard"),
    "bad_domain": ("bad-domain", "hard"),
    "mailbox_full": ("quota-issues", "soft"),
    "spam_related": ("spam-related", "spam"),
    "invalid_content": ("content-related", "spam"),
}
_EVENTS: dict[str, Verdict] = {
    "hard_bounce": ("other", "hard"),
    "soft_bounce": ("other", "soft"),
}
_REJECTS: dict[str, Verdict] = {
    "hard-bounce": ("bad-mailbox", "hard"),
    "soft-bounce": ("other", "soft"),
}


def read(value: object) -> MessageReport | None:
    """The report for one Mandrill webhook event, or ``None``."""
    doc = as_dict(value)
    msg = as_dict(doc.get("msg"))
    event = text(doc.get("event")).lower()
    if not msg or not event or ("ts" not in doc and "_id" not in doc):
        return None
    address = text(msg.get("email"))
    extra = {"message_id": m} if (m := text(msg.get("_id")) or text(doc.get("_id"))) else {}
    if event == "spam":
        return complaint_report(
            DETECTOR, [address], "abuse", mail_from=text(msg.get("sender")), extra=extra
        )
    if event == "unsub":
        return complaint_report(DETECTOR, [address], "opt-out", extra=extra)
    if event in _EVENTS:
        description = text(msg.get("bounce_description")).lower()
        fallback = _DESCRIPTIONS.get(description, _EVENTS[event])
        soft = event == "soft_bounce"
        r = bounce_recipient(
            address,
            diag=_strip_type(text(msg.get("diag"))),
            status="",
            permanent=not soft,
            fallback=fallback,
            rule=f"mandrill-{event.replace('_', '-')}-{description or 'none'}",
        )
        return bounce_report(DETECTOR, [r], f"{event} event", extra)
    if event == "deferral":
        events = [as_dict(e) for e in as_list(msg.get("smtp_events"))]
        diags = [text(e.get("diag")) for e in events if text(e.get("type")).lower() == "deferred"]
        r = bounce_recipient(
            address,
            diag=_strip_type(diags[-1] if diags else ""),
            status="",
            permanent=False,
            fallback=("other", "soft"),
            rule="mandrill-deferral",
            delayed=True,
        )
        return bounce_report(DETECTOR, [r], "deferral event", extra)
    if event == "reject":
        reject = as_dict(msg.get("reject"))
        why = (text(reject.get("reason")) or text(msg.get("reject_reason"))).lower()
        if why not in _REJECTS:
            return None
        r = bounce_recipient(
            address,
            diag="",
            status="",
            permanent=why == "hard-bounce",
            fallback=_REJECTS[why],
            rule=f"mandrill-reject-{why}",
        )
        return bounce_report(DETECTOR, [r], f"reject ({why}) event", extra)
    return None


def _strip_type(diag: str) -> str:
    """``smtp;550 …`` → ``550 …``: Mandrill keeps the DSN diagnostic type on the reply."""
    head, sep, rest = diag.partition(";")
    return rest.strip() if sep and head.strip().lower() in ("smtp", "x-unix", "x-postfix") else diag
