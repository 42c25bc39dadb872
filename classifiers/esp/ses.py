"""Amazon SES bounce, complaint and delivery-delay notifications (SNS or event publishing).

SES publishes one JSON document per event, alone (event destinations, the raw
message of an SNS subscription) or as the ``Message`` string of an SNS envelope
(``{"Type": "Notification", "Message": "{…}", "TopicArn": …}``). Abridged::

    {"notificationType": "Bounce",            # event publishing: "eventType"
     "bounce": {"bounceType": "Permanent",    # Permanent | Transient | Undetermined
                "bounceSubType": "General",   # NoEmail, Suppressed, MailboxFull, …
                "bouncedRecipients": [{"emailAddress": "a@example.com",
                                       "action": "failed", "status": "5.1.1",
                                       "diagnosticCode": "smtp; 550 5.1.1 …"}],
                "remoteMtaIp": "192.0.2.1", "reportingMTA": "dsn; a1-2.smtp-out…"},
     "mail": {"source": "news@sender.example", "messageId": "…",
              "headers": [{"name": "X-Job", "value": "…"}]}}

    {"notificationType": "Complaint",
     "complaint": {"complainedRecipients": [{"emailAddress": "a@example.com"}],
                   "complaintFeedbackType": "abuse",  # RFC 5965 type, may be absent
                   "userAgent": "…", "arrivalDate": "2024-06-27T20:00:00.000Z"}, "mail": {…}}

The diagnostic decides a bounced recipient's class, as in a DSN; without one
(or when SES itself suppressed the send) the bounce type and sub-type do. A
``Transient`` bounce is never ``hard``; ``Undetermined`` without a diagnostic is
``unknown``. Field names are matched exactly (SES's own spelling); values are
lenient (missing, null, wrong type → empty).
"""

from __future__ import annotations

from collections.abc import Mapping

from classifiers._original import address_of
from classifiers.esp._common import as_dict, as_list, complaint_report, text, unwrap_string
from classifiers.fault import Fault, fault_of
from classifiers.reply import classify_diag
from classifiers.status import parse_enhanced_status
from classifiers.types import (
    BounceCategory,
    BounceClass,
    MessageKind,
    MessageReport,
    RecipientReport,
)

__all__ = ["DETECTOR", "read"]

DETECTOR = "amazon-ses"

# (bounceType, bounceSubType) → category and class when no diagnostic decides.
_SUBTYPES: dict[tuple[str, str], tuple[BounceCategory, BounceClass]] = {
    ("permanent", "general"): ("bad-mailbox", "hard"),
    ("permanent", "noemail"): ("bad-mailbox", "hard"),
    ("permanent", "suppressed"): ("bad-mailbox", "hard"),
    ("permanent", "onaccountsuppressionlist"): ("bad-mailbox", "hard"),
    ("transient", "general"): ("other", "soft"),
    ("transient", "mailboxfull"): ("quota-issues", "soft"),
    ("transient", "messagetoolarge"): ("other", "soft"),
    ("transient", "contentrejected"): ("content-related", "spam"),
    ("transient", "attachmentrejected"): ("content-related", "spam"),
}
# SES refused to send because an earlier bounce or complaint listed the address: its
# diagnostic is SES's own sentence, so the sub-type decides.
_SUPPRESSED = frozenset({"suppressed", "onaccountsuppressionlist"})


def read(value: object) -> MessageReport | None:
    """The report for an SES notification (raw or in an SNS envelope), or ``None``."""
    doc = as_dict(value)
    if "Message" in doc and ("TopicArn" in doc or text(doc.get("Type")) == "Notification"):
        doc = as_dict(unwrap_string(doc.get("Message")))
    event = text(doc.get("notificationType") or doc.get("eventType")).lower()
    mail = as_dict(doc.get("mail"))
    if event == "bounce":
        return _bounce(as_dict(doc.get("bounce")), mail)
    if event == "complaint":
        return _complaint(as_dict(doc.get("complaint")), mail)
    if event == "deliverydelay":
        return _delay(as_dict(doc.get("deliveryDelay")), mail)
    return None


def _ids(mail: Mapping[str, object]) -> dict[str, str]:
    headers = {
        text(h.get("name")).lower(): text(h.get("value"))
        for h in map(as_dict, as_list(mail.get("headers")))
    }
    pairs = (("acctpipe_id", "x-acctpipe-id"), ("job_id", "x-job"))
    out = {key: v for key, name in pairs if (v := headers.get(name, ""))}
    if message_id := text(mail.get("messageId")):
        out["message_id"] = message_id
    return out


def _bounce(bounce: Mapping[str, object], mail: Mapping[str, object]) -> MessageReport:
    btype = text(bounce.get("bounceType")).lower() or "undetermined"
    subtype = text(bounce.get("bounceSubType")).lower()
    remote = text(bounce.get("remoteMtaIp"))
    recipients: list[RecipientReport] = []
    for item in map(as_dict, as_list(bounce.get("bouncedRecipients"))):
        address = address_of(text(item.get("emailAddress")))
        if not address:
            continue
        status = parse_enhanced_status(text(item.get("status")))
        diag = text(item.get("diagnosticCode"))
        category, cls, rule, fault = _decide(btype, subtype, status, diag)
        action = text(item.get("action")).lower() or "failed"
        recipients.append(
            RecipientReport(address, action, status, diag, remote, category, cls, rule, fault)
        )
    reason = f"Amazon SES bounce notification ({btype}/{subtype or '-'})"
    if not recipients:
        reason += "; no bouncedRecipients address: unrecoverable"
    return MessageReport("dsn", tuple(recipients), None, reason, DETECTOR, _ids(mail))


def _decide(
    btype: str, subtype: str, status: str, diag: str
) -> tuple[BounceCategory, BounceClass, str, Fault]:
    """Category, class, rule and fault: the diagnostic decides, SES's own type when it can't."""
    fallback = _SUBTYPES.get((btype, subtype))
    if subtype in _SUPPRESSED and fallback:
        return fallback[0], fallback[1], f"ses-{subtype}", fault_of(fallback[0], status)
    if diag or status:
        verdict = classify_diag(diag, status)
        cls: BounceClass = verdict.cls
        rule = verdict.rule_id
        if cls in ("unknown", "delivered", "autoreply") and fallback:
            return (*fallback, f"ses-{btype}-{subtype}", fault_of(fallback[0], status))
        if btype == "transient" and cls == "hard":
            cls, rule = "soft", f"{rule}+transient"
        return verdict.category, cls, rule, verdict.fault
    if fallback:
        return (*fallback, f"ses-{btype}-{subtype}", fault_of(fallback[0], status))
    if btype == "permanent":
        return "bad-mailbox", "hard", "ses-permanent", "recipient"
    if btype == "transient":
        return "other", "soft", "ses-transient", "unknown"
    return "other", "unknown", "ses-undetermined", "unknown"


def _complaint(complaint: Mapping[str, object], mail: Mapping[str, object]) -> MessageReport:
    addresses = [
        text(item.get("emailAddress"))
        for item in map(as_dict, as_list(complaint.get("complainedRecipients")))
    ]
    return complaint_report(
        DETECTOR,
        addresses,
        text(complaint.get("complaintFeedbackType")),
        user_agent=text(complaint.get("userAgent")) or "Amazon SES",
        mail_from=text(mail.get("source")),
        arrival=text(complaint.get("arrivalDate")) or text(complaint.get("timestamp")),
        extra=_ids(mail),
        rule_prefix="ses-complaint",
        source="complainedRecipients",
        what="complaint notification",
    )


def _delay(delay: Mapping[str, object], mail: Mapping[str, object]) -> MessageReport:
    recipients: list[RecipientReport] = []
    for item in map(as_dict, as_list(delay.get("delayedRecipients"))):
        address = address_of(text(item.get("emailAddress")))
        if not address:
            continue
        status = parse_enhanced_status(text(item.get("status")))
        diag = text(item.get("diagnosticCode"))
        verdict = classify_diag(diag, status)
        cls: BounceClass = "soft" if verdict.cls in ("hard", "unknown") else verdict.cls
        recipients.append(
            RecipientReport(
                address,
                "delayed",
                status,
                diag,
                "",
                verdict.category,
                cls,
                verdict.rule_id,
                verdict.fault,
            )
        )
    kind: MessageKind = "delay"
    reason = f"Amazon SES delivery delay ({text(delay.get('delayType')) or '-'})"
    return MessageReport(kind, tuple(recipients), None, reason, DETECTOR, _ids(mail))
