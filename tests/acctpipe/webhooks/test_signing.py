"""Standard Webhooks signatures: they verify, and during rotation each secret verifies alone."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from acctpipe import __version__
from acctpipe.webhooks import new_secret, sign_headers
from acctpipe.webhooks.signing import validate_secret

BODY = '{"data":{},"timestamp":"2026-11-01T12:00:00.000000Z","type":"complaint"}'


def test_headers_verify_with_standardwebhooks() -> None:
    """The headers carry the id, the timestamp and a v1 signature the reference library accepts."""
    secret = new_secret()
    headers = sign_headers("msg_1", BODY, [secret])
    assert headers["webhook-id"] == "msg_1"
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == f"acctpipe/{__version__}"
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(BODY, headers) == {
        "data": {},
        "timestamp": "2026-11-01T12:00:00.000000Z",
        "type": "complaint",
    }


def test_two_secrets_each_verify_alone() -> None:
    """With two secrets there are two signatures, and a receiver knowing either one accepts."""
    new, old = new_secret(), new_secret()
    headers = sign_headers("msg_2", BODY, [new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(BODY, headers)
    Webhook(old).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)


def test_timestamp_is_unix_seconds_of_now_in_utc() -> None:
    """webhook-timestamp is the Unix time of the attempt, whatever the zone of the datetime."""
    at = datetime(2026, 11, 1, 12, 0, 30, tzinfo=UTC)
    assert sign_headers("m", BODY, [new_secret()], at)["webhook-timestamp"] == str(
        int(at.timestamp())
    )


def test_new_secret_shape_and_validation() -> None:
    """New secrets are whsec_ + base64 of 24 random bytes; malformed ones are refused."""
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[6:])) == 24
    assert new_secret() != secret
    assert validate_secret(secret) == secret
    for bad in ("abc", "whsec_!!!", "whsec_" + base64.b64encode(b"short").decode()):
        with pytest.raises(ValueError, match="webhook secret"):
            validate_secret(bad)
    with pytest.raises(ValueError, match="no secret"):
        sign_headers("m", BODY, [])
