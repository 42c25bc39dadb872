"""``POST /v1/suppressions/bulk``: add or remove many suppressions in one request.

The body streams into a spooled temporary file (memory up to 8 MiB, then
disk), so a request of millions of rows holds one chunk in memory, never the
body; it is then applied ``bulk_batch`` rows per transaction. Formats, by
``Content-Type``:

* ``application/x-ndjson`` — one JSON object per line: ``address`` and
  optionally ``scope``, ``reason``, ``expires_at``, ``detail``, and ``op``
  (``add``/``remove``, default: the request's ``op``);
* ``text/csv`` / ``text/plain`` — with ``op=add``, anything ``acctpipe
  suppress import`` reads (acctpipe export, SES, SendGrid, Mailgun, Postmark,
  one address per line — detected from the header); with ``op=remove``, one
  address per line in the first column (a header line is skipped).

Adds go through the store's set-based path (:meth:`SuppressionStore.add_many`):
the same rows, change log and webhook messages as one decision at a time, at an
import's speed. Each batch commits on its own: if the request fails halfway,
earlier batches stay applied. Every operation is idempotent, so sending the same body again is
the way to finish it.
"""

from __future__ import annotations

import csv
import json
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Annotated, Any, Final, Literal, get_args

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from acctpipe.api._problems import problems
from acctpipe.api.auth import require, services
from acctpipe.api.models import BulkResult, RowNoteOut, SuppressionIn
from acctpipe.api.settings import Services
from acctpipe.policy.normalise import normalise_scope
from acctpipe.policy.types import SuppressionDecision, SuppressionReason
from acctpipe.sqlstore.suppressions import SuppressionStore, import_csv
from acctpipe.sqlstore.suppressions.bulkwrite import AddRow
from mta.errors import BadFormatError

__all__ = ["bulk_router"]

_SPOOL_MEMORY: Final = 8 * 1024 * 1024
MAX_LINE: Final = 64 * 1024  # bytes; no suppression row comes near it
_TOO_LONG: Final = f"line longer than {MAX_LINE // 1024} KiB"
_MAX_NOTES: Final = 100
bulk_router = APIRouter()
Op = Literal["add", "remove"]
CsvFormat = Literal["auto", "acctpipe", "ses", "sendgrid", "mailgun", "postmark", "plain"]


class _Tally:
    def __init__(self, op: Op, fmt: str) -> None:
        self.result = BulkResult(op=op, format=fmt, rows=0)

    def bad(self, line: int, message: str) -> None:
        self.result.invalid += 1
        if len(self.result.errors) < _MAX_NOTES:
            self.result.errors.append(RowNoteOut(line=line, message=message))

    def count(self, ops: list[str]) -> None:
        for op in ops:
            if op == "add":
                self.result.added += 1
            elif op == "update":
                self.result.updated += 1
            else:
                self.result.removed += 1


# A subset of what SuppressionIn accepts, checked without building the model: printable
# ASCII without spaces around one @ (the model: ^[^@\s]+@[^@\s]+$, 3 to 320 characters),
# and a scope of printable ASCII. Anything else goes through the model and its errors.
_PLAIN_ADDRESS: Final = re.compile(r"[!-?A-~]+@[!-?A-~]+")
_PLAIN_SCOPE: Final = re.compile(r"global|(?:domain|list):[ -~]+")
_PLAIN_KEYS: Final = frozenset({"address", "scope", "reason", "detail"})
_REASONS: Final = frozenset(get_args(SuppressionReason))


def _plain(item: dict[str, Any]) -> tuple[str, str, SuppressionReason, str] | None:
    """(address, scope, reason, detail) of ``item`` when it is certainly valid and plain
    (what SuppressionIn would hold, without expires_at), else None."""
    if not item.keys() <= _PLAIN_KEYS:
        return None
    address, scope = item.get("address"), item.get("scope", "global")
    reason, detail = item.get("reason", "manual"), item.get("detail", "")
    if not (isinstance(address, str) and 3 <= len(address) <= 320):
        return None
    if not (isinstance(scope, str) and len(scope) <= 330 and _PLAIN_SCOPE.fullmatch(scope)):
        return None
    if reason not in _REASONS or not (isinstance(detail, str) and len(detail) <= 1000):
        return None
    if _PLAIN_ADDRESS.fullmatch(address) is None:
        return None
    return address, scope, reason, detail


def _decision(item: dict[str, Any], default_op: Op, now: datetime) -> SuppressionDecision:
    op = item.pop("op", default_op)
    if op not in ("add", "remove"):
        raise BadFormatError(f"op must be add or remove, not {op!r}")
    plain, expires_at = _plain(item), None
    if plain is None:
        parsed = SuppressionIn.model_validate(item)
        plain = (parsed.address, parsed.scope, parsed.reason, parsed.detail)
        expires_at = parsed.expires_at
    address, scope, reason, detail = plain
    return SuppressionDecision(
        address=address,
        scope=scope,
        reason=reason,
        event_ids=(),
        decided_at=now,
        expires_at=expires_at,
        remove=op == "remove",
        detail=detail or f"bulk {op} through the API",
    )


def _careful(
    store: SuppressionStore, batch: list[tuple[int, SuppressionDecision]], t: _Tally
) -> None:
    good: list[SuppressionDecision] = []
    for line, d in batch:
        try:  # normalise each first, so one bad address is one error, not a failed batch
            store.key(d.address) if d.remove else store.normalise(d.address)
        except ValueError as exc:
            t.bad(line, str(exc))
            continue
        good.append(d)
    try:
        changes = store.apply(good)
    except ValueError:  # a bad scope: find it, keep the rest
        changes = []
        for d in good:
            try:
                changes.extend(store.apply([d]))
            except ValueError as exc:
                t.bad(next(n for n, x in batch if x is d), str(exc))
    t.count([c.op for c in changes])
    t.result.unchanged += len(good) - len(changes)


def _adds(store: SuppressionStore, batch: list[tuple[int, SuppressionDecision]], t: _Tally) -> None:
    """Adds through the store's set-based path, each row normalised (and refused) on its own."""
    rows: list[AddRow] = []
    normalise = store.normaliser()
    scopes: dict[str, str] = {}
    for line, d in batch:
        try:
            if d.expires_at is not None and d.expires_at.utcoffset() is None:
                raise BadFormatError("expires_at: give it a time zone")
            address = normalise(d.address)
            scope = scopes.get(d.scope) or scopes.setdefault(d.scope, normalise_scope(d.scope))
        except ValueError as exc:
            t.bad(line, str(exc))
            continue
        rows.append((address, scope, d.reason, d.detail, d.decided_at, d.expires_at, d.notify))
    added, updated = store.add_many(rows)
    t.result.added += added
    t.result.updated += updated
    t.result.unchanged += len(rows) - added - updated


def _apply(
    store: SuppressionStore, batch: list[tuple[int, SuppressionDecision]], t: _Tally
) -> None:
    """Apply ``batch`` in order: runs of adds set-based, runs of removes the careful way."""
    start = 0
    while start < len(batch):
        remove = batch[start][1].remove
        end = start
        while end < len(batch) and batch[end][1].remove == remove:
            end += 1
        (_careful if remove else _adds)(store, batch[start:end], t)
        start = end


def _lines(body: IO[bytes]) -> Iterator[tuple[int, str | None]]:
    """(line number, text) per line; None for a line over ``MAX_LINE`` bytes (skipped).

    Reads the binary spool a bounded piece at a time, so a body without a
    newline never becomes one string.
    """
    n = 0
    while raw := body.readline(MAX_LINE + 1):
        n += 1
        if len(raw) > MAX_LINE:
            while raw and not raw.endswith(b"\n"):  # drop the rest of the long line
                raw = body.readline(MAX_LINE)
            yield n, None
            continue
        text = raw.decode("utf-8", "replace")
        yield n, text.lstrip("\ufeff") if n == 1 else text


def _ndjson(
    store: SuppressionStore, body: IO[bytes], op: Op, scope: str | None, size: int
) -> BulkResult:
    tally, now = _Tally(op, "ndjson"), datetime.now(UTC)
    batch: list[tuple[int, SuppressionDecision]] = []
    for n, line in _lines(body):
        if line is None:
            tally.result.rows += 1
            tally.bad(n, _TOO_LONG)
            continue
        if not line.strip():
            continue
        tally.result.rows += 1
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise BadFormatError("each line must be a JSON object")
            if scope is not None:
                item.setdefault("scope", scope)
            batch.append((n, _decision(item, op, now)))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            tally.bad(n, f"{where}: {first['msg']}" if where else str(first["msg"]))
        except ValueError as exc:
            tally.bad(n, str(exc))
        if len(batch) >= size:
            _apply(store, batch, tally)
            batch = []
    _apply(store, batch, tally)
    return tally.result


def _csv_remove(store: SuppressionStore, body: IO[bytes], scope: str, size: int) -> BulkResult:
    tally, now = _Tally("remove", "csv"), datetime.now(UTC)
    batch: list[tuple[int, SuppressionDecision]] = []
    for n, line in _lines(body):
        if line is None:
            tally.result.rows += 1
            tally.bad(n, _TOO_LONG)
            continue
        fields = next(csv.reader([line]), [])
        address = fields[0].strip() if fields else ""
        if not address or address.startswith("#") or (n == 1 and "@" not in address):
            continue  # blank, a comment, or the header
        tally.result.rows += 1
        decision = SuppressionDecision(
            address=address,
            scope=scope,
            reason="manual",
            event_ids=(),
            decided_at=now,
            remove=True,
            detail="bulk remove through the API",
        )
        batch.append((n, decision))
        if len(batch) >= size:
            _apply(store, batch, tally)
            batch = []
    _apply(store, batch, tally)
    return tally.result


def _csv_add(
    store: SuppressionStore,
    body: IO[bytes],
    fmt: str,
    scope: str | None,
    reason: SuppressionReason | None,
    size: int,
) -> BulkResult:
    try:
        report = import_csv(store, body, format=fmt, scope=scope, reason=reason, batch=size)
    except csv.Error as exc:  # e.g. a field over the csv module's size limit
        raise BadFormatError(f"malformed CSV: {exc}") from exc
    notes = [RowNoteOut(line=n.line, message=n.message) for n in report.bad[:_MAX_NOTES]]
    return BulkResult(
        op="add",
        format=report.format,
        rows=report.rows,
        added=report.added,
        updated=report.updated,
        unchanged=report.unchanged,
        invalid=report.bad_count,
        skipped=report.skipped_count,
        errors=notes,
    )


@bulk_router.post(
    "/bulk",
    dependencies=[Depends(require("write"))],
    responses=problems(413, 415, 422),
    summary="Add or remove many suppressions (streamed)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        }
    },
)
async def bulk(
    request: Request,
    svc: Annotated[Services, Depends(services)],
    op: Op = "add",
    scope: Annotated[str | None, Query(max_length=330)] = None,
    reason: SuppressionReason | None = None,
    format: Annotated[CsvFormat, Query(description="the CSV format; auto: detect it")] = "auto",
) -> BulkResult:
    """Apply a streamed body of suppressions; the result counts what changed and what failed."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/x-ndjson", "application/jsonl", "text/csv", "text/plain"):
        raise HTTPException(415, "send application/x-ndjson (one JSON object per line) or text/csv")
    limit = svc.settings.bulk_max_bytes
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY) as spool:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise HTTPException(
                    413, f"body over {limit:,} bytes: split it into several requests"
                )
            if received > _SPOOL_MEMORY:  # on disk now: keep file writes off the event loop
                await run_in_threadpool(spool.write, chunk)
            else:
                spool.write(chunk)
        spool.seek(0)
        size = svc.settings.bulk_batch
        store = svc.suppressions
        if kind in ("application/x-ndjson", "application/jsonl"):
            return await run_in_threadpool(_ndjson, store, spool, op, scope, size)
        if op == "remove":
            return await run_in_threadpool(_csv_remove, store, spool, scope or "global", size)
        return await run_in_threadpool(_csv_add, store, spool, format, scope, reason, size)
