"""The suppression change feed: ``GET /v1/suppressions/changes`` and its SSE variant.

A backend syncs incrementally: it remembers ``next_cursor`` and asks for the
changes after it. The feed carries adds, updates *and removals* (tombstones),
in cursor order; cursors are allocated in commit order
(:mod:`acctpipe.sqlstore.suppressions.store`), so a reader never misses or repeats a change,
even with many writers on one PostgreSQL.

* ``?cursor=N&limit=M`` answers at once;
* ``&wait=S`` long-polls: with nothing new, it waits up to ``S`` seconds for
  a change before answering with an empty page;
* ``/changes/stream`` is Server-Sent Events: one ``change`` event per change,
  ``id:`` = its cursor (so ``Last-Event-ID`` resumes after a reconnect), and a
  comment line as a heartbeat.

A cursor beyond the newest change means the store was restored or replaced
under the reader: 410, and the reader should resync from a full export.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from itertools import chain
from operator import itemgetter
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from acctpipe.api._problems import problems
from acctpipe.api.auth import client_address, presented_key, require, services
from acctpipe.api.models import ChangeOut, ChangePage
from acctpipe.api.settings import Services
from acctpipe.errors import BadCursorError
from acctpipe.sqlstore.suppressions import Change
from acctpipe.sqlstore.suppressions.reading import ODD, change_json_rows

__all__ = ["router"]

router = APIRouter(prefix="/v1/suppressions", tags=["change feed"])
_RECHECK = 5.0  # seconds between key checks on an open stream
Svc = Annotated[Services, Depends(services)]


async def _check_cursor(svc: Services, cursor: int) -> None:
    last = await run_in_threadpool(svc.suppressions.last_cursor)
    if cursor > last:
        raise HTTPException(
            410,
            f"cursor {cursor} is ahead of the change log (newest {last}): the store was "
            "restored or replaced; resync from GET /v1/suppressions/export.csv and cursor 0",
        )


async def _fetch(svc: Services, cursor: int, limit: int) -> list[Change]:
    return await run_in_threadpool(svc.suppressions.changes_since, cursor, limit)


# One change of ChangeOut, in its field order, from a change_json_rows row.
_CHANGE: Final = (
    '{"cursor":%d,"op":"%s","address":"%s","scope":"%s","reason":"%s","detail":"%s",'
    '"expires_at":%s,"changed_at":"%s","event_ids":%s,"tombstone":%s}'
)
_TEXT: Final = itemgetter(1, 2, 3, 4, 5, 7)  # the cells written between quotes as they are


def _page_json(svc: Services, cursor: int, limit: int) -> tuple[bytes, int]:
    """A :class:`ChangePage` after ``cursor`` as JSON bytes, and how many changes it holds.

    Validating and serialising a model per change cost more than reading it, so the
    page is a template filled from the store's rows (timestamps formatted by the
    database as pydantic writes them, ``Z`` for UTC). That holds while no text cell
    needs a JSON escape — checked for the whole page at once; a page with a quote, a
    backslash or a control character (or an odd stored timestamp) is built from
    ``ChangeOut`` instead. The tests prove both equal to ``ChangePage``.
    """
    rows = change_json_rows(svc.suppressions.engine, cursor, limit)
    text = "".join(chain.from_iterable(map(_TEXT, rows)))
    plain = text.isprintable() and '"' not in text and "\\" not in text
    if not plain or any(ODD in r[6] for r in rows):
        return _models_page(svc, cursor, limit)
    changes = ",".join(map(_CHANGE.__mod__, rows))
    last = rows[-1][0] if rows else cursor
    more = "true" if len(rows) == limit else "false"
    body = f'{{"changes":[{changes}],"next_cursor":{last},"has_more":{more}}}'
    return body.encode(), len(rows)


def _models_page(svc: Services, cursor: int, limit: int) -> tuple[bytes, int]:
    """The careful page: ``ChangePage`` of ``ChangeOut.of`` each change."""
    found = svc.suppressions.changes_since(cursor, limit)
    page = ChangePage(
        changes=[ChangeOut.of(c) for c in found],
        next_cursor=found[-1].cursor if found else cursor,
        has_more=len(found) == limit,
    )
    return page.model_dump_json().encode(), len(found)


@router.get(
    "/changes",
    dependencies=[Depends(require("read"))],
    response_model=ChangePage,
    responses=problems(410, 422),
    summary="Changes after a cursor (with optional long-poll)",
)
async def changes(
    svc: Svc,
    cursor: Annotated[
        int, Query(ge=0, le=2**63 - 1, description="the next_cursor of the previous page")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    wait: Annotated[
        float, Query(ge=0, le=60, description="seconds to wait for a change (long-poll)")
    ] = 0,
) -> Response:
    """Up to ``limit`` changes with a cursor above ``cursor``, oldest first."""
    settings = svc.settings
    limit = min(limit, settings.feed_max_limit)
    await _check_cursor(svc, cursor)
    body, found = await run_in_threadpool(_page_json, svc, cursor, limit)
    deadline = time.monotonic() + min(wait, settings.feed_max_wait)
    while not found and time.monotonic() < deadline:
        await asyncio.sleep(settings.feed_poll_interval)
        body, found = await run_in_threadpool(_page_json, svc, cursor, limit)
    return Response(body, media_type="application/json")


def _event(change: Change) -> str:
    data = ChangeOut.of(change).model_dump_json()
    return f"id: {change.cursor}\nevent: change\ndata: {data}\n\n"


async def _still_valid(request: Request, token: str) -> bool:
    try:
        key = await request.app.state.authenticator.check(token, client_address(request))
    except HTTPException:  # the client is over its failure budget: end the stream too
        return False
    return key is not None


async def _stream(request: Request, svc: Services, cursor: int, batch: int) -> AsyncIterator[str]:
    settings = svc.settings
    yield f": acctpipe change feed after cursor {cursor}\nretry: 2000\n\n"
    beat = checked = time.monotonic()
    token = presented_key(request)
    while not await request.is_disconnected():
        if time.monotonic() - checked >= _RECHECK:
            # A stream outlives its first key check: a revoked key must not keep it.
            checked = time.monotonic()
            if token is None or not await _still_valid(request, token):
                yield "event: error\ndata: the API key was revoked\n\n"
                return
        found = await _fetch(svc, cursor, batch)
        for change in found:
            yield _event(change)
        if found:
            cursor = found[-1].cursor
            beat = time.monotonic()
            continue
        if time.monotonic() - beat >= settings.sse_heartbeat:
            yield f": heartbeat {json.dumps(cursor)}\n\n"
            beat = time.monotonic()
        await asyncio.sleep(settings.feed_poll_interval)


@router.get(
    "/changes/stream",
    dependencies=[Depends(require("read"))],
    responses={**problems(410, 422), 200: {"content": {"text/event-stream": {}}}},
    response_class=StreamingResponse,
    summary="Changes as Server-Sent Events",
)
async def stream(
    request: Request,
    svc: Svc,
    cursor: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    last_event_id: Annotated[str | None, Header(max_length=40)] = None,
    batch: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> StreamingResponse:
    """Every change after ``cursor`` (or ``Last-Event-ID``), then each new one as it commits."""
    start = cursor
    if start is None and last_event_id:
        if not last_event_id.isdigit() or int(last_event_id) >= 2**63:
            raise BadCursorError("Last-Event-ID must be a cursor (digits)", field="Last-Event-ID")
        start = int(last_event_id)
    start = start or 0
    await _check_cursor(svc, start)
    return StreamingResponse(
        _stream(request, svc, start, batch),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
