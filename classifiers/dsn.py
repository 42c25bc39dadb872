"""RFC 3464 delivery status notifications, and RFC 6533 global (UTF-8) ones.

Grammar (RFC 3464 sections 2.2-2.3, abridged)::

    delivery-status-content = per-message-fields 1*( CRLF per-recipient-fields )
    final-recipient-field   = "Final-Recipient" ":" address-type ";" generic-address
    action-field            = "Action" ":" action-value
    action-value            = "failed" / "delayed" / "delivered" / "relayed" / "expanded"
    status-field            = "Status" ":" status-code        ; RFC 3463
    remote-mta-field        = "Remote-MTA" ":" mta-name-type ";" mta-name
    diagnostic-code-field   = "Diagnostic-Code" ":" diagnostic-type ";" *text

RFC 6533 adds ``message/global-delivery-status`` and the ``utf-8`` address type,
whose values may carry ``\\x{HHHH}`` escapes (embedded-unicode-char). We are
lenient: field case, missing address types, angle brackets and junk lines are
tolerated; a recipient block without any address is skipped.
"""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from classifiers._mime import field_blocks, iter_parts, part_body, text_near, text_of
from classifiers._original import address_of
from classifiers._rules import RuleTable, default_table
from classifiers._verdicts import verdict_of
from classifiers.status import parse_enhanced_status
from classifiers.types import Classification, MessageKind, MessageReport, RecipientReport

__all__ = [
    "STATUS_TYPES",
    "build_report",
    "find_status_part",
    "parse_status_part",
    "parse_status_text",
]

STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
_UNICODE_ESCAPE = re.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")
_ACTIONS = frozenset({"failed", "delayed", "delivered", "relayed", "expanded"})
# Exim gives up on a temporary failure by appending its own verdict to the last reply
# it got: "Diagnostic-Code: smtp; 452 4.2.2 <a@b>: Mailbox full: retry timeout
# exceeded" (with "Status: 5.0.0"; captured from Exim 4.96, tests/data/mail/exim-real/).
# The remote's reason is the better evidence, as in other expired reports.
_EXIM_GAVE_UP = re.compile(r":[ \t\r\n]*retry timeout exceeded[ \t\r\n]*$", re.IGNORECASE)
# OpenSMTPD up to 6.8 reports an envelope it has given up on as "Action: delayed"
# ("A message is delayed for more than 0 seconds … <addr>: Envelope expired"; fixed
# upstream after 6.8): the message is gone, so the recipient has failed.
_GIVEN_UP: Final = re.compile(r"\bEnvelope expired\b", re.IGNORECASE)


def find_status_part(msg: Message) -> Message | None:
    """The machine-readable status part of a DSN, if there is one."""
    for part in iter_parts(msg):
        try:
            if part.get_content_type() in STATUS_TYPES:
                return part
        except (TypeError, ValueError):
            continue
    return None


def _typed_value(value: str) -> str:
    """``rfc822; <a@b>`` → ``<a@b>``; ``utf-8; a\\x{E9}@b`` → ``aé@b``."""
    kind, sep, rest = value.partition(";")
    text = rest if sep else kind
    if sep and kind.strip().lower() in ("utf-8", "x-utf-8", "unknown"):
        text = _UNICODE_ESCAPE.sub(lambda m: _chr(m.group(1)), text)
    return text.strip()


def _chr(hex_digits: str) -> str:
    code = int(hex_digits, 16)
    return chr(code) if code <= 0x10FFFF else "\ufffd"


def _first(fields: dict[str, list[str]], *names: str) -> str:
    for name in names:
        values = fields.get(name)
        if values:
            return values[0]
    return ""


def parse_status_part(
    part: Message, table: RuleTable | None, human: str = ""
) -> tuple[MessageKind, list[RecipientReport], dict[str, str]]:
    """Parse a status part into the report kind, per-recipient reports and DSN-level fields.

    ``human`` is the report's human-readable text: where a recipient block has no
    Diagnostic-Code, the text near the recipient's address there is used instead.
    """
    return parse_status_text(text_of(part_body(part), "utf-8"), table, human)


def parse_status_text(
    text: str, table: RuleTable | None, human: str = ""
) -> tuple[MessageKind, list[RecipientReport], dict[str, str]]:
    """Parse the text of a status part (see :func:`parse_status_part`)."""
    blocks = field_blocks(text)
    per_message: dict[str, str] = {}
    recipients: list[RecipientReport] = []
    for block in blocks:
        # Original-Recipient is the address we sent to; Final-Recipient may be an alias
        # the receiver expanded it to.
        named = [
            value
            for name in ("original-recipient", "final-recipient", "x-actual-recipient")
            for value in block.get(name, ())
        ]
        if not named:
            if not recipients:  # the per-message block
                per_message = {k: v[0] for k, v in block.items()}
            continue
        # The first field that holds an address (an empty "rfc822;" or an X.400
        # name is not one we can act on).
        address_field = next((v for v in named if "@" in v), "")
        if not address_field:
            continue
        recipients.append(_recipient(block, address_field, per_message, table, human))
    actions = {r.action for r in recipients}
    kind: MessageKind = "delay" if actions == {"delayed"} else "dsn"
    return kind, recipients, per_message


def build_report(
    status: tuple[MessageKind, list[RecipientReport], dict[str, str]],
    *,
    is_global: bool,
    extra: dict[str, str],
) -> MessageReport | None:
    """The message report for a parsed status part (None when it names no recipient)."""
    kind, recipients, per_message = status
    if not recipients:
        return None
    reporting = per_message.get("reporting-mta", "").partition(";")[2].strip()
    standard = "RFC 6533 global delivery status" if is_global else "RFC 3464 report"
    reason = f"{standard} from {reporting or 'an unnamed MTA'}"
    return MessageReport(kind, tuple(recipients), None, reason, "rfc3464", extra)


def _reason_before_expiry(diag: str, status: str, table: RuleTable | None) -> Classification:
    """Classify ``diag``; for Exim's "<reply>: retry timeout exceeded", by the reply's reason.

    The expiry wins only when the reply alone is decided by a fallback or a weak text.
    """
    verdict = verdict_of(diag, status, table)
    if verdict.rule_id != "message-expired" or not _EXIM_GAVE_UP.search(diag):
        return verdict
    cause = verdict_of(_EXIM_GAVE_UP.sub("", diag), status, table)
    weak = (table or default_table()).fallback_ids
    if cause.rule_id in weak or cause.category in ("other", "unknown"):
        return verdict
    return cause


def _recipient(
    block: dict[str, list[str]],
    address_field: str,
    per_message: dict[str, str],
    table: RuleTable | None,
    human: str,
) -> RecipientReport:
    address = address_of(_typed_value(address_field)) or _typed_value(address_field).strip("<>")
    action = _first(block, "action").lower().split()[0:1]
    action_value = action[0] if action and action[0] in _ACTIONS else "failed"
    diag = _typed_value(_first(block, "diagnostic-code"))
    status = parse_enhanced_status(_first(block, "status"))
    if not diag and human and (not status or status.endswith(".0")):
        # No diagnostic and a status whose detail is "other or undefined" (X.Y.0): the
        # human part is the best evidence there is, e.g. Exim's "Unrouteable address".
        diag = text_near(human, address)
    if action_value == "delayed" and human:
        given_up = _GIVEN_UP.search(text_near(human, address, lines=1))
        if given_up is not None:
            action_value, diag = "failed", diag or given_up.group(0)
    remote = _typed_value(_first(block, "remote-mta")) or per_message.get("reporting-mta", "")
    if action_value in ("delivered", "relayed", "expanded"):
        return RecipientReport(
            address,
            action_value,
            status,
            diag,
            _typed_value(remote),
            "other",
            "delivered",
            "dsn-" + action_value,
            "unknown",
        )
    verdict = _reason_before_expiry(diag, status, table)
    cls = verdict.cls
    rule = verdict.rule_id
    if action_value == "delayed" and cls not in ("soft",):
        cls, rule = "soft", f"{rule}+delayed"  # a delay is never a final verdict
    elif cls in ("delivered", "autoreply"):
        # "failed" with a 2xx diagnostic contradicts itself: say we cannot tell.
        cls, rule = "unknown", f"{rule}+action-failed"
    return RecipientReport(
        address,
        action_value,
        status or verdict.status,
        diag,
        _typed_value(remote),
        verdict.category,
        cls,
        rule,
        verdict.fault,
    )
