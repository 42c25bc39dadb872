"""Errors of the management endpoint as RFC 9457 problem details (``application/problem+json``).

Every problem is ``about:blank`` (RFC 9457 §4.2.1): the HTTP status says what
kind of failure it is, ``title`` is the status phrase and ``detail`` says what
happened to this request. Two extension members exist: ``errors`` (the
offending query parameters of a 422, or every config error of a failed reload).

How errors map to statuses::

    HTTPException (unknown path 404, wrong method 405, unknown queue 404) → its status
    RequestValidationError (e.g. ?limit=0)                                → 422
    ConfigError from reload (the new config does not validate)           → 422
    other AcctpipeError from the MTA, retryable (LocalError)             → 503
    other AcctpipeError from the MTA                                     → 500
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException
from starlette.responses import Response

from mta.errors import AcctpipeError, ConfigError, InvalidConfigError

__all__ = [
    "PROBLEM_JSON",
    "Problem",
    "install_problem_handlers",
    "problem_response",
    "status_title",
]

PROBLEM_JSON: Final = "application/problem+json"
# RFC 9110's names where Python's HTTPStatus still has the older ones (until 3.13),
# so a title does not change with the interpreter.
_RFC9110_TITLES: Final = {413: "Content Too Large", 422: "Unprocessable Content"}


def status_title(status: int) -> str:
    """The RFC 9110 reason phrase of ``status`` (a problem's ``title``)."""
    return _RFC9110_TITLES.get(status) or HTTPStatus(status).phrase


class Problem(BaseModel):
    """An RFC 9457 problem details object (for the OpenAPI document)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str


def problem_response(
    status: int,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    problem_type: str = "about:blank",
    **extensions: Any,
) -> JSONResponse:
    """A ``problem+json`` response for ``status`` with ``detail`` and extension members;
    ``problem_type`` is the RFC 9457 ``type`` (``about:blank``: the status says it all)."""
    body: dict[str, Any] = {
        "type": problem_type,
        "title": status_title(status),
        "status": status,
        "detail": detail,
        **extensions,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _validation_problem(exc: RequestValidationError) -> Response:
    # Only location and message: the raw ``ctx``/``input`` may not be JSON.
    errors = [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", ""))}
        for error in exc.errors()
    ]
    detail = "; ".join(f"{'.'.join(e['loc'][1:]) or 'request'}: {e['msg']}" for e in errors)
    return problem_response(422, detail or "invalid request", errors=errors)


def _mta_problem(exc: AcctpipeError) -> Response:
    if isinstance(exc, InvalidConfigError):
        lines = [error.location_text() for error in exc.errors]
        return problem_response(422, "; ".join(lines), errors=lines)
    if isinstance(exc, ConfigError):
        return problem_response(422, exc.location_text(), errors=[exc.location_text()])
    return problem_response(503 if exc.retryable else 500, str(exc))


async def _to_problem(_request: Request, exc: Exception) -> Response:
    # One handler for the three registered exception types (Starlette's handler
    # type takes any Exception, so dispatch here rather than assert per handler).
    if isinstance(exc, HTTPException):
        return problem_response(exc.status_code, str(exc.detail), headers=exc.headers)
    if isinstance(exc, RequestValidationError):
        return _validation_problem(exc)
    if isinstance(exc, AcctpipeError):
        return _mta_problem(exc)
    raise exc  # pragma: no cover - only registered for the types above


def install_problem_handlers(app: FastAPI) -> None:
    """Make ``app`` answer every handled error as ``problem+json``."""
    for exc_type in (HTTPException, RequestValidationError, AcctpipeError):
        app.add_exception_handler(exc_type, _to_problem)
