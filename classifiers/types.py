"""The vocabulary of classification: categories, classes, and the result types.

Everything here is a value: frozen dataclasses and ``Literal`` types, shared by
the reply classifier, the message classifier and their callers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal, get_args

from classifiers.fault import Fault

__all__ = [
    "BOUNCE_CATEGORIES",
    "BOUNCE_CLASSES",
    "MESSAGE_KINDS",
    "BounceCategory",
    "BounceClass",
    "Classification",
    "Fault",
    "Feedback",
    "FeedbackType",
    "MessageKind",
    "MessageReport",
    "RecipientReport",
]

# PowerMTA's bounce categories (DESIGN.md contract 3).
BounceCategory = Literal[
    "bad-mailbox",
    "bad-domain",
    "inactive-mailbox",
    "quota-issues",
    "spam-related",
    "policy-related",
    "content-related",
    "message-expired",
    "no-answer-from-host",
    "bad-connection",
    "routing-errors",
    "protocol-errors",
    "relaying-issues",
    "invalid-sender",
    "bad-configuration",
    "virus-related",
    "other",
]
BOUNCE_CATEGORIES: Final[tuple[BounceCategory, ...]] = get_args(BounceCategory)

# hard: the address will never accept mail. soft: temporary, or not the
# recipient's fault. spam: the receiver refused *us*. complaint: a person said
# "spam". delivered / autoreply: not failures at all. unknown: we cannot tell.
BounceClass = Literal["hard", "soft", "spam", "complaint", "unknown", "delivered", "autoreply"]
BOUNCE_CLASSES: Final[tuple[BounceClass, ...]] = get_args(BounceClass)

MessageKind = Literal["dsn", "arf", "autoreply", "delay", "unknown"]
MESSAGE_KINDS: Final[tuple[MessageKind, ...]] = get_args(MessageKind)

# RFC 5965 / 6650 feedback types.
FeedbackType = Literal["abuse", "fraud", "auth-failure", "not-spam", "opt-out", "virus", "other"]


@dataclass(frozen=True, slots=True)
class Classification:
    """What one failure means: a PowerMTA category, a class, and the rule that said so.

    ``status`` is the RFC 3463 enhanced status the decision used (``"5.1.1"``), or
    ``""`` when there was none; ``rule_id`` names the table row that fired; ``fault``
    says whose fault the failure is (:func:`classifiers.fault.fault_of`).
    """

    category: BounceCategory
    cls: BounceClass
    rule_id: str
    status: str = ""
    fault: Fault = "unknown"


@dataclass(frozen=True, slots=True)
class RecipientReport:
    """One recipient in a DSN (or a recovered address in an ARF or dialect bounce)."""

    address: str
    action: str  # RFC 3464 action: failed, delayed, delivered, relayed, expanded
    status: str  # enhanced status, "" when unknown
    diag: str  # the remote diagnostic text
    remote_mta: str
    category: BounceCategory
    cls: BounceClass
    rule: str
    fault: Fault  # whose fault the failure is (classifiers.fault); "unknown" for complaints


@dataclass(frozen=True, slots=True)
class Feedback:
    """The feedback part of an ARF report (RFC 5965), or of a vendor variant."""

    type: str
    user_agent: str = ""
    source_ip: str = ""
    reported_domain: str = ""
    original_mail_from: str = ""
    original_rcpt_to: str = ""
    arrival_date: str = ""
    # How original_rcpt_to was obtained: "header" (Original-Rcpt-To), "x-recipient",
    # "verp", "message-id", … or "" when it could not be recovered.
    recovered_from: str = ""


@dataclass(frozen=True, slots=True)
class MessageReport:
    """What a returned message is, who it is about, and why we think so."""

    kind: MessageKind
    recipients: tuple[RecipientReport, ...] = ()
    feedback: Feedback | None = None
    reason: str = ""
    detector: str = ""  # which parser or dialect plug-in produced it
    extra: dict[str, str] = field(default_factory=dict)
