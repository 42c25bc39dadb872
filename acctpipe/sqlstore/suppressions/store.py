"""The suppression list in SQL, with a change log a reader can follow by cursor.

**The change-feed guarantee.** A reader that calls :meth:`SuppressionStore.
changes_since` with the last cursor it saw never misses and never repeats a
change, even with many writers on a shared PostgreSQL. A plain sequence is
not enough for that: sequence values are handed out when rows are inserted,
not when transactions commit, so writer A can take cursor 5, writer B cursor 6,
B commits, a reader sees 6 and moves its cursor past 5 — and then A commits 5,
which that reader never asks for again.

So cursors are allocated in commit order: every transaction that writes to
``suppression_changes`` first takes one lock and holds it until it commits
(:func:`acctpipe.sqlstore.write_transaction`): ``pg_advisory_xact_lock`` on
PostgreSQL, ``BEGIN IMMEDIATE`` (the database's write lock) on SQLite. While A
holds the lock, nobody else can allocate a cursor; PostgreSQL releases the lock
only after A's commit is visible, so by the time B can take cursor 6, cursor 5
is either committed and visible or rolled back and never will be. A reader that
sees 6 has therefore already been able to see everything below it. Rolled-back
transactions leave gaps (sequence values are not reused), which is harmless:
cursors are strictly increasing, not contiguous. The price is that writers of
the suppression list are serialised — they are short (one batch of decisions),
and the write rate of a suppression list is modest.

Every write must go through this class (or take the same lock); a writer that
inserts into ``suppression_changes`` without it voids the guarantee.

**Following the list** (what the MTA's in-memory set does): take ``c =
last_cursor()`` first, then load everything with :meth:`iter_all`, then apply
``changes_since(c)`` repeatedly. Changes made while the snapshot was read are
replayed on top of it; each change carries the pair's full new state (or is a
tombstone), so replaying one the snapshot already reflects changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Engine, Row, bindparam, delete, func, insert, select, tuple_, update
from sqlalchemy.engine import Connection

from acctpipe.policy.normalise import (
    address_key,
    normalise_address,
    normalise_domain,
    normalise_scope,
)
from acctpipe.policy.types import SuppressionDecision, SuppressionReason
from acctpipe.sqlstore.engine import SINGLE_STATEMENT, write_transaction
from acctpipe.sqlstore.schema import suppression_changes, suppression_counts, suppressions
from acctpipe.sqlstore.suppressions._fastaddr import everyday
from acctpipe.sqlstore.suppressions._merge import expired, merge
from acctpipe.sqlstore.suppressions.bulkwrite import AddRow, LoggedChanges, write_adds
from acctpipe.sqlstore.suppressions.model import Change, Suppression
from acctpipe.sqlstore.suppressions.reading import changes_after
from mta.suppression import signed_key, suppression_key

__all__ = ["ChangeHook", "SuppressionStore", "add_counts", "lookup_key", "scope_kind"]

ChangeHook = Callable[[Connection, Sequence[Change]], None]
_log = logging.getLogger(__name__)
_CHUNK: Final = 500  # keys per IN (...) list: well inside every backend's parameter limit
_S = suppressions.c
_C = suppression_changes.c
# Built once: the API's lookup runs it on every request, and building the select
# cost more than running it.
_GET: Final = select(suppressions).where(_S.address == bindparam("address")).order_by(_S.scope)


def _suppression(row: Row[Any]) -> Suppression:
    return Suppression(
        address=row.address,
        scope=row.scope,
        reason=row.reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
        expires_at=row.expires_at,
        detail=row.detail,
        event_ids=tuple(row.event_ids),
    )


def _change(row: Row[Any]) -> Change:
    return Change(
        cursor=row.cursor,
        op=row.op,
        address=row.address,
        scope=row.scope,
        reason=row.reason,
        changed_at=row.changed_at,
        expires_at=row.expires_at,
        detail=row.detail,
        event_ids=tuple(row.event_ids),
        notify=row.notify,
    )


def lookup_key(scope: str, address: str) -> int:
    """The ``lookup_key`` column of (``scope``, ``address``): the MTA set's key, signed."""
    return signed_key(suppression_key(scope, address))


def scope_kind(scope: str) -> str:
    """``global``, ``domain`` or ``list``: the ``suppression_counts`` column of a scope."""
    return scope.partition(":")[0] if ":" in scope else "global"


def _values(s: Suppression) -> dict[str, Any]:
    return {
        "lookup_key": lookup_key(s.scope, s.address),
        "address": s.address,
        "scope": s.scope,
        "reason": s.reason,
        "detail": s.detail,
        "event_ids": list(s.event_ids),
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "expires_at": s.expires_at,
    }


_N = suppression_counts.c


def add_counts(conn: Connection, deltas: dict[tuple[str, str], int]) -> None:
    """Add ``deltas`` ((reason, scope kind) → rows gained or lost) to ``suppression_counts``.

    Call it inside the write transaction that changed the rows (it holds the store's
    lock, so no two writers race on a count).
    """
    moved = [{"r": reason, "k": kind, "d": d} for (reason, kind), d in sorted(deltas.items()) if d]
    if not moved:
        return
    match = (_N.reason == bindparam("r")) & (_N.scope_kind == bindparam("k"))
    conn.execute(update(suppression_counts).where(match).values(n=_N.n + bindparam("d")), moved)
    have = {(r.reason, r.scope_kind) for r in conn.execute(select(_N.reason, _N.scope_kind))}
    missing = [m for m in moved if (m["r"], m["k"]) not in have]
    if missing:
        conn.execute(
            insert(suppression_counts),
            [{"reason": m["r"], "scope_kind": m["k"], "n": m["d"]} for m in missing],
        )


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SuppressionStore:
    """Suppressions by (address, scope) and their change log, on an engine from acctpipe.sqlstore.

    ``on_changes`` is called inside each write transaction with the changes it
    logged (the webhook outbox is written there, so it commits with them);
    ``clock`` gives ``changed_at`` (tests pass a fixed one).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        casefold_local: bool = True,
        on_changes: ChangeHook | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.engine = engine
        # The same pool, for reads that are one statement (no BEGIN/ROLLBACK around them).
        self._single = engine.execution_options(**{SINGLE_STATEMENT: True})
        self.casefold_local = casefold_local
        self._on_changes = on_changes
        self._clock = clock

    def normalise(self, address: str) -> str:
        """``address`` as this store keys it (ValueError if it is not one, by
        :func:`mta.address.check_mailbox`): what may be added."""
        return normalise_address(address, casefold_local=self.casefold_local)

    def normaliser(self) -> Callable[[str], str]:
        """:meth:`normalise` for many addresses: the everyday ASCII address through one regex
        (:mod:`acctpipe.sqlstore.suppressions._fastaddr`), with the same result."""
        return everyday(self.normalise) if self.casefold_local else self.normalise

    def key(self, address: str) -> str:
        """The key ``address`` is stored under, without the address check: what may be
        looked up or removed (a row stored before the check included)."""
        return address_key(address, casefold_local=self.casefold_local)

    # -- writing --------------------------------------------------------------------

    def apply(
        self, decisions: Sequence[SuppressionDecision], *, skip_invalid: bool = False
    ) -> list[Change]:
        """Apply ``decisions`` in order, in one transaction; return the changes logged.

        Addresses and scopes are normalised first (a removal's address only
        keyed, so a row stored before the address check can go). An invalid one raises
        ValueError before anything is written — or, with ``skip_invalid`` (the
        feedback loop: bad input must not stop it), that decision is dropped and
        logged. See :mod:`acctpipe.sqlstore.suppressions._merge` for when a decision adds,
        updates, removes or changes nothing.
        """
        ready: list[SuppressionDecision] = []
        for d in decisions:
            try:
                address = self.key(d.address) if d.remove else self.normalise(d.address)
                scope = normalise_scope(d.scope)
            except ValueError as exc:
                if not skip_invalid:
                    raise
                _log.warning("suppression decision dropped: %s", exc)
                continue
            ready.append(replace(d, address=address, scope=scope))
        if not ready:
            return []
        with write_transaction(self.engine) as conn:
            return self._apply(conn, ready)

    def _apply(self, conn: Connection, decisions: Sequence[SuppressionDecision]) -> list[Change]:
        before = self._load(conn, {(d.address, d.scope) for d in decisions})
        after = dict(before)
        pending: list[Change] = []
        now = self._clock()
        for decision in decisions:
            key = (decision.address, decision.scope)
            state, change = merge(after.get(key), decision, now)
            if change is None:
                continue
            pending.append(change)
            if state is None:
                after.pop(key, None)
            else:
                after[key] = state
        touched = {(c.address, c.scope) for c in pending}
        self._write(conn, {k: before.get(k) for k in touched}, {k: after.get(k) for k in touched})
        return self._log(conn, pending)

    def _load(
        self, conn: Connection, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], Suppression]:
        wanted = set(keys)
        addresses = sorted({a for a, _ in wanted})
        found: dict[tuple[str, str], Suppression] = {}
        for i in range(0, len(addresses), _CHUNK):
            query = select(suppressions).where(_S.address.in_(addresses[i : i + _CHUNK]))
            for row in conn.execute(query):
                if (row.address, row.scope) in wanted:
                    found[(row.address, row.scope)] = _suppression(row)
        return found

    def _write(
        self,
        conn: Connection,
        before: dict[tuple[str, str], Suppression | None],
        after: dict[tuple[str, str], Suppression | None],
    ) -> None:
        gone = [
            {"k_address": k[0], "k_scope": k[1]}
            for k, v in after.items()
            if v is None and before[k] is not None
        ]
        new = [_values(v) for k, v in after.items() if v is not None and before[k] is None]
        changed = [
            {**_values(v), "k_address": k[0], "k_scope": k[1]}
            for k, v in after.items()
            if v is not None and before[k] is not None and before[k] != v
        ]
        deltas: dict[tuple[str, str], int] = {}
        for k, v in after.items():
            was = before[k]
            if was is not None and (v is None or v.reason != was.reason):
                slot = (was.reason, scope_kind(was.scope))
                deltas[slot] = deltas.get(slot, 0) - 1
            if v is not None and (was is None or v.reason != was.reason):
                slot = (v.reason, scope_kind(v.scope))
                deltas[slot] = deltas.get(slot, 0) + 1
        add_counts(conn, deltas)
        key = (_S.address == bindparam("k_address")) & (_S.scope == bindparam("k_scope"))
        if gone:
            conn.execute(delete(suppressions).where(key), gone)
        if changed:
            conn.execute(update(suppressions).where(key), changed)
        if new:
            conn.execute(insert(suppressions), new)

    def _log(self, conn: Connection, pending: list[Change]) -> list[Change]:
        if not pending:
            return []
        rows = [
            {
                "lookup_key": lookup_key(c.scope, c.address),
                "op": c.op,
                "address": c.address,
                "scope": c.scope,
                "reason": c.reason,
                "detail": c.detail,
                "expires_at": c.expires_at,
                "event_ids": list(c.event_ids),
                "notify": c.notify,
                "changed_at": c.changed_at,
            }
            for c in pending
        ]
        statement = insert(suppression_changes).returning(_C.cursor, sort_by_parameter_order=True)
        cursors = conn.execute(statement, rows).scalars().all()
        changes = [replace(c, cursor=n) for c, n in zip(pending, cursors, strict=True)]
        if self._on_changes is not None:
            self._on_changes(conn, changes)
        return changes

    def add_many(self, rows: Sequence[AddRow]) -> tuple[int, int]:
        """Apply ``rows`` (add decisions without event ids, in order) in one transaction.

        The set-based path (:mod:`acctpipe.sqlstore.suppressions.bulkwrite`) for imports
        and bulk requests: the same rows, change log and counts as :meth:`apply` of the
        same decisions, without a Python object per row. Addresses and scopes must be
        normalised already (:meth:`normalise`, ``normalise_scope``). Returns (added,
        updated); the rest were unchanged. The change hook is given the logged changes
        as a sequence read back from the log only when the hook looks at it.
        """
        if not rows:
            return 0, 0
        with write_transaction(self.engine) as conn:
            added, updated, before, deltas = write_adds(conn, rows, self._clock())
            add_counts(conn, deltas)
            if self._on_changes is not None and added + updated:
                query = select(suppression_changes).where(_C.cursor > before).order_by(_C.cursor)
                self._on_changes(
                    conn, LoggedChanges(lambda: [_change(r) for r in conn.execute(query)])
                )
        return added, updated

    def add(
        self,
        address: str,
        *,
        scope: str = "global",
        reason: SuppressionReason = "manual",
        expires_at: datetime | None = None,
        detail: str = "",
        event_ids: Sequence[str] = (),
        notify: bool = False,
    ) -> Change | None:
        """Suppress one address; the change logged, or None if it was already so suppressed."""
        decision = SuppressionDecision(
            address=address,
            scope=scope,
            reason=reason,
            event_ids=tuple(event_ids),
            decided_at=self._clock(),
            expires_at=expires_at,
            notify=notify,
            detail=detail,
        )
        changes = self.apply([decision])
        return changes[0] if changes else None

    def remove(
        self, address: str, *, scope: str = "global", detail: str = "removed by hand"
    ) -> Change | None:
        """Lift the suppression of ``address`` in ``scope``; the tombstone, or None if none."""
        decision = SuppressionDecision(
            address=address,
            scope=scope,
            reason="manual",
            event_ids=(),
            decided_at=self._clock(),
            remove=True,
            detail=detail,
        )
        changes = self.apply([decision])
        return changes[0] if changes else None

    def expire(self, now: datetime, *, batch: int = 1000) -> list[Change]:
        """Delete suppressions whose ``expires_at`` is at or before ``now``; log tombstones."""
        out: list[Change] = []
        while True:
            with write_transaction(self.engine) as conn:
                query = (
                    select(suppressions)
                    .where(_S.expires_at <= now)
                    .order_by(_S.address, _S.scope)
                    .limit(batch)
                )
                due = [_suppression(r) for r in conn.execute(query)]
                self._write(
                    conn,
                    {(s.address, s.scope): s for s in due},
                    {(s.address, s.scope): None for s in due},
                )
                at = self._clock()
                out.extend(self._log(conn, [expired(s, at) for s in due]))
            if len(due) < batch:
                return out

    # -- reading --------------------------------------------------------------------

    def check(
        self,
        address: str,
        *,
        sender_domain: str | None = None,
        lists: Sequence[str] = (),
        now: datetime | None = None,
    ) -> Suppression | None:
        """The suppression that stops mail to ``address`` now, or None.

        Global suppressions apply to every message; ``domain:<sender_domain>``
        ones to mail from that domain; ``list:<name>`` ones to the given lists.
        The first that applies, in that order, is returned; expired ones
        (``expires_at <= now``) do not count even before :meth:`expire` runs.
        """
        return self.lookup(address, sender_domain=sender_domain, lists=lists, now=now)[1]

    def lookup(
        self,
        address: str,
        *,
        sender_domain: str | None = None,
        lists: Sequence[str] = (),
        now: datetime | None = None,
    ) -> tuple[list[Suppression], Suppression | None]:
        """Every suppression of ``address`` (by scope) and the one that applies, in one query.

        Which one applies follows :meth:`check`.
        """
        scopes = ["global"]
        if sender_domain:
            scopes.append(f"domain:{normalise_domain(sender_domain)}")
        scopes.extend(normalise_scope(f"list:{name}") for name in lists)
        when = now or self._clock()
        found = self.get(address)
        live = {s.scope: s for s in found if s.is_active(when)}
        return found, next((live[scope] for scope in scopes if scope in live), None)

    def get(self, address: str) -> list[Suppression]:
        """Every suppression of ``address`` (any scope, expired or not), by scope."""
        with self._single.connect() as conn:
            return [_suppression(r) for r in conn.execute(_GET, {"address": self.key(address)})]

    def page(
        self,
        *,
        scope: str | None = None,
        reason: SuppressionReason | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> list[Suppression]:
        """Up to ``limit`` suppressions ordered by (address, scope), strictly after ``after``.

        Keyset pagination: pass the (address, scope) of the last row of a page
        to get the next one; stable under concurrent inserts and deletes.
        """
        query = select(suppressions).order_by(_S.address, _S.scope).limit(limit)
        if scope is not None:
            query = query.where(_S.scope == normalise_scope(scope))
        if reason is not None:
            query = query.where(_S.reason == reason)
        if after is not None:
            query = query.where(tuple_(_S.address, _S.scope) > tuple_(*after))
        with self.engine.connect() as conn:
            return [_suppression(r) for r in conn.execute(query)]

    def iter_all(
        self,
        batch: int = 10_000,
        *,
        scope: str | None = None,
        reason: SuppressionReason | None = None,
    ) -> Iterator[Suppression]:
        """Every suppression, by (address, scope), ``batch`` rows in memory at a time."""
        after: tuple[str, str] | None = None
        while True:
            rows = self.page(scope=scope, reason=reason, after=after, limit=batch)
            yield from rows
            if len(rows) < batch:
                return
            after = (rows[-1].address, rows[-1].scope)

    def counts(self) -> dict[tuple[str, str], int]:
        """Rows per (reason, scope kind), expired and not yet swept included.

        Read from ``suppression_counts``, which every write keeps in step: a handful of
        rows, however long the list.
        """
        with self._single.connect() as conn:
            rows = conn.execute(select(_N.reason, _N.scope_kind, _N.n))
            return {(r.reason, r.scope_kind): int(r.n) for r in rows if r.n}

    def count(self, *, scope: str | None = None, reason: SuppressionReason | None = None) -> int:
        """How many suppressions there are (in ``scope``, for ``reason``), expired included.

        Without ``scope`` it is read from the kept counts (:meth:`counts`); a single
        scope is counted from its index.
        """
        if scope is None:
            return sum(n for (r, _), n in self.counts().items() if reason in (None, r))
        query = select(func.count()).select_from(suppressions)
        if scope is not None:
            query = query.where(_S.scope == normalise_scope(scope))
        if reason is not None:
            query = query.where(_S.reason == reason)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def changes_since(self, cursor: int, limit: int = 1000) -> list[Change]:
        """Up to ``limit`` changes with a cursor above ``cursor``, in cursor order.

        Read as plain rows (:func:`~acctpipe.sqlstore.suppressions.reading.changes_after`)
        and built into :class:`Change` without the ORM's per-value processing: a follower
        far behind catches up at the speed of the database, not of the row mapping.
        """
        found = changes_after(self.engine, cursor, limit)
        # None: a timestamp stored in a form the SQL does not know (rows not written here)
        return self._changes_orm(cursor, limit) if found is None else found

    def _changes_orm(self, cursor: int, limit: int) -> list[Change]:
        """:meth:`changes_since` through the ORM's column types: the careful path."""
        query = (
            select(suppression_changes).where(_C.cursor > cursor).order_by(_C.cursor).limit(limit)
        )
        with self.engine.connect() as conn:
            return [_change(r) for r in conn.execute(query)]

    def last_cursor(self) -> int:
        """The highest cursor written so far (0 when the log is empty)."""
        with self.engine.connect() as conn:
            value = conn.execute(select(func.max(_C.cursor))).scalar_one()
        return int(value or 0)
