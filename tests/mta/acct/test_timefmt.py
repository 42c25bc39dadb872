"""PowerMTA accounting timestamps: written one way, read leniently, always aware."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mta.acct.timefmt import format_time, parse_time

INSTANT = datetime(2026, 11, 25, 7, 43, 47, tzinfo=UTC)


def test_format_is_powermtas() -> None:
    """An aware datetime is written as PowerMTA writes it: 2026-11-25 07:43:47+0000."""
    assert format_time(INSTANT) == "2026-11-25 07:43:47+0000"


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(hours=-5), "2026-11-25 02:43:47-0500"),
        (timedelta(hours=5, minutes=30), "2026-11-25 13:13:47+0530"),
        (timedelta(hours=-3, minutes=-30), "2026-11-25 04:13:47-0330"),
    ],
)
def test_format_keeps_the_local_offset(offset: timedelta, expected: str) -> None:
    """A datetime in another zone keeps its local time and its ±hhmm offset."""
    assert format_time(INSTANT.astimezone(timezone(offset))) == expected


def test_format_drops_fractions_of_a_second() -> None:
    """Microseconds are dropped: PowerMTA logs whole seconds."""
    assert format_time(INSTANT.replace(microsecond=999_999)) == "2026-11-25 07:43:47+0000"


def test_format_converts_offsets_with_seconds_to_utc() -> None:
    """An offset that ±hhmm cannot express is written in UTC, so the instant is kept."""
    odd = INSTANT.astimezone(timezone(timedelta(minutes=20, seconds=30)))
    assert format_time(odd) == "2026-11-25 07:43:47+0000"


def test_format_refuses_naive_datetimes() -> None:
    """A naive datetime is refused: its instant is unknown."""
    with pytest.raises(ValueError, match="naive"):
        format_time(datetime(2026, 11, 25, 7, 43, 47))  # noqa: DTZ001 - the point of the test


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-25 07:43:47+0000",
        "2026-11-25 02:43:47-0500",
        "2026-11-25T07:43:47Z",
        "2026-11-25T07:43:47z",
        "2026-11-25T07:43:47+00:00",
        "2026-11-25T09:43:47+02",
        "2026-11-25 13:13:47+05:30",
        "2026-11-25 07:43:47 +0000",
        "1795592627",
        "  2026-11-25 07:43:47+0000\r\n",
    ],
)
def test_parse_accepts_every_documented_form(text: str) -> None:
    """PowerMTA, ISO 8601 and UNIX time_t forms all parse to the same aware instant."""
    parsed = parse_time(text)
    assert parsed.utcoffset() is not None
    assert parsed == INSTANT


def test_parse_keeps_the_written_offset() -> None:
    """A parsed timestamp keeps the offset it was written with."""
    assert parse_time("2026-11-25 02:43:47-0500").utcoffset() == timedelta(hours=-5)


def test_parse_time_t_is_utc() -> None:
    """An old-style UNIX time_t is returned in UTC."""
    assert parse_time("1795592627").tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("2026-11-25T07:43:47.5Z", 500_000),
        ("2026-11-25T07:43:47,25+00:00", 250_000),
        ("2026-11-25 07:43:47.123456789+0000", 123_456),
    ],
)
def test_parse_fractional_seconds(text: str, micros: int) -> None:
    """Fractional seconds (dot or comma, up to nanoseconds) become microseconds."""
    assert parse_time(text) == INSTANT.replace(microsecond=micros)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is not"),
        ("yesterday", "is not"),
        ("2026-11-25", "is not"),
        ("2026-11-25 07:43:47", "no UTC offset"),
        ("2026-13-25 07:43:47+0000", "not a valid date"),
        ("2026-11-25 24:00:00+0000", "not a valid date"),
        ("2026-11-25 07:43:47+2400", "not a valid date"),
        ("2026-11-25 07:43:47+0075", "not a valid date"),
        ("999999999999", "out of range"),
        ("-5", "is not"),
    ],
)
def test_parse_rejects_bad_text_clearly(text: str, message: str) -> None:
    """Bad timestamp text raises ValueError quoting the text and saying what is wrong."""
    with pytest.raises(ValueError, match=message) as info:
        parse_time(text)
    assert repr(text) in str(info.value)


@pytest.mark.slow
@given(
    st.datetimes(
        min_value=datetime(1970, 1, 2),  # noqa: DTZ001 - hypothesis bounds are naive
        max_value=datetime(9998, 12, 31),  # noqa: DTZ001
        timezones=st.builds(
            timezone, st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timedelta(minutes=m))
        ),
    )
)
def test_format_then_parse_gives_the_same_instant(value: datetime) -> None:
    """Any aware datetime survives writing and reading, to the second, offset included."""
    parsed = parse_time(format_time(value))
    assert parsed == value.replace(microsecond=0)
    assert parsed.utcoffset() == value.utcoffset()
