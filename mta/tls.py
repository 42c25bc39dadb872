"""TLS identities for STARTTLS: load the configured certificate, or make a self-signed one.

A listener with ``tls-certificate`` / ``tls-private-key`` presents that pair. A
listener without them still offers STARTTLS, with a throwaway self-signed
certificate made at start: opportunistic encryption beats none, and it lets AUTH
run over TLS on a test or loopback listener. The ISP simulator uses the same
generator.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["SelfSignedCert", "client_context", "make_self_signed", "server_context"]


def server_context(cert_path: str | Path, key_path: str | Path) -> ssl.SSLContext:
    """A server-side context presenting the PEM certificate chain and key in these files.

    Raises :class:`OSError` or :class:`ssl.SSLError` when the files cannot be read
    or do not match.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # A mail server does not ask clients for certificates (RFC 3207 leaves it
    # optional, and senders rarely have one).
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(cert_path, key_path)
    return ctx


def client_context(
    *, cadata: bytes | None = None, cafile: str | Path | None = None
) -> ssl.SSLContext:
    """A client-side context that trusts the given CA certificates (PEM) and checks names."""
    text = cadata.decode("ascii") if cadata is not None else None
    return ssl.create_default_context(cafile=cafile, cadata=text)


def _write_private(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path``, created with ``mode`` from the start (no window for readers)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed it; make it exactly mode
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)


@dataclass(frozen=True, slots=True)
class SelfSignedCert:
    """A certificate and its key, PEM-encoded."""

    cert_pem: bytes
    key_pem: bytes

    def write(self, cert_path: Path, key_path: Path) -> None:
        """Write the certificate (mode 0644) and the key (mode 0600) to these files."""
        cert_path.parent.mkdir(parents=True, exist_ok=True)
        key_path.parent.mkdir(parents=True, exist_ok=True)
        _write_private(key_path, self.key_pem, 0o600)
        _write_private(cert_path, self.cert_pem, 0o644)

    def server_context(self) -> ssl.SSLContext:
        """A server-side context presenting this certificate."""
        # ssl loads a chain only from files: write them to a private temp dir.
        with tempfile.TemporaryDirectory(prefix="mta-tls-") as tmp:
            cert, key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
            self.write(cert, key)
            return server_context(cert, key)

    def client_context(self) -> ssl.SSLContext:
        """A client-side context that trusts exactly this certificate."""
        return client_context(cadata=self.cert_pem)


def make_self_signed(
    hostname: str, ips: tuple[str, ...] = ("127.0.0.1", "::1"), *, days: int = 30
) -> SelfSignedCert:
    """A P-256 certificate for ``hostname`` and ``ips``, valid from yesterday for ``days`` days."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    alt_names: list[x509.GeneralName] = [x509.DNSName(hostname)]
    alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return SelfSignedCert(
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
