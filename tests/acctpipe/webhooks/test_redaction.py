"""A webhook URL's user name and password are used to deliver, and shown nowhere.

The CLI (add, list, test, messages), the API's subscriptions, messages and attempts,
the stored error texts and the worker's log all show ``***@`` in their place.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from acctpipe.api import ApiKeyStore, Services, create_app
from acctpipe.redact import redact_url
from acctpipe.sqlstore import open_database
from acctpipe.sqlstore.suppressions import SuppressionStore, ThrottleStore
from acctpipe.webhooks import Outbox, WebhookStore, WebhookWorker, summary_event
from acctpipe.webhooks.store import validate_url
from tests.acctpipe._cli import run_cli

USER, PASSWORD = "crm-user", "s3cret-pass"


class EchoingReceiver:
    """A loopback receiver that records Authorization and answers 500 with an error page
    that quotes the request URL, credentials and all (as careless servers do)."""

    def __init__(self) -> None:
        self.authorizations: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.authorizations.append(self.headers.get("authorization", ""))
                host = self.headers.get("host", "")
                body = f"no route for POST http://{USER}:{PASSWORD}@{host}{self.path}".encode()
                self.send_response(500)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,))

    @property
    def url(self) -> str:
        """The subscription URL, with a user name and password in it."""
        host, port = self.server.server_address[:2]
        return f"http://{USER}:{PASSWORD}@{host!s}:{port}/hook"


@pytest.fixture
def echoing() -> Iterator[EchoingReceiver]:
    """An :class:`EchoingReceiver`, running."""
    receiver = EchoingReceiver()
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def _hidden(text: str) -> bool:
    return PASSWORD not in text and USER not in text


@pytest.mark.slow
def test_the_cli_never_shows_the_credentials(tmp_path: Path, echoing: EchoingReceiver) -> None:
    """webhook add, list, test and messages show the URL as http://***@host/…."""
    db = ("--database-url", f"sqlite:///{tmp_path / 'hooks.sqlite'}")
    added = run_cli("webhook", "add", echoing.url, "-t", "*", *db)
    assert added.returncode == 0, added.stderr
    listed = run_cli("webhook", "list", *db)
    tested = run_cli("webhook", "test", echoing.url)
    assert tested.returncode == 1
    for proc in (added, listed, tested):
        assert _hidden(proc.stdout + proc.stderr), proc.stdout + proc.stderr
        assert "http://***@127.0.0.1:" in proc.stdout + proc.stderr
    assert echoing.authorizations[-1].startswith("Basic ")  # still sent to the receiver


@pytest.mark.slow
async def test_the_api_the_store_and_the_log_never_show_the_credentials(
    tmp_path: Path, echoing: EchoingReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    """Subscriptions, messages and attempts in the API, the stored error and the worker's
    log carry ***@ in place of the user name and password, which still reach the receiver."""
    engine = open_database(f"sqlite:///{tmp_path / 'api.sqlite'}")
    try:
        services = Services(
            engine=engine,
            suppressions=SuppressionStore(engine),
            throttles=ThrottleStore(engine),
            keys=ApiKeyStore(engine),
            webhooks=WebhookStore(engine),
        )
        admin = {"Authorization": f"Bearer {services.keys.create('admin', 'admin')[1]}"}
        transport = httpx.ASGITransport(app=create_app(services))
        async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=admin) as c:
            body = {"url": echoing.url, "event_types": ["*"]}
            created = await c.post("/v1/webhooks/subscriptions", json=body)
            assert created.status_code == 201, created.text
            sub_id = created.json()["subscription"]["id"]
            Outbox(engine, cache_seconds=0).publish([summary_event({"period": "1h"})])
            with caplog.at_level(logging.DEBUG):
                assert await WebhookWorker(engine, node="n1").run_once() == 1
            answers = [
                created,
                await c.get("/v1/webhooks/subscriptions"),
                await c.get(f"/v1/webhooks/subscriptions/{sub_id}"),
                await c.patch(f"/v1/webhooks/subscriptions/{sub_id}", json={"description": "x"}),
                messages := await c.get("/v1/webhooks/messages"),
            ]
            msg_id = messages.json()["items"][0]["msg_id"]
            answers.append(await c.get(f"/v1/webhooks/messages/{msg_id}/attempts"))
        for answer in answers:
            assert answer.status_code in (200, 201), answer.text
            assert _hidden(answer.text), answer.text
        assert "http://***@127.0.0.1:" in answers[0].text
        assert "***@127.0.0.1" in messages.text  # the echoed error page, redacted
        assert _hidden(repr(WebhookStore(engine).list()))  # what a log of the object shows
        (message,) = WebhookStore(engine).messages()
        assert message.last_error is not None
        assert _hidden(message.last_error)
        assert _hidden(caplog.text), [r for r in caplog.messages if not _hidden(r)]
        basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        assert echoing.authorizations == [basic]
    finally:
        engine.dispose()


def test_a_redacted_url_cannot_replace_the_real_one() -> None:
    """Sending back the URL as shown (***@) is refused instead of storing *** as the password."""
    with pytest.raises(ValueError, match="redacted user name and password"):
        validate_url("https://***@crm.example/hooks")
    with pytest.raises(ValueError, match="must be http") as refused:
        validate_url(f"ftp://{USER}:{PASSWORD}@crm.example/")
    assert _hidden(str(refused.value))


# Userinfo characters: anything but the delimiters, controls and white space.
_SAFE = st.text(
    st.characters(
        blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp"), blacklist_characters="/?#@:"
    ),
    min_size=1,
    max_size=12,
)


@pytest.mark.slow
@given(user=_SAFE, password=_SAFE, tail=st.sampled_from(("/hooks?a=b", "", ":8443/x#y")))
def test_redaction_removes_any_userinfo(user: str, password: str, tail: str) -> None:
    """Whatever the user name and password, the redacted URL keeps the rest and not them."""
    url = f"https://{user}:{password}@crm.example{tail}"
    assert redact_url(url) == f"https://***@crm.example{tail}"
    assert redact_url(f"error at {url}: boom") == f"error at https://***@crm.example{tail}: boom"
