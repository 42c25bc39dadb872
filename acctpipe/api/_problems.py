"""Problem responses for the OpenAPI document, and the API's own error mapping.

Errors are RFC 9457 problem+json (:mod:`mta.mgmt.problem` builds them)::

    no key / unknown or revoked key            → 401
    key scope too low                          → 403
    unknown suppression, subscription, report  → 404
    cursor ahead of the change log             → 410 (resync)
    invalid body or query (RequestValidation)  → 422
    ValueError from a store (bad address…)     → 422
    SQL refused, failing or over its time;
    a bad report parameter (InputDataError)    → 400
    rate limit                                 → 429 (Retry-After)
    event store, SQL store or MTA unreachable  → 503
    anything else (logged with the request id) → 500
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.responses import Response

from mta.errors import InputDataError
from mta.mgmt.app import (
    PROBLEM_JSON,
    Problem,
    install_problem_handlers,
    problem_response,
    status_title,
)

__all__ = ["install", "problem_response", "problems"]

_log = logging.getLogger("acctpipe.api")


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the given statuses (401, 403, 429 always) as problem+json."""
    schema = Problem.model_json_schema()
    return {
        status: {"description": status_title(status), "content": {PROBLEM_JSON: {"schema": schema}}}
        for status in sorted({401, 403, 429, *statuses})
    }


async def _value_error(_request: Request, exc: Exception) -> Response:
    return problem_response(422, str(exc))


async def _database_error(_request: Request, exc: Exception) -> Response:
    # Connection refused, a restart, a failover: retrying helps. The driver's text can
    # name hosts and users, so it goes to the log only.
    _log.warning("SQL store error: %s", exc)
    return problem_response(
        503, "the SQL store is unavailable; retry shortly", headers={"Retry-After": "2"}
    )


async def _input_error(_request: Request, exc: Exception) -> Response:
    # The caller's input must change: refused or failing SQL, a bad report parameter.
    return problem_response(400, str(exc))


def install(app: FastAPI) -> None:
    """Answer every handled error as problem+json (ValueError from the stores → 422)."""
    install_problem_handlers(app)
    app.add_exception_handler(ValueError, _value_error)
    app.add_exception_handler(InputDataError, _input_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(InterfaceError, _database_error)
