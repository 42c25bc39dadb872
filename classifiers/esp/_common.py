"""Helpers the ESP plug-ins share: typed access to loosely shaped JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping

from classifiers._original import address_of
from classifiers.arf import FEEDBACK_CLASSES, normalise_feedback_type
from classifiers.fault import fault_of
from classifiers.reply import classify_diag
from classifiers.status import parse_enhanced_status
from classifiers.types import (
    BounceCategory,
    BounceClass,
    Feedback,
    MessageKind,
    MessageReport,
    RecipientReport,
)

__all__ = [
    "Verdict",
    "as_dict",
    "as_list",
    "bounce_recipient",
    "bounce_report",
    "complaint_report",
    "text",
    "unwrap_string",
]

Verdict = tuple[BounceCategory, BounceClass]
"""A category and class: an ESP's own verdict, used when the diagnostic says nothing."""


def as_dict(value: object) -> Mapping[str, object]:
    """``value`` if it is a JSON object, else an empty one."""
    if isinstance(value, Mapping):
        return value
    return {}


def as_list(value: object) -> list[object]:
    """``value`` if it is a JSON array, else an empty one."""
    return list(value) if isinstance(value, list) else []


def text(value: object) -> str:
    """A JSON scalar as text (``""`` for null, objects and arrays)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        return ""
    return str(value)


def unwrap_string(value: object) -> object:
    """A JSON document held in a string (SNS's ``Message``), decoded; else ``value``."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def bounce_recipient(
    address: str,
    *,
    diag: str,
    status: str,
    permanent: bool | None,
    fallback: tuple[BounceCategory, BounceClass],
    rule: str,
    remote: str = "",
    delayed: bool = False,
) -> RecipientReport | None:
    """One bounced (or delayed) recipient of an ESP event, classed like a DSN recipient.

    The diagnostic (and status) decide, as in a DSN; ``fallback`` (the ESP's own
    verdict: bounce class, type or severity) decides when they say nothing. A
    temporary event (``permanent`` False) is never ``hard``; a delayed one is ``soft``.
    """
    addr = address_of(address)
    if not addr:
        return None
    status = parse_enhanced_status(status) or parse_enhanced_status(diag)
    category, cls = fallback
    fault = fault_of(category, status)
    if diag or status:
        verdict = classify_diag(diag, status)
        if verdict.cls not in ("unknown", "delivered", "autoreply"):
            category, cls, rule, fault = (
                verdict.category,
                verdict.cls,
                verdict.rule_id,
                verdict.fault,
            )
    if delayed and cls != "soft":
        cls, rule = "soft", f"{rule}+delayed"  # a delay is news, not a failure: always soft
    elif permanent is False and cls == "hard":
        cls, rule = "soft", f"{rule}+temporary"
    action = "delayed" if delayed else "failed"
    return RecipientReport(addr, action, status, diag, remote, category, cls, rule, fault)


def complaint_report(
    detector: str,
    addresses: list[str],
    ftype: str,
    *,
    user_agent: str = "",
    mail_from: str = "",
    arrival: str = "",
    extra: dict[str, str] | None = None,
    rule_prefix: str = "",
    source: str = "event",
    what: str = "event",
) -> MessageReport:
    """The ``arf`` report of an ESP's complaint (or unsubscribe) event for ``addresses``.

    ``rule_prefix`` (default: the detector) names the rule ``<prefix>-<type>``;
    ``source`` names the field the addresses came from (``Feedback.recovered_from``),
    ``what`` the kind of payload, for the reason.
    An address listed twice, in any case, is one recipient (its first spelling kept).
    """
    ftype = normalise_feedback_type(ftype or "abuse")
    cls = FEEDBACK_CLASSES.get(ftype, "complaint")
    seen: dict[str, str] = {}
    for address in filter(None, map(address_of, addresses)):
        seen.setdefault(address.lower(), address)
    unique = list(seen.values())
    rule = f"{rule_prefix or detector}-{ftype}"
    # A complaint is no delivery failure: nobody's "fault" applies.
    recipients = tuple(
        RecipientReport(a, "", "", "", "", "other", cls, rule, "unknown") for a in unique
    )
    feedback = Feedback(
        type=ftype,
        user_agent=user_agent or detector,
        original_mail_from=address_of(mail_from),
        original_rcpt_to=unique[0] if unique else "",
        arrival_date=arrival,
        recovered_from=source if unique else "",
    )
    reason = f"{detector} {ftype} {what}"
    if not unique:
        reason += "; no recipient address: unrecoverable"
    return MessageReport("arf", recipients, feedback, reason, detector, extra or {})


def bounce_report(
    detector: str, recipients: list[RecipientReport | None], what: str, extra: dict[str, str]
) -> MessageReport:
    """The ``dsn`` (or, when every recipient is delayed, ``delay``) report of bounce events."""
    found = tuple(r for r in recipients if r is not None)
    kind: MessageKind = "delay" if found and all(r.action == "delayed" for r in found) else "dsn"
    reason = f"{detector} {what}"
    if not found:
        reason += "; no recipient address: unrecoverable"
    return MessageReport(kind, found, None, reason, detector, extra)
