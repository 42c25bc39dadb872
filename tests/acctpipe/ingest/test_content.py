"""What lands in the tables: typed columns, classification, quarantine, headers, reject logs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from acctpipe.eventstore import Store
from acctpipe.ingest import Loader
from mta.acct import (
    DEFAULT_FIELDS,
    AccountingEncoder,
    RejectRecord,
    encode_reject,
    encode_reject_header,
)
from tests.acctpipe._acct import header, record, rows

pytestmark = pytest.mark.slow  # every test here takes over a second


def _load(tmp_path: Path, data: bytes, name: str = "acct.csv") -> Store:
    path = tmp_path / name
    path.write_bytes(data)
    store = Store.open(tmp_path / "db.duckdb")
    Loader(store).load(path)
    return store


def test_columns_are_typed_and_bounces_classified(tmp_path: Path) -> None:
    """Timestamps are aware, sizes integers, rcpt_domain lowercased, b/t rows classified."""
    store = _load(tmp_path, header() + rows(0, 4))
    _, found = store.query(
        "SELECT type, time_logged, dlv_size, rcpt_domain, bounce_cat, bounce_class,"
        " bounce_category, bounce_rule FROM events ORDER BY source_offset"
    )
    assert found[0][1] == datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    assert [r[0] for r in found] == ["d", "b", "t", "b"]
    assert {r[2] for r in found} == {1234}
    assert {r[3] for r in found} == {"example.net"}
    assert found[0][5:] == (None, None, None)  # deliveries are not classified
    assert found[1][4:7] == ("bad-mailbox", "hard", "bad-mailbox")  # file's category kept
    assert found[2][5] == "soft"
    assert found[3][5] == "spam"
    assert all(r[7] for r in found[1:])


def test_malformed_rows_go_to_quarantine_and_ingest_goes_on(tmp_path: Path) -> None:
    """Bad rows are kept verbatim with offset and reason; the rows around them are ingested."""
    bad_width = b"d,only,three\r\n"
    bad_time = rows(1, 2).replace(b"2026-11-25 07:00:01+0000", b"yesterday", 1)
    data = header() + rows(0, 1) + bad_width + bad_time + rows(2, 3)
    store = _load(tmp_path, data)
    _, found = store.query("SELECT source_offset, raw, reason FROM quarantine ORDER BY 1")
    assert [bytes(r[1]) for r in found] == [bad_width, bad_time]
    assert found[0][0] == data.index(bad_width)
    assert "expected 30 fields" in found[0][2]
    assert found[1][2].startswith("timeLogged: timestamp 'yesterday'")
    _, kept = store.query("SELECT rcpt FROM events ORDER BY source_offset")
    assert [r[0] for r in kept] == ["u0@Example.NET", "u2@Example.NET"]


def test_header_change_mid_file_is_followed_and_survives_restart(tmp_path: Path) -> None:
    """A new header row re-maps columns; a restart after it resumes with that header."""
    narrow = AccountingEncoder(("type", "rcpt", "timeLogged", "header_X-Campaign"))
    later = {**record(7), "header_X-Campaign": "spring"}
    acct = tmp_path / "acct.csv"
    acct.write_bytes(header() + rows(0, 2) + narrow.header() + narrow.encode(later))
    store = Store.open(tmp_path / "db.duckdb")
    Loader(store).load(acct)
    with acct.open("ab") as stream:
        stream.write(narrow.encode({**record(8), "header_X-Campaign": "fall"}))
    Loader(store).load(acct)
    _, found = store.query("SELECT rcpt, extra, vmta FROM events ORDER BY source_offset")
    assert [r[0] for r in found] == [f"u{n}@Example.NET" for n in (0, 1, 7, 8)]
    assert found[2][1] == '{"header_X-Campaign":"spring"}'
    assert found[3][1] == '{"header_X-Campaign":"fall"}'
    assert found[3][2] is None


def test_headerless_rows_use_powermta_default_fields(tmp_path: Path) -> None:
    """Rows before any header row are read with the 23 default fields."""
    encoder = AccountingEncoder(DEFAULT_FIELDS)
    store = _load(tmp_path, encoder.encode(record(0)) + encoder.encode(record(1)))
    _, found = store.query("SELECT count(*), count(feedback_type) FROM events")
    assert found == [(2, 0)]


def test_reject_log_rows_go_to_the_rejects_table(tmp_path: Path) -> None:
    """A file starting with the reject-log header is read as one, resuming after restarts."""

    def reject(port: int) -> bytes:
        when = datetime(2026, 11, 25, 7, 43, 47, tzinfo=UTC)
        return encode_reject(
            RejectRecord(when, "203.0.113.7", port, command="AUTH PLAIN c2VjcmV0", reason="auth")
        )

    path = tmp_path / "rejects.csv"
    path.write_bytes(encode_reject_header() + reject(1))
    store = Store.open(tmp_path / "db.duckdb")
    Loader(store).load(path)
    with path.open("ab") as stream:
        stream.write(reject(2))
    Loader(store).load(path)
    _, found = store.query("SELECT remote_port, command, time_logged FROM rejects ORDER BY 1")
    assert [r[:2] for r in found] == [(1, "AUTH PLAIN"), (2, "AUTH PLAIN")]
    assert found[0][2].utcoffset() is not None
    _, files = store.query("SELECT kind, rows FROM files")
    assert files == [("reject", 2)]
