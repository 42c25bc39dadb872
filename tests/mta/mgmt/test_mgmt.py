"""The management endpoint: JSON status, queue queries, admin actions, problem+json errors."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi import FastAPI

from mta.errors import ConfigError, InvalidConfigError, LocalError
from mta.status import MtaStatus
from tests.mta.mgmt._mgmt import (
    FakeProvider,
    app_for,
    assert_problem,
    call,
)


async def test_status_is_the_whole_snapshot_as_json() -> None:
    """GET /status: host, times with offsets, uptime, spool, listeners, totals and queue sums."""
    response = await call(app_for(), "GET", "/status")
    assert response.status_code == 200
    assert response.json() == {
        "host_name": "mx1.example.test",
        "started_at": "2024-05-01T12:00:00+00:00",
        "now": "2024-05-02T14:03:04+00:00",
        "uptime_seconds": 93784,
        "config_files": ["/etc/acctpipe/mta.conf"],
        "config_loaded_at": "2024-05-01T12:05:00+00:00",
        "spool": {"incoming": 7, "active": 2, "deferred": 103},
        "listeners": [
            {
                "address": "127.0.0.1",
                "port": 2525,
                "connections": 1,
                "accepted": 1000,
                "rejected": 3,
            }
        ],
        "totals": {"delivered": 900, "bounced": 4, "deferred": 103},
        "queues": {
            "count": 4,
            "queued": 145,
            "deferred": 103,
            "connections": 2,
            "backoff": 1,
            "paused": 1,
        },
    }


async def test_queues_are_listed_most_queued_first() -> None:
    """GET /queues: every queue by queued desc, with totals, offsets kept, unlimited rates null."""
    body = (await call(app_for(), "GET", "/queues")).json()
    assert (body["total"], body["count"], body["limit"]) == (4, 4, 100)
    names = [(q["queue"], q["vmta"]) for q in body["queues"]]
    assert names == [
        ("yahoo.com", "vmta-a"),
        ("gmail.com", "vmta-a"),
        ("gmail.com", "vmta-b"),
        ("hotmail.com", "vmta-b"),
    ]
    yahoo, hotmail = body["queues"][0], body["queues"][3]
    assert yahoo["backoff_until"] == "2024-05-02T15:30:00+02:00"
    assert yahoo["last_reply"].startswith("421 4.7.0")
    assert (hotmail["msg_rate"], hotmail["configured_msg_rate"]) == (None, None)
    assert body["queues"][1]["backoff_until"] is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("domain=gmail.com", [("gmail.com", "vmta-a"), ("gmail.com", "vmta-b")]),
        ("domain=GMAIL.com&vmta=VMTA-B", [("gmail.com", "vmta-b")]),
        ("vmta=vmta-b", [("gmail.com", "vmta-b"), ("hotmail.com", "vmta-b")]),
        ("backoff=true", [("yahoo.com", "vmta-a")]),
        ("paused=true", [("gmail.com", "vmta-b")]),
        ("paused=false&vmta=vmta-b", [("hotmail.com", "vmta-b")]),
        ("domain=nowhere.example", []),
    ],
)
async def test_queue_filters_combine(query: str, expected: list[tuple[str, str]]) -> None:
    """?domain= ?vmta= (case-insensitive), ?backoff= and ?paused= narrow the list together."""
    body = (await call(app_for(), "GET", f"/queues?{query}")).json()
    assert [(q["queue"], q["vmta"]) for q in body["queues"]] == expected
    assert body["total"] == len(expected)


async def test_limit_bounds_the_page_but_not_the_total() -> None:
    """?limit=2 returns the two biggest queues and still counts every match."""
    body = (await call(app_for(), "GET", "/queues?limit=2")).json()
    assert (body["total"], body["count"], body["limit"]) == (4, 2, 2)
    assert [q["queue"] for q in body["queues"]] == ["yahoo.com", "gmail.com"]
    assert (await call(app_for(), "GET", "/queues?limit=10000")).status_code == 200


@pytest.mark.parametrize("limit", ["0", "10001", "lots"])
async def test_a_limit_out_of_range_is_a_422_problem(limit: str) -> None:
    """?limit= must be 1..10000; anything else is refused, naming the parameter."""
    body = assert_problem(await call(app_for(), "GET", f"/queues?limit={limit}"), 422)
    assert "limit" in body["detail"]
    assert body["errors"][0]["loc"] == ["query", "limit"]


async def test_one_queue_across_its_vmtas() -> None:
    """GET /queues/gmail.com: both vmtas, with their sums."""
    body = (await call(app_for(), "GET", "/queues/gmail.com")).json()
    assert body["queue"] == "gmail.com"
    assert [q["vmta"] for q in body["vmtas"]] == ["vmta-a", "vmta-b"]
    assert body["summary"] == {
        "count": 2,
        "queued": 45,
        "deferred": 3,
        "connections": 2,
        "backoff": 0,
        "paused": 1,
    }


async def test_an_unknown_queue_is_a_404_problem() -> None:
    """GET /queues/nowhere.example is 404 problem+json naming the queue."""
    body = assert_problem(await call(app_for(), "GET", "/queues/nowhere.example"), 404)
    assert "nowhere.example" in body["detail"]


async def test_unknown_paths_and_methods_are_problems_too() -> None:
    """An unknown path is a 404 problem; GET on an action is a 405 problem with Allow."""
    assert_problem(await call(app_for(), "GET", "/nope"), 404)
    response = await call(app_for(), "GET", "/reload")
    assert_problem(response, 405)
    assert response.headers["allow"] == "POST"


async def test_pause_and_resume_reach_the_provider() -> None:
    """POST pause/resume call the MTA with its own spelling of the names and report the count."""
    provider = FakeProvider()
    app = app_for(provider)
    paused = await call(app, "POST", "/queues/Gmail.com/pause")
    assert paused.json() == {
        "action": "pause",
        "queue": "gmail.com",
        "vmta": None,
        "affected": 2,
        "result": "",
    }
    resumed = await call(app, "POST", "/queues/gmail.com/resume?vmta=VMTA-B")
    assert (resumed.json()["vmta"], resumed.json()["affected"]) == ("vmta-b", 1)
    assert provider.calls == [("pause", "gmail.com", None), ("resume", "gmail.com", "vmta-b")]


async def test_pausing_an_unknown_queue_is_a_404_problem() -> None:
    """A queue neither in the snapshot nor known to the MTA cannot be paused."""
    provider = FakeProvider()
    body = assert_problem(
        await call(app_for(provider), "POST", "/queues/gmail.com/pause?vmta=vmta-z"), 404
    )
    assert "vmta-z" in body["detail"]
    assert provider.calls == [("pause", "gmail.com", "vmta-z")]


async def test_reload_reports_the_mta_answer() -> None:
    """POST /reload returns the MTA's one-line account of what happened."""
    provider = FakeProvider()
    response = await call(app_for(provider), "POST", "/reload")
    assert response.json()["result"] == "configuration reloaded from /etc/acctpipe/mta.conf"
    assert provider.calls == [("reload", "", None)]


async def test_a_reload_of_an_invalid_config_is_a_422_listing_every_error() -> None:
    """The config errors come back as file:line lines, in detail and in ``errors``."""
    errors = [
        ConfigError(
            "unknown directive 'max-smtp-outt'", path="mta.conf", line=12, section="domain"
        ),
        ConfigError("expected an integer", path="mta.conf", line=20),
    ]
    app = app_for(FakeProvider(reload_error=InvalidConfigError(errors)))
    body = assert_problem(await call(app, "POST", "/reload"), 422)
    assert body["errors"] == [
        "mta.conf:12: <domain>: unknown directive 'max-smtp-outt'",
        "mta.conf:20: expected an integer",
    ]
    assert "mta.conf:12" in body["detail"]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ConfigError("no such file", path="/etc/acctpipe/mta.conf"), 422),
        (LocalError("spool is read-only"), 503),
    ],
)
async def test_mta_errors_map_to_problem_statuses(error: Exception, status: int) -> None:
    """A single config error is 422; a local, retryable failure is 503."""
    app = app_for(FakeProvider(reload_error=error))
    assert str(error) in assert_problem(await call(app, "POST", "/reload"), status)["detail"]


async def test_healthz_answers_ok_or_503() -> None:
    """GET /healthz is ok while the MTA gives a snapshot, a 503 problem when it cannot."""
    body = (await call(app_for(), "GET", "/healthz")).json()
    assert body == {
        "status": "ok",
        "host_name": "mx1.example.test",
        "now": "2024-05-02T14:03:04+00:00",
    }

    class Broken(FakeProvider):
        def status(self) -> MtaStatus:
            raise RuntimeError("runtime not started")

    assert_problem(await call(app_for(Broken()), "GET", "/healthz"), 503)


async def test_naive_snapshot_times_are_read_as_utc() -> None:
    """A naive datetime from the MTA still comes out with an offset (+00:00)."""
    naive = MtaStatus(
        host_name="h",
        started_at=datetime(2024, 1, 1),  # noqa: DTZ001 - the case under test
        now=datetime(2024, 1, 1, 0, 1),  # noqa: DTZ001
        config_files=(),
        config_loaded_at=datetime(2024, 1, 1),  # noqa: DTZ001
        spool={},
    )
    body = (await call(app_for(FakeProvider(naive)), "GET", "/status")).json()
    assert (body["now"], body["uptime_seconds"]) == ("2024-01-01T00:01:00+00:00", 60)
    assert body["queues"]["count"] == 0


async def test_the_app_mounts_under_a_prefix() -> None:
    """Mounted at /mta in a bigger app, the same routes, errors and access control apply."""
    outer = FastAPI()
    outer.mount("/mta", app_for(entries="http-access 127.0.0.1 admin\n"))
    assert (await call(outer, "GET", "/mta/status")).json()["host_name"] == "mx1.example.test"
    assert (await call(outer, "POST", "/mta/queues/gmail.com/pause")).json()["affected"] == 2
    assert_problem(await call(outer, "GET", "/mta/queues/nowhere.example"), 404)
    assert_problem(await call(outer, "GET", "/mta/status", ip="192.0.2.1"), 403)


@pytest.mark.slow
async def test_the_openapi_document_names_operations_and_problems() -> None:
    """The schema lists every endpoint with a short operationId and problem+json errors."""
    document = (await call(app_for(), "GET", "/openapi.json")).json()
    operations = {
        (method.upper(), path): op["operationId"]
        for path, item in document["paths"].items()
        for method, op in item.items()
    }
    assert operations == {
        ("GET", "/healthz"): "healthz",
        ("GET", "/status"): "status",
        ("GET", "/queues"): "queues",
        ("GET", "/queues/{queue}"): "queue_detail",
        ("POST", "/queues/{queue}/pause"): "pause",
        ("POST", "/queues/{queue}/resume"): "resume",
        ("POST", "/reload"): "reload",
    }
    forbidden = document["paths"]["/status"]["get"]["responses"]["403"]
    assert list(forbidden["content"]) == ["application/problem+json"]
