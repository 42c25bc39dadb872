"""CSV import of ESP exports (each format, twice) and export round trips."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from acctpipe._csvsafe import Verbatim, csv_line, restore
from acctpipe.sqlstore import make_engine, migrate
from acctpipe.sqlstore.suppressions import SuppressionStore, export_csv, import_csv
from acctpipe.sqlstore.suppressions.csvio import EXPORT_COLUMNS
from tests._paths import DATA as TEST_DATA

DATA = TEST_DATA / "suppress"
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

# file → (format, {address: reason}, {line: skipped}, {line: bad})
EXPECTED: dict[str, tuple[str, dict[str, str], set[int], set[int]]] = {
    "plain.txt": (
        "plain",
        {
            "alice@example.com": "manual",
            "bob@example.org": "manual",
            "carol+news@xn--bcher-kva.example": "manual",
        },
        set(),
        {5},
    ),
    "plain-header.csv": (
        "plain",
        {"dave@example.com": "manual", "erin@example.net": "manual"},
        set(),
        {4},
    ),
    "sendgrid-bounces.csv": (
        "sendgrid",
        {"frank@example.com": "hard-bounce", "ivan@example.com": "hard-bounce"},
        {3},
        {4},
    ),
    "sendgrid-spam-reports.csv": ("sendgrid", {"judy@example.com": "complaint"}, set(), set()),
    "sendgrid-unsubscribes.csv": (
        "sendgrid",
        {"mallory@example.com": "unsubscribe", "niaj@example.com": "unsubscribe"},
        set(),
        set(),
    ),
    "mailgun-bounces.csv": (
        "mailgun",
        {"olivia@example.com": "hard-bounce", "rupert@example.com": "hard-bounce"},
        {3},
        set(),
    ),
    "mailgun-unsubscribes.csv": (
        "mailgun",
        {"sybil@example.com": "unsubscribe", "trent@example.com": "unsubscribe"},
        set(),
        set(),
    ),
    "mailgun-complaints.csv": ("mailgun", {"victor@example.com": "complaint"}, set(), set()),
    "postmark-suppressions.csv": (
        "postmark",
        {
            "walter@example.com": "hard-bounce",
            "xavier@example.com": "complaint",
            "yolanda@example.com": "unsubscribe",
            "zoe@example.com": "manual",
        },
        {6},
        {7},
    ),
    "ses-suppression-list.csv": (
        "ses",
        {"chris@example.com": "hard-bounce", "diana@example.com": "complaint"},
        set(),
        {4},
    ),
}


@pytest.fixture
def store(engine: Engine) -> SuppressionStore:
    """A store on the test database."""
    return SuppressionStore(engine)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_format_imports_and_a_second_import_changes_nothing(
    store: SuppressionStore, name: str
) -> None:
    """Each export is detected, mapped to our reasons, bad rows reported by line; twice is once."""
    fmt, reasons, skipped, bad = EXPECTED[name]
    first = import_csv(store, DATA / name, now=NOW)
    assert first.format == fmt
    assert {n.line for n in first.skipped} == skipped
    assert {n.line for n in first.bad} == bad
    assert first.added == len(reasons)
    assert {s.address: s.reason for s in store.iter_all()} == reasons
    cursor = store.last_cursor()
    again = import_csv(store, DATA / name, now=NOW)
    assert (again.added, again.updated) == (0, 0)
    assert again.unchanged == first.added + first.unchanged
    assert store.last_cursor() == cursor


def test_rows_keep_their_dates_and_say_where_they_came_from(store: SuppressionStore) -> None:
    """A row's own timestamp becomes created_at; detail names the source and file."""
    import_csv(store, DATA / "sendgrid-bounces.csv", now=NOW)
    (frank,) = store.get("frank@example.com")
    assert frank.created_at == datetime.fromtimestamp(1_700_000_000, UTC)
    assert frank.detail.startswith("sendgrid bounce: 5.1.1 550 5.1.1")
    assert frank.detail.endswith("(sendgrid-bounces.csv)")
    import_csv(store, DATA / "sendgrid-unsubscribes.csv", now=NOW)
    (niaj,) = store.get("niaj@example.com")
    assert niaj.created_at == NOW  # no date in the row: the import's time


def test_bad_rows_say_why(store: SuppressionStore) -> None:
    """Bad and skipped rows carry a reason a person can act on."""
    report = import_csv(store, DATA / "postmark-suppressions.csv", now=NOW)
    assert "Haunted" in report.bad[0].message
    assert "does not suppress" in report.skipped[0].message
    spam = import_csv(store, DATA / "sendgrid-bounces.csv", now=NOW)
    assert "spam-class refusal" in spam.skipped[0].message


def test_scope_and_reason_options_apply_to_every_row(store: SuppressionStore) -> None:
    """--scope and --reason override what the rows say."""
    import_csv(store, DATA / "plain.txt", scope="list:Weekly", reason="unsubscribe", now=NOW)
    rows = list(store.iter_all())
    assert {(s.scope, s.reason) for s in rows} == {("list:Weekly", "unsubscribe")}


def test_small_batches_and_progress(store: SuppressionStore) -> None:
    """Batches of one row give the same result; progress reports every byte read."""
    read: list[int] = []
    report = import_csv(store, DATA / "postmark-suppressions.csv", batch=1, progress=read.append)
    assert report.added == 4
    assert sum(read) == (DATA / "postmark-suppressions.csv").stat().st_size


def test_semicolons_bom_and_a_stream(store: SuppressionStore) -> None:
    """A spreadsheet export (BOM, semicolons) read from a stream is understood."""
    data = (
        "\ufeffEmail;Created;Reason;Status\r\nx@example.com;1700000000;550 unknown user;5.1.1\r\n"
    )
    report = import_csv(store, io.BytesIO(data.encode()), now=NOW)
    assert (report.format, report.added) == ("sendgrid", 1)


def test_unknown_or_mismatched_headers_are_refused(store: SuppressionStore) -> None:
    """An unrecognised header, or one that is not the named format, fails before writing."""
    with pytest.raises(ValueError, match="unrecognised header"):
        import_csv(store, io.BytesIO(b"id,name\n1,x\n"))
    with pytest.raises(ValueError, match="is not a ses header"):
        import_csv(store, DATA / "plain-header.csv", format="ses")
    with pytest.raises(ValueError, match="unknown format"):
        import_csv(store, DATA / "plain.txt", format="excel")
    assert store.count() == 0
    empty = import_csv(store, io.BytesIO(b"\n# nothing\n"))
    assert empty.rows == 0


@pytest.mark.slow
def test_export_round_trips(store: SuppressionStore, tmp_path: Path) -> None:
    """Exported CSV imports into another database unchanged (scope, reason, dates, detail)."""
    for name in EXPECTED:
        import_csv(store, DATA / name, now=NOW)
    store.add(
        "temp@example.com", scope="domain:news.example", expires_at=datetime(2027, 1, 1, tzinfo=UTC)
    )
    out = io.StringIO()
    count = export_csv(store, out, batch=3)
    text = out.getvalue()
    assert text.splitlines()[0] == ",".join(EXPORT_COLUMNS)
    assert count == store.count() == len(text.splitlines()) - 1

    url = f"sqlite:///{tmp_path / 'copy.sqlite'}"
    migrate(url)
    engine = make_engine(url)
    try:
        copy = SuppressionStore(engine)
        report = import_csv(copy, io.BytesIO(text.encode()))
        assert (report.format, report.added, report.bad_count) == ("acctpipe", count, 0)

        fields = ("address", "scope", "reason", "detail", "created_at", "expires_at")

        def key(s: object) -> tuple[object, ...]:
            return tuple(getattr(s, f) for f in fields)

        assert [key(s) for s in copy.iter_all()] == [key(s) for s in store.iter_all()]
    finally:
        engine.dispose()


def test_export_filters(store: SuppressionStore) -> None:
    """export_csv(scope=…, reason=…) writes only matching rows."""
    import_csv(store, DATA / "postmark-suppressions.csv", now=NOW)
    out = io.StringIO()
    assert export_csv(store, out, reason="complaint") == 1
    assert "xavier@example.com" in out.getvalue()


def test_our_own_format_checks_reasons_and_dates(store: SuppressionStore) -> None:
    """In an acctpipe export, an unknown reason or an unreadable expiry is a bad row."""
    data = (
        "address,scope,reason,detail,created_at,updated_at,expires_at\n"
        "a@example.com,list:x,manual,,,,2027-01-01T00:00:00+00:00\n"
        "b@example.com,global,bored,,,,\n"
        "c@example.com,global,manual,,,,next tuesday\n"
        "d@example.com,nowhere,manual,,,,\n"
    )
    report = import_csv(store, io.BytesIO(data.encode()), format="acctpipe", now=NOW)
    assert report.added == 1
    assert [(n.line, n.message) for n in report.bad] == [
        (3, "unknown reason 'bored'"),
        (4, "unreadable time 'next tuesday'"),
        (5, "invalid scope 'nowhere': use global, domain:<sender domain> or list:<name>"),
    ]
    (row,) = store.get("a@example.com")
    assert (row.scope, row.expires_at) == ("list:x", datetime(2027, 1, 1, tzinfo=UTC))
    assert row.is_active(NOW)
    assert not row.is_active(datetime(2027, 1, 1, tzinfo=UTC))
    assert store.count(scope="list:x") == 1


FORMULAS = (
    "=cmd|'calc'!a0@example.com",
    "+1@example.com",
    "-x@example.com",
    "'=q@example.com",
)


def test_export_never_writes_a_formula_and_still_round_trips(
    store: SuppressionStore, tmp_path: Path
) -> None:
    """An address or detail a spreadsheet would run (=, +, -, @) is exported as quoted text
    behind a single quote, and importing the export gives back the same suppressions."""
    for address in FORMULAS:
        store.add(address, reason="manual", detail="@SUM(1+1)")
    out = io.StringIO()
    export_csv(store, out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))[1:]
    cells = [cell for row in rows for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "\"'=cmd|'calc'!a0@example.com\"" in out.getvalue()
    assert sorted(row[0] for row in rows) == sorted(
        ["'" + a for a in FORMULAS[:3]] + ["''=q@example.com"]
    )

    url = f"sqlite:///{tmp_path / 'copy.sqlite'}"
    migrate(url)
    engine = make_engine(url)
    try:
        copy = SuppressionStore(engine)
        report = import_csv(copy, io.BytesIO(out.getvalue().encode()))
        assert (report.added, report.bad_count) == (len(FORMULAS), 0)
        assert {(s.address, s.detail) for s in copy.iter_all()} == {
            (a, "@SUM(1+1)") for a in FORMULAS
        }
    finally:
        engine.dispose()


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="'=+-@\t\r\"a,\n ", max_size=8))
def test_the_formula_escape_is_reversible(cell: str) -> None:
    """Any text cell, escaped for spreadsheets, reads back as exactly that text."""
    line = csv_line([cell, Verbatim("-1")])
    parsed = next(csv.reader(io.StringIO(line, newline="")))
    assert parsed[1] == "-1"  # a number is never prefixed
    assert parsed[0][:1] not in ("=", "+", "-", "@", "\t", "\r")
    assert restore(parsed[0]) == cell
