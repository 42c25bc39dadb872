"""What the writer writes, the reader reads back unchanged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mta.acct.fields import DEFAULT_HEADER, RECORD_TYPES, RecordType
from mta.acct.reader import AccountingDecoder, Header, Row
from mta.acct.timefmt import parse_time
from mta.acct.writer import AccountingEncoder

from ._feeding import feed_chunks, random_splits

VALUE_FIELDS = DEFAULT_HEADER[1:]

# Arbitrary text, with the characters that matter to CSV made frequent.
texts = st.text(
    alphabet=st.one_of(
        st.sampled_from([",", '"', "\r", "\n", " ", "\u00e9", "\u20ac", "\U0001f4e7"]),
        st.characters(codec="utf-8"),
    ),
    max_size=40,
)
records = st.fixed_dictionaries(
    {"type": st.sampled_from(RECORD_TYPES)},
    optional=dict.fromkeys(VALUE_FIELDS, texts),
)


def test_a_typical_record_round_trips() -> None:
    """A delivered record with a timestamp, a size and a quoted list reads back as written."""
    encoder = AccountingEncoder(DEFAULT_HEADER)
    when = datetime(2026, 11, 25, 7, 43, 47, tzinfo=UTC)
    record: dict[str, object] = {
        "type": "d",
        "timeLogged": when,
        "rcpt": "ann@example.net",
        "dlvSize": 18342,
        "dlvEsmtpAvailable": "PIPELINING,SIZE",
    }
    events = feed_chunks(AccountingDecoder(), [encoder.header() + encoder.encode(record)])
    row = events[1]
    assert isinstance(row, Row)
    assert row.type == "d"
    assert parse_time(row.fields["timeLogged"]) == when
    assert row.fields["dlvSize"] == "18342"
    assert row.fields["dlvEsmtpAvailable"] == "PIPELINING,SIZE"
    assert row.fields["bounceCat"] == ""


@pytest.mark.slow
@given(st.lists(records, min_size=1, max_size=8), st.integers(0, 2**16))
def test_any_text_values_round_trip_exactly(batch: list[dict[str, str]], seed: int) -> None:
    """Any text — commas, quotes, CR, LF, non-ASCII — reads back exactly, however it is chunked."""
    encoder = AccountingEncoder(DEFAULT_HEADER)
    data = encoder.header() + b"".join(encoder.encode(r) for r in batch)
    events = feed_chunks(AccountingDecoder(), random_splits(data, seed))
    assert isinstance(events[0], Header)
    got = events[1:]
    assert all(isinstance(e, Row) for e in got)
    expected = [{name: r.get(name, "") for name in DEFAULT_HEADER} for r in batch]
    assert [e.fields for e in got if isinstance(e, Row)] == expected
    assert sum(e.length for e in events) == len(data)


@pytest.mark.slow
@given(st.sampled_from(RECORD_TYPES), texts, texts)
def test_a_custom_field_list_round_trips(kind: RecordType, rcpt: str, campaign: str) -> None:
    """A configured subset with a header_ column round-trips in that column order."""
    encoder = AccountingEncoder(["rcpt", "header_X-Campaign"])
    data = encoder.header() + encoder.encode(
        {"type": kind, "rcpt": rcpt, "header_X-Campaign": campaign}
    )
    (header, row) = feed_chunks(AccountingDecoder(), [data])
    assert header == Header(0, len(encoder.header()), ("type", "rcpt", "header_X-Campaign"))
    assert row == Row(
        len(encoder.header()),
        len(data) - len(encoder.header()),
        kind,
        {"type": kind, "rcpt": rcpt, "header_X-Campaign": campaign},
    )
