"""TLS identities: a self-signed certificate a trusting client accepts; keys kept private."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from mta.tls import client_context, make_self_signed, server_context


async def test_a_self_signed_certificate_completes_a_verified_handshake(tmp_path: Path) -> None:
    """A client trusting the certificate verifies it for 127.0.0.1 and the hostname."""
    cert = make_self_signed("mta.test")
    cert.write(tmp_path / "cert.pem", tmp_path / "key.pem")
    server_ctx = server_context(tmp_path / "cert.pem", tmp_path / "key.pem")

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    server = await asyncio.wait_for(asyncio.start_server(echo, "127.0.0.1", 0, ssl=server_ctx), 10)
    port = server.sockets[0].getsockname()[1]
    try:
        for name in ("127.0.0.1", "mta.test"):
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    "127.0.0.1", port, ssl=cert.client_context(), server_hostname=name
                ),
                10,
            )
            writer.write(b"ping\n")
            assert await asyncio.wait_for(reader.readline(), 10) == b"ping\n"
            writer.close()
            await asyncio.wait_for(writer.wait_closed(), 10)
    finally:
        server.close()
        await asyncio.wait_for(server.wait_closed(), 10)


def test_the_key_file_is_private_and_the_pair_loads(tmp_path: Path) -> None:
    """write() leaves the key at mode 0600 and the certificate 0644, even over older files."""
    cert_path, key_path = tmp_path / "tls" / "cert.pem", tmp_path / "tls" / "key.pem"
    key_path.parent.mkdir()
    key_path.write_text("old")
    key_path.chmod(0o644)
    cert = make_self_signed("mta.test", ("127.0.0.1",), days=2)
    cert.write(cert_path, key_path)
    assert key_path.stat().st_mode & 0o777 == 0o600
    assert cert_path.stat().st_mode & 0o777 == 0o644
    assert key_path.read_bytes() == cert.key_pem
    ctx = server_context(cert_path, key_path)
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_a_client_context_does_not_trust_another_certificate() -> None:
    """client_context(cadata=...) trusts exactly the given certificates and checks names."""
    ctx = client_context(cadata=make_self_signed("a.test").cert_pem)
    assert ctx.check_hostname
    assert ctx.verify_mode == ssl.CERT_REQUIRED


def test_mismatched_files_fail_to_load(tmp_path: Path) -> None:
    """A certificate with somebody else's key is refused by server_context."""
    one, two = make_self_signed("one.test"), make_self_signed("two.test")
    (tmp_path / "cert.pem").write_bytes(one.cert_pem)
    (tmp_path / "key.pem").write_bytes(two.key_pem)
    with pytest.raises(ssl.SSLError):
        server_context(tmp_path / "cert.pem", tmp_path / "key.pem")
