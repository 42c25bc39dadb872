"""``classify_message``: what a returned message is, and what it says about whom.

The order of checks is the order of evidence, strongest first:

1. an ARF feedback report (RFC 5965), or Microsoft JMRP;
2. an RFC 3464 / 6533 DSN (its status part decides ``dsn`` vs ``delay``);
3. an ESP's JSON bounce or complaint notification in the body (:mod:`classifiers.esp`);
4. an unsubscribe request a mail client sent for its user (an ``opt-out`` report,
   :mod:`classifiers.unsubscribe`), unless the message looks like a bounce;
5. a read receipt (RFC 8098 MDN): not a bounce;
6. an auto-reply (RFC 3834 and the usual vendor signals);
7. a non-standard bounce recognised by a dialect plug-in, the last of which
   (``generic``) reads any vendor's recipient lines and replies;
8. flufl.bounce, for formats nothing above knows;
9. otherwise ``unknown``, with the reason.

It never raises: any input, however broken, yields a :class:`MessageReport`.
"""

from __future__ import annotations

import dataclasses
import re
from email.message import Message

from classifiers import arf, dsn
from classifiers._fallback import flufl_findings, with_flufl
from classifiers._fastdsn import fast_dsn
from classifiers._mime import body_text, decode_header_value, iter_parts, parse_bytes
from classifiers._original import address_of, header, original_headers, returned_recipient
from classifiers._reason import decided, notification_reason
from classifiers._rules import RuleTable
from classifiers._verdicts import verdict_of
from classifiers.autoreply import autoreply_reason
from classifiers.dialects import Finding
from classifiers.dialects.generic import is_list_mail
from classifiers.dialects.registry import DIALECTS
from classifiers.esp import notification_report
from classifiers.status import parse_enhanced_status
from classifiers.types import MessageKind, MessageReport, RecipientReport
from classifiers.unsubscribe import unsubscribe_report

__all__ = ["classify_message"]

_MAX_BYTES = 10 * 1024 * 1024  # a bounce is small; refuse to chew on a bomb
_BOUNCE_SENDER = re.compile(
    r"mailer-daemon|postmaster|mail delivery|mail administrator|mdaemon|mail system|"
    r"(^|[^a-z0-9.])ndr@",  # "ndr@": a non-delivery report's own sender
    re.I,
)
_REPLY_OR_FORWARD = re.compile(r"\s*(?:fwd?|fw|re|aw|wg|tr|rv|sv)\s*:", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery (status notification|failure|failed|has failed)|"
    r"failure notice|returned mail|mail delivery failed|non[- ]?delivery|could not be delivered|"
    r"delivery problem|nondeliverable|rejected|returned to sender|user unknown",
    re.I,
)
# Cheap byte-level gates, so that ordinary mail never pays for a JSON or body scan.
# They only need to be true for every message the readers accept: an ESP's JSON
# names its event field, or travels as JSON / from AWS (when encoded, the name may
# be hidden); an unsubscribe request says so, unless its body is base64.
# (Plain substring tests on the lower-cased bytes: a case-insensitive regex
# alternation over the whole message costs more than the rest of the pipeline.)
_NOTIFICATION_HINTS = (
    b"notificationtype",
    b"eventtype",
    b"sg_event_id",
    b"event-data",
    b"recordtype",
    b"msys",
    b"mandrill",
    b"log-level",
    b'"msg"',
    b"json",
    b"amazonaws",
    b"amazonses",
    b"base64",
)
_UNSUBSCRIBE_HINTS = (b"unsubscribe", b"base64")
_DELAY_SUBJECT = re.compile(
    r"delay|deferred|still being retried|not yet been delivered|warning: message|"
    r"temporary delivery failure|could not send message for past",
    re.I,
)


def classify_message(data: bytes, *, table: RuleTable | None = None) -> MessageReport:
    """Classify one raw message (bytes as received). Never raises."""
    try:
        return _classify(data, table)
    except Exception as exc:  # noqa: BLE001 - the contract: a report, never an exception
        return MessageReport("unknown", reason=f"could not be parsed ({type(exc).__name__}: {exc})")


def _classify(data: bytes, table: RuleTable | None) -> MessageReport:
    if not data or data.isspace():  # as ``not data.strip()``, without copying the message
        return MessageReport("unknown", reason="empty message")
    if len(data) > _MAX_BYTES:
        return MessageReport("unknown", reason=f"message larger than {_MAX_BYTES} bytes")
    fast = fast_dsn(data, table)
    if fast is not None:
        return fast
    msg = parse_bytes(data)
    if not msg.keys() and not msg.get_payload():
        return MessageReport("unknown", reason="no headers or body: not an e-mail message")
    feedback_part = arf.find_feedback_part(msg)
    if feedback_part is not None:
        return arf.parse_arf(msg, feedback_part)
    lowered = data.lower()  # for the byte-level gates (once, not per gate)
    status_part = dsn.find_status_part(msg)
    invalid_status = False
    if status_part is not None:
        report = _from_dsn(msg, status_part, table)
        if report is not None:
            return report
        invalid_status = True  # it names no address: let the dialects and flufl.bounce try
    elif arf.is_jmrp(msg):  # JMRP has no status part; a DSN quoting a Hotmail original does
        return arf.parse_arf(msg, None, detector="jmrp")
    elif (
        _has_any(lowered, _NOTIFICATION_HINTS) and (notice := notification_report(msg)) is not None
    ):
        return notice  # an ESP's bounce or complaint notification (JSON in the body)
    subject = decode_header_value(msg.get("Subject", ""))
    bounce_like = invalid_status or _looks_like_bounce(msg, subject)
    if (
        not bounce_like
        and _has_any(lowered, _UNSUBSCRIBE_HINTS)
        and (request := unsubscribe_report(msg)) is not None
    ):
        return request  # before the auto-reply check: a client-made opt-out, not a reply
    if not bounce_like and _has_part(msg, "message/disposition-notification"):
        return MessageReport(
            "unknown", reason="read receipt (RFC 8098 MDN), not a bounce", detector="mdn"
        )
    # DSNs carry Auto-Submitted: auto-replied too (RFC 3464 section 5), so a message
    # that looks like a bounce is taken for a vacation reply only when a header says
    # so and the sender is not a mailer daemon ("Automatic reply: order rejected").
    why = autoreply_reason(msg)
    if bounce_like and not (why.startswith(_HEADER_REASONS) and not _daemon_sender(msg)):
        why = ""
    if why:
        return MessageReport("autoreply", reason=why, detector="rfc3834")
    text = body_text(msg)
    crashed: list[str] = []
    report = _read_body(msg, text, subject, table, bounce_like, invalid_status, crashed)
    if crashed:  # said in the reason, so a faulty plug-in is seen, not silently skipped
        note = "dialect plug-in crashed: " + ", ".join(crashed)
        reason = f"{report.reason}; {note}" if report.reason else note
        report = dataclasses.replace(report, reason=reason)
    return report


def _read_body(
    msg: Message,
    text: str,
    subject: str,
    table: RuleTable | None,
    bounce_like: bool,
    invalid_status: bool,
    crashed: list[str],
) -> MessageReport:
    """The dialect plug-ins in turn, then flufl.bounce and the quoted original; a plug-in
    that raises is named in ``crashed`` (``name (ExceptionClass)``) and the next one tries."""
    for dialect in DIALECTS:
        try:
            findings = dialect.detect(msg, text)
        except Exception as exc:  # noqa: BLE001 - a faulty plug-in must not stop the others
            crashed.append(f"{dialect.name} ({type(exc).__name__})")
            continue
        if findings and dialect.name == "generic":
            # The generic reader knows no layout for sure: flufl.bounce's addresses join it.
            findings = with_flufl(findings, flufl_findings(msg, text))
        if findings and (
            report := _from_findings(msg, text, findings, subject, dialect.name, table)
        ):
            return report
    if bounce_like:
        findings = flufl_findings(msg, text)
        if findings and (
            report := _from_findings(msg, text, findings, subject, "flufl.bounce", table)
        ):
            return report
        recovered = _from_original(msg, text, subject, table)
        if recovered is not None:
            return recovered
        if invalid_status:
            return MessageReport(
                "unknown",
                reason="delivery-status part is invalid: it names no recipient address",
                detector="rfc3464",
                extra=_ids(msg),
            )
        if not text.strip():
            return MessageReport(
                "unknown",
                reason="bounce headers but an empty or truncated body: no recipient to report",
                detector="none",
            )
        return MessageReport(
            "unknown",
            reason="looks like a bounce, but no recipient address could be found in it",
            detector="none",
            extra=_ids(msg),
        )
    return MessageReport("unknown", reason="not a bounce, feedback report or auto-reply")


def _has_any(lowered: bytes, needles: tuple[bytes, ...]) -> bool:
    return any(needle in lowered for needle in needles)


def _has_part(msg: Message, ctype: str) -> bool:
    return any(_ctype(p) == ctype for p in iter_parts(msg))


def _ctype(part: Message) -> str:
    try:
        return part.get_content_type()
    except (TypeError, ValueError):
        return ""


# Auto-reply evidence from headers (not the subject), see autoreply.autoreply_reason.
_HEADER_REASONS = ("Auto-Submitted", "X-Autore", "Precedence")


def _daemon_sender(msg: Message) -> bool:
    return bool(_BOUNCE_SENDER.search(decode_header_value(msg.get("From", ""))))


def _looks_like_bounce(msg: Message, subject: str) -> bool:
    if _daemon_sender(msg):
        return True
    # A newsletter about "undeliverable parcels" carries list headers; a bounce never does.
    return not is_list_mail(msg) and bool(_BOUNCE_SUBJECT.search(subject))


def _ids(msg: Message) -> dict[str, str]:
    original = original_headers(msg)
    pairs = (("acctpipe_id", "X-Acctpipe-Id"), ("job_id", "X-Job"), ("message_id", "Message-ID"))
    return {k: v for k, name in pairs if (v := header(original, name))}


def _from_dsn(msg: Message, part: Message, table: RuleTable | None) -> MessageReport | None:
    status = dsn.parse_status_part(part, table, body_text(msg))
    is_global = _ctype(part) == "message/global-delivery-status"
    return dsn.build_report(status, is_global=is_global, extra=_ids(msg))


def _from_original(
    msg: Message, text: str, subject: str, table: RuleTable | None
) -> MessageReport | None:
    """A bounce whose text names no recipient: the one its envelope or original names.

    Only for a mail system's own notice (a daemon sender, or a null return path and a
    bounce's subject): a person forwarding or answering a bounce is not its recipient,
    though the mail comes to our VERP address.
    """
    if _REPLY_OR_FORWARD.match(subject):
        return None
    null_sender = header(msg, "Return-Path").strip() in ("<>", "")  # RFC 5321 4.5.5
    if not (_daemon_sender(msg) or (null_sender and _BOUNCE_SUBJECT.search(subject))):
        return None
    address, source = returned_recipient(msg)
    if not address:
        return None
    finding = Finding(address, notification_reason(msg, text, table), temporary=False)
    report = _from_findings(msg, text, [finding], subject, "original", table)
    if report is None:
        return None
    why = f"{report.reason}; the text names no recipient: recovered from the {source}"
    return MessageReport(report.kind, report.recipients, None, why, "original", report.extra)


def _own_addresses(msg: Message) -> set[str]:
    """The addresses a returned message is delivered to (our return path, VERP or not):
    a layout-free reader may find them in the text, but they are never a failed recipient."""
    own: set[str] = set()
    for name in ("To", "Delivered-To", "Return-Path"):
        for value in msg.get_all(name) or []:
            if address := address_of(decode_header_value(value)):
                own.add(address.lower())
    if address := address_of(header(original_headers(msg), "Return-Path")):
        own.add(address.lower())  # the original's envelope sender is ours too
    # Not the original's From: people mail themselves (a bounce of a list post to its
    # author's own dead address names that address as From and as the recipient).
    return own


def _from_findings(
    msg: Message,
    text: str,
    findings: list[Finding],
    subject: str,
    detector: str,
    table: RuleTable | None,
) -> MessageReport | None:
    delayed = all(f.temporary for f in findings) and bool(_DELAY_SUBJECT.search(subject))
    kind: MessageKind = "delay" if delayed else "dsn"
    recipients: list[RecipientReport] = []
    unique: dict[str, Finding] = {}
    own = _own_addresses(msg)  # the bounce's own addressee and sender never failed
    for f in findings:
        address = address_of(f.address)
        if address and address.lower() not in unique and address.lower() not in own:
            unique[address.lower()] = Finding(address, f.diag, f.temporary)
    verdicts = {key: verdict_of(f.diag, "", table) for key, f in unique.items()}
    # No address has a reason (or a status) of its own: the notice may give one for them all.
    if (
        unique
        and not any(decided(v, table) or v.status for v in verdicts.values())
        and (reason := notification_reason(msg, text, table))
    ):
        unique = {k: Finding(f.address, reason, f.temporary) for k, f in unique.items()}
        verdicts = {k: verdict_of(reason, "", table) for k in unique}
    for key, f in unique.items():
        address, verdict = f.address, verdicts[key]
        cls, rule = verdict.cls, verdict.rule_id
        if (f.temporary or delayed) and cls == "hard":
            cls, rule = "soft", f"{rule}+temporary"
        if cls in ("delivered", "autoreply"):
            cls, rule = "unknown", f"{rule}+bounce"
        action = "delayed" if f.temporary else "failed"
        recipients.append(
            RecipientReport(
                address,
                action,
                parse_enhanced_status(f.diag) or verdict.status,
                f.diag,
                "",
                verdict.category,
                cls,
                rule,
                verdict.fault,
            )
        )
    if not recipients:
        return None  # nothing usable: let the next detector try
    reason = f"non-standard bounce ({detector})"
    if not any(r.diag.strip() for r in recipients):
        reason += "; it gives no reason for the failure"
    return MessageReport(kind, tuple(recipients), None, reason, detector, _ids(msg))
