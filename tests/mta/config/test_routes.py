"""PowerMTA's forms of host-and-port values: `route`, `smtp-hosts` and listener addresses."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mta.config.effective import effective_settings
from mta.config.values import Address, parse_address
from tests.mta.config.conftest import errors_of, parse


def _routes(body: str) -> list[tuple[str, int, bool]]:
    cfg = parse(f"<domain example.com>\n{body}\n</domain>\n")
    routes = effective_settings(cfg, "example.com").settings.route
    return [(r.address.host, r.address.port or 0, r.backup) for r in routes]


@pytest.mark.parametrize(
    ("line", "host", "port"),
    [
        ("route [127.0.0.1]:2526", "127.0.0.1", 2526),
        ("route [127.0.0.1]", "127.0.0.1", 25),
        ("route 127.0.0.1:2526", "127.0.0.1", 2526),
        ("route mx.example.net", "mx.example.net", 25),
        ("route mx.example.net:587", "mx.example.net", 587),
        ("route [mx.example.net]:2525", "mx.example.net", 2525),
        ("route [::1]:25", "::1", 25),
        ("route [IPv6:::1]:26", "::1", 26),
        ("route ::1", "::1", 25),
        ("smtp-hosts [127.0.0.1]:2526", "127.0.0.1", 2526),
    ],
)
def test_powermta_route_forms_are_accepted(line: str, host: str, port: int) -> None:
    """Every host-and-port form PowerMTA accepts in `route` pins the domain to that host."""
    assert _routes(line) == [(host, port, False)]


def test_smtp_hosts_takes_a_list_in_order() -> None:
    """`smtp-hosts` inside <domain> lists hosts (commas and/or spaces), tried in that order."""
    assert _routes("smtp-hosts [10.0.0.1]:2525, mx.example.net [::1]:26") == [
        ("10.0.0.1", 2525, False),
        ("mx.example.net", 25, False),
        ("::1", 26, False),
    ]
    assert _routes("route [10.0.0.1] backup=yes\nsmtp-hosts 10.0.0.2") == [
        ("10.0.0.1", 25, True),
        ("10.0.0.2", 25, False),
    ]


@pytest.mark.parametrize(
    "value",
    ["[127.0.0.1", "[127.0.0.1]x", "[127.0.0.1]:0", "[127.0.0.1]:65536", "[a b]", "[1:2]:25"],
)
def test_malformed_bracketed_hosts_are_refused_with_the_line(value: str) -> None:
    """A malformed host is a `file:line` error naming the value, never a parser traceback."""
    (error,) = errors_of(f"<domain example.com>\nroute {value}\n</domain>\n")
    assert error.startswith("t.conf:2: <domain example.com>: route:")


_IPS = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6))


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(ip=_IPS, port=st.one_of(st.none(), st.integers(1, 65535)))
def test_any_bracketed_address_and_port_round_trips(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int | None
) -> None:
    """`[ADDRESS]` or `[ADDRESS]:PORT` parses to that address and port, and prints back."""
    text = f"[{ip}]" + (f":{port}" if port is not None else "")
    parsed = parse_address(text, default_port=25)
    assert parsed == Address(str(ip), port or 25)
    assert parse_address(str(parsed)) == parsed


def test_listener_accepts_a_bracketed_ipv4_address() -> None:
    """`smtp-listener [127.0.0.1]:2525` is the same listener as `127.0.0.1:2525`."""
    cfg = parse("smtp-listener [127.0.0.1]:2525\n")
    assert cfg.listeners[0].address == Address("127.0.0.1", 2525)
