"""The value grammars: rates, durations, sizes, booleans, addresses."""

from __future__ import annotations

import math

import pytest

from mta.config.values import (
    parse_address,
    parse_bool,
    parse_duration,
    parse_duration_list,
    parse_int,
    parse_network,
    parse_rate,
    parse_size,
)


@pytest.mark.parametrize(
    ("text", "per_second"),
    [
        ("30/s", 30.0),
        ("2000/h", 2000 / 3600),
        ("10/minute", 10 / 60),
        ("10/min", 10 / 60),
        ("150/hour", 150 / 3600),
        ("100/5m", 100 / 300),
        ("1000/d", 1000 / 86400),
        ("0.5/s", 0.5),
    ],
)
def test_rates_accept_powermta_spellings(text: str, per_second: float) -> None:
    """Rates written as 30/s, 2000/h, 10/minute or 100/5m mean what they say."""
    assert parse_rate(text).per_second == pytest.approx(per_second)


def test_unlimited_rate_places_no_limit() -> None:
    """`unlimited` is an infinite rate and prints back as unlimited."""
    rate = parse_rate("unlimited")
    assert rate.is_unlimited
    assert math.isinf(rate.per_second)
    assert str(rate) == "unlimited"


@pytest.mark.parametrize("text", ["30", "fast", "30/", "30/lightyear", "-1/s", "x/s", "5/0s"])
def test_bad_rates_are_refused_with_a_reason(text: str) -> None:
    """A malformed rate raises ValueError naming the text."""
    with pytest.raises(ValueError, match=r"rate|unit|duration"):
        parse_rate(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5m", 300),
        ("24h", 86400),
        ("10d", 864000),
        ("4d12h", 388800),
        ("5", 5),
        ("1h 30m", 5400),
        ("2w", 1209600),
        ("30 seconds", 30),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    """Durations accept units s/m/h/d/w, combinations such as 4d12h, and bare seconds."""
    assert parse_duration(text) == seconds


def test_never_is_only_accepted_where_allowed() -> None:
    """`never` means no limit for directives that allow it, and is an error elsewhere."""
    assert parse_duration("never", allow_never=True) is None
    with pytest.raises(ValueError, match="never"):
        parse_duration("never")


def test_duration_lists_make_retry_schedules() -> None:
    """`1h,3h,6h,12h` is a schedule of four intervals."""
    assert parse_duration_list("1h,3h, 6h,12h") == (3600, 10800, 21600, 43200)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("100M", 100 << 20),
        ("50k", 50 << 10),
        ("2G", 2 << 30),
        ("1024", 1024),
        ("25MB", 25 << 20),
        ("unlimited", None),
    ],
)
def test_sizes(text: str, size: int | None) -> None:
    """Sizes use binary multiples K, M, G and accept `unlimited`."""
    assert parse_size(text) == size


def test_booleans_and_ints() -> None:
    """yes/no style booleans and whole numbers with bounds."""
    assert parse_bool("Yes") is True
    assert parse_bool("off") is False
    with pytest.raises(ValueError, match="yes or no"):
        parse_bool("maybe")
    assert parse_int("unlimited", unlimited=0) == 0
    with pytest.raises(ValueError, match="at least 1"):
        parse_int("0", minimum=1)


def test_addresses_and_networks() -> None:
    """Listener and route addresses accept host:port, [v6]:port and PowerMTA's 0/0."""
    assert str(parse_address("0/0:25")) == "0.0.0.0:25"
    assert parse_address("[::1]:2525").port == 2525
    assert parse_address("mx.example.test", default_port=25).port == 25
    with pytest.raises(ValueError, match="port"):
        parse_address("127.0.0.1:99999")
    assert str(parse_network("0/0")) == "0.0.0.0/0"
    assert parse_network("10.1.2.3/8").num_addresses == 1 << 24
    with pytest.raises(ValueError, match="CIDR"):
        parse_network("not-an-ip")
