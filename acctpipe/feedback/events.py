"""The feedback loop's view of the DuckDB store: new events in order, recent history, progress.

Events are read by ``rowid``, which grows in commit order because the events
table is append-only; the loop records the last rowid it acted on in
``feedback_progress``. Its own suppression refusals (``dsnDiag`` starting with
``acctpipe;suppressed``) are left out: they are our decisions, not the
receivers' verdicts, and must never feed back into them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import duckdb

from acctpipe.policy.types import Event
from mta.delivery.attempt import SUPPRESSED_DIAG

__all__ = ["history", "last_rowid", "load_progress", "new_events", "save_progress"]

_SELECT = (
    "SELECT rowid, type, time_logged, coalesce(rcpt, ''), coalesce(orig, ''), "
    "coalesce(bounce_class, ''), coalesce(bounce_category, ''), coalesce(dsn_status, ''), "
    "coalesce(dsn_diag, ''), coalesce(nullif(queue, ''), rcpt_domain, ''), "
    "coalesce(vmta, ''), coalesce(job_id, ''), file_id, source_offset, "
    "lower(coalesce(feedback_type, '')), coalesce(fault, '') FROM events "
)
_NEW = _SELECT + "WHERE rowid > ? ORDER BY rowid LIMIT ?"
_HISTORY = (
    _SELECT + "WHERE lower(rcpt) IN (SELECT unnest(?)) AND time_logged >= ? "
    "AND NOT starts_with(coalesce(dsn_diag, ''), ?) ORDER BY time_logged, rowid"
)


# RFC 5965 feedback types that are complaints about our mail (an empty type: a
# vendor report without one, read as abuse). not-spam, auth-failure (DMARC/SPF
# reports about us) and other are not; opt-out is an unsubscribe request.
_COMPLAINTS = frozenset({"abuse", "fraud", "virus", ""})


def _feedback_class(feedback_type: str) -> str:
    if feedback_type in _COMPLAINTS:
        return "complaint"
    return "unsubscribe" if feedback_type == "opt-out" else feedback_type


def _event(row: tuple[object, ...]) -> Event:
    (
        _,
        kind,
        when,
        rcpt,
        orig,
        cls,
        category,
        status,
        diag,
        queue,
        vmta,
        job,
        fid,
        off,
        fb,
        fault,
    ) = row
    time = when if isinstance(when, datetime) else datetime.now(UTC)
    if time.tzinfo is None:
        time = time.replace(tzinfo=UTC)
    kind = str(kind)
    return Event(
        event_id=f"{fid}:{off}",
        type=kind,
        time=time,
        rcpt=str(rcpt),
        sender=str(orig),
        cls=_feedback_class(str(fb)) if kind == "f" else str(cls),
        category=str(category),
        status=str(status),
        diag=str(diag),
        queue=str(queue).lower(),
        vmta=str(vmta),
        job_id=str(job),
        fault=str(fault),
    )


def new_events(
    conn: duckdb.DuckDBPyConnection, after: int, limit: int = 50_000
) -> tuple[list[Event], int]:
    """Up to ``limit`` events committed after rowid ``after``; and the last rowid read."""
    rows = conn.execute(_NEW, [after, limit]).fetchall()
    if not rows:
        return [], after
    last = int(rows[-1][0])
    events = [_event(r) for r in rows if not str(r[8]).startswith(SUPPRESSED_DIAG)]
    return events, last


def history(
    conn: duckdb.DuckDBPyConnection, addresses: Iterable[str], since: datetime
) -> dict[str, list[Event]]:
    """Each address's events since ``since`` (oldest first): what soft-bounce rules count."""
    wanted = sorted({a.lower() for a in addresses})
    out: dict[str, list[Event]] = {a: [] for a in wanted}
    for i in range(0, len(wanted), 1000):
        chunk = wanted[i : i + 1000]
        rows = conn.execute(_HISTORY, [chunk, since, SUPPRESSED_DIAG]).fetchall()
        for row in rows:
            out.setdefault(str(row[3]).lower(), []).append(_event(row))
    return out


def load_progress(conn: duckdb.DuckDBPyConnection, name: str) -> int | None:
    """The last rowid the loop called ``name`` acted on (None before its first run)."""
    row = conn.execute("SELECT last_rowid FROM feedback_progress WHERE name = ?", [name]).fetchone()
    return int(row[0]) if row else None


def last_rowid(conn: duckdb.DuckDBPyConnection) -> int:
    """The newest event's rowid (-1 when there is none)."""
    row = conn.execute("SELECT max(rowid) FROM events").fetchone()
    return int(row[0]) if row and row[0] is not None else -1


def save_progress(conn: duckdb.DuckDBPyConnection, name: str, rowid: int) -> None:
    """Record that the loop has acted on every event up to ``rowid``."""
    conn.execute(
        "INSERT INTO feedback_progress VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
        "last_rowid = excluded.last_rowid, updated_at = excluded.updated_at",
        [name, rowid, datetime.now(UTC)],
    )
