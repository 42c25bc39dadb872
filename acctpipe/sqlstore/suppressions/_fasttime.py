"""parse_time for many rows: the same datetime or the same error, without its slow steps.

:func:`acctpipe.sqlstore.suppressions._formats.parse_time` is the specification. An
ESP export repeats its time format on every row, so :func:`fast_time` tries the
common forms directly and hands anything else to ``parse_time`` itself:

* digits only (epoch seconds or ms): ``str.isdecimal`` is exactly the ``\\d+`` the
  specification matches; the arithmetic is the same;
* ISO 8601: ``datetime.fromisoformat`` first, as the specification does;
* RFC 2822 as ESPs write it (``Tue, 14 Nov 2023 22:13:20 UTC``, RFC 5322 section
  3.3's ``[day-of-week ","] date time zone`` with a ``UTC``/``GMT``/``±hhmm`` zone):
  fields read by one regex and the datetime built from them, what
  ``email.utils.parsedate_to_datetime`` gives for these forms. A date out of range
  (31 February) goes to the specification for its error.

A test checks that every result, and every error message, equals parse_time's.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

from acctpipe.sqlstore.suppressions._formats import parse_time

__all__ = ["fast_time"]

_MONTHS: Final = {
    m: i + 1
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}
_DAYS: Final = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), "
# date-time = [ day-of-week "," ] date time ; date = day month year ; time = hh:mm:ss zone
_RFC2822: Final = re.compile(
    rf"(?:{_DAYS})?([0-9]{{1,2}}) ([A-Za-z]{{3}}) ([0-9]{{4}}) "
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}) (UTC|GMT|[+-][0-9]{4})"
)


def _rfc2822(value: str) -> datetime | None:
    found = _RFC2822.fullmatch(value)
    if found is None:
        return None
    day, month, year, hour, minute, second, zone = found.groups()
    number = _MONTHS.get(month.lower())
    # -0000 means "no zone" (naive in email.utils); email.utils reads a year below 100
    # as two digits (50 -> 2050): both left to the specification.
    if number is None or zone == "-0000" or int(year) < 100:
        return None
    try:
        if zone in ("UTC", "GMT"):
            tz = UTC
        else:
            minutes = int(zone[1:3]) * 60 + int(zone[3:])
            tz = timezone(timedelta(minutes=-minutes if zone[0] == "-" else minutes))
        when = datetime(int(year), number, int(day), int(hour), int(minute), int(second), 0, tz)
        return when.astimezone(UTC)
    except (ValueError, OverflowError):
        return None  # the specification says what is wrong


def fast_time(text: str) -> datetime | None:
    """:func:`parse_time` of ``text``: the same result, or the same exception."""
    value = text.strip()
    if not value:
        return None
    try:
        if value.isdecimal():
            seconds = float(value)
            return datetime.fromtimestamp(seconds / 1000 if seconds > 1e11 else seconds, UTC)
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            found = _rfc2822(value)
            return parse_time(text) if found is None else found
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError:
        return parse_time(text)  # its error
