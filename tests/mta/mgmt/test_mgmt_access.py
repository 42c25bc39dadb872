"""http-access on the management endpoint: who may read, who may act, who is refused."""

from __future__ import annotations

import pytest

from mta.config.model import HttpAccess
from mta.mgmt.access import access_level, required_level
from mta.mgmt.app import create_mgmt_app
from tests.mta.mgmt._mgmt import (
    FakeProvider,
    access,
    app_for,
    assert_problem,
    call,
)

ENTRIES = """\
http-access 127.0.0.1 monitor
http-access 10.0.0.0/8 admin
http-access 10.1.0.0/16 monitor
http-access 10.1.2.3 none
http-access 2001:db8::/32 admin
"""


@pytest.mark.parametrize(
    ("ip", "level"),
    [
        ("127.0.0.1", "monitor"),
        ("10.9.9.9", "admin"),
        ("10.1.9.9", "monitor"),  # the /16 is more specific than the /8
        ("10.1.2.3", "none"),  # and the /32 more specific still
        ("::ffff:10.9.9.9", "admin"),  # an IPv4 client on a dual-stack socket
        ("2001:db8::1", "admin"),
        ("192.0.2.1", "none"),  # no entry matches
        ("::1", "none"),  # entries exist, so loopback gets nothing for free
        ("testclient", "none"),  # not an address at all
        (None, "none"),
    ],
)
def test_the_most_specific_entry_decides(ip: str | None, level: str) -> None:
    """Like <source>, the longest matching prefix wins; no match means no access."""
    assert access_level(access(ENTRIES), ip) == level


@pytest.mark.parametrize(
    ("ip", "level"),
    [("127.0.0.1", "admin"), ("127.8.8.8", "admin"), ("::1", "admin"), ("10.0.0.1", "none")],
)
def test_without_entries_only_loopback_is_let_in_as_admin(ip: str, level: str) -> None:
    """No http-access configured: the host itself is admin, everybody else is refused."""
    assert access_level((), ip) == level


def test_reads_need_monitor_and_actions_admin() -> None:
    """GET/HEAD/OPTIONS are reads; POST (and any other method) is an action."""
    assert [required_level(m) for m in ("GET", "head", "OPTIONS", "POST", "DELETE")] == [
        "monitor",
        "monitor",
        "monitor",
        "admin",
        "admin",
    ]


async def test_monitor_may_read_but_not_act() -> None:
    """A monitor client sees /status and /queues; its POSTs are 403 and never reach the MTA."""
    provider = FakeProvider()
    app = app_for(provider, ENTRIES)
    for path in ("/healthz", "/status", "/queues", "/queues/gmail.com", "/openapi.json"):
        assert (await call(app, "GET", path, ip="10.1.9.9")).status_code == 200
    body = assert_problem(await call(app, "POST", "/queues/gmail.com/pause", ip="10.1.9.9"), 403)
    assert "'admin' needed" in body["detail"]
    assert_problem(await call(app, "POST", "/reload", ip="10.1.9.9"), 403)
    assert provider.calls == []


async def test_admin_may_act() -> None:
    """An admin client's pause reaches the MTA."""
    provider = FakeProvider()
    response = await call(
        app_for(provider, ENTRIES), "POST", "/queues/gmail.com/pause", ip="10.9.9.9"
    )
    assert response.status_code == 200
    assert provider.calls == [("pause", "gmail.com", None)]


@pytest.mark.parametrize("ip", ["192.0.2.1", "10.1.2.3"])
async def test_unknown_and_none_clients_get_403_everywhere(ip: str) -> None:
    """No match or level none: every path is 403, even unknown ones and the schema."""
    app = app_for(FakeProvider(), ENTRIES)
    for path in ("/healthz", "/status", "/nope", "/openapi.json"):
        body = assert_problem(await call(app, "GET", path, ip=ip), 403)
        assert ip in body["detail"]


async def test_no_entries_means_loopback_admin_only() -> None:
    """Without http-access, 127.0.0.1 may pause; another address may not even read."""
    provider = FakeProvider()
    app = app_for(provider)
    assert (await call(app, "POST", "/queues/gmail.com/pause")).status_code == 200
    assert (await call(app, "GET", "/status", ip="::1")).status_code == 200
    assert_problem(await call(app, "GET", "/status", ip="10.0.0.1"), 403)


async def test_entries_are_read_per_request() -> None:
    """A reload that changes http-access applies to the very next request."""
    current: list[tuple[HttpAccess, ...]] = [access("http-access 127.0.0.1 admin\n")]
    app = create_mgmt_app(FakeProvider(), lambda: current[0])
    assert (await call(app, "POST", "/reload")).status_code == 200
    current[0] = access("http-access 127.0.0.1 monitor\n")
    assert_problem(await call(app, "POST", "/reload"), 403)
