"""DKIM: messages we sign verify with dkimpy's own verifier (RSA and Ed25519)."""

from __future__ import annotations

from pathlib import Path

import dkim
import pytest

from mta.config import parse_config_text
from mta.delivery.signing import SigningKey, choose_key, generate_key, load_key, sign
from mta.errors import ConfigError

MESSAGE = (
    b"From: News <news@example.test>\r\nTo: alice@example.com\r\nSubject: Hello\r\n"
    b"Date: Wed, 25 Nov 2026 07:00:00 +0000\r\nMessage-ID: <1@example.test>\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHi there.\r\n"
)


def _verify(signed: bytes, key: SigningKey) -> bool:
    def txt(name: bytes, timeout: int = 5) -> bytes:
        assert name == f"{key.selector}._domainkey.example.test.".encode()
        return key.txt_record.encode()

    return bool(dkim.verify(signed, dnsfunc=txt))


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["rsa-sha256", "ed25519-sha256"])
def test_signed_mail_verifies(algorithm: str) -> None:
    """A signature made with either algorithm verifies against the published TXT record."""
    _, key = generate_key("s2026", "example.test", algorithm)  # type: ignore[arg-type]
    signed = sign(MESSAGE, key)
    assert signed.startswith(b"DKIM-Signature:")
    assert f"a={algorithm}".encode() in signed[:400]
    assert _verify(signed, key)


@pytest.mark.slow
def test_tampering_breaks_the_signature() -> None:
    """A changed body no longer verifies."""
    _, key = generate_key("s2026", "example.test")
    signed = sign(MESSAGE, key)
    assert not _verify(signed.replace(b"Hi there.", b"Buy now!"), key)


def test_keys_load_from_domain_key_files(tmp_path: Path) -> None:
    """`domain-key sel,domain,file` loads PEM keys; the From domain picks the key, then `*`."""
    pem, _ = generate_key("sel", "example.test", "ed25519-sha256")
    (tmp_path / "k.pem").write_bytes(pem)
    star_pem, _ = generate_key("any", "*")
    (tmp_path / "star.pem").write_bytes(star_pem)
    cfg = parse_config_text(
        "domain-key sel,example.test,k.pem\ndomain-key any,*,star.pem\n", "t.conf"
    )
    keys = [load_key(dk, tmp_path) for dk in cfg.domain_keys]
    assert choose_key(keys, "News <news@Example.TEST>") is keys[0]
    star = choose_key(keys, "other@elsewhere.example")
    assert star is keys[1]
    signed = sign(MESSAGE.replace(b"example.test", b"elsewhere.example"), star, "elsewhere.example")
    assert b"d=elsewhere.example" in signed[:400]


def test_unreadable_or_bad_keys_are_config_errors(tmp_path: Path) -> None:
    """A missing file or a non-key names the domain-key line."""
    (tmp_path / "bad.pem").write_text("not a key")
    cfg = parse_config_text(
        "domain-key a,example.test,missing.pem\ndomain-key b,x.test,bad.pem\n", "t.conf"
    )
    with pytest.raises(ConfigError, match="cannot read"):
        load_key(cfg.domain_keys[0], tmp_path)
    with pytest.raises(ConfigError, match="not a PEM private key"):
        load_key(cfg.domain_keys[1], tmp_path)


ODD = (
    b"From: News\r\n  <news@example.test>\r\nTo:   alice@example.com  \r\n"
    b"Subject: one\r\nSubject:\tHello \t there \r\nX-Other: x\r\n"
    b"Content-Type: text/plain;\r\n\tcharset=utf-8\r\n\r\n"
    b"Hi  there. \t\r\n\r\n  indented\ttab \r\n\r\n\r\n"
)


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["rsa-sha256", "ed25519-sha256"])
@pytest.mark.parametrize(
    "message",
    [MESSAGE, ODD, MESSAGE.split(b"\r\n\r\n")[0] + b"\r\n\r\n", ODD.rstrip(b"\r\n")],
    ids=["plain", "folded-spaced-repeated", "empty-body", "no-final-line-end"],
)
def test_relaxed_canonicalisation_agrees_with_dkimpy(algorithm: str, message: bytes) -> None:
    """Folded and repeated headers, runs of white space, blank lines at the end, an empty
    body, a last line without CRLF: what we sign (without dkimpy) dkimpy verifies."""
    _, key = generate_key("s2026", "example.test", algorithm)  # type: ignore[arg-type]
    signed = sign(message, key)
    assert _verify(signed, key)
    assert not _verify(signed.replace(b"Subject:\tHello", b"Subject:\tHallo"), key) or (
        b"Subject:\tHello" not in message
    )


def test_bare_lf_mail_is_signed_by_dkimpy() -> None:
    """Mail with bare LF line ends (not what SMTP brings) still gets a valid signature."""
    _, key = generate_key("s2026", "example.test", "ed25519-sha256")
    signed = sign(MESSAGE.replace(b"\r\n", b"\n"), key)
    assert signed.startswith(b"DKIM-Signature:")
    assert _verify(signed, key)
