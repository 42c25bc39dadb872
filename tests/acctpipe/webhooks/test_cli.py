"""`acctpipe webhook …` as a user runs it, against a real loopback receiver."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from acctpipe.sqlstore import make_engine
from acctpipe.webhooks import Outbox, new_secret, summary_event
from tests.acctpipe._cli import run_cli
from tests.acctpipe.webhooks._receiver import Receiver

pytestmark = pytest.mark.slow  # every test here takes over a second


def test_test_sends_one_verifiable_event(receiver: Receiver) -> None:
    """`webhook test URL --secret S --type T` POSTs a sample T signed with S, and shows it."""
    secret = new_secret()
    proc = run_cli("webhook", "test", receiver.url, "--secret", secret, "--type", "hard_bounce")
    assert proc.returncode == 0, proc.stderr
    assert "status: 200 OK" in proc.stdout
    assert "webhook-signature: v1," in proc.stdout
    assert "generated" not in proc.stdout
    (request,) = receiver.requests()
    assert request.verify(secret)["type"] == "hard_bounce"
    assert f"webhook-id: {request.msg_id}" in proc.stdout


def test_test_prints_the_secret_it_generated(receiver: Receiver) -> None:
    """Without --secret, a new secret signs the event and is printed for the receiver."""
    proc = run_cli("webhook", "test", receiver.url)
    assert proc.returncode == 0, proc.stderr
    found = re.search(r"secret \(generated\): (whsec_\S+)", proc.stdout)
    assert found is not None
    (request,) = receiver.requests()
    assert request.verify(found.group(1))["type"] == "complaint"


def test_test_failures_are_one_line(receiver: Receiver) -> None:
    """A non-2xx answer, no answer at all, or a bad type exits 1 with one error line."""
    receiver.plan.append("500")
    failed = run_cli("webhook", "test", receiver.url)
    assert failed.returncode == 1
    assert failed.stderr.strip() == (
        f"acctpipe: error: {receiver.url} answered 500 Internal Server Error"
    )
    refused = run_cli("webhook", "test", "http://127.0.0.1:9/hook", "--timeout", "5")
    assert refused.returncode == 1
    assert refused.stderr.strip().startswith(
        "acctpipe: error: no answer from http://127.0.0.1:9/hook: ConnectError"
    )
    assert len(refused.stderr.strip().splitlines()) == 1
    bad = run_cli("webhook", "test", receiver.url, "--type", "bounce")
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("acctpipe: error: unknown event type 'bounce'")


def test_subscription_lifecycle(tmp_path: Path, receiver: Receiver) -> None:
    """add (secret shown once), list, deliver --once, messages, replay, rotate-secret, remove."""
    url = f"sqlite:///{tmp_path / 'hooks.sqlite'}"
    db = ("--database-url", url)
    added = run_cli(
        "webhook",
        "add",
        receiver.url,
        "-t",
        "delivery.summary",
        "--filter-domain",
        "example.com",
        *db,
    )
    assert added.returncode == 0, added.stderr
    found = re.search(r"^secret: (whsec_\S+)$", added.stdout, re.MULTILINE)
    assert found is not None
    assert added.stdout.startswith("added subscription 1: ")
    secret = found.group(1)

    listed = run_cli("webhook", "list", *db)
    assert listed.stdout.startswith(f"1  enabled  {receiver.url}  delivery.summary")
    assert "filter domains=example.com" in listed.stdout
    assert secret not in listed.stdout

    engine = make_engine(url)
    try:
        Outbox(engine, cache_seconds=0).publish([summary_event({"delivered": 3})])
    finally:
        engine.dispose()
    sent = run_cli("webhook", "deliver", "--once", *db)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.strip() == "processed 1 messages"
    (request,) = receiver.requests()
    assert request.verify(secret)["data"] == {"delivered": 3}

    shown = run_cli("webhook", "messages", "--status", "delivered", *db)
    assert f"{request.msg_id}  delivered" in shown.stdout
    assert "backlog: 0 pending (0 due), 1 delivered" in shown.stdout

    replayed = run_cli("webhook", "replay", "--id", request.msg_id, *db)
    assert replayed.stdout.startswith("replayed 1 messages")
    assert run_cli("webhook", "deliver", "--once", *db).returncode == 0
    assert receiver.counts() == {request.msg_id: 2}

    rotated = run_cli("webhook", "rotate-secret", "1", *db)
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.startswith("new secret for subscription 1: whsec_")

    removed = run_cli("webhook", "remove", "1", *db)
    assert removed.stdout.strip() == "removed subscription 1 (0 pending messages cancelled)"
    assert run_cli("webhook", "list", *db).stdout.startswith("no webhook subscriptions")
    missing = run_cli("webhook", "remove", "7", *db)
    assert (missing.returncode, missing.stderr.strip()) == (
        1,
        "acctpipe: error: no webhook subscription with id 7",
    )
    bad = run_cli("webhook", "add", "ftp://x.example/", "-t", "complaint", *db)
    assert bad.returncode == 1
    assert bad.stderr.strip() == (
        "acctpipe: error: webhook URL must be http:// or https://, not 'ftp://x.example/'"
    )
