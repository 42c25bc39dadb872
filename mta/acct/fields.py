"""PowerMTA accounting record types and field names.

One accounting file may hold several record types. PowerMTA then writes ONE
header row naming the union of the fields configured for those types, in a
stable order with ``type`` always first, and every record fills only its own
fields, leaving the others empty::

    type,timeLogged,orig,rcpt,dlvSourceIp,bounceCat
    d,2026-11-25 07:43:47+0000,news@example.com,ann@example.net,192.0.2.10,
    b,2026-11-25 07:43:49+0000,news@example.com,bob@example.org,,bad-mailbox

:func:`union_fields` computes such a header from per-type field lists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final, Literal, TypeGuard, get_args

__all__ = [
    "DEFAULT_FIELDS",
    "DEFAULT_HEADER",
    "FEEDBACK_FIELDS",
    "HEADER_FIELD_PREFIX",
    "KNOWN_FIELDS",
    "RECORD_TYPES",
    "RECORD_TYPE_DESCRIPTIONS",
    "RecordType",
    "is_known_field",
    "is_record_type",
    "union_fields",
]

RecordType = Literal["d", "b", "t", "tq", "f", "rb", "rs", "r"]
"""The value of the ``type`` column of an accounting record."""

RECORD_TYPES: Final[tuple[RecordType, ...]] = get_args(RecordType)

RECORD_TYPE_DESCRIPTIONS: Final[Mapping[RecordType, str]] = {
    "d": "delivered: the receiving MTA accepted the message",
    "b": "bounced: delivery failed permanently (or expired)",
    "t": "transient failure: one attempt failed, the message stays queued",
    "tq": "queue-level transient failure: a whole queue was deferred",
    "f": "feedback-loop report: a receiver forwarded a complaint (ARF)",
    "rb": "remote bounce: an asynchronous DSN arrived after a 'd' record",
    "rs": "remote status: an asynchronous DSN that is not a failure (e.g. delayed, relayed)",
    "r": "received: the message was accepted for delivery (SMTP or pickup)",
}

DEFAULT_FIELDS: Final[tuple[str, ...]] = (
    "type",
    "timeLogged",
    "timeQueued",
    "orig",
    "rcpt",
    "orcpt",
    "dsnAction",
    "dsnStatus",
    "dsnDiag",
    "dsnMta",
    "bounceCat",
    "srcType",
    "srcMta",
    "dlvType",
    "dlvSourceIp",
    "dlvDestinationIp",
    "dlvEsmtpAvailable",
    "dlvSize",
    "vmta",
    "jobId",
    "envId",
    "queue",
    "vmtaPool",
)
"""PowerMTA's default fields for delivery-style records, in file order."""

FEEDBACK_FIELDS: Final[tuple[str, ...]] = (
    "feedbackType",
    "format",
    "userAgent",
    "reportingMta",
    "reportedDomain",
    "arrivalDate",
    "sourceIp",
)
"""The extra fields of ``f`` (feedback-loop) records, from the ARF report (RFC 5965)."""

DEFAULT_HEADER: Final[tuple[str, ...]] = DEFAULT_FIELDS + FEEDBACK_FIELDS
"""The header of a file holding every record type with default fields."""

HEADER_FIELD_PREFIX: Final = "header_"
"""``header_<Name>`` logs the message header ``<Name>`` (e.g. ``header_X-Campaign``)."""

# Documented fields outside the default set; operators enable them with
# `record-fields`, so the writer must accept them.
_OPTIONAL_FIELDS: Final[tuple[str, ...]] = (
    "timeImprinted",
    "timeFirstAttempt",
    "totalSecondsQueued",
    "dlvTlsProtocol",
    "dlvTlsCipher",
)

KNOWN_FIELDS: Final[frozenset[str]] = frozenset(DEFAULT_HEADER + _OPTIONAL_FIELDS)
"""Every field name the writer accepts, besides the ``header_<Name>`` pattern."""

# RFC 5322 section 3.6.8: field-name = 1*ftext; ftext = %d33-57 / %d59-126
# (printable US-ASCII except ":"). The part after "header_" must be one.
_HEADER_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")

_RECORD_TYPE_SET: Final[frozenset[str]] = frozenset(RECORD_TYPES)


def is_record_type(value: str) -> TypeGuard[RecordType]:
    """Tell whether ``value`` is a record type PowerMTA writes (``d``, ``b``, ``tq``…)."""
    return value in _RECORD_TYPE_SET


def is_known_field(name: str) -> bool:
    """Tell whether ``name`` is a PowerMTA field name or a valid ``header_<Name>`` field."""
    if name in KNOWN_FIELDS:
        return True
    if not name.startswith(HEADER_FIELD_PREFIX):
        return False
    return _HEADER_NAME.fullmatch(name, len(HEADER_FIELD_PREFIX)) is not None


def union_fields(*field_lists: Iterable[str]) -> tuple[str, ...]:
    """Merge per-record-type field lists into one file header (PowerMTA's union rule).

    ``type`` comes first; every other name keeps the position of its first
    appearance, so the header is stable for a given configuration.
    """
    merged: dict[str, None] = {"type": None}
    for fields in field_lists:
        for name in fields:
            merged.setdefault(name, None)
    return tuple(merged)
