"""Where mail for a domain goes: static routes, MX preference, implicit MX, Null MX."""

from __future__ import annotations

import pytest

from mta.config import effective_settings
from mta.delivery.routing import NullMxError, StaticResolver, delivery_hosts
from mta.errors import PermanentPeerError, TransientPeerError
from tests.mta.config.conftest import parse

PLAIN = effective_settings(parse(""), "example.com").settings
RESOLVER = StaticResolver(
    mx_records={
        "example.com": [(20, "mx2.example.com"), (10, "mx1.example.com")],
        "nullmx.example": [(0, ".")],
        "nomx.example": [],
    },
    hosts={
        "mx1.example.com": ["127.0.0.11"],
        "mx2.example.com": ["127.0.0.12", "127.0.0.13"],
        "nomx.example": ["127.0.0.14"],
    },
)


def test_mx_hosts_by_preference() -> None:
    """Lower MX preference first; every address of each host, port 25."""
    hosts = delivery_hosts("example.com", PLAIN, RESOLVER)
    assert [str(h) for h in hosts] == ["127.0.0.11:25", "127.0.0.12:25", "127.0.0.13:25"]


def test_implicit_mx_when_there_is_no_mx_record() -> None:
    """No MX record: the domain's own address is the mail host (RFC 5321 section 5.1)."""
    assert [str(h) for h in delivery_hosts("nomx.example", PLAIN, RESOLVER)] == ["127.0.0.14:25"]


def test_null_mx_is_a_permanent_bad_domain() -> None:
    """A single MX of '.' (RFC 7505) is a permanent failure with 5.1.10, not a retry."""
    with pytest.raises(NullMxError) as info:
        delivery_hosts("nullmx.example", PLAIN, RESOLVER)
    assert info.value.enhanced_status == "5.1.10"
    assert not info.value.retryable


def test_missing_domain_and_missing_addresses() -> None:
    """NXDOMAIN is permanent (5.1.2); MX hosts without addresses are a temporary failure."""
    with pytest.raises(PermanentPeerError, match="does not exist"):
        delivery_hosts("nowhere.example", PLAIN, RESOLVER)
    broken = StaticResolver(mx_records={"b.example": [(10, "ghost.b.example")]})
    with pytest.raises(TransientPeerError):
        delivery_hosts("b.example", PLAIN, broken)


def test_static_routes_come_first_with_backups_last() -> None:
    """`route` pins a domain to hosts (priority order, backups last) and skips DNS."""
    cfg = parse(
        "<domain example.com>\nroute 127.0.0.9:2527 backup=yes\nroute 127.0.0.8:2526 priority=20\n"
        "route 127.0.0.7:2525 priority=5\n</domain>\n"
    )
    settings = effective_settings(cfg, "example.com").settings
    hosts = delivery_hosts("example.com", settings, StaticResolver())
    assert [str(h) for h in hosts] == ["127.0.0.7:2525", "127.0.0.8:2526", "127.0.0.9:2527"]
