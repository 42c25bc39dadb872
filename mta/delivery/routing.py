"""Where to deliver a domain's mail: static routes, MX records, implicit MX, Null MX.

RFC 5321 section 5.1: try the MX hosts in order of preference (ties in random
order, here in the given order for reproducibility); with no MX record, the
domain's own address is an implicit MX. RFC 7505: a single MX of "." with
preference 0 means the domain accepts no mail — a hard ``bad-domain`` failure,
no retries. acctpipe's static routes (``route host:port priority=N backup=yes``)
come before DNS and pin a destination, e.g. to a loopback sink in tests.

DNS is behind :class:`Resolver`, so tests and the demo use
:class:`StaticResolver` and never touch the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from mta.config.model import DomainSettings
from mta.config.values import Address
from mta.errors import PermanentPeerError, TransientPeerError

__all__ = [
    "DnsPythonResolver",
    "NullMxError",
    "Resolver",
    "StaticResolver",
    "delivery_hosts",
    "domain_of",
]


def domain_of(address: str) -> str:
    """The destination domain of ``address``: after the last ``@``, lower-cased, no root dot."""
    return address.rpartition("@")[2].lower().rstrip(".")


class NullMxError(PermanentPeerError):
    """The domain publishes a Null MX (RFC 7505): it accepts no mail at all."""


class Resolver(Protocol):
    """The DNS questions delivery asks."""

    def mx(self, domain: str) -> list[tuple[int, str]] | None:
        """(preference, host) pairs; ``[]`` with no MX record; ``None``: no such domain."""
        ...

    def addresses(self, host: str) -> list[str]:
        """The host's A/AAAA addresses (empty when it has none)."""
        ...


@dataclass
class StaticResolver:
    """A resolver answering from tables (tests, the demo): no network, ever."""

    mx_records: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    hosts: dict[str, list[str]] = field(default_factory=dict)

    def mx(self, domain: str) -> list[tuple[int, str]] | None:
        """MX records from the table; a domain in neither table does not exist."""
        key = domain.lower().rstrip(".")
        if key in self.mx_records:
            return self.mx_records[key]
        return [] if key in self.hosts else None

    def addresses(self, host: str) -> list[str]:
        """Addresses from the table."""
        return self.hosts.get(host.lower().rstrip("."), [])


class DnsPythonResolver:
    """The real resolver (dnspython). Not used by tests: this machine has no network."""

    def __init__(self, timeout: float = 10.0) -> None:
        import dns.resolver

        self._resolver = dns.resolver.Resolver()
        self._resolver.lifetime = timeout

    def mx(self, domain: str) -> list[tuple[int, str]] | None:  # pragma: no cover - network
        """MX records, ``[]`` when the domain has none, ``None`` for NXDOMAIN."""
        import dns.exception
        import dns.resolver

        try:
            answer = self._resolver.resolve(domain, "MX")
        except dns.resolver.NXDOMAIN:
            return None
        except dns.resolver.NoAnswer:
            return []
        except dns.exception.DNSException as exc:
            raise TransientPeerError(f"DNS lookup of MX {domain} failed: {exc}") from exc
        return [(int(r.preference), str(r.exchange).rstrip(".")) for r in answer]

    def addresses(self, host: str) -> list[str]:  # pragma: no cover - network
        """A and AAAA addresses."""
        import dns.exception

        found: list[str] = []
        for rtype in ("A", "AAAA"):
            try:
                found += [r.to_text() for r in self._resolver.resolve(host, rtype)]
            except dns.exception.DNSException:
                continue
        return found


def delivery_hosts(domain: str, settings: DomainSettings, resolver: Resolver) -> list[Address]:
    """The hosts to try for ``domain``, in order. Raises on Null MX or a domain that is not there.

    Static routes come first (lower ``priority`` first, backups last); otherwise
    MX hosts by preference, each expanded to its addresses; with no MX, the
    domain's own addresses (implicit MX).
    """
    if settings.route:
        ordered = sorted(settings.route, key=lambda r: (r.backup, r.priority))
        return [Address(r.address.host, r.address.port or 25) for r in ordered]
    records = resolver.mx(domain)
    if records is None:
        raise PermanentPeerError(f"domain {domain} does not exist", enhanced_status="5.1.2")
    if len(records) == 1 and records[0][1].strip(".") == "":
        raise NullMxError(
            f"{domain} publishes a Null MX (RFC 7505): it accepts no mail",
            reply_code=556,
            enhanced_status="5.1.10",
        )
    hosts = [host for _, host in sorted(records, key=lambda r: r[0]) if host.strip(".")]
    if not records:
        hosts = [domain]  # implicit MX (RFC 5321 section 5.1)
    out = [Address(ip, 25) for host in hosts for ip in resolver.addresses(host)]
    if not out:
        raise TransientPeerError(
            f"no address for any mail host of {domain}", enhanced_status="4.4.4"
        )
    return out
