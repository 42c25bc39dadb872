"""DKIM signing with dkimpy (RFC 6376 rsa-sha256, RFC 8463 ed25519-sha256).

Keys come from ``domain-key SELECTOR,DOMAIN,KEYFILE``: a PEM private key (RSA or
Ed25519). Which key signs a message: the one whose domain equals the From
domain, else a ``*`` key. The signature covers the headers receivers check
(From, To, Subject, Date, Message-ID, MIME headers, List-Unsubscribe) with
relaxed/relaxed canonicalisation, the usual choice for mail that passes through
other MTAs.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Literal

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from mta.config.loader import read_regular_file
from mta.config.model import DomainKey
from mta.errors import ConfigError

__all__ = ["SIGNED_HEADERS", "SigningKey", "choose_key", "generate_key", "load_key", "sign"]

Algorithm = Literal["rsa-sha256", "ed25519-sha256"]
SIGNED_HEADERS: tuple[bytes, ...] = (
    b"from",
    b"to",
    b"cc",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"mime-version",
    b"content-type",
    b"content-transfer-encoding",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"feedback-id",
)


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A loaded private key, ready for dkimpy, with its DNS TXT record."""

    selector: str
    domain: str
    algorithm: Algorithm
    private: bytes  # PEM for RSA; base64 of the raw 32-byte seed for Ed25519 (dkimpy's form)
    txt_record: str  # what to publish at SELECTOR._domainkey.DOMAIN


def _from_pem(pem: bytes, selector: str, domain: str, source: str) -> SigningKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"domain-key {source}: not a PEM private key ({exc})") from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 1024:
            raise ConfigError(f"domain-key {source}: RSA keys under 1024 bits are refused")
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        txt = f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"
        return SigningKey(selector, domain, "rsa-sha256", pem, txt)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        seed = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        txt = f"v=DKIM1; k=ed25519; p={base64.b64encode(public).decode()}"
        return SigningKey(selector, domain, "ed25519-sha256", base64.b64encode(seed), txt)
    raise ConfigError(f"domain-key {source}: only RSA and Ed25519 keys can sign DKIM")


_MAX_KEY_FILE = 64 << 10  # a PEM private key is a few KiB; /dev/zero is not one


def load_key(domain_key: DomainKey, base: Path | None = None) -> SigningKey:
    """Read the key file of a ``domain-key`` (relative paths from ``base``)."""
    path = Path(domain_key.key_path)
    if not path.is_absolute() and base is not None:
        path = base / path
    where = f"{domain_key.where}"
    try:
        pem = read_regular_file(path, _MAX_KEY_FILE)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            f"domain-key: cannot read {path}: {reason}",
            path=domain_key.where.path,
            line=domain_key.where.line,
        ) from None
    return _from_pem(pem, domain_key.selector, domain_key.domain, where)


def generate_key(
    selector: str, domain: str, algorithm: Algorithm = "rsa-sha256"
) -> tuple[bytes, SigningKey]:
    """A new key pair: the PEM to save, and the loaded key (with its TXT record)."""
    private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if algorithm == "rsa-sha256"
        else ed25519.Ed25519PrivateKey.generate()
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem, _from_pem(pem, selector, domain, "<generated>")


def choose_key(keys: Sequence[SigningKey], sender: str) -> SigningKey | None:
    """The key for the From domain of ``sender``; a ``*`` key otherwise; else None."""
    domain = parseaddr(sender)[1].rpartition("@")[2].lower()
    exact = next((k for k in keys if k.domain == domain), None)
    return exact or next((k for k in keys if k.domain == "*"), None)


def sign(
    raw: bytes, key: SigningKey, sender_domain: str | None = None, *, now: int | None = None
) -> bytes:
    """``raw`` with a DKIM-Signature header prepended (``d=`` is the key's domain or, for a
    ``*`` key, ``sender_domain``).

    A message with CRLF line ends (all mail that came in over SMTP) is signed here with
    ``cryptography`` directly; anything else goes through dkimpy, which handles odd input.
    """
    domain = key.domain if key.domain != "*" else (sender_domain or "")
    if not domain:
        # A caller bug, not input (a plain ValueError): the engine gives the sender domain.
        raise ValueError("a '*' domain-key needs the sender's domain to sign for")
    fast = _sign_crlf(raw, key, domain, int(time.time()) if now is None else now)
    if fast is not None:
        return fast
    present = {line.split(b":", 1)[0].strip().lower() for line in _header_lines(raw)}
    headers = [h for h in SIGNED_HEADERS if h in present]
    signature = dkim.sign(
        raw,
        key.selector.encode(),
        domain.encode(),
        key.private,
        canonicalize=(b"relaxed", b"relaxed"),
        signature_algorithm=key.algorithm.encode(),
        include_headers=headers,
    )
    return bytes(signature) + raw


# -- relaxed/relaxed (RFC 6376 section 3.4.2 and 3.4.4) -----------------------------------


def _squeeze(text: bytes) -> bytes:
    """Every run of spaces and tabs as one space (bytes.replace: Python's re scans a
    character class byte by byte, several times slower on a 10 KB body)."""
    text = text.replace(b"\t", b" ")
    while b"  " in text:
        text = text.replace(b"  ", b" ")
    return text


def _relaxed_body(body: bytes) -> bytes:
    # In dkimpy's order (a last line without CRLF keeps its trailing space, then gets CRLF).
    body = _squeeze(body).replace(b" \r\n", b"\r\n")
    while body.endswith(b"\r\n\r\n"):
        body = body[:-2]
    if body and not body.endswith(b"\r\n"):
        body += b"\r\n"
    return b"" if body == b"\r\n" else body


def _relaxed_header(name: bytes, value: bytes) -> bytes:
    value = _squeeze(value.replace(b"\r\n", b"")).strip(b" ")  # unfolded: CRLF + WSP
    return name.strip(b" \t").lower() + b":" + value


@functools.lru_cache(maxsize=64)
def _private_key(algorithm: str, private: bytes) -> rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey:
    if algorithm == "ed25519-sha256":
        return ed25519.Ed25519PrivateKey.from_private_bytes(base64.b64decode(private))
    key = serialization.load_pem_private_key(private, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _sign_crlf(raw: bytes, key: SigningKey, domain: str, now: int) -> bytes | None:
    """The signed message, or None when ``raw`` is not plain CRLF mail (dkimpy signs it)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep or b"\n" in head.replace(b"\r\n", b""):
        return None
    fields: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + b"\r\n" + line)
            continue
        name, colon, value = line.partition(b":")
        if not colon:
            return None
        fields.append((name, value))
    last: dict[bytes, tuple[bytes, bytes]] = {}
    for name, value in fields:  # h= names each header once: its bottom-most instance is signed
        last[name.strip(b" \t").lower()] = (name, value)
    if b"from" not in last:
        return None  # RFC 6376 requires From in h=: dkimpy refuses it with its own error
    signed = [h for h in SIGNED_HEADERS if h in last]
    body_hash = base64.b64encode(hashlib.sha256(_relaxed_body(body)).digest())
    tags = (
        f"v=1; a={key.algorithm}; c=relaxed/relaxed; d={domain}; s={key.selector};\r\n"
        f"\tt={now}; h={' : '.join(h.decode() for h in signed)};\r\n"
        f"\tbh={body_hash.decode()}; b="
    ).encode()
    data = b"".join(_relaxed_header(*last[h]) + b"\r\n" for h in signed)
    data += _relaxed_header(b"DKIM-Signature", b" " + tags)
    private = _private_key(key.algorithm, key.private)
    if isinstance(private, ed25519.Ed25519PrivateKey):  # RFC 8463: Ed25519 over the SHA-256
        signature = private.sign(hashlib.sha256(data).digest())
    else:
        signature = private.sign(data, padding.PKCS1v15(), hashes.SHA256())
    b = base64.b64encode(signature)
    folded = b"\r\n\t".join(b[i : i + 72] for i in range(0, len(b), 72))
    return b"DKIM-Signature: " + tags + b"\r\n\t" + folded + b"\r\n" + raw


def _header_lines(raw: bytes) -> list[bytes]:
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    return [line for line in head.splitlines() if line and line[:1] not in (b" ", b"\t")]
