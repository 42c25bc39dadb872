"""``/v1/suppressions``: look up, list, add, remove, bulk, CSV export.

Reads need a ``read`` key, writes a ``write`` key. The stores are synchronous
SQLAlchemy, so they are always called off the event loop: most handlers are a
plain ``def``, which FastAPI runs in its thread pool. The single-address lookup,
the call a backend makes before every send, is ``async`` and hands only the
store call to the pool: FastAPI also validates a plain ``def``'s return value in
the pool, and two hops to a thread per request cost more than the lookup.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Annotated, Final

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from acctpipe.api._problems import problems
from acctpipe.api.auth import require, services
from acctpipe.api.bulk import bulk_router
from acctpipe.api.models import (
    ChangeOut,
    LookupOut,
    SuppressionIn,
    SuppressionOut,
    SuppressionPage,
    WriteResult,
)
from acctpipe.api.settings import Services
from acctpipe.errors import BadCursorError
from acctpipe.policy.normalise import normalise_scope
from acctpipe.policy.types import SuppressionReason
from acctpipe.sqlstore.suppressions import Suppression
from acctpipe.sqlstore.suppressions.csvio import export_chunks

__all__ = ["lookup_answer", "router"]

MAX_PAGE: Final = 1000
router = APIRouter(prefix="/v1/suppressions", tags=["suppressions"])
router.include_router(bulk_router)
Svc = Annotated[Services, Depends(services)]


def _token(last: Suppression) -> str:
    raw = json.dumps([last.address, last.scope], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(token: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        address, scope = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise BadCursorError("after: not a page token this API handed out", field="after") from exc
    if not isinstance(address, str) or not isinstance(scope, str):
        raise BadCursorError("after: not a page token this API handed out", field="after")
    return address, scope


@router.get(
    "",
    dependencies=[Depends(require("read"))],
    responses=problems(422),
    summary="List suppressions (keyset pagination)",
)
def list_suppressions(
    svc: Svc,
    scope: Annotated[str | None, Query(max_length=330, examples=["global"])] = None,
    reason: SuppressionReason | None = None,
    after: Annotated[str | None, Query(max_length=2000, description="?after=<next>")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> SuppressionPage:
    """Suppressions in (address, scope) order, ``limit`` at a time.

    Pass the ``next`` token of a page as ``after`` to get the following page;
    pages stay consistent while the list changes (no row is shown twice).
    """
    rows = svc.suppressions.page(
        scope=scope, reason=reason, after=_after(after) if after else None, limit=limit
    )
    now = datetime.now(UTC)
    more = len(rows) == limit
    return SuppressionPage(
        items=[SuppressionOut.of(s, now) for s in rows],
        next=_token(rows[-1]) if rows and more else None,
    )


def _csv_chunks(
    svc: Services, scope: str | None, reason: SuppressionReason | None
) -> Iterator[str]:
    # A page of rows per chunk (export_chunks): big writes, one page in memory.
    for chunk, _ in export_chunks(svc.suppressions, scope=scope, reason=reason):
        yield chunk


@router.get(
    "/export.csv",
    dependencies=[Depends(require("read"))],
    responses={**problems(422), 200: {"content": {"text/csv": {}}}},
    response_class=StreamingResponse,
    summary="Export suppressions as CSV (streamed)",
)
def export_csv(
    svc: Svc,
    scope: Annotated[str | None, Query(max_length=330)] = None,
    reason: SuppressionReason | None = None,
) -> StreamingResponse:
    """Every suppression as CSV, in the format ``acctpipe suppress import`` reads back."""
    if scope is not None:
        scope = normalise_scope(scope)  # a bad scope fails now (422), not mid-stream
    return StreamingResponse(
        _csv_chunks(svc, scope, reason),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="suppressions.csv"'},
    )


@router.get(
    "/{address}",
    dependencies=[Depends(require("read"))],
    responses=problems(404, 422),
    summary="Look up one address",
)
async def lookup(
    address: str,
    svc: Svc,
    sender_domain: Annotated[
        str | None, Query(max_length=255, description="the From domain of the mail")
    ] = None,
    list_name: Annotated[
        list[str] | None, Query(alias="list", description="list scopes the mail belongs to")
    ] = None,
) -> LookupOut:
    """Whether mail to ``address`` is stopped (global, sender-domain and list scopes)."""
    return await run_in_threadpool(lookup_answer, svc, address, sender_domain, list_name or ())


def lookup_answer(
    svc: Services, address: str, sender_domain: str | None, lists: Sequence[str]
) -> LookupOut:
    """The lookup's answer (blocking: call it off the event loop)."""
    now = datetime.now(UTC)
    normalised = svc.suppressions.key(address)  # a row stored before the address check too
    found, applies = svc.suppressions.lookup(
        normalised, sender_domain=sender_domain, lists=lists, now=now
    )
    return LookupOut(
        address=normalised,
        suppressed=applies is not None,
        applies=SuppressionOut.of(applies, now) if applies else None,
        suppressions=[SuppressionOut.of(s, now) for s in found],
    )


@router.post(
    "",
    dependencies=[Depends(require("write"))],
    responses={**problems(422), 201: {"description": "Suppressed (a change was logged)"}},
    summary="Add a suppression",
)
def add(body: SuppressionIn, svc: Svc, response: Response) -> WriteResult:
    """Suppress an address; 201 when it changed the list, 200 when it already was so."""
    change = svc.suppressions.add(
        body.address,
        scope=body.scope,
        reason=body.reason,
        expires_at=body.expires_at,
        detail=body.detail or "added through the API",
    )
    response.status_code = 201 if change is not None else 200
    return WriteResult(changed=change is not None, change=ChangeOut.of(change) if change else None)


@router.delete(
    "/{address}",
    dependencies=[Depends(require("write"))],
    responses=problems(404, 422),
    summary="Remove a suppression",
)
def remove(
    address: str,
    svc: Svc,
    scope: Annotated[str, Query(max_length=330)] = "global",
) -> WriteResult:
    """Lift the suppression of ``address`` in ``scope``; 404 if there is none."""
    change = svc.suppressions.remove(address, scope=scope, detail="removed through the API")
    if change is None:
        raise HTTPException(404, f"{address} is not suppressed in scope {scope}")
    return WriteResult(changed=True, change=ChangeOut.of(change))
