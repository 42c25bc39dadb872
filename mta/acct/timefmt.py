"""PowerMTA accounting timestamps.

PowerMTA writes ``YYYY-MM-DD HH:MM:SS±hhmm`` (``2026-11-25 07:43:47+0000``);
older versions wrote UNIX ``time_t`` integers (``1795592627``). We write the
first form and read both, plus the ISO 8601 forms other tools produce
(``2026-11-25T07:43:47Z``, ``…+00:00``, fractional seconds).

A timestamp without a UTC offset is refused rather than guessed: the tailer
compares instants across files and hosts, and a wrong guess is silent.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from mta.errors import InvalidValueError

__all__ = ["format_time", "parse_time"]

# Deliberately lenient superset of PowerMTA's form and RFC 3339 section 5.6:
#   date-time  = full-date ("T" / " ") partial-time [time-secfrac] time-offset
#   time-offset = "Z" / ("+" / "-") hh [[":"] mm]    ; RFC 3339 needs ":mm", PowerMTA writes "hhmm"
#   time-secfrac = ("." / ",") 1*DIGIT               ; ISO 8601 also allows ","
_TIMESTAMP = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[Tt ]"
    r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})"
    r"(?:[.,](?P<fraction>\d{1,9}))?"
    r" ?(?P<offset>[Zz]|[+-]\d{2}(?::?\d{2})?)?"
)
_TIME_T = re.compile(r"\d{1,12}")


def format_time(value: datetime) -> str:
    """Render an aware datetime as PowerMTA does: ``2026-11-25 07:43:47+0000``.

    Fractions of a second are dropped (PowerMTA logs whole seconds). A naive
    datetime raises :class:`ValueError`: its instant is unknown.
    """
    offset = value.utcoffset()
    if offset is None:
        # A caller bug, not input (a plain ValueError): every timestamp we write is made aware.
        raise ValueError(f"refusing naive datetime {value.isoformat()}: give it a tzinfo")
    if offset % timedelta(minutes=1):
        # ±hhmm cannot carry seconds; UTC keeps the instant exact.
        value, offset = value.astimezone(UTC), timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(offset) // timedelta(minutes=1)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
        f"{sign}{minutes // 60:02d}{minutes % 60:02d}"
    )


def parse_time(text: str) -> datetime:
    """Parse an accounting timestamp into an aware datetime.

    Accepts PowerMTA's ``2026-11-25 07:43:47+0000``, ISO 8601 with ``T``,
    ``±hh:mm``, ``±hh`` or ``Z`` and fractional seconds, and UNIX ``time_t``
    integers (returned in UTC). Anything else, including a timestamp without
    an offset, raises :class:`ValueError` naming the text.
    """
    stripped = text.strip()
    if _TIME_T.fullmatch(stripped):
        try:
            return datetime.fromtimestamp(int(stripped), tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise InvalidValueError(f"timestamp {text!r} is out of range: {exc}") from None
    match = _TIMESTAMP.fullmatch(stripped)
    if match is None:
        raise InvalidValueError(
            f"timestamp {text!r} is not 'YYYY-MM-DD HH:MM:SS+hhmm', ISO 8601 or a UNIX time"
        )
    if match["offset"] is None:
        raise InvalidValueError(f"timestamp {text!r} has no UTC offset; refusing to guess one")
    try:
        return datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            int((match["fraction"] or "0")[:6].ljust(6, "0")),
            tzinfo=_parse_offset(match["offset"]),
        )
    except ValueError as exc:
        raise InvalidValueError(f"timestamp {text!r} is not a valid date and time: {exc}") from None


def _parse_offset(text: str) -> timezone:
    if text in ("Z", "z"):
        return UTC
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or "0")
    if minutes >= 60:
        raise InvalidValueError(f"offset minutes {minutes} out of range")
    delta = timedelta(hours=hours, minutes=minutes)
    # timezone() itself refuses offsets of 24 hours or more.
    return timezone(-delta if text[0] == "-" else delta)
