"""The ESP formats read by index equal each row read through its format's mapping reader."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acctpipe.sqlstore import make_engine
from acctpipe.sqlstore.suppressions import SuppressionStore
from acctpipe.sqlstore.suppressions._fasttime import fast_time
from acctpipe.sqlstore.suppressions._formats import parse_time
from acctpipe.sqlstore.suppressions.bulkwrite import AddRow
from acctpipe.sqlstore.suppressions.csvio import ImportReport, _Import, _text
from benchmarks import _esp_exports as esp_exports

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

TIMES = [
    "",
    " ",
    "1700000000",
    "1700000000123",
    "1700000000.5",
    "٣٤٥",
    "17²",
    "9" * 16,
    "9" * 30,
    "2023-11-14T22:13:20.000Z",
    "2023-11-14T22:13:20Z",
    "2023-11-14 22:16:40",
    "2023-11-14",
    "2023-11-14T22:13:20+05:30",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "Tue, 14 Nov 2023 22:13:20 UTC",
    "Tue, 14 Nov 2023 22:13:20 GMT",
    "14 Nov 2023 22:13:20 +0130",
    "Tue, 14 nov 2023 22:13:20 -0000",
    "Tue, 14 Nov 0050 22:13:20 UTC",
    "Tue, 14 Nov 23 22:13:20 UTC",
    "Tue, 31 Feb 2023 22:13:20 UTC",
    "Tue, 14 Nov 2023 25:13:20 UTC",
    "Tue, 14 Nov 2023 22:13:20 +9999",
    "Tue, 14 Nov 2023 22:13:20 EST",
    "Xyz, 14 Nov 2023 22:13:20 UTC",
    "not a date",
]
ADDRESSES = [
    "john@example.com",
    "John@Example.COM",
    "  spaced@example.com ",
    "<jane@example.com>",
    "jürgen@bücher.example",
    '"quoted,comma"@example.com',
    "'=cmd@example.com",
    "heidi@@example.com",
    "not an address",
    "",
]
REPLIES = [
    "550 5.1.1 user unknown",
    "550 5.1.1 The email account that you tried to reach does not exist.",
    "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
    "550 5.7.1 Message rejected as spam",
    "421 4.7.0 Try again later",
    "No such mailbox",
    "",
    "  550\tsplit  text ",
]
WORDS = {
    "reason": [
        "BOUNCE",
        "complaint",
        " Complaint ",
        "UNSUBSCRIBE",
        "hard-bounce",
        "manual",
        "HardBounce",
        "SpamComplaint",
        "ManualSuppression",
        "SoftBounce",
        "Haunted",
        "",
        *REPLIES,
    ],
    "status": ["5.1.1", "5.7.1", "4.2.2", "", "5.1.8 (sender)"],
    "code": ["550", "554", "", "421"],
    "origin": ["Recipient", "Customer", "Admin", ""],
    "tags": ["*", "", "newsletter", "=SUM(A1)"],
    "scope": ["global", "", "domain:News.Example.org", "domain:", "bogus:x", "'=x"],
    "ip": ["192.0.2.9", ""],
    "detail": ["", "imported", "'=formula", " padded "],
}
HEADERS = [
    ["address", "scope", "reason", "detail", "created_at", "updated_at", "expires_at"],
    ["EmailAddress", "Reason", "LastUpdateTime"],
    ["email", "created", "ip"],
    ["email", "created", "reason", "status"],
    ["email", "created"],
    ["address", "code", "error", "created_at"],
    ["address", "tags", "created_at"],
    ["address", "created_at"],
    ["EmailAddress", "SuppressionReason", "Origin", "CreatedAt"],
    ["Recipient", "Type", "BouncedAt", "Email", "Reason"],
    ["email", "name"],
    ["Email", "email", "Reason"],  # a repeated key reads its last column
]


@dataclass(slots=True)
class _Collect(_Import):
    """An import that keeps its batches instead of writing them."""

    rows: list[AddRow] = field(default_factory=list)

    def _flush(self, pending: list[AddRow], report: ImportReport) -> None:
        self.rows.extend(pending)


def _read(
    store: SuppressionStore, data: bytes, *, careful: bool, name: str, **kw: object
) -> tuple[ImportReport, list[AddRow]]:
    job = _Collect(store=store, now=NOW, careful=careful, **kw)  # type: ignore[arg-type]
    job.name = name
    with _text(io.BytesIO(data), None) as text:
        report = job.run(iter(text), "auto", 7)
    return report, job.rows


def _cell(key: str) -> st.SearchStrategy[str]:
    norm = key.lower().replace("_", "")
    if norm in ("email", "emailaddress", "address", "recipient"):
        return st.sampled_from(ADDRESSES)
    if norm in ("created", "createdat", "lastupdatetime", "bouncedat", "expiresat", "updatedat"):
        return st.sampled_from(TIMES)
    choices = WORDS.get(
        norm, WORDS["reason"] if norm in ("type", "suppressionreason", "error") else [""]
    )
    return st.one_of(st.sampled_from(choices), st.text(max_size=12))


@st.composite
def _files(draw: st.DrawFn) -> tuple[bytes, str]:
    header = draw(st.sampled_from(HEADERS))
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    out = io.StringIO()
    quote_all = draw(st.booleans())
    writer = csv.writer(
        out,
        delimiter=delimiter,
        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
        lineterminator="\n",
    )
    writer.writerow(header)
    for _ in range(draw(st.integers(0, 25))):
        row = [draw(_cell(k)) for k in header]
        shape = draw(st.sampled_from(["full", "short", "long", "blank"]))
        if shape == "short":
            row = row[: draw(st.integers(0, len(row)))]
        elif shape == "long":
            row.append("extra")
        elif shape == "blank":
            row = [""] * len(row)
        writer.writerow(row)
    bom = "\ufeff" if draw(st.booleans()) else ""
    return (bom + out.getvalue()).encode(), draw(st.sampled_from(["", "list.csv"]))


@pytest.fixture(scope="module")
def store() -> SuppressionStore:
    """A store for its normaliser only (nothing is written, so one backend will do)."""
    return SuppressionStore(make_engine("sqlite://"))


@pytest.mark.slow
@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    file=_files(),
    options=st.sampled_from(
        [{}, {"fixed_scope": "domain:x.example", "reason": None}, {"reason": "complaint"}]
    ),
)
def test_each_format_reads_fast_as_it_reads_row_by_row(
    store: SuppressionStore, file: tuple[bytes, str], options: dict[str, object]
) -> None:
    """Every format, over odd dates, unknown reasons, spam-class replies, blank and short
    rows, separators, quoting and a BOM: the same rows, counts and line-numbered notes."""
    data, name = file
    kw = {"fixed_scope": None, "reason": None, **options}
    careful = _read(store, data, careful=True, name=name, **kw)
    fast = _read(store, data, careful=False, name=name, **kw)
    assert fast == careful


@given(st.one_of(st.sampled_from(TIMES), st.text(max_size=40), st.datetimes().map(str)))
def test_fast_time_is_parse_time(text: str) -> None:
    """Every time string gives parse_time's datetime or its error, message and all."""

    def outcome(parse: object) -> object:
        try:
            return parse(text)  # type: ignore[operator]
        except ValueError as error:
            return type(error), str(error)

    assert outcome(fast_time) == outcome(parse_time)


@given(st.datetimes(timezones=st.just(UTC)), st.sampled_from(["UTC", "GMT", "+0000", "-0730"]))
def test_rfc2822_times_as_esps_write_them(when: datetime, zone: str) -> None:
    """Mailgun-style dates (any day, any year) read as email.utils reads them."""
    text = when.strftime(f"%a, %d %b %Y %H:%M:%S {zone}")
    assert fast_time(text) == parse_time(text)


def _generated(name: str, rows: int) -> Iterator[bytes]:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(esp_exports.rows(name, rows))
    yield out.getvalue().encode()


@pytest.mark.parametrize("name", sorted(esp_exports.FORMATS))
def test_generated_exports_read_alike(store: SuppressionStore, name: str) -> None:
    """The benchmark's ESP-shaped files: the fast reading is the careful one."""
    (data,) = _generated(name, 2000)
    careful = _read(store, data, careful=True, name="x.csv", fixed_scope=None, reason=None)
    fast = _read(store, data, careful=False, name="x.csv", fixed_scope=None, reason=None)
    assert fast == careful
    assert careful[0].rows == 2000
