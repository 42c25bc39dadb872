"""Where the MTA keeps its spool, whatever form the data directory is given in."""

from __future__ import annotations

from pathlib import Path

import pytest

from mta.config import parse_config_text
from mta.node.process import MtaServer
from mta.node.runtime import Mta, MtaOptions
from mta.tls import make_self_signed


@pytest.mark.slow
@pytest.mark.parametrize("spool", ["", "spool custom\n"])
def test_relative_data_dir_holds_the_spool_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spool: str
) -> None:
    """`--data-dir data` keeps the spool in data/spool (or data/custom), never data/data/."""
    monkeypatch.chdir(tmp_path)
    mta = Mta(parse_config_text(spool), MtaOptions(Path("data")))
    expected = "custom" if spool else "spool"
    assert mta.spool.root.resolve() == (tmp_path / "data" / expected).resolve()
    assert not (tmp_path / "data" / "data").exists()


async def test_relative_tls_paths_start_at_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`tls-certificate tls/cert.pem` is found beside the config, whatever the cwd."""
    conf_dir = tmp_path / "etc"
    make_self_signed("mta.test").write(conf_dir / "tls" / "cert.pem", conf_dir / "tls" / "key.pem")
    config = conf_dir / "mta.conf"
    config.write_text(
        "<smtp-listener 127.0.0.1:0>\n"
        "    tls-certificate tls/cert.pem\n"
        "    tls-private-key tls/key.pem\n"
        "</smtp-listener>\n",
        encoding="utf-8",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    server = MtaServer.from_file(config, data_dir=tmp_path / "data")
    await server.start()
    try:
        assert server.listeners[0].port > 0
    finally:
        await server.stop()


@pytest.mark.slow
def test_relative_move_to_is_under_the_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rotated accounting file moves to DATA_DIR/<move-to>, not to the working directory."""
    monkeypatch.chdir(tmp_path)
    config = parse_config_text("<acct-file acct/acct.csv>\n    move-to acct/old\n</acct-file>\n")
    mta = Mta(config, MtaOptions(tmp_path / "data"))
    acct = mta.acct_files[0]
    acct.write({"type": "d", "rcpt": "a@example.com"})
    acct.rotate()
    moved = list((tmp_path / "data" / "acct" / "old").glob("*.csv"))
    assert len(moved) == 1
