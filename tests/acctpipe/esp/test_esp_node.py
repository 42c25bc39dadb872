"""A served node: an ESP post over real HTTP reaches the event store through the tailer."""

from __future__ import annotations

from pathlib import Path

import duckdb
import httpx
import pytest

from acctpipe.esp import EspSettings
from acctpipe.node.api import Node, NodeOptions
from tests.acctpipe.esp import samples


@pytest.mark.slow
async def test_a_post_to_a_serving_node_is_ingested_by_its_tailer(tmp_path: Path) -> None:
    """`acctpipe serve --watch … --esp-dir …`: the ESP directory is tailed with the others,
    and a Postmark bounce posted with the key in the URL (basic auth) is an rb event."""
    acct = tmp_path / "acct"
    acct.mkdir()
    options = NodeOptions(
        database_url=f"sqlite:///{tmp_path / 'store.sqlite'}",
        db=tmp_path / "events.duckdb",
        watch=(acct,),
        rescan=0.05,
        port=0,
        webhooks=False,
        summary_every=0,
        esp=EspSettings(directory=tmp_path / "esp"),
    )
    node = Node(options)
    await node.start()
    try:
        assert node.services is not None
        key = node.services.keys.create("postmark", "write")[1]
        url = node.url.replace("http://", f"http://postmark:{key}@") + "/v1/esp/postmark"
        async with httpx.AsyncClient() as client:
            response = await client.post(url, json=samples.POSTMARK_BOUNCE)
        assert response.status_code == 200, response.text
        assert response.json()["records"] == 1
    finally:
        await node.stop()  # the tailer's final pass ingests what was written
    with duckdb.connect(str(tmp_path / "events.duckdb"), read_only=True) as conn:
        rows = conn.execute("SELECT type, rcpt, bounce_class, source_file FROM events").fetchall()
    assert [r[:3] for r in rows] == [("rb", "void@example.com", "hard")]
    assert str(rows[0][3]).endswith("esp-acct.csv")


def test_the_esp_directory_is_tailed_only_where_the_node_tails(tmp_path: Path) -> None:
    """With --watch the ESP directory joins the watched ones (once); without, nothing is tailed."""
    esp = EspSettings(directory=tmp_path / "esp")
    base = NodeOptions(database_url="sqlite://", watch=(tmp_path / "acct",), esp=esp)
    assert base.watched() == (tmp_path / "acct", tmp_path / "esp")
    same = NodeOptions(database_url="sqlite://", watch=(tmp_path / "esp",), esp=esp)
    assert same.watched() == (tmp_path / "esp",)
    assert NodeOptions(database_url="sqlite://", esp=esp).watched() == ()
