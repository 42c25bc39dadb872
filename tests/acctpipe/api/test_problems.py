"""The API's one error table: each error of the tree has its HTTP status and problem type,
and a bug's ValueError is a 500 whose text stays in the server log."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI

from acctpipe import errors
from acctpipe.api import _problems
from acctpipe.api.middleware import RequestIdMiddleware
from tests.acctpipe.api.fixtures import Keys

PREFIX = "urn:acctpipe:problem:"

# (an instance of each class of the tree, its status, its problem type slug)
CASES: list[tuple[Exception, int, str]] = [
    (errors.AddressError("a@@b", "two @"), 422, "invalid-address"),
    (errors.InvalidValueError("expected a duration"), 422, "invalid-value"),
    (errors.BadFilterError("unknown filter key 'x'"), 422, "bad-filter"),
    (errors.BadCursorError("after: not a page token"), 422, "bad-cursor"),
    (errors.InvalidRuleError("replies: expected a table"), 422, "invalid-rule"),
    (errors.RuleError("no pattern", source="mine.toml"), 422, "invalid-rule"),
    (errors.InvalidSubscriptionError("webhook URL has no host"), 422, "invalid-subscription"),
    (errors.BadFormatError("malformed CSV"), 422, "bad-format"),
    (errors.InputError("refused"), 422, "invalid-input"),
    (errors.NotFoundError("no such thing", name="x"), 404, "not-found"),
    (errors.UnknownSubscriptionError(7), 404, "not-found"),
    (errors.UnknownReportError("nope", ["bounces"]), 404, "unknown-report"),
    (errors.SqlError("Binder Error: no column x"), 400, "sql-error"),
    (errors.SqlRefusedError("not a SELECT"), 400, "sql-error"),
    (errors.SqlTimeoutError(2.0), 400, "sql-error"),
    (errors.ReportParameterError("days", "at most 90"), 400, "report-parameter"),
    (errors.AccountingFormatError("bad header", path="a.csv", offset=0), 400, "accounting-format"),
    (errors.RejectedError(422, "not JSON"), 400, "bad-input"),
    (errors.InputDataError("bad data"), 400, "bad-input"),
    (errors.ConfigError("unknown directive", path="mta.conf", line=3), 422, "invalid-config"),
    (errors.InvalidConfigError([errors.ConfigError("x", path="c", line=1)]), 422, "invalid-config"),
    (errors.EventsUnavailableError("locked"), 503, "events-unavailable"),
    (errors.MtaUnavailableError("no answer"), 503, "mta-unavailable"),
    (errors.StoreError("cannot open", path="e.duckdb"), 503, "store-unavailable"),
    (errors.SqlStoreUnavailableError("unavailable", path="sqlite://"), 503, "sql-unavailable"),
    (errors.SqlStoreError("refused a statement", path="sqlite://"), 500, "internal"),
    (errors.LocalError("disk full"), 503, "local-failure"),
    (errors.TransientPeerError("421 later", reply_code=421), 503, "peer-unavailable"),
    (errors.PermanentPeerError("550 no", reply_code=550), 502, "peer-refused"),
    (errors.RemotePeerError("hung up"), 502, "peer-failed"),
    (errors.DemoDirError("a demo still runs"), 500, "internal"),
    (errors.AcctpipeError("unexpected"), 500, "internal"),
]


def _app_raising(exc: Exception) -> FastAPI:
    app = FastAPI()
    _problems.install(app)
    app.add_middleware(RequestIdMiddleware)

    @app.get("/boom")
    async def boom() -> None:
        raise exc

    return app


async def _get(app: FastAPI, path: str = "/boom") -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as c:
        return await c.get(path)


@pytest.mark.parametrize(
    ("exc", "status", "slug"), CASES, ids=[type(case[0]).__name__ for case in CASES]
)
async def test_each_error_of_the_tree_has_its_status_and_problem_type(
    exc: Exception, status: int, slug: str
) -> None:
    """Each error class answers problem+json with its own status and ``type`` URI."""
    response = await _get(_app_raising(exc))
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == PREFIX + slug
    assert body["status"] == status
    if status < 500:  # the caller's or the operator's to fix: the text says what
        assert body["detail"]


def test_every_error_class_exported_is_in_the_table_or_under_a_row() -> None:
    """Every exception acctpipe.errors exports is answered by some row of the table, and
    every row's class is tested above."""
    tested = {type(case[0]) for case in CASES}
    for name in errors.__all__:
        klass = getattr(errors, name)
        if isinstance(klass, type) and issubclass(klass, Exception):
            assert _problems.row_for(klass.__new__(klass)) is not None, name
            assert klass in tested, name


@pytest.mark.parametrize("exc", [ValueError("secret-token-1234 at db.internal"), TypeError("x1")])
async def test_a_bugs_value_error_is_a_500_that_keeps_its_text_in_the_log(
    exc: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    """A plain ValueError (or TypeError) is a 500 quoting the request id; its text is
    logged server-side and never sent to the client."""
    with caplog.at_level(logging.ERROR, logger="acctpipe.api"):
        response = await _get(_app_raising(exc))
    assert response.status_code == 500
    body = response.json()
    assert body["type"] == PREFIX + "internal"
    assert str(exc) not in response.text
    assert response.headers["x-request-id"] in body["detail"]
    assert str(exc) in caplog.text


async def test_a_database_outage_is_a_503_that_hides_the_drivers_text() -> None:
    """A refused SQL connection (the store's SqlStoreUnavailableError) answers 503 with
    Retry-After; its text (the URL: hosts, users) is not shown."""
    exc = errors.SqlStoreUnavailableError(
        "the SQL store is unavailable", path="postgresql://bob:***@db.internal/acct"
    )
    response = await _get(_app_raising(exc))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.json()["type"] == PREFIX + "sql-unavailable"
    assert "db.internal" not in response.text


async def test_the_real_api_answers_with_the_specific_problem_types(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    """Through the real routes: a bad address is ``invalid-address``, a scope too, and a
    page token the API did not hand out is ``bad-cursor`` — all 422."""
    w = keys.auth("write")
    bad = await client.post(
        "/v1/suppressions", json={"address": "john..doe@example.com"}, headers=w
    )
    assert (bad.status_code, bad.json()["type"]) == (422, PREFIX + "invalid-address")
    scope = await client.post(
        "/v1/suppressions", json={"address": "a@example.com", "scope": "domain:a..b"}, headers=w
    )
    assert (scope.status_code, scope.json()["type"]) == (422, PREFIX + "invalid-address")
    token = await client.get("/v1/suppressions?after=%%%", headers=w)
    assert (token.status_code, token.json()["type"]) == (422, PREFIX + "bad-cursor")
