"""The reject-log writer: header then rows, records filtered by SMTP stage, rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mta.acct.rejectfile import REJECT_KINDS, RejectLogFile
from mta.acct.rejectlog import RejectLogDecoder, RejectRecord, RejectRow
from mta.config import RejectLog, parse_config_text

NOW = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


def _spec(body: str = "") -> RejectLog:
    cfg = parse_config_text(f"<rejectlog-file reject.csv>\n{body}</rejectlog-file>\n", "t.conf")
    return cfg.reject_logs[0]


def _record(n: int, command: str = "RCPT TO:<x@example.net>") -> RejectRecord:
    return RejectRecord(
        time_logged=NOW,
        remote_ip="192.0.2.7",
        remote_port=40000 + n,
        helo="client.example",
        rcpt=f"u{n}@example.net",
        command=command,
        reply="550 5.7.1 Relaying denied",
        reason="relaying not allowed",
        listener="0.0.0.0:25",
    )


def _rows(*paths: Path) -> list[RejectRecord]:
    out = []
    for path in paths:
        decoder = RejectLogDecoder()
        events = decoder.feed(path.read_bytes()) + decoder.close()
        out += [e.record for e in events if isinstance(e, RejectRow)]
    return out


def test_header_then_rows_readable_by_the_decoder(tmp_path: Path) -> None:
    """A new file starts with the header; every row is visible on disk right after write()."""
    log = RejectLogFile(_spec(), tmp_path)
    assert log.spec.records == REJECT_KINDS  # default: every stage
    assert log.write("rcpt", _record(1))
    data = (tmp_path / "reject.csv").read_bytes()  # flushed without close()
    assert data.startswith(b"timeLogged,remoteIp,")
    log.write("auth", _record(2, command="AUTH PLAIN AGFwcAB3cm9uZw=="))
    log.close()
    first, second = _rows(tmp_path / "reject.csv")
    assert (first.rcpt, first.remote_port) == ("u1@example.net", 40001)
    assert second.command == "AUTH PLAIN"  # the credentials never reach the file
    assert b"AGFwcAB3cm9uZw" not in (tmp_path / "reject.csv").read_bytes()


def test_records_choose_the_stages_written(tmp_path: Path) -> None:
    """`records c,r` (connect, rcpt) writes those refusals and skips the others."""
    log = RejectLogFile(_spec("records c,r\n"), tmp_path)
    assert log.write("connect", _record(1))
    assert not log.write("auth", _record(2))
    assert log.write("rcpt", _record(3))
    log.close()
    assert [r.rcpt for r in _rows(tmp_path / "reject.csv")] == ["u1@example.net", "u3@example.net"]


def test_rotation_by_size_and_interval(tmp_path: Path) -> None:
    """max-size and move-interval rename the file into move-to; no row is lost."""
    clock = [NOW]
    spec = _spec(f"max-size 1K\nmove-interval 1h\nmove-to {tmp_path / 'old'}\n")
    log = RejectLogFile(spec, tmp_path, clock=lambda: clock[0])
    for n in range(20):
        log.write("rcpt", _record(n))
    clock[0] = NOW + timedelta(hours=2)
    log.write("rcpt", _record(99))
    log.close()
    rotated = sorted((tmp_path / "old").glob("reject-*.csv"))
    assert len(rotated) >= 2
    every = _rows(*rotated, tmp_path / "reject.csv")
    assert sorted(r.rcpt for r in every) == sorted(
        [f"u{n}@example.net" for n in range(20)] + ["u99@example.net"]
    )
    assert log.rotate() is not None  # the live file had the last row
    assert log.rotate() is None  # nothing left to rotate


@pytest.mark.slow
def test_size_rotation_keeps_filling_each_new_file_up_to_max_size(tmp_path: Path) -> None:
    """Over many `max-size` rotations each reject log holds many rows up to max-size, not
    one row per file, and every refusal is written once."""
    log = RejectLogFile(_spec("max-size 1K\n"), tmp_path, clock=lambda: NOW)
    for n in range(300):
        log.write("rcpt", _record(n))
    log.close()
    rotated = sorted(tmp_path.glob("reject-*.csv"))
    every = _rows(*rotated, tmp_path / "reject.csv")
    assert sorted(r.rcpt for r in every) == sorted(f"u{n}@example.net" for n in range(300))
    assert len(rotated) >= 10
    assert all(len(_rows(p)) > 1 for p in rotated)
    assert all(p.stat().st_size >= 1024 for p in rotated)
    assert len(rotated) < 300 * 2 * 200 // 1024  # rows are < 200 bytes: no file per row
