"""``/v1/reports`` (named reports) and ``/v1/sql`` (read-only SQL) on the event store.

Each report of :data:`acctpipe.analytics.REPORTS` gets a route of its own,
``GET /v1/reports/<name>``, whose query parameters are the report's (typed and
bounded, so the OpenAPI document lists them); ``?format=csv`` streams CSV.
``/v1/reports/throttle-history`` reads the SQL store instead of DuckDB.

``POST /v1/sql`` runs one SELECT through :func:`acctpipe.analytics.run_readonly`:
writes, ATTACH, COPY, file and network functions are refused (400 with the
reason); results are cut at the row limit (``truncated``) and queries
interrupted at the time limit. Both limits are the server's, lowered per
request if asked.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from acctpipe.analytics import (
    REPORTS,
    EventSource,
    QueryResult,
    Report,
    run_readonly,
    throttle_history,
    to_csv,
)
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


class ReportOut(ResultOut):
    """A report's rows and the parameters it ran with."""

    report: str
    parameters: dict[str, Any]


class ParameterOut(BaseModel):
    """One parameter of a report."""

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
        max_length=20_000,
        examples=["SELECT rcpt_domain, count(*) FROM events WHERE type = 'b' GROUP BY 1"],
    )
    max_rows: int | None = Field(default=None, ge=1, description="at most the server's limit")
    timeout: float | None = Field(default=None, gt=0, description="seconds; at most the server's")


def _source(svc: Services) -> EventSource:
    if svc.events is None:
        raise HTTPException(
            503, "no event store: start the server with --db FILE (and --watch DIR to tail)"
        )
    return svc.events


@contextmanager
def _slot(svc: Services) -> Iterator[None]:
    """Hold one of the query slots, or answer 429: queries share the ingest's DuckDB."""
    slots = svc.query_slots
    if slots is not None and not slots.acquire(blocking=False):
        raise HTTPException(
            429,
            f"{svc.settings.sql_concurrency} queries are running already; retry shortly",
            headers={"Retry-After": "1"},
        )
    try:
        yield
    finally:
        if slots is not None:
            slots.release()


def _csv(result: QueryResult, name: str) -> StreamingResponse:
    return StreamingResponse(
        to_csv(result),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _json_or_csv() -> dict[int | str, dict[str, Any]]:
    return {**problems(422, 503), 200: {"content": {"text/csv": {}}}}


def _report_endpoint(report: Report) -> Callable[..., Any]:
    def endpoint(svc: Svc, format: Format = "json", **params: Any) -> Any:
        given = {k: v for k, v in params.items() if v is not None}
        source = _source(svc)
        with _slot(svc), source.connect() as conn:
            result = report.run(conn, given, timeout=svc.settings.sql_timeout)
        if format == "csv":
            return _csv(result, report.name)
        return ReportOut(report=report.name, parameters=report.bind(given), **result.as_dict())

    parameters = [
        inspect.Parameter("svc", inspect.Parameter.KEYWORD_ONLY, annotation=Svc),
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
        parameters=[
            ParameterOut(
                name=p.name,
                kind=p.kind,
                description=p.description,
                default=p.default,
                minimum=p.minimum,
                maximum=p.maximum,
                choices=list(p.choices),
            )
            for p in report.parameters
        ],
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


@router.post("/v1/sql", responses={**_json_or_csv(), **problems(400, 422, 503)})
def sql(body: SqlIn, svc: Svc, format: Format = "json") -> Any:
    """Run one read-only SELECT on the event store, bounded in rows and time."""
    settings = svc.settings
    max_rows = min(body.max_rows or settings.sql_max_rows, settings.sql_max_rows)
    timeout = min(body.timeout or settings.sql_timeout, settings.sql_timeout)
    with _slot(svc):
        result = run_readonly(_source(svc), body.sql, max_rows=max_rows, timeout=timeout)
    if format == "csv":
        return _csv(result, "query")
    return ResultOut(**result.as_dict())
