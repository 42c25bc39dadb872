"""Where the MTA keeps its spool, whatever form the data directory is given in."""

from __future__ import annotations

from pathlib import Path

import pytest

from mta.config import parse_config_text
from mta.runtime import Mta, MtaOptions


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
