"""A huge field cannot stall ingest: its record is quarantined past the documented limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from acctpipe.eventstore import Store
from acctpipe.ingest import Loader
from mta.acct import DEFAULT_MAX_RECORD_SIZE
from tests.acctpipe._acct import ENCODER, header, record


def _row(n: int, diag: str) -> bytes:
    rec = record(n)
    rec["dsnDiag"] = diag
    return ENCODER.encode(rec)


@pytest.mark.slow
def test_a_record_over_the_limit_is_quarantined_and_one_just_under_is_ingested(
    tmp_path: Path,
) -> None:
    """A 3 MB dsnDiag goes to the quarantine with its file and offset (no 8 s/MB parse and
    classification); a diagnostic just under the 64 KiB record limit is ingested and
    classified; the rows around both are ingested."""
    under_diag = "smtp;550 5.1.1 user unknown " + "x" * (DEFAULT_MAX_RECORD_SIZE - 400)
    under = _row(1, under_diag)
    huge = _row(2, "smtp;550 5.1.1 " + "junk, " * 500_000)
    assert len(under) <= DEFAULT_MAX_RECORD_SIZE < len(huge)
    before = header() + _row(0, "smtp;250 ok")
    acct = tmp_path / "acct.csv"
    acct.write_bytes(before + under + huge + _row(4, "smtp;250 ok"))
    store = Store.open(tmp_path / "db.duckdb")
    try:
        # Chunks far smaller than the long line: it spans dozens of reads.
        loader = Loader(store, chunk_size=64 << 10)
        loader.load(acct)
        _, events = store.query(
            "SELECT rcpt, bounce_class, length(dsn_diag) FROM events ORDER BY 1"
        )
        _, bad = store.query("SELECT source_file, source_offset, length, octet_length(raw), reason "
                             "FROM quarantine")  # fmt: skip
    finally:
        store.close()
    assert [r for r, _, _ in events] == ["u0@Example.NET", "u1@Example.NET", "u4@Example.NET"]
    assert events[1][1] == "hard"  # the long diagnostic was classified
    assert events[1][2] == len(under_diag)
    ((path, offset, length, kept, reason),) = bad
    assert (path, offset, length) == (str(acct), len(before + under), len(huge))
    assert kept == DEFAULT_MAX_RECORD_SIZE
    assert "over the record size limit" in reason
    assert loader.stats.quarantined == 1
