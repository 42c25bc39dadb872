"""``acctpipe serve`` as a user runs it: a child process tailing accounting files.

A hard bounce and a complaint written to the accounting directory become
suppressions in the change feed, a signed webhook reaches a CRM receiver on
loopback (verified with the standardwebhooks package), the SQL endpoint and
metrics see the events, and SIGTERM stops the process cleanly.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from acctpipe.api import ApiKeyStore
from acctpipe.sqlstore import open_database
from acctpipe.webhooks import WebhookStore
from mta.acct import DEFAULT_HEADER, AccountingWriter
from tests.acctpipe._cli import wait_until
from tests.acctpipe.webhooks._receiver import Receiver


def _bounce_rows(path: Path) -> None:
    now = datetime.now(UTC)
    common = {"timeLogged": now, "timeQueued": now, "orig": "news@sender.example", "vmta": "v1"}
    with path.open("wb") as stream:
        writer = AccountingWriter(stream, DEFAULT_HEADER)
        writer.write(
            {
                **common,
                "type": "d",
                "rcpt": "ok@isp.example",
                "dsnAction": "relayed",
                "dsnStatus": "2.0.0",
                "dsnDiag": "smtp;250 2.0.0 ok",
            }
        )
        writer.write(
            {
                **common,
                "type": "b",
                "rcpt": "gone@isp.example",
                "dsnAction": "failed",
                "dsnStatus": "5.1.1",
                "dsnDiag": "smtp;550 5.1.1 <gone@isp.example>: user unknown",
                "bounceCat": "bad-mailbox",
            }
        )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, Path, subprocess.Popen[str]]]:
    """A running ``acctpipe serve`` (URL, admin key, accounting dir, process)."""
    url_db = f"sqlite:///{tmp_path / 'store.sqlite'}"
    engine = open_database(url_db)
    _, key = ApiKeyStore(engine).create("test", "admin")
    engine.dispose()
    acct = tmp_path / "acct"
    acct.mkdir()
    args = [
        sys.executable, "-m", "acctpipe.cli", "serve",
        "--database-url", url_db,
        "--db", str(tmp_path / "events.duckdb"),
        "--watch", str(acct),
        "--port", "0",
    ]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert match, line + (proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        yield match.group(0), key, acct, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.slow
def test_serve_tails_suppresses_and_signs_webhooks(
    served: tuple[str, str, Path, subprocess.Popen[str]], tmp_path: Path
) -> None:
    """A hard bounce in the accounting dir → change feed entry + verified signed webhook."""
    url, key, acct, proc = served
    auth = {"Authorization": f"Bearer {key}"}
    with Receiver() as crm, httpx.Client(base_url=url, headers=auth, timeout=10) as http:
        created = http.post(
            "/v1/webhooks/subscriptions",
            json={"url": crm.url, "event_types": ["hard_bounce", "suppression.created"]},
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        _bounce_rows(acct / "acct-2026-11-25-0000.csv")

        def suppressed() -> bool:
            page = http.get("/v1/suppressions/changes?cursor=0").json()
            return any(c["address"] == "gone@isp.example" for c in page["changes"])

        wait_until(suppressed, timeout=20.0)
        crm.wait_for(lambda got: len(got) >= 2, timeout=20)
        payloads = [r.verify(secret) for r in crm.requests()]
        assert sorted(p["type"] for p in payloads) == ["hard_bounce", "suppression.created"]
        assert all(p["data"]["address"] == "gone@isp.example" for p in payloads)

        rows = http.post("/v1/sql", json={"sql": "SELECT type, count(*) FROM events GROUP BY 1"})
        assert rows.status_code == 200, rows.text
        assert sorted(map(tuple, rows.json()["rows"])) == [("b", 1), ("d", 1)]
        metrics = http.get("/metrics").text
        assert "acctpipe_suppressions" in metrics
        assert http.get("/readyz").json()["ready"] is True
        assert (
            WebhookStore(open_database(f"sqlite:///{tmp_path / 'store.sqlite'}")).stats()[
                "delivered"
            ]
            == 2
        )
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
