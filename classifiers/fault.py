"""Whose fault a failure is: one fixed mapping from category, status and rule.

A failure is about the recipient (the address or its mailbox is the problem), about
our sender address or domain, about our sending host or IP (reputation, HELO, PTR,
SPF/DKIM/DMARC, TLS, rate limits), about the path between us (timeouts, refused
connections, loops, expiry), about the message content, or unknown. The decision:

1. a rule of the table may say ``fault = "..."`` itself: that wins;
2. an RFC 3463 status that names our sender (X.1.7 bad sender mailbox syntax, X.1.8
   bad sender system address, RFC 7505 X.7.27 sender null MX) means ``sender``;
3. otherwise the category decides (:data:`CATEGORY_FAULT`);
4. for category ``other`` a failure status's subject decides (:data:`SUBJECT_FAULT`);
5. anything left is ``unknown``.

Pure data and one function; :mod:`classifiers.vector` repeats it as polars
expressions from the same tables and regex, and a test proves both agree.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

__all__ = [
    "CATEGORY_FAULT",
    "FAULTS",
    "SENDER_STATUSES",
    "SUBJECT_FAULT",
    "Fault",
    "fault_of",
    "is_sender_status",
]

Fault = Literal["recipient", "sender", "our-host", "network", "content", "unknown"]
FAULTS: Final[tuple[Fault, ...]] = get_args(Fault)

# Step 3. Keys are the 17 PowerMTA categories (classifiers.types.BounceCategory);
# "other" is absent on purpose: step 4 looks at the status instead.
CATEGORY_FAULT: Final[dict[str, Fault]] = {
    "bad-mailbox": "recipient",
    "bad-domain": "recipient",
    "inactive-mailbox": "recipient",
    "quota-issues": "recipient",
    # Block lists, reputation, policy refusals and rate limits judge us, not the address.
    "spam-related": "our-host",
    "policy-related": "our-host",
    "relaying-issues": "our-host",
    "bad-configuration": "our-host",
    "invalid-sender": "sender",
    "content-related": "content",
    "virus-related": "content",
    "message-expired": "network",
    "no-answer-from-host": "network",
    "bad-connection": "network",
    "routing-errors": "network",
    "protocol-errors": "network",
}

# RFC 3463 X.1.7, X.1.8 and RFC 7505 X.7.27, as normalised statuses (classifiers.status
# drops leading zeros), so a set lookup — cheap in both engines — decides.
SENDER_STATUSES: Final = ("4.1.7", "4.1.8", "5.1.7", "5.1.8", "4.7.27", "5.7.27")
# Step 4: the subject of a 4.x.x / 5.x.x status (RFC 3463 section 3), keyed on the
# status's first four characters: "5.1." is subject 1; "5.10" (subject 10) is none.
_SUBJECTS: Final[tuple[tuple[str, Fault], ...]] = (
    ("1", "recipient"),  # addressing status
    ("2", "recipient"),  # mailbox status
    ("4", "network"),  # network and routing status
    ("5", "network"),  # mail delivery protocol status
    ("6", "content"),  # message content or media status
    ("7", "our-host"),  # security or policy status
)
SUBJECT_FAULT: Final[dict[str, Fault]] = {
    f"{klass}.{subject}.": fault for klass in "45" for subject, fault in _SUBJECTS
}


def is_sender_status(status: str) -> bool:
    """True for a normalised status about our sender: X.1.7, X.1.8 or X.7.27."""
    return status in SENDER_STATUSES


def fault_of(category: str, status: str, override: Fault | None = None) -> Fault:
    """Whose fault a failure of ``category`` with normalised ``status`` is.

    ``override`` is the fired rule's own ``fault`` (None when it has none).
    ``fault_of("bad-domain", "5.1.7")`` is ``"sender"``; ``fault_of("other", "4.4.1")``
    is ``"network"``; ``fault_of("other", "")`` is ``"unknown"``.
    """
    if override is not None:
        return override
    if is_sender_status(status):
        return "sender"
    mapped = CATEGORY_FAULT.get(category)
    if mapped is not None:
        return mapped
    return SUBJECT_FAULT.get(status[:4], "unknown")
