"""The change feed's page, built as plain JSON, equals the models' page (SQLite, PostgreSQL).

``GET /v1/suppressions/changes`` skips pydantic per change for speed; the
OpenAPI document still declares ``ChangePage``, and this pins that what is sent
is exactly ``ChangePage`` of ``ChangeOut.of`` each change, page by page.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import insert

from acctpipe.api import Services
from acctpipe.api.models import ChangeOut, ChangePage
from acctpipe.sqlstore.schema import suppression_changes
from tests.acctpipe.api.fixtures import Keys

_AT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def _log(services: Services, odd: list[str]) -> None:
    rows = [
        {
            "op": op,
            "address": f"{odd[i % 4]}{i}@example.com",
            "scope": "global" if i % 2 else "list:news",
            "reason": "complaint" if i % 3 else "manual",
            "detail": odd[(i + 1) % 4],
            "event_ids": odd[: i % 5],
            "notify": bool(i % 2),
            "changed_at": _AT + timedelta(microseconds=i * 370_001 if i % 2 else 0),
            "expires_at": None if i % 3 else _AT + timedelta(days=i, microseconds=i),
        }
        for i, op in enumerate(["add", "update", "remove", "expire"] * 4)
    ]
    with services.engine.begin() as conn:
        conn.execute(insert(suppression_changes), rows)


async def _pages(client: httpx.AsyncClient, keys: Keys, services: Services) -> list[str]:
    """Follow the feed 3 at a time, checking each page against the models; the bodies."""
    cursor, bodies = 0, []
    while True:
        response = await client.get(
            f"/v1/suppressions/changes?cursor={cursor}&limit=3", headers=keys.auth("read")
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        found = services.suppressions.changes_since(cursor, 3)
        expected = ChangePage(
            changes=[ChangeOut.of(c) for c in found],
            next_cursor=found[-1].cursor if found else cursor,
            has_more=len(found) == 3,
        )
        assert response.json() == json.loads(expected.model_dump_json())
        bodies.append(response.text)
        if not found:
            return bodies
        cursor = found[-1].cursor


async def test_pages_with_text_to_escape_are_the_models_pages(
    client: httpx.AsyncClient, keys: Keys, services: Services
) -> None:
    """Cells with quotes, backslashes, line separators and control characters: every page
    (limit 3) equals ChangePage of ChangeOut.of the store's changes, as application/json."""
    _log(services, ['=cmd|" /C calc"!A0', "a\\b", '", "', "é\u2028\x01"])
    services.suppressions.add("plain@example.com")
    assert len(await _pages(client, keys, services)) == 7


async def test_plain_pages_are_the_models_pages(
    client: httpx.AsyncClient, keys: Keys, services: Services
) -> None:
    """Plain cells (non-ASCII included), timestamps with and without microseconds, null
    expiry, tombstones, several event ids: the page filled from the template (its event id
    list is the stored JSON, spaces and all) equals the models' page."""
    _log(services, ["=plain", "über", "+1 list", "x"])
    bodies = await _pages(client, keys, services)
    assert len(bodies) == 7
    assert any('", "' in body for body in bodies)  # the template's pages, not the models'


def test_the_page_is_still_declared_in_the_openapi_document(app: FastAPI) -> None:
    """The route returns bytes, but its 200 answer is still documented as ChangePage."""
    document = app.openapi()
    answer = document["paths"]["/v1/suppressions/changes"]["get"]["responses"]["200"]
    assert answer["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ChangePage"
    }
