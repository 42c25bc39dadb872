"""`acctpipe demo` runs the whole loop on loopback and leaves stores a user can query."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import func, select

from acctpipe.cli.app import main
from acctpipe.demo.setup import (
    MARKER,
    DemoDirError,
    parse_api_listen,
    prepare_data_dir,
    render_config,
)
from acctpipe.sqlstore import make_engine
from acctpipe.sqlstore.schema import webhook_messages
from acctpipe.sqlstore.suppressions import SuppressionStore
from mta.config import load_config, parse_config_text
from mta.errors import ConfigError


def _template() -> str:
    return resources.files("acctpipe").joinpath("examples/demo.conf").read_text(encoding="utf-8")


def _column(conn: duckdb.DuckDBPyConnection, sql: str) -> set[str]:
    return {str(r[0]) for r in conn.execute(sql).fetchall()}


@pytest.mark.slow
def test_demo_runs_the_loop_and_leaves_a_queryable_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small demo exits 0, prints its summary, and leaves the events, suppressions and
    verified webhooks behind: hard bounces are suppressed, spam-class refusals are not."""
    monkeypatch.chdir(tmp_path)
    data = Path("demo")  # relative, as users type it
    code = main(
        ["demo", "--data-dir", str(data), "--messages", "300", "--api-listen", "127.0.0.1:0"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "acctpipe demo — summary" in out
    assert "Outcomes per destination" in out
    assert "API key    acp_" in out
    assert f"acctpipe sql --db {data / 'events.duckdb'}" in out
    assert sorted(p.name for p in data.iterdir() if p.is_dir()) == [
        "acct", "dkim", "esp", "parquet", "spool", "tls",
    ]  # fmt: skip

    with duckdb.connect(str(data / "events.duckdb"), read_only=True) as conn:
        counts = dict(
            conn.execute(
                "SELECT coalesce(bounce_class, type), count(*) FROM events "
                "WHERE type IN ('d', 'b', 'f') GROUP BY 1"
            ).fetchall()
        )
        hard = _column(conn, "SELECT rcpt FROM events WHERE bounce_class = 'hard'")
        spam = _column(conn, "SELECT rcpt FROM events WHERE type = 'b' AND bounce_class = 'spam'")
    assert counts.get("d", 0) > 200
    assert counts.get("hard", 0) > 0
    assert counts.get("spam", 0) > 0
    assert counts.get("f", 0) >= 1

    engine = make_engine(f"sqlite:///{data / 'acctpipe.sqlite'}")
    try:
        reasons = {s.address: s.reason for s in SuppressionStore(engine).iter_all()}
        with engine.connect() as conn:
            delivered = conn.execute(
                select(func.count())
                .select_from(webhook_messages)
                .where(webhook_messages.c.status == "delivered")
            ).scalar_one()
    finally:
        engine.dispose()
    assert hard <= {a for a, why in reasons.items() if why == "hard-bounce"}
    assert not spam & set(reasons)
    assert "complaint" in reasons.values()
    assert delivered > 0
    assert f"{delivered:,} signatures verified" in out.replace("\n", " ").replace("│", " ")
    assert "failed" not in out.split("acctpipe demo — summary")[1]


def test_packaged_demo_config_is_valid_powermta_syntax() -> None:
    """examples/demo.conf parses as it ships, with no warnings (the docs point users at it)."""
    config = parse_config_text(_template(), "demo.conf")
    assert config.warnings == ()
    assert {"gmail.example", "outlook.example", "yahoo.example", "blocked.example"} <= {
        name for block in config.domains for name in block.names
    }


def test_rendered_config_routes_each_domain_to_its_receiver(tmp_path: Path) -> None:
    """The demo points every route at its simulator's real port and makes the TLS paths
    absolute; the result loads with no warnings."""
    routes = {
        "gmail.example": ("127.0.0.1", 40001),
        "outlook.example": ("127.0.0.1", 40002),
        "yahoo.example": ("127.0.0.1", 40003),
        "blocked.example": ("127.0.0.1", 40004),
    }
    text = render_config(_template(), tmp_path, routes)
    for port in (40001, 40002, 40003, 40004):
        assert f"route 127.0.0.1:{port}" in text
    assert f"tls-certificate {tmp_path / 'tls' / 'cert.pem'}" in text
    path = tmp_path / "acctpipe.conf"
    path.write_text(text, encoding="utf-8")
    assert load_config(path).warnings == ()
    with pytest.raises(ValueError, match=r"no route line to rewrite for nowhere\.example"):
        render_config(_template(), tmp_path, {**routes, "nowhere.example": ("127.0.0.1", 1)})


def test_data_dir_of_a_previous_demo_is_wiped(tmp_path: Path) -> None:
    """A directory a demo wrote (it has the marker) is emptied for the next demo."""
    data = tmp_path / "demo"
    assert prepare_data_dir(data) is False
    (data / "events.duckdb").write_text("old")
    (data / "spool" / "incoming").mkdir(parents=True)
    assert prepare_data_dir(data) is True
    assert sorted(p.name for p in data.iterdir()) == [MARKER]


def test_data_dir_holding_something_else_is_refused(tmp_path: Path) -> None:
    """A non-empty directory without the demo's marker is left alone, with a clear error."""
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(DemoDirError, match="was not written by acctpipe demo"):
        prepare_data_dir(tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_cli_refuses_a_foreign_data_dir_and_a_remote_api_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command exits non-zero with one line for a foreign directory or a non-loopback API."""
    (tmp_path / "precious.txt").write_text("keep me")
    assert main(["demo", "--data-dir", str(tmp_path)]) == 1
    assert "not written by acctpipe demo" in capsys.readouterr().err
    assert main(["demo", "--data-dir", str(tmp_path / "d"), "--api-listen", "0.0.0.0:8025"]) == 2
    assert "stays on loopback" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="expected HOST:PORT"):
        parse_api_listen("8025")
    assert parse_api_listen("[::1]:0") == ("::1", 0)


def test_the_current_and_home_directories_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo never takes the directory a person works in: not `.`, not the home dir."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DemoDirError, match="directory of its own"):
        prepare_data_dir(Path("."))
    with pytest.raises(DemoDirError, match="directory of its own"):
        prepare_data_dir(Path.home())
    assert not (tmp_path / MARKER).exists()
