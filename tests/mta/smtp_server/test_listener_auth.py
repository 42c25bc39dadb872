"""SMTP AUTH and STARTTLS on the listener: who may authenticate, where, and what is logged."""

from __future__ import annotations

import base64
from pathlib import Path

import aiosmtplib
import pytest

from mta.errors import ConfigError
from tests.mta.smtp_server._listener_kit import (
    CONFIG,
    MESSAGE,
    PASSWORD,
    bounded,
    client,
    client_tls,
    raw_client,
    running,
    shared_cert,
)

pytestmark = pytest.mark.slow  # every test here starts the SMTP listener

SENDER = "app@example.test"


def _plain(user: str, password: str) -> bytes:
    return base64.b64encode(f"\0{user}\0{password}".encode())


@bounded
async def test_auth_is_offered_only_after_starttls(tmp_path: Path) -> None:
    """Before STARTTLS the EHLO lists STARTTLS and no AUTH; after it, AUTH LOGIN PLAIN."""
    async with running(tmp_path) as run, client(run.port, "127.0.0.2") as smtp:
        before = (await smtp.ehlo()).message.splitlines()
        assert "STARTTLS" in before
        assert not any(line.startswith("AUTH") for line in before)
        await smtp.starttls(tls_context=client_tls())
        after = (await smtp.ehlo()).message.splitlines()
        assert "AUTH LOGIN PLAIN" in after
        assert "STARTTLS" not in after


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
@bounded
async def test_auth_over_starttls_lets_the_user_relay_through_its_named_source(
    tmp_path: Path, mechanism: str
) -> None:
    """AUTH PLAIN / LOGIN over TLS succeeds; the user's <source {auth}> permits relaying."""
    message = b"X-Virtual-MTA: ip-2\r\nX-Job: j1\r\n" + MESSAGE
    async with running(tmp_path) as run:
        async with client(run.port, "127.0.0.2") as smtp:
            await smtp.starttls(tls_context=client_tls())
            await smtp.ehlo()
            login = smtp.auth_plain if mechanism == "PLAIN" else smtp.auth_login
            reply = await login("app", PASSWORD)
            assert reply.code == 235
            refused, _ = await smtp.sendmail(SENDER, ["bob@example.net"], message)
        assert refused == {}
        ((raw, envelope),) = run.spooled()
        # {auth} has no process-x-*: the headers are stripped, not honoured.
        assert (envelope.vmta, envelope.job_id) == ("pool-a", None)
        assert envelope.extra == {"source_ip": "127.0.0.2", "auth_user": "app", "source": "{auth}"}
        assert b" with ESMTPSA id " in raw
        assert raw.endswith(MESSAGE)
        assert run.rejects() == []


@bounded
async def test_auth_before_starttls_is_refused_when_tls_is_required(tmp_path: Path) -> None:
    """AUTH on a plain connection gets 538 5.7.11 and a reject-log row without the payload."""
    async with running(tmp_path) as run:
        async with client(run.port, "127.0.0.2") as smtp:
            await smtp.ehlo()
            reply = await smtp.execute_command(b"AUTH", b"PLAIN", _plain("app", PASSWORD))
        assert (reply.code, reply.message[:6]) == (538, "5.7.11")
        (row,) = run.rejects()
        assert row.command == "AUTH PLAIN"
        assert PASSWORD.encode() not in run.reject_path.read_bytes()
        assert _plain("app", PASSWORD) not in run.reject_path.read_bytes()


@bounded
async def test_allow_unencrypted_plain_auth_offers_auth_without_tls(tmp_path: Path) -> None:
    """A source with allow-unencrypted-plain-auth may AUTH on a plain connection."""
    text = CONFIG.replace(
        "<source 0/0>\n",
        "<source 127.0.0.2>\n    allow-unencrypted-plain-auth yes\n</source>\n<source 0/0>\n",
    )
    async with running(tmp_path, text) as run, client(run.port, "127.0.0.2") as smtp:
        assert "AUTH LOGIN PLAIN" in (await smtp.ehlo()).message.splitlines()
        assert (await smtp.auth_plain("app", PASSWORD)).code == 235


@bounded
async def test_a_wrong_password_is_535_and_logged_without_the_secret(tmp_path: Path) -> None:
    """Bad credentials get 535 5.7.8; the row names the user and mechanism, never the password."""
    wrong = "not-the-password"
    async with running(tmp_path) as run:
        async with client(run.port, "127.0.0.2") as smtp:
            await smtp.starttls(tls_context=client_tls())
            await smtp.ehlo()
            with pytest.raises(aiosmtplib.SMTPAuthenticationError) as caught:
                await smtp.auth_plain("app", wrong)
            assert (caught.value.code, caught.value.message) == (
                535,
                "5.7.8 Authentication credentials invalid",
            )
            with pytest.raises(aiosmtplib.SMTPAuthenticationError):
                await smtp.auth_login("nobody", wrong)
        first, second = run.rejects()
        assert (first.command, first.auth_user) == ("AUTH PLAIN", "app")
        assert first.reason.startswith("auth-failed; failure 1 from this address")
        assert (second.command, second.auth_user) == ("AUTH LOGIN", "nobody")
        data = run.reject_path.read_bytes()
        for secret in (wrong, PASSWORD):
            assert secret.encode() not in data
            assert base64.b64encode(secret.encode()) not in data
        assert _plain("app", wrong) not in data


@bounded
async def test_repeated_auth_failures_end_the_session(tmp_path: Path) -> None:
    """The third failed AUTH on one connection is followed by 421 and a hang-up."""
    async with running(tmp_path) as run:
        smtp = client(run.port, "127.0.0.2")
        await smtp.connect()
        await smtp.starttls(tls_context=client_tls())
        await smtp.ehlo()
        for _ in range(3):
            with pytest.raises(aiosmtplib.SMTPAuthenticationError):
                await smtp.auth_plain("app", "guess")
        with pytest.raises((aiosmtplib.SMTPResponseException, aiosmtplib.SMTPServerDisconnected)):
            await smtp.noop()
        smtp.close()
        assert len(run.rejects()) == 3


@bounded
async def test_require_auth_on_the_source_refuses_mail_from(tmp_path: Path) -> None:
    """<source 127.0.0.5> require-auth: MAIL FROM before AUTH gets 530 5.7.0, logged."""
    async with running(tmp_path) as run:
        async with client(run.port, "127.0.0.5") as smtp:
            with pytest.raises(aiosmtplib.SMTPSenderRefused) as caught:
                await smtp.mail(SENDER)
        assert (caught.value.code, caught.value.message) == (530, "5.7.0 Authentication required")
        (row,) = run.rejects()
        assert (row.command, row.mail_from) == (f"MAIL FROM:<{SENDER}>", "")
        assert "require-auth" in row.reason


@bounded
async def test_require_auth_on_the_listener_refuses_mail_from(tmp_path: Path) -> None:
    """<smtp-listener> require-auth yes: even a relaying source must authenticate first."""
    text = CONFIG.replace(
        "smtp-listener 127.0.0.1:2525\n",
        "<smtp-listener 127.0.0.1:2587>\n    require-auth yes\n</smtp-listener>\n",
    )
    async with running(tmp_path, text) as run:
        async with client(run.port) as smtp:
            with pytest.raises(aiosmtplib.SMTPSenderRefused) as caught:
                await smtp.mail(SENDER)
            assert caught.value.code == 530
            await smtp.starttls(tls_context=client_tls())
            await smtp.ehlo()
            await smtp.auth_plain("app", PASSWORD)
            refused, _ = await smtp.sendmail(SENDER, ["bob@example.net"], MESSAGE)
        assert refused == {}


@bounded
async def test_configured_certificate_files_are_presented(tmp_path: Path) -> None:
    """tls-certificate / tls-private-key are loaded; the key file is written 0600 by mta.tls."""
    cert, key = tmp_path / "tls" / "cert.pem", tmp_path / "tls" / "key.pem"
    shared_cert().write(cert, key)
    assert key.stat().st_mode & 0o777 == 0o600
    text = CONFIG.replace(
        "smtp-listener 127.0.0.1:2525\n",
        f"<smtp-listener 127.0.0.1:2587>\n    tls-certificate {cert}\n"
        f"    tls-private-key {key}\n</smtp-listener>\n",
    )
    async with running(tmp_path, text, tls=None) as run, client(run.port) as smtp:
        reply = await smtp.starttls(tls_context=client_tls())  # verifies the chain and name
        assert reply.code == 220


@bounded
async def test_without_certificate_a_self_signed_one_is_made(tmp_path: Path) -> None:
    """No tls-certificate: STARTTLS still works, with an ephemeral self-signed certificate."""
    async with running(tmp_path, tls=None) as run, client(run.port) as smtp:
        reply = await smtp.starttls(validate_certs=False)
        assert reply.code == 220
        refused, _ = await smtp.sendmail(SENDER, ["bob@example.net"], MESSAGE)
        assert refused == {}


@bounded
async def test_unreadable_certificate_files_are_a_config_error(tmp_path: Path) -> None:
    """A tls-certificate that cannot be loaded fails start() with the listener's file:line."""
    text = CONFIG.replace(
        "smtp-listener 127.0.0.1:2525\n",
        f"<smtp-listener 127.0.0.1:2587>\n    tls-certificate {tmp_path}/missing.pem\n"
        f"    tls-private-key {tmp_path}/missing.key\n</smtp-listener>\n",
    )
    with pytest.raises(ConfigError, match=r"test\.conf:\d+: <smtp-listener .*cannot load"):
        async with running(tmp_path, text, tls=None):
            pass


@bounded
async def test_max_smtp_in_of_the_users_source_applies_after_auth(tmp_path: Path) -> None:
    """<source {auth}> max-smtp-in 1: a second authenticated session gets 454 4.7.0."""
    text = CONFIG.replace("<source {auth}>\n", "<source {auth}>\n    max-smtp-in 1\n")
    async with running(tmp_path, text) as run:
        first, second = client(run.port, "127.0.0.2"), client(run.port, "127.0.0.2")
        async with first, second:
            for smtp in (first, second):
                await smtp.starttls(tls_context=client_tls())
                await smtp.ehlo()
            assert (await first.auth_plain("app", PASSWORD)).code == 235
            with pytest.raises(aiosmtplib.SMTPAuthenticationError) as caught:
                await second.auth_plain("app", PASSWORD)
            assert (caught.value.code, caught.value.message[:5]) == (454, "4.7.0")
        (row,) = run.rejects()
        assert (row.command, row.auth_user) == ("AUTH PLAIN", "app")
        assert "max-smtp-in 1 (<source {auth}>)" in row.reason


@bounded
async def test_auth_mechanisms_limit_what_is_offered(tmp_path: Path) -> None:
    """auth-mechanisms plain: EHLO offers AUTH PLAIN only, and AUTH LOGIN gets 504."""
    text = CONFIG.replace(
        "smtp-listener 127.0.0.1:2525\n",
        "<smtp-listener 127.0.0.1:2587>\n    auth-mechanisms plain\n</smtp-listener>\n",
    )
    async with running(tmp_path, text) as run, client(run.port, "127.0.0.2") as smtp:
        await smtp.starttls(tls_context=client_tls())
        lines = (await smtp.ehlo()).message.splitlines()
        assert [line for line in lines if line.startswith("AUTH")] == ["AUTH PLAIN"]
        reply = await smtp.execute_command(b"AUTH", b"LOGIN")
        assert reply.code == 504


@bounded
async def test_an_overlong_auth_line_is_refused_without_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A SASL line too long to read gets 500 5.5.6 and a hang-up, filed in the reject log;
    it used to get 451 and put a traceback in the server's log for every try."""
    text = CONFIG.replace(
        "<source 0/0>\n",
        "<source 127.0.0.2>\n    allow-unencrypted-plain-auth yes\n</source>\n<source 0/0>\n",
    )
    async with running(tmp_path, text) as run:
        raw = await raw_client(run.port, "127.0.0.2")
        await raw.send(b"EHLO client.test")
        assert (await raw.send(b"AUTH LOGIN"))[0] == 334
        code, message = await raw.send(base64.b64encode(b"u" * 6_000))
        assert (code, message) == (500, "5.5.6 Authentication exchange line is too long")
        assert (await raw.reply())[0] == 0  # hung up
        raw.close()
        (row,) = run.rejects()
    assert (row.command, row.reason) == ("AUTH LOGIN", "auth line too long")
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


@bounded
async def test_commands_pipelined_after_starttls_are_discarded(tmp_path: Path) -> None:
    """CVE-2011-0411 class: MAIL and RCPT written in the same packet as STARTTLS are
    never executed after the handshake, and the EHLO name is forgotten (RFC 3207
    section 4.2): the first command through TLS gets only its own reply, MAIL needs a
    new EHLO, and after it MAIL opens a fresh transaction (not a nested one)."""
    async with running(tmp_path) as run:
        raw = await raw_client(run.port, "127.0.0.2")
        try:
            assert (await raw.send(b"EHLO client.test"))[0] == 250
            raw.writer.write(
                b"STARTTLS\r\nMAIL FROM:<evil@example.test>\r\nRCPT TO:<x@example.net>\r\n"
            )
            assert (await raw.reply())[0] == 220
            await raw.writer.start_tls(client_tls(), server_hostname="127.0.0.1")
            assert await raw.send(b"MAIL FROM:<app@example.test>") == (
                503,
                "Error: send HELO first",
            )
            assert (await raw.send(b"EHLO client.test"))[0] == 250
            assert (await raw.send(b"MAIL FROM:<app@example.test>"))[0] == 250
            assert (await raw.send(b"RCPT TO:<x@example.net>"))[0] == 550  # 127.0.0.2 may not relay
            assert (await raw.send(b"QUIT"))[0] == 221
        finally:
            raw.close()


@bounded
async def test_auth_edge_cases_over_a_real_socket(tmp_path: Path) -> None:
    """RFC 4954: "=" is an empty initial response (AUTH LOGIN = asks for the password
    next), "*" cancels with 501, base64 garbage is 501; LOGIN then succeeds; AUTH again
    is 503, and so is AUTH inside a mail transaction."""
    async with running(tmp_path) as run:
        raw = await raw_client(run.port, "127.0.0.2")
        try:
            assert (await raw.send(b"EHLO client.test"))[0] == 250
            assert (await raw.send(b"STARTTLS"))[0] == 220
            await raw.writer.start_tls(client_tls(), server_hostname="127.0.0.1")
            assert (await raw.send(b"EHLO client.test"))[0] == 250
            assert (await raw.send(b"AUTH LOGIN ="))[0] == 334  # the user name was empty
            assert await raw.send(b"*") == (501, "5.7.0 Auth aborted")
            assert (await raw.send(b"AUTH PLAIN"))[0] == 334
            assert await raw.send(b"!!not base64") == (501, "5.5.2 Can't decode base64")
            assert (await raw.send(b"AUTH LOGIN"))[0] == 334
            assert (await raw.send(base64.b64encode(b"app")))[0] == 334
            assert (await raw.send(base64.b64encode(PASSWORD.encode())))[0] == 235
            assert (await raw.send(b"AUTH PLAIN " + _plain("app", PASSWORD)))[0] == 503
            assert (await raw.send(b"MAIL FROM:<app@example.test>"))[0] == 250
            assert await raw.send(b"AUTH PLAIN") == (
                503,
                "5.5.1 Error: MAIL transaction in progress",
            )
            assert (await raw.send(b"QUIT"))[0] == 221
        finally:
            raw.close()


@bounded
async def test_starttls_forgets_an_authentication_made_before_it(tmp_path: Path) -> None:
    """RFC 3207 section 4.2: what the client said before TLS is discarded, AUTH
    included: after STARTTLS an AUTH made on the plain connection no longer lets the
    client relay, and it may (must) authenticate again."""
    text = CONFIG.replace(
        "<source 0/0>\n",
        "<source 127.0.0.2>\n    allow-unencrypted-plain-auth yes\n</source>\n<source 0/0>\n",
    )
    async with running(tmp_path, text) as run:
        raw = await raw_client(run.port, "127.0.0.2")
        try:
            assert (await raw.send(b"EHLO client.test"))[0] == 250
            assert (await raw.send(b"AUTH PLAIN " + _plain("app", PASSWORD)))[0] == 235
            assert (await raw.send(b"STARTTLS"))[0] == 220
            await raw.writer.start_tls(client_tls(), server_hostname="127.0.0.1")
            assert (await raw.send(b"EHLO client.test"))[0] == 250
            assert (await raw.send(b"MAIL FROM:<app@example.test>"))[0] == 250
            assert (await raw.send(b"RCPT TO:<x@example.net>"))[0] == 550
            assert (await raw.send(b"RSET"))[0] == 250
            assert (await raw.send(b"AUTH PLAIN " + _plain("app", PASSWORD)))[0] == 235
            assert (await raw.send(b"MAIL FROM:<app@example.test>"))[0] == 250
            assert (await raw.send(b"RCPT TO:<x@example.net>"))[0] == 250
        finally:
            raw.close()
