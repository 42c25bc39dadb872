"""The MTA's in-memory view of the suppression list: no database query per recipient.

The product keeps the list in SQL (``acctpipe.sqlstore.suppressions``) and feeds every change
from its change log into a :class:`SuppressionSet` inside the running MTA; the
listener checks it at RCPT and the delivery engine before each attempt. Keys
are 64-bit hashes of (scope, address) (the address normalised by the feeder's
own function, so both sides agree): :func:`suppression_key`, which the SQL
store also writes beside every row (``lookup_key``), so a node loads the list
without normalising or hashing anything. A false match needs two different
addresses with the same 64-bit BLAKE2b digest.

Scopes: ``global``, ``domain:<sender domain>`` and ``list:<job id>``; a
recipient is suppressed when any scope that applies to the message holds it.

**Layout** (about 10 bytes per address; :mod:`mta._packed`): a packed base of
sorted keys and one-byte reason codes, looked up through a radix directory,
plus a small dict of the changes applied since the base was built (additions,
updates and removals). When that dict grows past a share of the base it is
merged into a new base, built aside and swapped in (:meth:`SuppressionSet.compact`,
or :meth:`~SuppressionSet.begin_compaction` to build it in a worker thread).
A check hashes the recipient once and XORs in each scope's hash (the sender
domains' hashes are cached).
"""

from __future__ import annotations

import hashlib
import json
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, Literal, get_args

import numpy as np
import numpy.typing as npt

from mta._packed import EXPIRES, GONE, Packed, merged, merged_arrays, packed
from mta.errors import BadFormatError

__all__ = [
    "GONE",
    "REASONS",
    "Compaction",
    "SuppressionEntry",
    "SuppressionReason",
    "SuppressionSet",
    "address_hash",
    "plain_domain",
    "reason_code",
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


def reason_code(reason: str) -> int:
    """The code of ``reason`` in the set (an unknown reason counts as ``manual``)."""
    return _CODES.get(reason, _CODES["manual"])


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
# Copying a ready hash object is twice as fast as making one with digest_size=8.
_ADDRESS_HASH: Final = hashlib.blake2b(digest_size=8)


def address_hash(address: str) -> int:
    """The unsigned 64-bit BLAKE2b digest of a normalised address (the global scope's key)."""
    try:
        data = address.encode()
    except UnicodeEncodeError:  # a lone surrogate: encoded as the store encodes it
        data = address.encode("utf-8", "surrogatepass")
    h = _ADDRESS_HASH.copy()
    h.update(data)
    return int.from_bytes(h.digest(), "big")


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


_NO_SCOPE: Final = -1  # a sender without a domain: no domain scope applies
_SCOPE_CACHE: Final = 4096  # sender domains (and job ids) whose scope hash is kept
_EMPTY: Final = packed(np.zeros(0, np.uint64), np.zeros(0, np.uint8))
_SNAPSHOT_FORMAT: Final = 2


class Compaction:
    """A new base being built from a set's base and a frozen copy of its changes.

    :meth:`build` may run in a worker thread (it reads only what it was given);
    :meth:`SuppressionSet.end_compaction` swaps the result in.
    """

    def __init__(self, generation: int, base: Packed, changes: dict[int, int],
                 expiries: dict[int, float]) -> None:  # fmt: skip
        self.generation, self.base = generation, base
        self.changes, self.expiries = changes, expiries
        self.result: Packed | None = None

    def build(self) -> None:
        """Merge (the slow part: O(entries) in numpy)."""
        self.result = merged(self.base, self.changes, self.expiries)


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
        self._domain_scopes: dict[str, int] = {}  # sender domain as written → scope hash
        self._list_scopes: dict[str, int] = {}  # job id → scope hash
        self._sender_scopes: dict[str, int] = {}  # sender as given → its domain's scope hash
        self._generation = 0  # bumped whenever the base is swapped: a compaction then is stale
        self._set(_EMPTY, 0)
        self.cursor = 0  # the last change-log cursor applied (the feeder's bookkeeping)

    def _set(self, base: Packed, count: int) -> None:
        self._base = base
        # What a check reads from the base, in one attribute (the hot path).
        self._lookup = (base.fv, base.fmask, base.directory, base.shift, base.kv, base.cv)
        self._changes: dict[int, int] = {}  # key → code since the base (GONE: removed)
        self._expiries: dict[int, float] = {}  # expiry of each change whose code has EXPIRES
        self._count = count
        self._generation += 1

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        """The packed base's memory (the changes dict since it was built not included)."""
        return self._base.nbytes

    # -- changing ------------------------------------------------------------------------

    def apply(self, entries: Iterable[SuppressionEntry]) -> None:
        """Apply changes in change-log order."""
        keyed = []
        for entry in entries:
            try:
                key = suppression_key(entry.scope, self._normalise(entry.address))
            except ValueError:
                continue
            code = GONE if entry.removed else reason_code(entry.reason)
            keyed.append((key, code, entry.expires_at))
        self.apply_keys(keyed)

    def apply_keys(self, changes: Iterable[tuple[int, int, float | None]]) -> None:
        """Apply (key, reason code or :data:`GONE`, expiry or None) in change-log order:
        what a feeder that reads stored keys gives (nothing is normalised or hashed)."""
        base, pending, expiries = self._base, self._changes, self._expiries
        for key, code, expires in changes:
            was = pending.get(key)
            in_base = (was is None or code == GONE) and base.code(key) >= 0
            present = in_base if was is None else was != GONE
            if code == GONE:
                expiries.pop(key, None)
                if in_base:
                    pending[key] = GONE
                else:
                    pending.pop(key, None)
                self._count -= present
                continue
            if expires is None or expires == float("inf"):
                expiries.pop(key, None)
            else:
                code |= EXPIRES
                expiries[key] = expires
            pending[key] = code
            self._count += not present
        if len(pending) > 4 * self.compaction_threshold:
            self.compact()  # nobody compacted in the background: do it now

    def load_arrays(
        self,
        keys: npt.NDArray[np.uint64],
        codes: npt.NDArray[np.uint8],
        expiring: npt.NDArray[np.uint64] | None = None,
        expires_at: npt.NDArray[np.float64] | None = None,
        *,
        runs: bool = False,
    ) -> None:
        """Replace the whole set with ``keys`` (unsigned :func:`suppression_key`s, any
        order) and their reason codes; ``expiring`` and ``expires_at``: the keys that
        expire and when (epoch seconds).

        The bulk path of a loader: no Python object per entry. ``runs``: the keys come
        as a few long sorted runs (they are then merged rather than sorted).
        """
        base = packed(keys, codes, expiring, expires_at, runs=runs)
        self._set(base, len(base))

    # -- compaction ----------------------------------------------------------------------

    @property
    def compaction_threshold(self) -> int:
        """Changes held beside the base above which a compaction is due."""
        return max(4096, len(self._base) >> 6)

    def needs_compaction(self) -> bool:
        """True when the changes since the base was built should be merged into it."""
        return len(self._changes) > self.compaction_threshold

    def begin_compaction(self) -> Compaction:
        """A :class:`Compaction` of the set as it is now (build it, then
        :meth:`end_compaction`; changes applied meanwhile are kept)."""
        return Compaction(self._generation, self._base, dict(self._changes), dict(self._expiries))

    def end_compaction(self, done: Compaction) -> bool:
        """Swap in the base ``done`` built; False (nothing done) if the set was replaced,
        cleared or compacted meanwhile."""
        if done.result is None or done.generation != self._generation:
            return False
        pending, expiries = self._changes, self._expiries
        later = {
            k: v
            for k, v in pending.items()
            if done.changes.get(k) != v or done.expiries.get(k) != expiries.get(k)
        }
        count = self._count
        self._set(done.result, count)
        self._changes = later
        self._expiries = {k: expiries[k] for k in later if k in expiries}
        return True

    def compact(self) -> None:
        """Merge the changes into a new base now."""
        job = self.begin_compaction()
        job.build()
        self.end_compaction(job)

    # -- snapshots -----------------------------------------------------------------------

    def snapshot(self) -> Callable[[], bytes]:
        """What :meth:`to_bytes` returns, made later by the function returned (which may
        run in a worker thread: it reads only what it was given now)."""
        base, changes, expiries = self._base, dict(self._changes), dict(self._expiries)
        cursor = self.cursor

        def make() -> bytes:
            keys, codes, exp_keys, exp_at = merged_arrays(base, changes, expiries)
            header = {"format": _SNAPSHOT_FORMAT, "cursor": cursor, "entries": len(keys)}
            header["expiring"] = len(exp_keys)
            plain = (codes & np.uint8(0x7F)).tobytes()
            parts = [json.dumps(header).encode() + b"\n", keys.tobytes(), plain]
            return b"".join([*parts, exp_keys.tobytes(), exp_at.tobytes()])

        return make

    def to_bytes(self) -> bytes:
        """The whole set and its cursor as bytes (a snapshot a restart can load).

        A JSON header line, then the keys (8 bytes each, native order), the reason
        codes (1 byte each), and the expiring keys with their expiry times (format 2).
        """
        return self.snapshot()()

    def load_bytes(self, data: bytes) -> None:
        """Replace the set with a snapshot made by :meth:`to_bytes` (ValueError if malformed)."""
        head, _, body = data.partition(b"\n")
        try:
            header = json.loads(head)
        except ValueError:
            header = None
        if not isinstance(header, dict) or header.get("format") != _SNAPSHOT_FORMAT:
            raise BadFormatError(
                f"not a suppression snapshot of format {_SNAPSHOT_FORMAT} (format 1, with"
                " other keys, is refused: the list is loaded from the store instead)"
            )
        n, m = int(header["entries"]), int(header["expiring"])
        if len(body) != n * 9 + m * 16:
            raise BadFormatError("a truncated suppression snapshot")
        keys = np.frombuffer(body, np.uint64, n)
        codes = np.frombuffer(body, np.uint8, n, n * 8)
        exp_keys = np.frombuffer(body, np.uint64, m, n * 9)
        exp_at = np.frombuffer(body, np.float64, m, n * 9 + m * 8)
        if n and int(codes.max()) >= len(REASONS):
            raise BadFormatError("a suppression snapshot with an unknown reason code")
        self.load_arrays(keys, codes, exp_keys, exp_at, runs=True)
        self.cursor = int(header["cursor"])

    def replace(self, other: SuppressionSet) -> None:
        """Take ``other``'s entries and cursor in one step (a reload built aside, so a
        lookup never sees the set half filled)."""
        self._set(other._base, other._count)
        self._changes, self._expiries = other._changes, other._expiries
        self.cursor = other.cursor

    def clear(self) -> None:
        """Forget everything (before a full reload from the store)."""
        self._set(_EMPTY, 0)
        self.cursor = 0

    # -- checking ------------------------------------------------------------------------

    def _sender_scope(self, sender: str) -> int:
        """The scope hash of ``sender``'s domain (:data:`_NO_SCOPE` without one), cached
        by sender and by domain (a sender per message, as with VERP, still shares one)."""
        _, at, domain = sender.rpartition("@")
        scoped = _NO_SCOPE
        if at:
            cached = self._domain_scopes.get(domain)
            scoped = self._domain_scope(domain) if cached is None else cached
        if len(self._sender_scopes) >= _SCOPE_CACHE:
            self._sender_scopes.clear()
        self._sender_scopes[sender] = scoped
        return scoped

    def _domain_scope(self, domain: str) -> int:
        try:
            plain = self._domain(domain)
        except ValueError:
            plain = ""
        scoped = scope_hash(f"domain:{plain}") if plain else _NO_SCOPE
        if len(self._domain_scopes) >= _SCOPE_CACHE:
            self._domain_scopes.clear()
        self._domain_scopes[domain] = scoped
        return scoped

    def _list_scope(self, job_id: str) -> int:
        scoped = self._list_scopes.get(job_id)
        if scoped is None:
            if len(self._list_scopes) >= _SCOPE_CACHE:
                self._list_scopes.clear()
            scoped = self._list_scopes[job_id] = scope_hash(f"list:{job_id}")
        return scoped

    def reason(
        self,
        rcpt: str,
        *,
        sender: str = "",
        job_id: str | None = None,
        now: float | None = None,
    ) -> str | None:
        """Why ``rcpt`` is suppressed for a message from ``sender`` (and job), or None."""
        if not self._count:
            return None
        try:
            address = self._normalise(rcpt)
        except ValueError:
            return None
        try:
            data = address.encode()
        except UnicodeEncodeError:
            data = address.encode("utf-8", "surrogatepass")
        hashing = _ADDRESS_HASH.copy()
        hashing.update(data)
        h = int.from_bytes(hashing.digest(), "big")  # address_hash, inline: the hot path
        scoped = self._sender_scopes.get(sender)
        if scoped is None:
            scoped = self._sender_scope(sender)
        keys = (h,) if scoped == _NO_SCOPE else (h, h ^ scoped)
        if job_id:
            keys = (*keys, h ^ self._list_scope(job_id))
        fv, fmask, directory, shift, kv, cv = self._lookup
        pending = self._changes
        for key in keys:
            code = pending.get(key)
            if code is None:
                if not fv[(key & fmask) >> 3] >> (key & 7) & 1:
                    continue  # the filter: not in the base
                b = key >> shift
                hi = directory[b + 1]
                i = bisect_left(kv, key, directory[b], hi)
                if i == hi or kv[i] != key:
                    continue
                code = cv[i]
                if code & EXPIRES and self._base.expiry(key) <= (
                    time.time() if now is None else now
                ):
                    continue
            elif code == GONE or (
                code & EXPIRES and self._expiries[key] <= (time.time() if now is None else now)
            ):
                continue
            return REASONS[code & 0x7F]
        return None
