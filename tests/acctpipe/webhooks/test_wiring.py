"""Every writer of the suppression list fills the outbox: the CLI and the feedback loop too."""

from __future__ import annotations

from pathlib import Path

import pytest

from acctpipe.sqlstore import open_database
from acctpipe.webhooks import WebhookStore
from tests.acctpipe._cli import run_cli


@pytest.mark.slow
def test_suppress_cli_changes_reach_the_outbox(tmp_path: Path) -> None:
    """`acctpipe suppress add` and `remove` each queue a webhook for a subscriber."""
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    engine = open_database(url)
    try:
        store = WebhookStore(engine)
        store.create("http://127.0.0.1:9/hook", ["suppression.created", "suppression.removed"])
        added = run_cli("suppress", "add", "x@example.com", "--database-url", url)
        assert added.returncode == 0, added.stderr
        removed = run_cli("suppress", "remove", "x@example.com", "--database-url", url)
        assert removed.returncode == 0, removed.stderr
        types = [m.event_type for m in store.messages()]
    finally:
        engine.dispose()
    assert types == ["suppression.created", "suppression.removed"]
