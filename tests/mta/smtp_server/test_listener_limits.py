"""Limits across connections: failed AUTH slowed then locked out, session caps, open files."""

from __future__ import annotations

import asyncio
import resource
from pathlib import Path

import aiosmtplib
import pytest

from mta.smtp_server.authlimit import AuthLimiter
from mta.smtp_server.listener import DEFAULT_MAX_SMTP_IN
from tests.mta.smtp_server._listener_kit import (
    CONFIG,
    PASSWORD,
    RawClient,
    bounded,
    client,
    client_tls,
    raw_client,
    running,
)


async def _auth(port: int, source: str, user: str, password: str) -> tuple[int, float]:
    """One new connection, STARTTLS, AUTH PLAIN: the reply code and how long it took."""
    loop = asyncio.get_running_loop()
    async with client(port, source) as smtp:
        await smtp.starttls(tls_context=client_tls())
        await smtp.ehlo()
        started = loop.time()
        try:
            code = (await smtp.auth_plain(user, password)).code
        except aiosmtplib.SMTPResponseException as exc:
            code = exc.code
        return code, loop.time() - started


@pytest.mark.slow
@bounded
async def test_auth_guessing_over_new_connections_is_slowed_then_locked_out(
    tmp_path: Path,
) -> None:
    """Failures from one address count across connections: each 535 comes later than the
    one before, and after the limit even the right password gets 421 4.7.0 — for that
    address only; every failure and the lockout are in the reject log, no password is."""
    limiter = AuthLimiter(max_failures=4, base_delay=0.05, window=60)
    async with running(tmp_path, auth_limiter=limiter) as run:
        results = [await _auth(run.port, "127.0.0.2", f"guess{i}", "wrong") for i in range(4)]
        assert [code for code, _ in results] == [535] * 4
        waits = [took for _, took in results]
        assert waits[0] >= 0.05
        assert waits[3] >= 0.4
        assert waits[3] > waits[1] > waits[0]
        code, took = await _auth(run.port, "127.0.0.2", "app", PASSWORD)
        assert code == 421
        assert took < 0.4  # refused at once: the password is not even checked
        assert (await _auth(run.port, "127.0.0.6", "app", PASSWORD))[0] == 235
        rows = run.rejects()
    assert [r.reply[:3] for r in rows] == ["535"] * 4 + ["421"]
    assert "failure 4 from this address" in rows[3].reason
    assert "locked out" in rows[3].reason
    assert "locked out" in rows[4].reason
    assert PASSWORD.encode() not in run.reject_path.read_bytes()


@pytest.mark.slow
@bounded
async def test_one_user_guessed_from_many_addresses_is_locked_out(tmp_path: Path) -> None:
    """Failures for one user name count across client addresses: after the limit, that user
    gets 421 4.7.0 from a new address too."""
    limiter = AuthLimiter(max_failures=3, base_delay=0.01, window=60)
    async with running(tmp_path, auth_limiter=limiter) as run:
        for source in ("127.0.0.2", "127.0.0.6", "127.0.0.7"):
            assert (await _auth(run.port, source, "app", "wrong"))[0] == 535
        assert (await _auth(run.port, "127.0.0.8", "app", PASSWORD))[0] == 421


@pytest.mark.slow
@bounded
async def test_a_success_does_not_clear_another_address(tmp_path: Path) -> None:
    """A good AUTH from one address forgets that address's failures, not another's."""
    limiter = AuthLimiter(max_failures=3, base_delay=0.01, window=60)
    async with running(tmp_path, auth_limiter=limiter) as run:
        for i in range(2):
            assert (await _auth(run.port, "127.0.0.2", f"x{i}", "wrong"))[0] == 535
        assert (await _auth(run.port, "127.0.0.6", "app", PASSWORD))[0] == 235
        assert (await _auth(run.port, "127.0.0.2", "x2", "wrong"))[0] == 535
        assert (await _auth(run.port, "127.0.0.2", "app", PASSWORD))[0] == 421


@pytest.mark.slow
def test_the_limiter_grows_delays_expires_and_stays_bounded() -> None:
    """Delays double per failure up to the cap; a lockout ends after the window; endless
    user names cannot grow the tables beyond their bound."""
    now = [0.0]
    limiter = AuthLimiter(
        max_failures=5, window=100, base_delay=1, max_delay=4, max_keys=50, clock=lambda: now[0]
    )
    delays = [limiter.failure("192.0.2.1", f"u{i}").delay for i in range(5)]
    assert delays == [1, 2, 4, 4, 4]
    assert limiter.locked("192.0.2.1") == 100
    assert limiter.locked("192.0.2.9", "u0") is None
    now[0] = 100.5
    assert limiter.locked("192.0.2.1") is None
    assert limiter.failure("192.0.2.1", "v").by_address == 1  # the window forgot the rest
    for i in range(10_000):
        limiter.failure(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", f"user{i}")
    assert len(limiter) <= 100


CAPPED = CONFIG.replace("host-name mta.test\n", "host-name mta.test\ntotal-max-smtp-in 3\n")


async def _until_open(run_stats: object, count: int) -> None:
    for _ in range(500):
        if callable(run_stats) and run_stats().connections == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the listener never got to {count} sessions")


@pytest.mark.slow
@bounded
async def test_total_max_smtp_in_caps_idle_connections(tmp_path: Path) -> None:
    """total-max-smtp-in 3: three idle sockets hold every slot, the fourth gets
    421 4.7.0 Too many connections (logged); when one closes, a new one is served."""
    async with running(tmp_path, CAPPED) as run:
        idle: list[RawClient] = [await raw_client(run.port, f"127.0.0.{n}") for n in (1, 2, 6)]
        reader, writer = await asyncio.open_connection("127.0.0.1", run.port)
        banner = await asyncio.wait_for(reader.readline(), 10)
        assert banner.startswith(b"421 4.7.0 Too many connections")
        assert await asyncio.wait_for(reader.read(), 10) == b""  # and hung up
        writer.close()
        idle.pop().close()
        await _until_open(run.listener.stats, 2)
        again = await raw_client(run.port)
        assert (await again.send(b"NOOP"))[0] == 250
        for conn in [*idle, again]:
            conn.close()
        (row,) = run.rejects()
    assert row.reason == "total-max-smtp-in 3 (all listeners)"


@pytest.mark.slow
@bounded
async def test_without_max_smtp_in_each_address_has_a_default_cap(tmp_path: Path) -> None:
    """A source without max-smtp-in (here 0/0) still caps each client address at the default
    (100 sessions); another address is not affected."""
    async with running(tmp_path) as run:
        idle = [await raw_client(run.port, "127.0.0.9") for _ in range(DEFAULT_MAX_SMTP_IN)]
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", run.port, local_addr=("127.0.0.9", 0)
        )
        assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"421 4.7.0")
        writer.close()
        other = await raw_client(run.port, "127.0.0.10")
        assert (await other.send(b"NOOP"))[0] == 250
        for conn in [*idle, other]:
            conn.close()
        (row,) = run.rejects()
    assert row.reason == f"max-smtp-in {DEFAULT_MAX_SMTP_IN} (address 127.0.0.9)"


@pytest.mark.slow
@bounded
async def test_start_raises_the_open_file_limit_for_the_cap(tmp_path: Path) -> None:
    """Starting a listener raises the soft open-file limit to total-max-smtp-in plus headroom
    (within the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 512:
        pytest.skip("the hard open-file limit leaves nothing to raise")
    resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard))
    try:
        text = CONFIG.replace("host-name mta.test\n", "host-name mta.test\ntotal-max-smtp-in 600\n")
        async with running(tmp_path, text):
            now, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = 600 + 1024
        assert now == (wanted if hard == resource.RLIM_INFINITY else min(hard, wanted))
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.slow
@bounded
async def test_the_third_failed_auth_gets_535_then_421_and_a_hang_up(tmp_path: Path) -> None:
    """On one connection, the third failed AUTH is answered 535 5.7.8 like the others, then
    421 4.7.0 Too many authentication failures, and the connection is closed."""
    import base64

    text = CONFIG.replace(
        "<source 127.0.0.1>\n", "<source 127.0.0.1>\n    allow-unencrypted-plain-auth yes\n"
    )
    limiter = AuthLimiter(base_delay=0.01)
    async with running(tmp_path, text, auth_limiter=limiter) as run:
        smtp = await raw_client(run.port)
        await smtp.send(b"EHLO client.test")
        guess = base64.b64encode(b"\0app\0guess")
        for _ in range(2):
            assert (await smtp.send(b"AUTH PLAIN " + guess))[0] == 535
        assert await smtp.send(b"AUTH PLAIN " + guess) == (
            535,
            "5.7.8 Authentication credentials invalid",
        )
        assert await smtp.reply() == (421, "4.7.0 Too many authentication failures")
        assert await smtp.reply() == (0, "")  # hung up
        smtp.close()


def test_a_lockout_outlives_a_flood_of_fresh_names_and_addresses() -> None:
    """A locked-out user stays locked out when a guesser then fails with thousands of other
    names from thousands of addresses (they push out old counts, never a lockout)."""
    now = [0.0]
    limiter = AuthLimiter(max_failures=3, window=900, max_keys=100, clock=lambda: now[0])
    for source in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        limiter.failure(source, "app")
    assert limiter.locked("198.51.100.7", "app") is not None
    for i in range(1_000):
        now[0] += 0.01
        limiter.failure(f"10.0.{i // 256}.{i % 256}", f"name{i}")
    assert limiter.locked("198.51.100.7", "app") is not None
    assert len(limiter) <= 4 * 100


def test_an_ipv6_guesser_cannot_escape_by_changing_address_in_its_64() -> None:
    """Every address of one IPv6 /64 counts as one client (a subscriber gets the whole /64)."""
    limiter = AuthLimiter(max_failures=3, window=900, clock=lambda: 0.0)
    for host in (1, 2, 3):
        limiter.failure(f"2001:db8:1:2::{host}", f"user{host}")
    assert limiter.locked("2001:db8:1:2:ffff::9") is not None
    assert limiter.locked("2001:db8:1:3::1") is None
    assert limiter.locked("::ffff:192.0.2.1") is None
    limiter.failure("::ffff:192.0.2.1", "a")
    assert limiter.failure("192.0.2.1", "b").by_address == 2  # IPv4-mapped is the IPv4 address


@bounded
async def test_the_thousand_and_first_recipient_is_452(tmp_path: Path) -> None:
    """A transaction takes 1000 recipients (pipelined in one write, answered in order);
    the next RCPT gets 452 4.5.3 and the transaction goes on to deliver to the 1000."""
    async with running(tmp_path) as run:
        raw = await raw_client(run.port)
        try:
            assert (await raw.send(b"EHLO client.test"))[0] == 250
            assert (await raw.send(b"MAIL FROM:<app@example.test>"))[0] == 250
            raw.writer.write(b"".join(b"RCPT TO:<r%d@example.net>\r\n" % i for i in range(1001)))
            codes = [(await raw.reply())[0] for _ in range(1001)]
            assert codes == [250] * 1000 + [452]
            assert (await raw.send(b"DATA"))[0] == 354
            assert (await raw.send(b"Subject: x\r\n\r\nhi\r\n."))[0] == 250
        finally:
            raw.close()
        assert len(run.spooled()[0][1].recipients) == 1000
