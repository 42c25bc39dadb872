"""`acctpipe rules unmatched`: the failures no specific rule recognised, grouped and counted."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from acctpipe.analytics.unmatched import COLUMNS, mask_diag
from acctpipe.cli.app import main
from acctpipe.synth import synthetic_records
from mta.acct import DEFAULT_HEADER, AccountingWriter
from tests.acctpipe._acct import ingested

_T0 = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
# Replies no text rule knows: a permanent and a temporary one, each to many recipients.
_ODD_5XX = "smtp;550 5.0.0 <{rcpt}> the flux capacitor said zq{n}x on mx{n}.odd.example"
_ODD_4XX = "smtp;421 4.4.0 flux capacitor overheated at 192.0.2.{n}, queue id A{n}B77"


def _failure(n: int, kind: str, diag: str) -> dict[str, object]:
    rcpt = f"u{n}@odd.example"
    text = diag.format(rcpt=rcpt, n=n)
    return {
        "type": kind,
        "timeLogged": _T0 + timedelta(minutes=n),
        "timeQueued": _T0,
        "orig": "news@example.com",
        "rcpt": rcpt,
        "dsnStatus": text[9:14],
        "dsnDiag": text,
        "vmta": "vmta-a",
    }


def _records() -> Iterator[dict[str, object]]:
    yield from synthetic_records(400)  # the demo's mix of outcomes
    for n in range(7):
        yield _failure(n, "b", _ODD_5XX)
    for n in range(3):
        yield _failure(100 + n, "t", _ODD_4XX)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An events database ingested from the demo's synthetic campaign plus odd replies."""
    directory = tmp_path_factory.mktemp("unmatched")
    ingested(directory, _records()).close()
    return directory / "events.duckdb"


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    assert main(["rules", "unmatched", *args, "--format", "json"]) == 0
    found: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return found


def test_the_same_odd_reply_to_many_recipients_is_one_counted_row(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Seven recipients refused with the same unknown reply show as one row of 7, with one
    raw example, its masked pattern, the verdict it got and the fallback rule that gave it."""
    rows = _json(capsys, "--db", str(db))
    by_pattern = {str(r["pattern"]): r for r in rows}
    odd = by_pattern[mask_diag(_ODD_5XX.format(rcpt="u0@odd.example", n=0))]
    assert odd["count"] == 7
    assert str(odd["example"]).startswith("smtp;550 5.0.0 <u")
    assert (odd["rule"], odd["class"], odd["category"]) == ("status-5.x.x", "unknown", "other")
    temp = by_pattern[mask_diag(_ODD_4XX.format(n=100))]
    assert (temp["count"], temp["rule"]) == (3, "status-x.4.other")
    counts = [int(str(r["count"])) for r in rows]
    assert counts == sorted(counts, reverse=True)
    assert set(rows[0]) == set(COLUMNS)
    # A reply a specific rule recognised is never listed.
    assert not any(str(r["rule"]).startswith("gmail-") for r in rows)


@pytest.mark.slow
def test_limit_since_and_csv(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--limit caps the rows, --since drops older events, csv has the same columns."""
    assert len(_json(capsys, "--db", str(db), "--limit", "1")) == 1
    later = (_T0 + timedelta(minutes=5)).isoformat()
    rows = _json(capsys, "--db", str(db), "--since", later)
    odd = [r for r in rows if str(r["example"]).startswith("smtp;550 5.0.0")]
    assert [r["count"] for r in odd] == [2]  # minutes 5 and 6 of the seven
    assert main(["rules", "unmatched", "--db", str(db), "-f", "csv"]) == 0
    table = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert tuple(table[0]) == COLUMNS
    assert len(table) > 2


def test_a_table_written_to_a_pipe_is_not_truncated(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Piped, the table shows every example whole, however long."""
    assert main(["rules", "unmatched", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "the flux capacitor said zq" in out
    assert "…" not in out


@pytest.mark.slow
def test_a_user_fallback_rule_counts_as_unmatched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The table decides what a fallback is: what a user rule marked ``fallback = true``
    decided is listed when that rule file is given, and not without it."""
    rules = tmp_path / "mine.toml"
    rules.write_text(
        '[[rule]]\nid = "mine-overheated"\ntext = "overheated"\ncategory = "other"\n'
        'class = "soft"\nfallback = true\n',
        encoding="utf-8",
    )
    acct = tmp_path / "acct.csv"
    with acct.open("wb") as stream:
        writer = AccountingWriter(stream, DEFAULT_HEADER)
        for n in range(4):
            writer.write(_failure(n, "t", _ODD_4XX))
    db = str(tmp_path / "events.duckdb")
    assert main(["ingest", "--db", db, "--rules", str(rules), str(acct)]) == 0
    capsys.readouterr()
    marked = _json(capsys, "--db", db, "--rules", str(rules))
    assert [(r["count"], r["rule"]) for r in marked] == [(4, "mine-overheated")]
    assert main(["rules", "unmatched", "--db", db]) == 0
    assert "no unmatched" in capsys.readouterr().err


def test_no_unmatched_diagnostics_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store where every failure met a specific rule prints a sentence, not an empty table."""
    known = [_failure(0, "b", "smtp;550 5.1.1 The email account that you tried to reach does "
                      "not exist")]  # fmt: skip
    ingested(tmp_path, known).close()
    assert main(["rules", "unmatched", "--db", str(tmp_path / "events.duckdb")]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no unmatched diagnostics" in captured.err


_LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(
    local=st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,20}", fullmatch=True),
    labels=st.lists(_LABEL, min_size=1, max_size=3),
    tld=st.sampled_from(["com", "net", "example", "de"]),
    ip=st.tuples(*[st.integers(0, 255)] * 4),
    queue=st.integers(0, 10**9),
)
@example(local="a", labels=["2", "0", "0"], tld="com", ip=(0, 0, 0, 0), queue=0)  # 2.0.0.com
def test_masking_groups_one_reply_whatever_the_recipient(
    local: str, labels: list[str], tld: str, ip: tuple[int, ...], queue: int
) -> None:
    """Addresses, host names, IPs and queue numbers never split one reply into many groups;
    the reply code and the enhanced status are kept."""
    host = ".".join([*labels, tld])
    address = f"{local}@{host}"
    dotted = ".".join(map(str, ip))
    diag = f"smtp;550 5.7.1 <{address}>: rejected from [{dotted}] by {host} (queue {queue})"
    masked = mask_diag(diag)
    assert masked == mask_diag(
        "smtp;550 5.7.1 <a@b.example>: rejected from [192.0.2.1] by mx.example.net (queue 7)"
    )
    assert masked.startswith("smtp;550 5.7.1 ")
