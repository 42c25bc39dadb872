"""Returned mail dropped in a pickup folder is read as a report, never relayed."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from acctpipe.sim.reports import make_arf
from mta.config import parse_config_text
from mta.delivery.routing import StaticResolver
from mta.node.process import MtaServer
from mta.submit import Submission

_CONFIG = """
<feedback-loop-processor>
    <address-list>
        address fbl@sender.test
    </address-list>
</feedback-loop-processor>
<acct-file acct.csv>
    records r,f
</acct-file>
<domain *>
    route 127.0.0.1:9
</domain>
"""

ORIGINAL = (
    b"From: news@sender.test\r\nTo: ann@example.com\r\nX-Acctpipe-Rcpt: ann@example.com\r\n"
    b"X-Job: spring\r\nSubject: hi\r\n\r\nHello.\r\n"
)


@pytest.mark.slow
async def test_pickup_file_to_the_fbl_address_becomes_an_f_record(tmp_path: Path) -> None:
    """A complaint addressed to fbl@ gives an f record; a second recipient is still spooled."""
    server = MtaServer(parse_config_text(_CONFIG), data_dir=tmp_path, resolver=StaticResolver())
    server.mta.engine.held = True
    await server.mta.start()
    try:
        arf = make_arf(
            ORIGINAL,
            reporting_domain="example.com",
            to_addr="fbl@sender.test",
            date=datetime.now(UTC),
            original_rcpt_to="ann@example.com",
        )
        ids = await server.returns.submit(
            Submission(arf, "", ("fbl@sender.test", "ops@example.org"), origin="pickup")
        )
    finally:
        await server.mta.stop(grace=1)
    assert len(ids) == 1
    with (tmp_path / "acct.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    f_rows = [r for r in rows if r["type"] == "f"]
    assert [r["rcpt"] for r in rows if r["type"] == "r"] == ["ops@example.org"]
    assert len(f_rows) == 1
    assert f_rows[0]["jobId"] == "spring"
