"""No open relay: <source> rules decide who may send through us, per SMTP command."""

from __future__ import annotations

from mta.config import load_config
from mta.smtp_server.relay import check_connect, check_mail_from, check_rcpt, check_size, source_for
from tests.mta.config.conftest import DATA, parse

HOT = load_config(DATA / "hot.conf")


def test_most_specific_source_wins() -> None:
    """127.0.0.1 matches <source 127.0.0.1>, not <source 0/0>; other addresses get 0/0."""
    assert source_for(HOT, "127.0.0.1").match == "127.0.0.1"  # type: ignore[union-attr]
    assert source_for(HOT, "203.0.113.9").match == "0/0"  # type: ignore[union-attr]


def test_the_app_on_loopback_may_relay() -> None:
    """The allowed source relays without AUTH."""
    assert check_mail_from(HOT, "127.0.0.1", None, "news@example.test").ok
    assert check_rcpt(HOT, "127.0.0.1", None, "someone@gmail.com").ok


def test_strangers_are_refused_with_550_571_and_a_reason() -> None:
    """An unauthenticated stranger must AUTH first, and can never relay."""
    mail = check_mail_from(HOT, "203.0.113.9", None, "x@example.test")
    assert (mail.ok, mail.reply) == (False, "530 5.7.0 Authentication required")
    rcpt = check_rcpt(HOT, "203.0.113.9", None, "victim@example.com")
    assert (rcpt.ok, rcpt.reply) == (False, "550 5.7.1 Relaying denied")
    assert "203.0.113.9" in rcpt.reason
    assert "<source 0/0>" in rcpt.reason


def test_authenticated_users_get_their_named_source() -> None:
    """After AUTH, the user's `source {auth}` applies: relaying, but only for its senders."""
    assert check_rcpt(HOT, "203.0.113.9", "mailwizz", "someone@gmail.com").ok
    assert check_mail_from(HOT, "203.0.113.9", "mailwizz", "news@example.test").ok
    refused = check_mail_from(HOT, "203.0.113.9", "mailwizz", "ceo@other.example")
    assert (refused.ok, refused.reply) == (
        False,
        "550 5.7.1 Sender <ceo@other.example> not allowed",
    )


def test_no_source_at_all_means_no_relay() -> None:
    """With no <source> blocks, nobody relays: the safe default."""
    cfg = parse("")
    assert not check_rcpt(cfg, "127.0.0.1", None, "a@example.com").ok


def test_smtp_service_and_size_limits() -> None:
    """smtp-service no refuses at connect; max-message-size refuses big messages with 552."""
    cfg = parse(
        "<source 10.0.0.0/8>\nsmtp-service no\n</source>\n"
        "<source 127.0.0.1>\nmax-message-size 1K\nalways-allow-relaying yes\n</source>\n"
    )
    assert not check_connect(cfg, "10.1.2.3").ok
    assert check_connect(cfg, "127.0.0.1").ok
    assert check_size(cfg, "127.0.0.1", None, 1024).ok
    big = check_size(cfg, "127.0.0.1", None, 1025)
    assert big.reply.startswith("552 5.3.4")
