"""Our own SNS signing key and certificate (self-signed, made here), a loopback
server for them, and the SendGrid / Mailgun signatures, so tests need no AWS key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from acctpipe.esp.sns import canonical_string

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-feedback"


def certificate(key: rsa.RSAPrivateKey = KEY) -> bytes:
    """A self-signed certificate for ``key``, valid from yesterday for a year (PEM)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


CERT_PEM = certificate()


def sns_envelope(
    message: object,
    cert_url: str,
    *,
    kind: str = "Notification",
    message_id: str = "6f0a7d1c-0000-4000-8000-000000000001",
    version: str = "1",
    timestamp: datetime | None = None,
    topic: str = TOPIC,
    key: rsa.RSAPrivateKey = KEY,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """An SNS HTTP message wrapping ``message`` (JSON-encoded), signed with ``key``."""
    stamp = (timestamp or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    doc = {
        "Type": kind,
        "MessageId": message_id,
        "TopicArn": topic,
        "Message": message if isinstance(message, str) else json.dumps(message),
        "Timestamp": stamp,
        "SignatureVersion": version,
        "SigningCertURL": cert_url,
        **(extra or {}),
    }
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(canonical_string(doc), padding.PKCS1v15(), algorithm)
    doc["Signature"] = base64.b64encode(signature).decode("ascii")
    return doc


def sendgrid_headers(
    body: bytes, stamp: str, key: ec.EllipticCurvePrivateKey = EC_KEY
) -> dict[str, str]:
    """The headers of a SendGrid signed Event Webhook post of ``body``."""
    signature = key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
    }


def sendgrid_public_key() -> str:
    """The verification key as SendGrid shows it: base64 DER."""
    der = EC_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def mailgun_signature(key: str, stamp: str, token: str) -> dict[str, str]:
    """Mailgun's ``signature`` object for ``stamp`` and ``token``."""
    digest = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    return {"timestamp": stamp, "token": token, "signature": digest}


class CertServer:
    """A loopback HTTP server: the certificate at ``/cert.pem``; counts every GET by path."""

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                hits[path] = hits.get(path, 0) + 1
                body = CERT_PEM if path == "/cert.pem" else b"<ConfirmSubscriptionResponse/>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def cert_server() -> Iterator[CertServer]:
    """A running :class:`CertServer`, shut down afterwards."""
    served = CertServer()
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        served.server.shutdown()
        served.server.server_close()
        thread.join()
