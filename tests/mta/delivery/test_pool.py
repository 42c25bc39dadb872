"""Virtual-MTA pools: a stable IP per recipient domain, or members in turn."""

from __future__ import annotations

from collections import Counter

from mta.config._lexer import Where
from mta.config.model import VirtualMtaPool
from mta.delivery.pool import PoolSelector, source_hash_index


def _pool(source_hash: bool) -> VirtualMtaPool:
    return VirtualMtaPool("p", ("ip-1", "ip-2", "ip-3"), source_hash, Where("t.conf", 1))


def test_source_hash_keeps_a_domain_on_one_ip() -> None:
    """Every message to gmail.com leaves from the same vmta, whatever the case of the domain."""
    selector = PoolSelector(_pool(source_hash=True))
    chosen = {selector.choose(d) for d in ("gmail.com", "GMAIL.com", "gmail.com.")}
    assert len(chosen) == 1


def test_source_hash_spreads_domains_and_is_stable() -> None:
    """Many domains spread over all members; the index is a fixed function of the domain."""
    counts = Counter(source_hash_index(f"d{n}.example", 3) for n in range(3000))
    assert set(counts) == {0, 1, 2}
    assert min(counts.values()) > 800
    assert source_hash_index("example.com", 3) == source_hash_index("example.com", 3)


def test_round_robin_takes_members_in_turn() -> None:
    """Without source-hash, members are used in order."""
    selector = PoolSelector(_pool(source_hash=False))
    assert [selector.choose("gmail.com") for _ in range(4)] == ["ip-1", "ip-2", "ip-3", "ip-1"]
