"""Webhook signatures of the ESPs that sign their posts (no I/O).

* **SendGrid** signed Event Webhook: ``X-Twilio-Email-Event-Webhook-Signature``
  is a base64 DER ECDSA (P-256, SHA-256) signature over the
  ``X-Twilio-Email-Event-Webhook-Timestamp`` value followed by the raw body;
  the account's verification key is a base64 DER public key.
* **Mailgun**: the body's ``signature`` object holds ``timestamp``, ``token`` and
  ``signature``, the hex HMAC-SHA256 of ``timestamp + token`` keyed with the
  account's HTTP webhook signing key.
* **Postmark** and **SparkPost** sign nothing: they send HTTP basic credentials
  (or a fixed token), which is the API key the route already checks.

A timestamp older than the configured window (or well in the future) is
refused too, so a captured post cannot be replayed later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from acctpipe.esp._reject import RejectedError
from mta.errors import InvalidValueError

__all__ = [
    "SENDGRID_SIGNATURE",
    "SENDGRID_TIMESTAMP",
    "load_ec_public_key",
    "verify_mailgun",
    "verify_sendgrid",
]

SENDGRID_SIGNATURE = "x-twilio-email-event-webhook-signature"
SENDGRID_TIMESTAMP = "x-twilio-email-event-webhook-timestamp"
_FUTURE_SKEW = 300.0


def load_ec_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """An ECDSA public key given as PEM or as SendGrid shows it (base64 DER)."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode("ascii"))
    else:
        key = serialization.load_der_public_key(base64.b64decode(text))
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise InvalidValueError("the SendGrid verification key is not an ECDSA public key")
    return key


def _check_time(stamp: str, now: datetime, max_age: float, who: str) -> None:
    try:
        seconds = float(stamp)
    except ValueError as exc:
        raise RejectedError(403, f"the {who} timestamp is not a number") from exc
    age = now.timestamp() - seconds
    if age > max_age or age < -_FUTURE_SKEW:
        raise RejectedError(403, f"the {who} timestamp is outside {max_age:.0f} s (a replay?)")


def verify_sendgrid(
    key: ec.EllipticCurvePublicKey,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    max_age: float,
) -> None:
    """Raise 403 unless the SendGrid signature headers sign ``body`` with ``key``."""
    signature = headers.get(SENDGRID_SIGNATURE, "")
    stamp = headers.get(SENDGRID_TIMESTAMP, "")
    if not signature or not stamp:
        raise RejectedError(403, "SendGrid signature headers are missing (signed webhook)")
    _check_time(stamp, now, max_age, "SendGrid")
    try:
        key.verify(
            base64.b64decode(signature, validate=True),
            stamp.encode("utf-8") + body,
            ec.ECDSA(hashes.SHA256()),
        )
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise RejectedError(403, "the SendGrid webhook signature does not verify") from exc


def verify_mailgun(key: str, doc: object, now: datetime, max_age: float) -> None:
    """Raise 403 unless ``doc["signature"]`` is Mailgun's HMAC of its timestamp and token."""
    sig = doc.get("signature") if isinstance(doc, Mapping) else None
    if not isinstance(sig, Mapping):
        raise RejectedError(403, "the Mailgun event carries no signature object")
    stamp, token, given = (str(sig.get(k, "")) for k in ("timestamp", "token", "signature"))
    if not (stamp and token and given):
        raise RejectedError(403, "the Mailgun signature lacks timestamp, token or signature")
    _check_time(stamp, now, max_age, "Mailgun")
    wanted = hmac.new(key.encode("utf-8"), (stamp + token).encode("utf-8"), hashlib.sha256)
    if not hmac.compare_digest(wanted.hexdigest(), given.lower()):
        raise RejectedError(403, "the Mailgun webhook signature does not verify")
