"""``/v1/reports`` (named reports) and ``/v1/sql`` (read-only SQL) on the event store.

Each report of :data:`acctpipe.analytics.REPORTS` gets a route of its own,
``GET /v1/reports/<name>``, whose query parameters are the report's (typed and
bounded, so the OpenAPI document lists them); ``?format=csv`` streams CSV.
``/v1/reports/throttle-history`` reads the SQL store instead of DuckDB.

``POST /v1/sql`` runs one SELECT in the SQL sandbox
(:class:`acctpipe.analytics.sandbox.SqlSandbox`): worker processes with their
own locked-down DuckDB over a snapshot of the store at most
``sql_snapshot_max_age`` seconds old (``snapshot_at``, ``snapshot_age_s`` and
the ``X-Snapshot-Age`` header say how old). Writes, ATTACH, COPY, file and
network functions are refused (400 with the reason); results are cut at the row
and byte limits (``truncated``, ``truncated_by``) and queries interrupted at the
time limit. The limits are the server's, lowered per request if asked.

Reports and queries share ``sql_concurrency`` slots, of which one key holds at
most ``sql_per_key`` (always fewer than all): past either, 429.
"""

from __future__ import annotations

import inspect
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from acctpipe.analytics import (
    REPORTS,
    EventSource,
    QueryResult,
    Report,
    throttle_history,
    to_csv,
)
from acctpipe.analytics.result import JsonRows
from acctpipe.analytics.sandbox import MAX_SQL_LENGTH, SqlSandbox
from acctpipe.analytics.source import SnapshotSource
from acctpipe.api._problems import problems
from acctpipe.api.auth import require, services
from acctpipe.api.settings import Services

__all__ = ["router"]

router = APIRouter(tags=["analytics"], dependencies=[Depends(require("read"))])
Svc = Annotated[Services, Depends(services)]
Format = Literal["json", "csv"]


class ResultOut(BaseModel):
    """Rows of a report or query: at most the row limit; ``truncated`` if more existed."""

    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    elapsed_ms: float


class SqlOut(ResultOut):
    """Rows of a query over a snapshot of the event store, and how old that snapshot is."""

    truncated_by: Literal["rows", "bytes"] | None = Field(
        description="which limit cut the rows (null: none did)"
    )
    snapshot_at: datetime = Field(description="the data is the store's as of this moment")
    snapshot_age_s: float = Field(description="seconds between snapshot_at and the answer")


class ReportOut(ResultOut):
    """A report's rows and the parameters it ran with."""

    report: str
    parameters: dict[str, Any]


class ParameterOut(BaseModel):
    """One parameter of a report."""

    # ParameterOut.model_validate(p) copies a report Parameter's fields.
    model_config = ConfigDict(from_attributes=True)

    name: str
    kind: str
    description: str
    default: int | str | None
    minimum: int | None
    maximum: int | None
    choices: list[str]


class ReportInfo(BaseModel):
    """A report: what it shows, its parameters and columns, and where to get it."""

    name: str
    description: str
    path: str
    parameters: list[ParameterOut]
    columns: list[str]


class SqlIn(BaseModel):
    """One read-only SELECT over the event store (tables and views of docs/schema.md)."""

    model_config = ConfigDict(extra="forbid")

    sql: str = Field(
        min_length=1,
        max_length=MAX_SQL_LENGTH,
        examples=["SELECT rcpt_domain, count(*) FROM events WHERE type = 'b' GROUP BY 1"],
    )
    max_rows: int | None = Field(default=None, ge=1, description="at most the server's limit")
    max_bytes: int | None = Field(
        default=None, ge=1, description="bytes of rows as JSON; at most the server's limit"
    )
    timeout: float | None = Field(default=None, gt=0, description="seconds; at most the server's")


def _source(svc: Services) -> EventSource:
    if svc.events is None:
        raise HTTPException(
            503, "no event store: start the server with --db FILE (and --watch DIR to tail)"
        )
    return svc.events


_SANDBOX_LOCK = threading.Lock()


def _sandbox(svc: Services) -> SqlSandbox:
    """The services' SQL sandbox, made on first use from the settings."""
    source = _source(svc)
    if not isinstance(source, SnapshotSource):
        raise HTTPException(503, "this event store cannot be copied for SQL: use the reports")
    with _SANDBOX_LOCK:
        if svc.sql is None:
            settings = svc.settings
            svc.sql = SqlSandbox(
                source,
                workers=settings.sql_concurrency,
                memory_limit=settings.sql_memory_limit,
                threads=settings.sql_threads,
                max_age=settings.sql_snapshot_max_age,
            )
        return svc.sql


def _key(request: Request) -> str:
    return str(getattr(request.state, "key_id", ""))


@contextmanager
def _slot(svc: Services, key: str) -> Iterator[None]:
    """Hold one of the query slots (and of this key's share), or answer 429."""
    slots, per_key = svc.query_slots, svc.key_slots
    busy = per_key.take(key) if per_key is not None else None
    if busy is None and slots is not None and not slots.acquire(blocking=False):
        if per_key is not None:
            per_key.give(key)
        busy = f"{svc.settings.sql_concurrency} queries are running already"
    if busy is not None:
        raise HTTPException(429, f"{busy}; retry shortly", headers={"Retry-After": "1"})
    try:
        yield
    finally:
        if slots is not None:
            slots.release()
        if per_key is not None:
            per_key.give(key)


def _csv(result: QueryResult, name: str) -> StreamingResponse:
    return StreamingResponse(
        to_csv(result),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _json_or_csv() -> dict[int | str, dict[str, Any]]:
    return {**problems(422, 503), 200: {"content": {"text/csv": {}}}}


def _report_endpoint(report: Report) -> Callable[..., Any]:
    def endpoint(svc: Svc, request: Request, format: Format = "json", **params: Any) -> Any:
        given = {k: v for k, v in params.items() if v is not None}
        source = _source(svc)
        with _slot(svc, _key(request)), source.connect() as conn:
            result = report.run(conn, given, timeout=svc.settings.sql_timeout)
        if format == "csv":
            return _csv(result, report.name)
        return ReportOut(report=report.name, parameters=report.bind(given), **result.as_dict())

    parameters = [
        inspect.Parameter("svc", inspect.Parameter.KEYWORD_ONLY, annotation=Svc),
        inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request),
        inspect.Parameter(
            "format", inspect.Parameter.KEYWORD_ONLY, annotation=Format, default="json"
        ),
    ]
    for p in report.parameters:
        kind: Any = int if p.kind == "int" else str
        if p.choices:
            kind = Literal[p.choices]
        query = Query(
            description=p.description,
            ge=p.minimum if p.kind == "int" else None,
            le=p.maximum if p.kind == "int" else None,
            max_length=p.max_length if p.kind == "str" else None,
        )
        parameters.append(
            inspect.Parameter(
                p.name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[kind | None, query],
                default=None,
            )
        )
    endpoint.__signature__ = inspect.Signature(parameters, return_annotation=ReportOut)  # type: ignore[attr-defined]
    endpoint.__name__ = "report_" + report.name.replace("-", "_")
    endpoint.__doc__ = report.description
    return endpoint


def _info(report: Report) -> ReportInfo:
    return ReportInfo(
        name=report.name,
        description=report.description,
        path=f"/v1/reports/{report.name}",
        parameters=[ParameterOut.model_validate(p) for p in report.parameters],
        columns=list(report.columns),
    )


@router.get("/v1/reports", responses=problems())
def reports() -> list[ReportInfo]:
    """Every named report with its parameters and columns."""
    return [_info(r) for r in REPORTS.values()]


@router.get("/v1/reports/throttle-history", responses=_json_or_csv(), response_model=ReportOut)
def report_throttle_history(
    svc: Svc,
    format: Format = "json",
    queue: Annotated[str | None, Query(max_length=255)] = None,
    vmta: Annotated[str | None, Query(max_length=255)] = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> Any:
    """Throttle decisions, newest first (from the SQL store every node shares)."""
    if since is not None and since.tzinfo is None:
        raise HTTPException(422, "since: give a time zone (e.g. 2026-11-25T00:00:00Z)")
    result = throttle_history(svc.engine, queue=queue, vmta=vmta, since=since, limit=limit)
    if format == "csv":
        return _csv(result, "throttle-history")
    parameters = {"queue": queue, "vmta": vmta, "since": since.isoformat() if since else None}
    return ReportOut(
        report="throttle-history", parameters={**parameters, "limit": limit}, **result.as_dict()
    )


for _report in REPORTS.values():
    router.add_api_route(
        f"/v1/reports/{_report.name}",
        _report_endpoint(_report),
        methods=["GET"],
        response_model=ReportOut,
        responses=_json_or_csv(),
        summary=_report.description.split(".")[0],
        name=f"report_{_report.name.replace('-', '_')}",
    )


_SNAPSHOT_AGE = {
    "X-Snapshot-Age": {
        "description": "seconds between the snapshot the rows come from and the answer",
        "schema": {"type": "number"},
    }
}


@router.post(
    "/v1/sql",
    responses={
        **problems(400, 422, 429, 503),
        200: {"content": {"text/csv": {}}, "headers": _SNAPSHOT_AGE},
    },
    response_model=SqlOut,
)
def sql(body: SqlIn, svc: Svc, request: Request, format: Format = "json") -> Any:
    """Run one read-only SELECT on a snapshot of the event store, bounded in rows, bytes, time.

    The snapshot is at most the server's ``sql_snapshot_max_age`` seconds old:
    ``snapshot_at``/``snapshot_age_s`` (and the ``X-Snapshot-Age`` header) say how old.
    """
    settings = svc.settings
    max_rows = min(body.max_rows or settings.sql_max_rows, settings.sql_max_rows)
    max_bytes = min(body.max_bytes or settings.sql_max_bytes, settings.sql_max_bytes)
    timeout = min(body.timeout or settings.sql_timeout, settings.sql_timeout)
    with _slot(svc, _key(request)):
        result = _sandbox(svc).run(
            body.sql, max_rows=max_rows, max_bytes=max_bytes, timeout=timeout
        )
    taken_at = result.snapshot_at or datetime.now(UTC)
    age = round(max(0.0, (datetime.now(UTC) - taken_at).total_seconds()), 3)
    headers = {"X-Snapshot-Age": f"{age:g}"}
    if format == "csv":
        out = _csv(result, "query")
        out.headers.update(headers)
        return out
    meta = SqlOut(
        **{**result.as_dict(rows=False), "rows": []},
        truncated_by=cast(Any, result.truncated_by),
        snapshot_at=taken_at,
        snapshot_age_s=age,
    ).model_dump(mode="json", exclude={"rows"})
    # The rows come from the worker as JSON text: passed on as they are, never decoded
    # here, so a result costs the server its size in bytes and no more.
    rows = result.rows
    text = (
        rows.json_text() if isinstance(rows, JsonRows) else json.dumps(result.json_rows()).encode()
    )
    answer = json.dumps(meta).encode()[:-1] + b', "rows": ' + text + b"}"
    return Response(answer, media_type="application/json", headers=headers)
