"""/v1/suppressions: look up, list with keyset pages, add, remove, bulk, CSV export."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import httpx
import pytest

from acctpipe.api import ApiKeyStore, Services, create_app
from acctpipe.sqlstore import open_database
from acctpipe.sqlstore.suppressions import SuppressionStore, ThrottleStore, export_csv
from tests.acctpipe.api.fixtures import Keys


@pytest.mark.slow
async def test_add_lookup_remove(client: httpx.AsyncClient, keys: Keys) -> None:
    """Add answers 201 with the change, 200 when nothing changed; lookup and remove agree."""
    w = keys.auth("write")
    added = await client.post(
        "/v1/suppressions", json={"address": "John@Example.COM", "reason": "complaint"}, headers=w
    )
    assert added.status_code == 201
    change = added.json()["change"]
    assert change["op"] == "add"
    assert change["address"] == "john@example.com"
    again = await client.post(
        "/v1/suppressions", json={"address": "john@example.com", "reason": "complaint"}, headers=w
    )
    assert again.status_code == 200
    assert again.json() == {"changed": False, "change": None}
    found = (await client.get("/v1/suppressions/JOHN@example.com", headers=w)).json()
    assert found["suppressed"] is True
    assert found["applies"]["reason"] == "complaint"
    gone = await client.delete("/v1/suppressions/john@example.com", headers=w)
    assert gone.json()["change"]["tombstone"] is True
    assert (await client.delete("/v1/suppressions/john@example.com", headers=w)).status_code == 404
    after = (await client.get("/v1/suppressions/john@example.com", headers=w)).json()
    assert after == {
        "address": "john@example.com",
        "suppressed": False,
        "applies": None,
        "suppressions": [],
    }


async def test_scoped_lookup(client: httpx.AsyncClient, keys: Keys) -> None:
    """A list-scoped suppression applies only to mail for that list."""
    w = keys.auth("write")
    body = {"address": "a@example.com", "scope": "list:news"}
    await client.post("/v1/suppressions", json=body, headers=w)
    plain = (await client.get("/v1/suppressions/a@example.com", headers=w)).json()
    listed = (await client.get("/v1/suppressions/a@example.com?list=news", headers=w)).json()
    assert plain["suppressed"] is False
    assert len(plain["suppressions"]) == 1
    assert listed["suppressed"] is True


async def test_bad_input_is_a_problem(client: httpx.AsyncClient, keys: Keys) -> None:
    """An invalid address or scope answers 422 problem+json naming what is wrong."""
    w = keys.auth("write")
    bad = await client.post("/v1/suppressions", json={"address": "not-an-address"}, headers=w)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    scope = await client.post(
        "/v1/suppressions", json={"address": "a@example.com", "scope": "team:x"}, headers=w
    )
    assert scope.status_code == 422
    assert "scope" in scope.json()["detail"]
    token = await client.get("/v1/suppressions?after=%%%", headers=w)
    assert token.status_code == 422


@pytest.mark.slow
async def test_keyset_pages_cover_the_list_once(
    client: httpx.AsyncClient, keys: Keys, services: Services
) -> None:
    """Following ``next`` visits every suppression once, in order, even as rows are added."""
    for i in range(25):
        services.suppressions.add(f"user{i:02}@example.com")
    seen: list[str] = []
    url = "/v1/suppressions?limit=7"
    while True:
        page = (await client.get(url, headers=keys.auth("read"))).json()
        seen.extend(item["address"] for item in page["items"])
        if len(seen) == 7:
            services.suppressions.add("aaa-before-the-cursor@example.com")
        if page["next"] is None:
            break
        url = f"/v1/suppressions?limit=7&after={page['next']}"
    assert seen == sorted(f"user{i:02}@example.com" for i in range(25))


async def test_filters(client: httpx.AsyncClient, keys: Keys, services: Services) -> None:
    """scope and reason narrow the list."""
    services.suppressions.add("a@example.com", reason="complaint")
    services.suppressions.add("b@example.com", reason="hard-bounce")
    services.suppressions.add("c@example.com", scope="list:x")
    r = keys.auth("read")
    complaints = (await client.get("/v1/suppressions?reason=complaint", headers=r)).json()
    assert [i["address"] for i in complaints["items"]] == ["a@example.com"]
    listed = (await client.get("/v1/suppressions?scope=list:x", headers=r)).json()
    assert [i["address"] for i in listed["items"]] == ["c@example.com"]


@pytest.mark.slow
async def test_bulk_ndjson_add_and_remove(
    client: httpx.AsyncClient, keys: Keys, services: Services
) -> None:
    """An NDJSON body adds and removes per line; bad lines are reported by number."""
    lines = [
        json.dumps({"address": f"u{i}@example.com", "reason": "hard-bounce"}) for i in range(1200)
    ]
    lines.insert(5, "{not json")
    lines.insert(9, json.dumps({"address": "nobody"}))
    lines.append(json.dumps({"address": "u0@example.com", "op": "remove"}))
    body = "\n".join(lines) + "\n"
    response = await client.post(
        "/v1/suppressions/bulk",
        content=body.encode(),
        headers={**keys.auth("write"), "Content-Type": "application/x-ndjson"},
    )
    result = response.json()
    assert response.status_code == 200, result
    assert result["rows"] == 1203
    assert result["added"] == 1200
    assert result["removed"] == 1
    assert result["invalid"] == 2
    assert [e["line"] for e in result["errors"]] == [6, 10]
    assert services.suppressions.count() == 1199


async def test_bulk_csv_add_detects_esp_formats_and_remove(
    client: httpx.AsyncClient, keys: Keys, services: Services
) -> None:
    """A CSV body in an ESP export format is imported; op=remove lifts listed addresses."""
    sendgrid = "email,created\nx@example.com,1700000000\ny@example.com,1700000000\n"
    h = {**keys.auth("write"), "Content-Type": "text/csv"}
    added = (await client.post("/v1/suppressions/bulk", content=sendgrid, headers=h)).json()
    assert added["added"] == 2, added
    removed = (
        await client.post(
            "/v1/suppressions/bulk?op=remove", content="email\nx@example.com\n", headers=h
        )
    ).json()
    assert removed["removed"] == 1
    assert [s.address for s in services.suppressions.iter_all()] == ["y@example.com"]


async def test_bulk_csv_detail_names_no_file(
    client: httpx.AsyncClient, keys: Keys, services: Services
) -> None:
    """A plain list posted to bulk is recorded as "imported list", not "imported list (None)"."""
    h = {**keys.auth("write"), "Content-Type": "text/csv"}
    await client.post("/v1/suppressions/bulk", content="z@example.com\n", headers=h)
    assert [s.detail for s in services.suppressions.iter_all()] == ["imported list"]


async def test_bulk_needs_a_known_content_type(client: httpx.AsyncClient, keys: Keys) -> None:
    """Bodies that are neither NDJSON nor CSV are refused with 415."""
    response = await client.post(
        "/v1/suppressions/bulk",
        content=b"{}",
        headers={**keys.auth("write"), "Content-Type": "application/json"},
    )
    assert response.status_code == 415


@pytest.mark.slow
async def test_csv_export_round_trips(
    client: httpx.AsyncClient, keys: Keys, services: Services
) -> None:
    """export.csv lists every suppression with the columns acctpipe suppress import reads."""
    for i in range(2500):
        services.suppressions.add(f"e{i:04}@example.com", reason="complaint")
    response = await client.get("/v1/suppressions/export.csv", headers=keys.auth("read"))
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 2500
    assert rows[0]["address"] == "e0000@example.com"
    assert rows[0]["reason"] == "complaint"


async def test_csv_export_writes_no_spreadsheet_formula(
    client: httpx.AsyncClient, keys: Keys, services: Services
) -> None:
    """An address such as =cmd|'calc'!A0@… is exported as quoted text behind a single quote,
    so a spreadsheet opening export.csv shows it instead of running it."""
    services.suppressions.add("=cmd|'calc'!a0@example.com", reason="manual", detail="-2+3")
    response = await client.get("/v1/suppressions/export.csv", headers=keys.auth("read"))
    line = response.text.splitlines()[1]
    assert line.startswith("\"'=cmd|'calc'!a0@example.com\",global,manual,\"'-2+3\",")


async def test_csv_export_of_a_scope_is_the_cli_export(
    client: httpx.AsyncClient, keys: Keys, services: Services
) -> None:
    """?scope= (normalised) streams exactly what acctpipe suppress export --scope writes; a
    scope that is none of global/domain:/list: is a 422 before any byte of CSV."""
    store = services.suppressions
    for i in range(5):
        store.add(f"s{i}@example.com", scope="list:news" if i % 2 else "global")
    response = await client.get(
        "/v1/suppressions/export.csv", params={"scope": "LIST:news"}, headers=keys.auth("read")
    )
    written = io.StringIO()
    assert export_csv(store, written, scope="list:news") == 2
    assert response.text == written.getvalue()
    bad = await client.get(
        "/v1/suppressions/export.csv", params={"scope": "nowhere"}, headers=keys.auth("read")
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")


@pytest.mark.slow
async def test_bulk_takes_100k_rows_in_one_request(tmp_path: Path) -> None:
    """One NDJSON request of 100,000 suppressions is applied whole (streamed, batched)."""
    engine = open_database(f"sqlite:///{tmp_path / 'bulk.sqlite'}")
    try:
        svc = Services(
            engine=engine,
            suppressions=SuppressionStore(engine),
            throttles=ThrottleStore(engine),
            keys=ApiKeyStore(engine),
        )
        _, key = svc.keys.create("bulk", "write")
        body = "".join(
            f'{{"address": "user{i}@example.com", "reason": "hard-bounce"}}\n'
            for i in range(100_000)
        ).encode()
        transport = httpx.ASGITransport(app=create_app(svc))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://api.test", timeout=300
        ) as client:
            response = await client.post(
                "/v1/suppressions/bulk",
                content=body,
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson"},
            )
        assert response.json()["added"] == 100_000
        assert svc.suppressions.count() == 100_000
    finally:
        engine.dispose()


async def test_addresses_the_mta_would_refuse_are_422(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    """Adding an address the MTA's address check refuses answers 422 with the reason."""
    w = keys.auth("write")
    for address, why in (
        ("user@-bad-.example", "hyphen"),
        ("user@exa_mple.com", "underscore"),
        ("nul\u0000sender@x.com", "control character"),
        ("../../../etc/passwd@example.com", "dot"),
    ):
        bad = await client.post("/v1/suppressions", json={"address": address}, headers=w)
        assert bad.status_code == 422, address
        assert why in bad.json()["detail"]


async def test_bulk_reports_bad_addresses_and_bytes_that_are_not_utf8_per_line(
    client: httpx.AsyncClient, keys: Keys, services: Services
) -> None:
    """A bulk body's refused addresses and lines that are not UTF-8 are bad lines by number;
    the good lines are added."""
    body = (
        b'{"address": "good@example.com"}\n'
        b'{"address": "br\xfcken@example.com"}\n'
        b'{"address": "user@exa_mple.com"}\n'
    )
    response = await client.post(
        "/v1/suppressions/bulk",
        content=body,
        headers={**keys.auth("write"), "Content-Type": "application/x-ndjson"},
    )
    result = response.json()
    assert (result["added"], result["invalid"]) == (1, 2), result
    errors = {e["line"]: e["message"] for e in result["errors"]}
    assert "not valid UTF-8" in errors[2]
    assert "underscore" in errors[3]
    assert [s.address for s in services.suppressions.iter_all()] == ["good@example.com"]
