"""The sans-IO decisions: token buckets, limits per IP, greylisting, seeded hang-ups."""

from __future__ import annotations

import pytest

from acctpipe.sim import IspPolicy, IspProfile, TokenBucket
from acctpipe.sim._loopback import parse_listen
from acctpipe.sim.counters import Counters, reply_key
from mta.config.values import Rate
from mta.errors import ConfigError


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    """A 2/s bucket of 2 allows two at once, then one more after half a second."""
    bucket = TokenBucket.for_rate(Rate(2, 1), None, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [True, True, False]
    assert not bucket.take(0.25)
    assert bucket.take(0.5)


def test_message_rate_is_per_client_ip() -> None:
    """Exhausting 127.0.0.2's bucket does not defer 127.0.0.3."""
    policy = IspPolicy(IspProfile("t", message_rate=Rate(1, 60)))
    assert policy.mail("127.0.0.2", "a@s.test", 0.0) is None
    assert (policy.mail("127.0.0.2", "a@s.test", 1.0) or "").startswith("450 4.7.28")
    assert policy.mail("127.0.0.3", "a@s.test", 1.0) is None


def test_concurrency_counts_open_connections_until_disconnect() -> None:
    """The (max+1)th open connection from one IP is refused; closing one makes room."""
    policy = IspPolicy(IspProfile("t", max_connections_per_ip=1))
    assert policy.connect("127.0.0.2", 0.0) is None
    assert (policy.connect("127.0.0.2", 0.0) or "").startswith("421 4.7.0")
    policy.disconnect("127.0.0.2")
    policy.disconnect("127.0.0.2")
    assert policy.connect("127.0.0.2", 0.0) is None


def test_greylisting_releases_a_triplet_after_the_delay() -> None:
    """The first attempt per (ip, sender, rcpt) gets 451 4.7.1; a retry after the delay passes."""
    policy = IspPolicy(IspProfile("t", greylist_delay=10.0))
    first = policy.rcpt("127.0.0.2", "a@s.test", "bob@isp.test", 0.0)
    assert (first or "").startswith("451 4.7.1")
    assert policy.rcpt("127.0.0.2", "a@s.test", "bob@isp.test", 9.0) is not None
    assert policy.rcpt("127.0.0.2", "a@s.test", "bob@isp.test", 10.0) is None
    assert policy.rcpt("127.0.0.3", "a@s.test", "bob@isp.test", 10.0) is not None


def test_hang_ups_are_reproducible_for_a_seed() -> None:
    """Two policies with the same seed drop the same commands; none before the Nth."""
    profile = IspProfile("t", drop_after_commands=3, drop_probability=0.5, seed=42)
    policies = [IspPolicy(profile), IspPolicy(profile)]
    runs = [[policy.should_drop(n) for n in range(1, 30)] for policy in policies]
    assert runs[0] == runs[1]
    assert runs[0][:2] == [False, False]
    assert True in runs[0][2:]
    assert False in runs[0][2:]


def test_counters_window_and_reply_keys() -> None:
    """max_in_window finds the busiest window; rejections are keyed by code and status."""
    counters = Counters()
    for t in (0.0, 0.1, 0.2, 1.5, 1.6):
        counters.accepted("127.0.0.2", 1, t)
    counters.rejected("127.0.0.2", "421 4.7.0 [TSS04] deferred")
    stats = counters.for_ip("127.0.0.2")
    assert stats.max_in_window(1.0) == 3
    assert stats.max_in_window(0.15) == 2
    assert stats.rejected_with(421) == 1
    assert stats.rejected_with("421 4.7.0") == 1
    assert reply_key("550 Requested action not taken") == "550"
    assert counters.for_ip("127.0.0.9").messages_accepted == 0


def test_listen_addresses_parse_and_must_be_loopback() -> None:
    """HOST:PORT parses for 127.0.0.0/8, [::1] and localhost; anything else is refused."""
    assert parse_listen("127.0.0.5:2526") == ("127.0.0.5", 2526)
    assert parse_listen("[::1]:25") == ("::1", 25)
    assert parse_listen("localhost:0") == ("localhost", 0)
    for bad in ("127.0.0.1", "127.0.0.1:x", "mx.example.com:25", "10.1.1.1:25"):
        with pytest.raises(ConfigError):
            parse_listen(bad)
