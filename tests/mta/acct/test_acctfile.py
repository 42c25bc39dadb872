"""The accounting file writer: configured records and fields, rotation, and readable output."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mta.acct import Row, read_accounting
from mta.acct.acctfile import AccountingFile, fields_for
from mta.config import AcctFile, parse_config_text

NOW = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


def _record(kind: str, n: int) -> dict[str, object]:
    return {
        "type": kind,
        "timeLogged": NOW,
        "rcpt": f"u{n}@example.com",
        "dsnStatus": "5.1.1",
        "bounceCat": "bad-mailbox",
        "dlvSourceIp": "127.0.0.2",
        "vmta": "ip-1",
    }


def _spec(body: str) -> AcctFile:
    cfg = parse_config_text(f"<acct-file acct.csv>\n{body}</acct-file>\n", "t.conf")
    return cfg.acct_files[0]


def test_only_configured_records_are_written_with_a_union_header(tmp_path: Path) -> None:
    """`records d,b` writes d and b rows (not t); per-type fields share one union header."""
    spec = _spec(
        "records d,b\nrecord-fields d timeLogged,rcpt,dlvSourceIp\n"
        "record-fields b timeLogged,rcpt,bounceCat\n"
    )
    assert fields_for(spec) == ("type", "timeLogged", "rcpt", "dlvSourceIp", "bounceCat")
    out = AccountingFile(spec, tmp_path)
    assert out.write(_record("d", 1))
    assert out.write(_record("b", 2))
    assert not out.write(_record("t", 3))
    out.close()
    rows = [e for e in read_accounting(tmp_path / "acct.csv") if isinstance(e, Row)]
    assert [(r.type, r.fields["rcpt"]) for r in rows] == [
        ("d", "u1@example.com"),
        ("b", "u2@example.com"),
    ]
    assert rows[0].fields["bounceCat"] == ""  # not configured for d
    assert rows[1].fields["dlvSourceIp"] == ""


def test_rotation_by_size_and_interval(tmp_path: Path) -> None:
    """max-size and move-interval rename the file aside (into move-to) and start a new one."""
    clock = [NOW]
    spec = _spec(f"records d\nmax-size 1K\nmove-interval 1h\nmove-to {tmp_path / 'old'}\n")
    out = AccountingFile(spec, tmp_path, clock=lambda: clock[0])
    for n in range(20):
        out.write(_record("d", n))
    clock[0] = NOW + timedelta(hours=2)
    out.write(_record("d", 99))
    out.close()
    rotated = sorted((tmp_path / "old").glob("acct-*.csv"))
    assert len(rotated) >= 2
    every = [
        e
        for p in [*rotated, tmp_path / "acct.csv"]
        for e in read_accounting(p)
        if isinstance(e, Row)
    ]
    assert sorted(r.fields["rcpt"] for r in every) == sorted(
        [f"u{n}@example.com" for n in range(20)] + ["u99@example.com"]
    )


def test_appending_to_an_existing_file_keeps_one_header(tmp_path: Path) -> None:
    """Restarting the writer appends rows without writing the header again."""
    spec = _spec("records d\n")
    for n in range(2):
        out = AccountingFile(spec, tmp_path)
        out.write(_record("d", n))
        out.close()
    data = (tmp_path / "acct.csv").read_bytes()
    assert data.count(b"type,") == 1
    assert data.count(b"\r\nd,") == 2


def test_star_inside_record_fields_expands_to_the_defaults(tmp_path: Path) -> None:
    """`record-fields f *,header_X-Job` gives every default feedback field plus the header."""
    config = parse_config_text(
        "<acct-file a.csv>\n records f\n record-fields f *,header_X-Job\n</acct-file>\n"
    )
    header = fields_for(config.acct_files[0])
    assert "feedbackType" in header
    assert header[-1] == "header_X-Job"
    assert len(header) == len(set(header))


def test_move_interval_rotates_a_quiet_file_on_the_timer(tmp_path: Path) -> None:
    """rotate_if_due renames a file whose move-interval passed even with no new rows."""
    now = [datetime(2026, 11, 25, 9, 0, tzinfo=UTC)]
    config = parse_config_text("<acct-file a.csv>\n records d\n move-interval 1h\n</acct-file>\n")
    acct = AccountingFile(config.acct_files[0], tmp_path, clock=lambda: now[0])
    acct.write({"type": "d", "rcpt": "a@b.example"})
    assert acct.rotate_if_due() is None
    now[0] += timedelta(hours=1)
    rotated = acct.rotate_if_due()
    assert rotated is not None
    assert rotated.name.startswith("a-2026-11-25-")


@pytest.mark.slow
def test_size_rotation_keeps_filling_each_new_file_up_to_max_size(tmp_path: Path) -> None:
    """Over many `max-size` rotations every file but the live one is about max-size, none
    holds a single row, and every row is written once (issue 14: one file per row after
    the first rotation)."""
    spec = _spec("records d\nmax-size 1K\n")
    out = AccountingFile(spec, tmp_path, clock=lambda: NOW)
    for n in range(400):
        out.write(_record("d", n))
    out.close()
    rotated = sorted(tmp_path.glob("acct-*.csv"))
    files = [*rotated, tmp_path / "acct.csv"]
    assert (tmp_path / "acct.csv").exists()
    counts = [sum(isinstance(e, Row) for e in read_accounting(p)) for p in files]
    assert sum(counts) == 400
    row_size = (tmp_path / "acct.csv").stat().st_size // max(counts[-1], 1)
    # Each rotated file stopped at the first row that reached 1 KiB, no later.
    assert all(1024 <= p.stat().st_size < 1024 + 2 * row_size for p in rotated)
    assert len(rotated) <= 400 * row_size // 1024 + 1
    assert min(counts[:-1]) > 1


def test_a_file_rotated_by_the_timer_is_followed_by_a_full_interval(tmp_path: Path) -> None:
    """After move-interval rotates the file, the next message's rows all go to one new
    file that lives a whole interval (not a file of its first row, rotated at once
    because the interval was counted from the old file's opening)."""
    now = [NOW]
    config = parse_config_text("<acct-file a.csv>\n records d\n move-interval 1h\n</acct-file>\n")
    acct = AccountingFile(config.acct_files[0], tmp_path, clock=lambda: now[0])
    acct.write(_record("d", 0))
    acct.flush()
    now[0] += timedelta(hours=1)
    assert acct.rotate_if_due() is not None
    now[0] += timedelta(minutes=1)
    for n in range(1, 4):  # one message's rows, flushed together
        acct.write(_record("d", n))
    acct.flush()
    assert acct.rotate_if_due() is None
    acct.close()
    rotated = sorted(tmp_path.glob("a-*.csv"))
    assert len(rotated) == 1
    live = [e.fields["rcpt"] for e in read_accounting(tmp_path / "a.csv") if isinstance(e, Row)]
    assert live == [f"u{n}@example.com" for n in range(1, 4)]
