"""Column types that behave the same on SQLite and PostgreSQL.

* :class:`UTCDateTime` — timezone-aware in, timezone-aware (UTC) out. PostgreSQL
  stores ``timestamptz``; SQLite has no time zones, so the value is converted to
  UTC and stored naive (ISO text, which sorts like the instant it names).
  A naive datetime is refused: guessing its zone is how timestamps go wrong.
* :data:`JSON_VALUE` — JSON on SQLite, JSONB on PostgreSQL.
* :data:`BIG_ID` — a 64-bit id on PostgreSQL; on SQLite the ``INTEGER`` that
  aliases the rowid (a ``BIGINT`` column would not auto-increment there).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["BIG_ID", "JSON_VALUE", "UTCDateTime"]

JSON_VALUE: Final[TypeEngine[Any]] = JSON().with_variant(JSONB(), "postgresql")
BIG_ID: Final[TypeEngine[int]] = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, returned in UTC on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive values; store UTC (naive on SQLite, aware elsewhere)."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            # A caller bug, not input (a plain ValueError): the stores write aware datetimes only.
            raise ValueError(f"naive datetime {value.isoformat()}: give it a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to what SQLite returns; convert what PostgreSQL returns to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
