"""Feedback-loop reports: RFC 5965 ARF (with RFC 6650 and 6591 types) and vendor variants.

Grammar (RFC 5965 §3.1, abridged)::

    feedback-type   = "Feedback-Type:" ( "abuse" / "fraud" / "other" / "virus"
                                        / "not-spam" / "auth-failure" / token )
    user-agent      = "User-Agent:" product *( CFWS product )
    original-rcpt   = "Original-Rcpt-To:" addr-spec          ; may repeat: one per
                                                             ; recipient of the message
    original-from   = "Original-Mail-From:" addr-spec
    arrival-date    = "Arrival-Date:" date-time
    source-ip       = "Source-IP:" ( IPv4address / IPv6address )
    reported-domain = "Reported-Domain:" domain

Variants handled: Microsoft JMRP (no feedback part; the original is attached and
the recipient is in ``X-HmXmrOriginalRecipient``), Yahoo and AOL (standard ARF,
recipient often redacted). A redacted recipient is recovered from the headers
our MTA stamps (see :mod:`classifiers._original`), and the report says how.
"""

from __future__ import annotations

import re
from email.message import Message

from classifiers._mime import decode_header_value, field_blocks, iter_parts, part_body, text_of
from classifiers._original import (
    RECIPIENT_HEADERS,
    address_of,
    header,
    is_redacted,
    original_headers,
    verp_recipient,
)
from classifiers.types import BounceClass, Feedback, MessageReport, RecipientReport

__all__ = [
    "FEEDBACK_CLASSES",
    "find_feedback_part",
    "is_jmrp",
    "normalise_feedback_type",
    "parse_arf",
]

# Which class each feedback type gives the recipient. not-spam is the opposite of
# a complaint (never suppress); auth-failure (RFC 6591) reports that *our*
# authentication failed: nothing about the address, so unknown.
FEEDBACK_CLASSES: dict[str, BounceClass] = {
    "abuse": "complaint",
    "fraud": "complaint",
    "virus": "complaint",
    "other": "complaint",
    "opt-out": "complaint",
    "not-spam": "unknown",
    "auth-failure": "unknown",
}


def find_feedback_part(msg: Message) -> Message | None:
    """The ``message/feedback-report`` part, if any.

    Deliberately lenient: in a ``multipart/report; report-type=feedback-report``
    whose reporter labelled the feedback part ``text/plain`` (or
    ``application/octet-stream``), the part that opens with RFC 5965 fields and
    has a ``Feedback-Type`` is taken for it.
    """
    for part in iter_parts(msg):
        try:
            if part.get_content_type() == "message/feedback-report":
                return part
        except (TypeError, ValueError):
            continue
    if msg.get_param("report-type", "", header="content-type") != "feedback-report":
        return None
    for part in iter_parts(msg):
        if part.is_multipart():
            continue
        head = text_of(part_body(part)[:2048], "utf-8")
        if _FEEDBACK_TYPE.search(head):
            return part
    return None


# RFC 5965 §3.1 "Feedback-Type:" at the start of a line: the field a report cannot lack.
_FEEDBACK_TYPE = re.compile(r"(?im)^feedback-type[ \t]*:")
# A field whose value the email generator can only refold at its single spaces, which
# field_blocks unfolds back to single spaces: an ftext name, printable ASCII words.
_PLAIN_NAME = re.compile(r"[!-9;-~]+")
_PLAIN_VALUE = re.compile(r"(?:[!-~]+(?: [!-~]+)*)?")


def feedback_fields(part: Message) -> list[dict[str, list[str]]]:
    """The feedback part's field blocks, as ``field_blocks`` reads them from ``part_body``.

    The parser reads a ``message/feedback-report`` part into a sub-message whose headers
    are the report's fields; ``part_body`` serialises it back with the email generator
    (about a tenth of the whole-corpus time). When the sub-message has no body, the part
    no transfer encoding and every field is plain (see ``_PLAIN_VALUE``: the generator
    folds only at a value's single spaces, which unfolding turns back into single
    spaces), the same fields come from writing each as ``name: value``. Anything else
    goes the generator's way; tests/classifiers/test_fast_path.py proves both ways agree.
    """
    payload = part.get_payload() if part.is_multipart() else None
    cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if (
        isinstance(payload, list)
        and len(payload) == 1
        and isinstance(payload[0], Message)
        and payload[0].get_payload() == ""
        and cte not in ("base64", "quoted-printable")
    ):
        lines = []
        for name, value in payload[0].raw_items():
            if not (
                isinstance(value, str)
                and _PLAIN_NAME.fullmatch(name)
                and _PLAIN_VALUE.fullmatch(value)
            ):
                break
            lines.append(f"{name}: {value}\n")
        else:
            return field_blocks("".join(lines))
    return field_blocks(text_of(part_body(part), "utf-8"))


def is_jmrp(msg: Message) -> bool:
    """Microsoft's Junk Mail Reporting Program format (pre-ARF style)."""
    sender = decode_header_value(msg.get("From", "")).lower()
    subject = decode_header_value(msg.get("Subject", "")).lower()
    original = original_headers(msg)
    has_marker = original is not None and bool(header(original, "X-HmXmrOriginalRecipient"))
    from_ms = any(d in sender for d in ("hotmail.com", "outlook.com", "microsoft.com", "msn.com"))
    return has_marker or (from_ms and "complaint" in subject and original is not None)


def parse_arf(msg: Message, part: Message | None, *, detector: str = "arf") -> MessageReport:
    """Build the report for an ARF (``part`` given) or JMRP (``part`` None) message."""
    fields: dict[str, list[str]] = {}
    if part is not None:
        for block in feedback_fields(part):
            for key, values in block.items():
                fields.setdefault(key, []).extend(values)
    original = original_headers(msg)

    def first(name: str) -> str:
        values = fields.get(name)
        return values[0] if values else ""

    ftype = (first("feedback-type") or ("abuse" if part is None else "")).lower().split()[:1]
    feedback_type = normalise_feedback_type(ftype[0] if ftype else "other")
    rcpts, how = _recover_recipients(
        fields.get("original-rcpt-to", []), original, first("original-mail-from")
    )
    rcpt = rcpts[0] if rcpts else ""
    mail_from = first("original-mail-from") or header(original, "Return-Path")
    extra = {
        k: v
        for k, v in (
            ("acctpipe_id", header(original, "X-Acctpipe-Id")),
            ("job_id", header(original, "X-Job")),
            ("message_id", header(original, "Message-ID")),
        )
        if v
    }
    feedback = Feedback(
        type=feedback_type,
        user_agent=first("user-agent") or ("JMRP" if part is None else ""),
        source_ip=first("source-ip"),
        reported_domain=first("reported-domain"),
        original_mail_from=address_of(mail_from),
        original_rcpt_to=rcpt,
        arrival_date=first("arrival-date") or first("received-date"),
        recovered_from=how,
    )
    cls = FEEDBACK_CLASSES.get(feedback_type, "complaint")
    recipients: tuple[RecipientReport, ...] = ()
    reason = f"feedback report ({feedback_type})"
    if rcpts:
        rule = f"arf-{feedback_type}"
        recipients = tuple(
            RecipientReport(a, "", "", "", "", "other", cls, rule, "unknown") for a in rcpts
        )
        if how != "original-rcpt-to":
            reason += f"; recipient recovered from {how}"
    else:
        reason += "; recipient redacted and not recoverable (no X-Acctpipe-Rcpt, X-Recipient or "
        reason += "VERP return path in the original)"
    return MessageReport("arf", recipients, feedback, reason, detector, extra)


def normalise_feedback_type(value: str) -> str:
    """The RFC 5965/6650 name of a feedback type, mapping the vendor spellings of opt-out."""
    value = value.strip().lower()
    return _FEEDBACK_ALIASES.get(value, value)


# Reporters that write their own word for RFC 6650's opt-out ("unsubscribe", "optout").
_FEEDBACK_ALIASES = {
    "unsubscribe": "opt-out",
    "optout": "opt-out",
    "opt_out": "opt-out",
    "list-unsubscribe": "opt-out",
    "complaint": "abuse",
    "spam": "abuse",
}


def _recover_recipients(
    declared: list[str], original: Message | None, mail_from: str
) -> tuple[list[str], str]:
    # Original-Rcpt-To repeats once per recipient of the reported message (RFC 5965
    # §3.2), and a field may itself carry a comma-separated list: every one is a
    # complainer, unless our per-recipient stamp in the original names one of them.
    plain = _declared_addresses(declared)
    if len(plain) == 1:
        return plain, "original-rcpt-to"
    ours = [address_of(header(original, name)) for name in RECIPIENT_HEADERS]
    ours.append(verp_recipient(header(original, "Return-Path")))
    ours.append(verp_recipient(mail_from))
    if len(plain) > 1:
        wanted = {a.lower() for a in ours if a}
        match = next((a for a in plain if a.lower() in wanted), "")
        if match:
            return [match], "original-rcpt-to matching our stamp"
        return plain, "original-rcpt-to"
    for name in RECIPIENT_HEADERS:
        value = header(original, name)
        if value and not is_redacted(value):
            return [address_of(value)], name
    for source in (header(original, "Return-Path"), mail_from):
        verp = verp_recipient(source)
        if verp:
            return [verp], "verp"
    to = header(original, "To")
    if to and not is_redacted(to) and to.count("@") == 1:
        return [address_of(to)], "to"
    return [], ""


def _declared_addresses(declared: list[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for value in declared:
        for item in value.split(","):
            if not item.strip() or is_redacted(item):
                continue
            address = address_of(item)
            if address and "@" in address and address.lower() not in seen:
                seen.add(address.lower())
                out.append(address)
    return out
