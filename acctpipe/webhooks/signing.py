"""Standard Webhooks signatures: the headers of one delivery attempt, and new secrets.

The signed content is ``"{webhook-id}.{webhook-timestamp}.{body}"``, HMAC-SHA256
with each secret (``whsec_`` + base64 of the key). ``webhook-signature`` lists
one ``v1,<base64>`` per secret in force, separated by spaces: while a secret is
being rotated both the new and the old one sign, and a receiver that knows
either accepts the message.
"""

from __future__ import annotations

import base64
import secrets as _random
from collections.abc import Sequence
from datetime import UTC, datetime
from math import floor
from typing import Final

from standardwebhooks.webhooks import Webhook

from acctpipe import __version__
from mta.errors import InvalidSubscriptionError

__all__ = ["SECRET_PREFIX", "USER_AGENT", "new_secret", "sign_headers", "validate_secret"]

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - the prefix, not a secret
USER_AGENT: Final = f"acctpipe/{__version__}"
_SECRET_BYTES: Final = 24


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(_random.token_bytes(_SECRET_BYTES)).decode("ascii")


def validate_secret(secret: str) -> str:
    """``secret`` if it is a usable ``whsec_…`` secret, else ValueError (never echoing it)."""
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidSubscriptionError("a webhook secret starts with 'whsec_'")
    encoded = secret[len(SECRET_PREFIX) :].rstrip("=")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except ValueError:
        raise InvalidSubscriptionError("a webhook secret is 'whsec_' followed by base64") from None
    if len(key) < 16:
        raise InvalidSubscriptionError("a webhook secret needs at least 16 bytes of key")
    return secret


def sign_headers(
    msg_id: str, body: str, secrets: Sequence[str], now: datetime | None = None
) -> dict[str, str]:
    """The HTTP headers for POSTing ``body`` as message ``msg_id`` at ``now``.

    ``webhook-id``, ``webhook-timestamp`` (Unix seconds), ``webhook-signature``
    (one ``v1,…`` per secret, in the order given), ``content-type`` and
    ``user-agent``. At least one secret is required.
    """
    if not secrets:
        # A caller bug, not input (a plain ValueError): a subscription always has a secret.
        raise ValueError("no secret to sign with")
    at = (now or datetime.now(UTC)).astimezone(UTC)
    # Webhook.sign() stamps the datetime as UTC whatever its zone: hand it UTC.
    signatures = " ".join(Webhook(s).sign(msg_id, at, body) for s in secrets)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(floor(at.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
