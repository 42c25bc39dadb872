"""SparkPost webhook events: bounces, delays, policy rejections, spam complaints, unsubscribes.

SparkPost posts a JSON array; each item wraps one event under ``msys``::

    [{"msys": {"message_event": {"type": "bounce", "bounce_class": "10",
                                 "rcpt_to": "a@example.com", "raw_rcpt_to": "a@example.com",
                                 "reason": "550 5.1.1 …", "raw_reason": "550 5.1.1 …",
                                 "error_code": "550", "message_id": "…", "campaign_id": "…"}}},
     {"msys": {"message_event": {"type": "spam_complaint", "fbtype": "abuse",
                                 "rcpt_to": "b@example.com", …}}},
     {"msys": {"unsubscribe_event": {"type": "list_unsubscribe", "rcpt_to": "c@example.com"}}}]

The reason decides the class; SparkPost's numeric ``bounce_class`` is the
fallback (10/30 invalid recipient, 20-25 and 70 soft, 50-53 blocks, 54 relaying).
Auto-reply (60), challenge-response (100) and subscribe (80) classes are not bounces.
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

DETECTOR = "sparkpost"

_CLASSES: dict[str, tuple[BounceCategory, BounceClass]] = {
    "1": ("other", "unknown"),
    "10": ("bad-mailbox", "hard"),
    "20": ("other", "soft"),
    "21": ("bad-domain", "soft"),
    "22": ("quota-issues", "soft"),
    "23": ("other", "soft"),
    "24": ("no-answer-from-host", "soft"),
    "25": ("bad-configuration", "soft"),
    "30": ("bad-mailbox", "hard"),
    "40": ("other", "soft"),
    "50": ("policy-related", "spam"),
    "51": ("spam-related", "spam"),
    "52": ("content-related", "spam"),
    "53": ("content-related", "spam"),
    "54": ("relaying-issues", "soft"),
    "70": ("other", "soft"),
}
_BOUNCES = frozenset({"bounce", "out_of_band", "delay", "policy_rejection", "generation_rejection"})


def read(value: object) -> MessageReport | None:
    """The report for one SparkPost event (``{"msys": {…}}`` or the bare event), or ``None``."""
    doc = as_dict(value)
    msys = as_dict(doc.get("msys"))
    event = {}
    for key in ("message_event", "unsubscribe_event", "track_event"):
        if key in msys:
            event = dict(as_dict(msys.get(key)))
    if not event and "bounce_class" in doc:
        event = dict(doc)
    kind = text(event.get("type")).lower()
    address = text(event.get("rcpt_to")) or text(event.get("raw_rcpt_to"))
    pairs = (("message_id", "message_id"), ("job_id", "campaign_id"))
    extra = {k: v for k, name in pairs if (v := text(event.get(name)))}
    if kind == "spam_complaint":
        return complaint_report(
            DETECTOR,
            [address],
            text(event.get("fbtype")) or "abuse",
            user_agent=text(event.get("user_agent")),
            mail_from=text(event.get("friendly_from")),
            extra=extra,
        )
    bounce_class = text(event.get("bounce_class"))
    if kind in ("list_unsubscribe", "link_unsubscribe") or bounce_class == "90":
        return complaint_report(DETECTOR, [address], "opt-out", extra=extra)
    if kind not in _BOUNCES:
        return None
    if kind == "policy_rejection":
        fallback: tuple[BounceCategory, BounceClass] = ("policy-related", "spam")
    elif bounce_class in _CLASSES:
        fallback = _CLASSES[bounce_class]
    elif kind == "delay":
        fallback = ("other", "soft")
    else:
        return None  # auto-reply, challenge-response, subscribe: not bounces
    r = bounce_recipient(
        address,
        diag=text(event.get("raw_reason")) or text(event.get("reason")),
        status="",
        permanent=None if kind != "delay" else False,
        fallback=fallback,
        rule=f"sparkpost-{kind}-{bounce_class or '-'}",
        delayed=kind == "delay",
    )
    return bounce_report(DETECTOR, [r], f"{kind} event", extra)
