"""Problem responses for the OpenAPI document, and the API's one error table.

Errors are RFC 9457 problem+json (:mod:`mta.mgmt.problem` builds them). The API's own
refusals (no key 401, scope 403, unknown id 404, cursor ahead of the log 410, rate limit
429) are ``HTTPException`` with ``type`` ``about:blank``; a request that fails its schema
is a 422 (``about:blank``, with ``errors``). Every error of the tree (:mod:`acctpipe.errors`)
that reaches the API is answered from :data:`PROBLEM_TABLE`: the first class of the
exception's MRO found there gives the status and the problem ``type``
(``urn:acctpipe:problem:<slug>``, listed in docs/api.md). Rows marked hidden answer with
a fixed text and log the exception server-side: their text may name hosts, users, files
or be a bug's message. A plain ``ValueError`` or ``TypeError`` is such a bug: a 500 that
does not show its text.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from fastapi import FastAPI, Request
from starlette.responses import Response

from acctpipe.api.middleware import request_id
from acctpipe.errors import (
    AccountingFormatError,
    AcctpipeError,
    AddressError,
    BadCursorError,
    BadFilterError,
    BadFormatError,
    ConfigError,
    EventsUnavailableError,
    InputDataError,
    InputError,
    InvalidConfigError,
    InvalidRuleError,
    InvalidSubscriptionError,
    InvalidValueError,
    LocalError,
    MtaUnavailableError,
    NotFoundError,
    PermanentPeerError,
    RemotePeerError,
    ReportParameterError,
    RuleError,
    SqlError,
    SqlStoreError,
    SqlStoreUnavailableError,
    StoreError,
    TransientPeerError,
    UnknownReportError,
)
from mta.mgmt.app import (
    PROBLEM_JSON,
    Problem,
    install_problem_handlers,
    problem_response,
    status_title,
)

__all__ = ["PROBLEM_TABLE", "PROBLEM_TYPE_PREFIX", "ProblemRow", "install", "problems"]

_log = logging.getLogger("acctpipe.api")

PROBLEM_TYPE_PREFIX: Final = "urn:acctpipe:problem:"


@dataclass(frozen=True, slots=True)
class ProblemRow:
    """How one error class is answered: ``status``, the ``type`` slug, and whether its
    text is ``hidden`` (a fixed ``detail``, the exception logged server-side)."""

    status: int
    slug: str
    hidden: str | None = None
    retry_after: str | None = None

    @property
    def problem_type(self) -> str:
        """The RFC 9457 ``type`` URI of this row."""
        return PROBLEM_TYPE_PREFIX + self.slug


_SQL_DOWN: Final = "the SQL store is unavailable; retry shortly"
_UNEXPECTED: Final = "an unexpected error; quote request id {rid} when reporting it"

#: Every error class the API answers, most specific first within a branch; the first
#: class of an exception's MRO found here decides.
PROBLEM_TABLE: Final[Mapping[type[Exception], ProblemRow]] = {
    # The caller's input must change: 422 for a value refused, 404 for a name.
    AddressError: ProblemRow(422, "invalid-address"),
    InvalidValueError: ProblemRow(422, "invalid-value"),
    BadFilterError: ProblemRow(422, "bad-filter"),
    BadCursorError: ProblemRow(422, "bad-cursor"),
    InvalidRuleError: ProblemRow(422, "invalid-rule"),
    RuleError: ProblemRow(422, "invalid-rule"),
    InvalidSubscriptionError: ProblemRow(422, "invalid-subscription"),
    BadFormatError: ProblemRow(422, "bad-format"),
    InputError: ProblemRow(422, "invalid-input"),
    NotFoundError: ProblemRow(404, "not-found"),
    UnknownReportError: ProblemRow(404, "unknown-report"),
    # SQL the sandbox refused, failed or timed out, a bad report parameter: 400.
    SqlError: ProblemRow(400, "sql-error"),
    ReportParameterError: ProblemRow(400, "report-parameter"),
    AccountingFormatError: ProblemRow(400, "accounting-format"),
    InputDataError: ProblemRow(400, "bad-input"),
    # The operator's configuration (a reload through the API).
    ConfigError: ProblemRow(422, "invalid-config"),
    # This host: a retry may help.
    EventsUnavailableError: ProblemRow(503, "events-unavailable"),
    # The SQL store (connection refused, a failover, a call cut off: retrying helps) and
    # a statement it refused (a bug of ours): the text names the URL, so it is hidden.
    SqlStoreUnavailableError: ProblemRow(503, "sql-unavailable", hidden=_SQL_DOWN, retry_after="2"),
    SqlStoreError: ProblemRow(500, "internal", hidden=_UNEXPECTED),
    MtaUnavailableError: ProblemRow(503, "mta-unavailable"),
    StoreError: ProblemRow(503, "store-unavailable"),
    LocalError: ProblemRow(503, "local-failure"),
    # A peer of ours (an MTA, a webhook receiver) failed: 503 if later may work, else 502.
    TransientPeerError: ProblemRow(503, "peer-unavailable"),
    PermanentPeerError: ProblemRow(502, "peer-refused"),
    RemotePeerError: ProblemRow(502, "peer-failed"),
    AcctpipeError: ProblemRow(500, "internal", hidden=_UNEXPECTED),
    # Foreign errors: a bug's ValueError or TypeError.
    ValueError: ProblemRow(500, "internal", hidden=_UNEXPECTED),
    TypeError: ProblemRow(500, "internal", hidden=_UNEXPECTED),
}


def row_for(exc: BaseException) -> ProblemRow | None:
    """The :data:`PROBLEM_TABLE` row that answers ``exc`` (None: not one the API maps)."""
    for klass in type(exc).__mro__:
        row = PROBLEM_TABLE.get(klass)
        if row is not None:
            return row
    return None


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the given statuses (401, 403, 429 always) as problem+json."""
    schema = Problem.model_json_schema()
    return {
        status: {"description": status_title(status), "content": {PROBLEM_JSON: {"schema": schema}}}
        for status in sorted({401, 403, 429, *statuses})
    }


async def _from_table(request: Request, exc: Exception) -> Response:
    row = row_for(exc)
    if row is None:  # pragma: no cover - only registered for the table's classes
        raise exc
    headers = {"Retry-After": row.retry_after} if row.retry_after else None
    extensions: dict[str, Any] = {}
    if row.hidden is not None:
        rid = request_id(request.scope)
        if row.status >= 500 and row.retry_after is None:
            _log.error("request %s failed", rid, exc_info=exc)
        else:
            _log.warning("request %s: %s: %s", rid, type(exc).__name__, exc)
        detail = row.hidden.format(rid=rid)
    elif isinstance(exc, InvalidConfigError):
        lines = [error.location_text() for error in exc.errors]
        detail, extensions["errors"] = "; ".join(lines), lines
    elif isinstance(exc, ConfigError):
        detail, extensions["errors"] = exc.location_text(), [exc.location_text()]
    else:
        detail = str(exc)
    return problem_response(
        row.status, detail, headers=headers, problem_type=row.problem_type, **extensions
    )


def install(app: FastAPI) -> None:
    """Answer every handled error as problem+json, each class of the tree per the table."""
    install_problem_handlers(app)
    for klass in PROBLEM_TABLE:
        app.add_exception_handler(klass, _from_table)
