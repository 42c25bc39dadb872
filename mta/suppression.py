"""The MTA's in-memory view of the suppression list: no database query per recipient.

The product keeps the list in SQL (``acctpipe.sqlstore.suppressions``) and feeds every change
from its change log into a :class:`SuppressionSet` inside the running MTA; the
listener checks it at RCPT and the delivery engine before each attempt. Keys
are 64-bit hashes of ``scope NUL address`` (the address normalised by the
feeder's own function, so both sides agree): :func:`suppression_key`, which
the SQL store also writes beside every row (``lookup_key``), so a node loads
the list without normalising or hashing anything. A false match needs two
different addresses with the same 64-bit BLAKE2b digest.

Scopes: ``global``, ``domain:<sender domain>`` and ``list:<job id>``; a
recipient is suppressed when any scope that applies to the message holds it.
"""

from __future__ import annotations

import hashlib
import json
import time
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, Literal, get_args

from mta.errors import BadFormatError

__all__ = [
    "REASONS",
    "SuppressionEntry",
    "SuppressionReason",
    "SuppressionSet",
    "address_hash",
    "plain_domain",
    "scope_hash",
    "signed_key",
    "suppression_key",
    "unsigned_key",
]

# Why an address is suppressed. The order is the reason's code in a saved set: append only.
SuppressionReason = Literal[
    "hard-bounce", "soft-bounce-repeated", "complaint", "manual", "unsubscribe"
]
REASONS: Final[tuple[SuppressionReason, ...]] = get_args(SuppressionReason)
_CODES: Final[dict[str, int]] = {reason: n for n, reason in enumerate(REASONS)}


@dataclass(frozen=True, slots=True)
class SuppressionEntry:
    """One change to apply: an address suppressed in a scope (or no longer, ``removed``)."""

    address: str
    scope: str = "global"
    reason: str = "manual"
    expires_at: float | None = None  # epoch seconds; None: for good
    removed: bool = False


def plain_domain(domain: str) -> str:
    """A domain as written, made comparable: no brackets, no root dot, lower case."""
    return domain.strip().strip("<>").rstrip(".").lower()


_SCOPE_PERSON: Final = b"acctpipe-scope"
_BIT63: Final = 1 << 63
_BIT64: Final = 1 << 64


def address_hash(address: str) -> int:
    """The unsigned 64-bit BLAKE2b digest of a normalised address (the global scope's key)."""
    data = address.encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def scope_hash(scope: str) -> int:
    """What a scope XORs into an address's hash: 0 for ``global``, a keyed digest otherwise."""
    if scope == "global":
        return 0
    data = scope.encode("utf-8", "surrogatepass")
    digest = hashlib.blake2b(data, digest_size=8, person=_SCOPE_PERSON).digest()
    return int.from_bytes(digest, "big")


def suppression_key(scope: str, address: str) -> int:
    """The unsigned 64-bit key of (``scope``, normalised ``address``).

    ``address_hash(address) ^ scope_hash(scope)``: a check hashes the recipient
    once and XORs in each scope's hash (a handful of sender domains, cached),
    instead of hashing ``scope + address`` once per scope. The SQL store writes
    :func:`signed_key` of it in ``lookup_key``; changing it needs a migration.
    """
    return address_hash(address) ^ scope_hash(scope)


def signed_key(key: int) -> int:
    """An unsigned 64-bit key as the signed BIGINT a database stores."""
    return key - _BIT64 if key >= _BIT63 else key


def unsigned_key(stored: int) -> int:
    """A stored signed BIGINT back to the unsigned key."""
    return stored + _BIT64 if stored < 0 else stored


def _key(scope: str, address: str) -> int:
    return suppression_key(scope, address)


class SuppressionSet:
    """Suppressed (scope, address) pairs with their reasons, kept fresh by a feeder.

    ``normalise`` turns an address as written into the stored form (the same
    function the store uses); it may raise ValueError for a malformed address,
    which then counts as not suppressed. ``normalise_domain`` spells the sender's
    domain as ``domain:`` scopes are stored (IDNA, no trailing dot).
    """

    def __init__(
        self,
        normalise: Callable[[str], str] = str.lower,
        normalise_domain: Callable[[str], str] | None = None,
    ) -> None:
        self._normalise = normalise
        self._domain = normalise_domain or plain_domain
        self._reasons: dict[int, int] = {}
        self._expires: dict[int, float] = {}  # only entries that expire
        self.cursor = 0  # the last change-log cursor applied (the feeder's bookkeeping)

    def __len__(self) -> int:
        return len(self._reasons)

    def apply(self, entries: Iterable[SuppressionEntry]) -> None:
        """Apply changes in change-log order."""
        for entry in entries:
            try:
                address = self._normalise(entry.address)
            except ValueError:
                continue
            key = _key(entry.scope, address)
            if entry.removed:
                self._reasons.pop(key, None)
                self._expires.pop(key, None)
                continue
            self._reasons[key] = _CODES.get(entry.reason, _CODES["manual"])
            if entry.expires_at is None:
                self._expires.pop(key, None)
            else:
                self._expires[key] = entry.expires_at

    def to_bytes(self) -> bytes:
        """The whole set and its cursor as bytes (a snapshot a restart can load).

        A JSON header line, then the keys (8 bytes each), the reason codes (1 byte
        each), and the expiring keys with their expiry times.
        """
        keys = array("Q", self._reasons.keys())
        codes = bytes(self._reasons.values())
        expiring = array("Q", self._expires.keys())
        expiry = array("d", self._expires.values())
        header = {"format": 2, "cursor": self.cursor, "entries": len(keys)}
        header["expiring"] = len(expiring)
        parts = [json.dumps(header).encode() + b"\n", keys.tobytes(), codes]
        return b"".join([*parts, expiring.tobytes(), expiry.tobytes()])

    def load_bytes(self, data: bytes) -> None:
        """Replace the set with a snapshot made by :meth:`to_bytes` (ValueError if malformed)."""
        head, _, body = data.partition(b"\n")
        header = json.loads(head)
        if not isinstance(header, dict) or header.get("format") != 2:
            raise BadFormatError(
                "not a suppression snapshot of format 2 (format 1, with other keys, is"
                " refused: the list is loaded from the store instead)"
            )
        n, m = int(header["entries"]), int(header["expiring"])
        if len(body) != n * 9 + m * 16:
            raise BadFormatError("a truncated suppression snapshot")
        keys, expiring, expiry = array("Q"), array("Q"), array("d")
        keys.frombytes(body[: n * 8])
        codes = body[n * 8 : n * 9]
        expiring.frombytes(body[n * 9 : n * 9 + m * 8])
        expiry.frombytes(body[n * 9 + m * 8 :])
        self._reasons = dict(zip(keys, codes, strict=True))
        self._expires = dict(zip(expiring, expiry, strict=True))
        self.cursor = int(header["cursor"])

    def replace(self, other: SuppressionSet) -> None:
        """Take ``other``'s entries and cursor in one step (a reload built aside, so a
        lookup never sees the set half filled)."""
        self._reasons, self._expires, self.cursor = other._reasons, other._expires, other.cursor

    def clear(self) -> None:
        """Forget everything (before a full reload from the store)."""
        self._reasons.clear()
        self._expires.clear()
        self.cursor = 0

    def reason(
        self,
        rcpt: str,
        *,
        sender: str = "",
        job_id: str | None = None,
        now: float | None = None,
    ) -> str | None:
        """Why ``rcpt`` is suppressed for a message from ``sender`` (and job), or None."""
        if not self._reasons:
            return None
        try:
            address = self._normalise(rcpt)
        except ValueError:
            return None
        scopes = ["global"]
        sender_domain = self._domain(sender.rpartition("@")[2]) if "@" in sender else ""
        if sender_domain:
            scopes.append(f"domain:{sender_domain}")
        if job_id:
            scopes.append(f"list:{job_id}")
        for scope in scopes:
            key = _key(scope, address)
            code = self._reasons.get(key)
            if code is None:
                continue
            expires = self._expires.get(key)
            if expires is not None and expires <= (time.time() if now is None else now):
                continue
            return REASONS[code]
        return None
