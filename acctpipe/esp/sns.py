"""Amazon SNS HTTP(S) messages: the canonical string, signature and freshness checks (no I/O).

SNS posts a JSON envelope (``Content-Type: text/plain``)::

    {"Type": "Notification",              # or SubscriptionConfirmation, UnsubscribeConfirmation
     "MessageId": "…", "TopicArn": "arn:aws:sns:eu-west-1:123456789012:bounces",
     "Subject": "…",                      # Notification only, optional
     "Message": "{\"notificationType\":\"Bounce\", …}",
     "Timestamp": "2024-06-28T10:00:00.000Z",
     "SignatureVersion": "1",             # 1: SHA1withRSA, 2: SHA256withRSA
     "Signature": "<base64>", "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/….pem",
     "SubscribeURL": "…", "Token": "…"}   # the two confirmations only

The signed text is each field of a fixed list, in that order, as
``Name\\nValue\\n`` — a Notification: Message, MessageId, Subject (when
present), Timestamp, TopicArn, Type; a confirmation: Message, MessageId,
SubscribeURL, Timestamp, Token, TopicArn, Type (AWS, "Verifying the
signatures of Amazon SNS messages").
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from acctpipe.esp._reject import RejectedError

__all__ = [
    "MESSAGE_TYPES",
    "canonical_string",
    "check_fresh",
    "check_shape",
    "verify_signature",
]

MESSAGE_TYPES: Final = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")
_NOTIFICATION_FIELDS: Final = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_FIELDS: Final = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
_REQUIRED: Final = ("Type", "MessageId", "TopicArn", "Message", "Timestamp", "Signature")
_FUTURE_SKEW: Final = timedelta(minutes=5)  # a sender's clock a little ahead of ours


def check_shape(doc: object) -> Mapping[str, str]:
    """``doc`` as an SNS envelope of a known type with its string fields, or 422."""
    if not isinstance(doc, Mapping):
        raise RejectedError(422, "an SNS message is a JSON object")
    missing = [name for name in _REQUIRED if not isinstance(doc.get(name), str)]
    if missing:
        raise RejectedError(422, f"not an SNS message: no {', '.join(missing)}")
    if doc["Type"] not in MESSAGE_TYPES:
        raise RejectedError(422, f"unknown SNS message Type {doc['Type']!r}")
    return {k: v for k, v in doc.items() if isinstance(v, str)}


def canonical_string(doc: Mapping[str, str]) -> bytes:
    """The text SNS signs for ``doc``: its signed fields as ``Name\\nValue\\n``, in order."""
    names = _NOTIFICATION_FIELDS if doc.get("Type") == "Notification" else _CONFIRMATION_FIELDS
    parts = [f"{name}\n{doc[name]}\n" for name in names if name in doc]
    return "".join(parts).encode("utf-8")


def verify_signature(doc: Mapping[str, str], cert: x509.Certificate, now: datetime) -> None:
    """Raise 403 unless ``doc``'s Signature is ``cert``'s over its canonical string.

    SignatureVersion 1 is SHA1withRSA, 2 SHA256withRSA; a certificate outside
    its validity period signs nothing.
    """
    version = doc.get("SignatureVersion", "1")
    algorithm: hashes.HashAlgorithm
    if version == "1":
        algorithm = hashes.SHA1()  # noqa: S303 - SNS's SignatureVersion 1 is SHA1withRSA
    elif version == "2":
        algorithm = hashes.SHA256()
    else:
        raise RejectedError(403, f"unsupported SNS SignatureVersion {version!r}")
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise RejectedError(403, "the SNS signing certificate is not valid now")
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise RejectedError(403, "the SNS signing certificate holds no RSA key")
    try:
        signature = base64.b64decode(doc["Signature"], validate=True)
        key.verify(signature, canonical_string(doc), padding.PKCS1v15(), algorithm)
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise RejectedError(403, "the SNS message signature does not verify") from exc


def check_fresh(doc: Mapping[str, str], now: datetime, max_age: float) -> None:
    """Raise 403 when ``doc``'s Timestamp is older than ``max_age`` seconds (or in the future)."""
    try:
        stamp = datetime.fromisoformat(doc["Timestamp"].replace("Z", "+00:00"))
    except ValueError as exc:
        raise RejectedError(422, "the SNS Timestamp is not an ISO 8601 time") from exc
    if stamp.tzinfo is None:
        raise RejectedError(422, "the SNS Timestamp has no time zone")
    if now - stamp > timedelta(seconds=max_age):
        raise RejectedError(403, f"the SNS message is older than {max_age:.0f} s (a replay?)")
    if stamp - now > _FUTURE_SKEW:
        raise RejectedError(403, "the SNS message is dated in the future")
