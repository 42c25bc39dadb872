"""Write PowerMTA accounting records (sans-IO encoder plus a tiny stream adapter).

The output is what PowerMTA writes: RFC 4180 CSV in UTF-8, CRLF after every
record, a header row naming the configured fields with ``type`` first, and an
empty value for every field a record does not carry. Rotation and fsync
belong to the MTA that owns the file, not to this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import BinaryIO, Final

from mta.acct._csvcore import encode_row
from mta.acct.fields import is_known_field, is_record_type
from mta.acct.timefmt import format_time
from mta.errors import ConfigError

__all__ = ["AccountingEncoder", "AccountingWriter"]


class AccountingEncoder:
    """Turn record mappings into accounting-file bytes for a fixed field list.

    ``fields`` is the file's header (for several record types, the
    :func:`~mta.acct.fields.union_fields` of their lists). ``type`` is moved
    to the front, or added there if missing. An unknown field name raises
    :class:`~mta.errors.ConfigError` naming it; ``header_<Name>`` is accepted.
    """

    def __init__(self, fields: Sequence[str]) -> None:
        names: list[str] = ["type"]
        for name in fields:
            if name == "type":
                continue
            if not is_known_field(name):
                raise ConfigError(f"unknown accounting field {name!r}", section="acct-file")
            if name in names:
                raise ConfigError(f"accounting field {name!r} is listed twice", section="acct-file")
            names.append(name)
        self._fields: tuple[str, ...] = tuple(names)

    @property
    def fields(self) -> tuple[str, ...]:
        """The header, ``type`` first: the column order of every encoded record."""
        return self._fields

    def header(self) -> bytes:
        """Return the header row, CRLF-terminated."""
        return encode_row(list(self._fields))

    def encode(self, record: Mapping[str, object]) -> bytes:
        """Encode one record; keys outside the field list are dropped, as PowerMTA does.

        Values may be ``str``, ``int``, an aware ``datetime`` (written as
        ``2026-11-25 07:43:47+0000``) or ``None`` (empty). ``type`` must be a
        known record type. Raises :class:`ValueError` for a bad type or a
        naive datetime and :class:`TypeError` for any other value type.
        """
        kind = record.get("type")
        if not isinstance(kind, str) or not is_record_type(kind):
            # A caller bug, not input (a plain ValueError): a Literal, checked by mypy.
            raise ValueError(f"record type {kind!r} is not one of PowerMTA's record types")
        values = [_render(name, record.get(name)) for name in self._fields]
        line = ",".join(values)
        # One scan of the joined row instead of one per field: it needs no quoting
        # when it holds no quote, CR or LF and only the separating commas.
        if line.count(",") == len(values) - 1 and _PLAIN.isdisjoint(line):
            return (line + "\r\n").encode("utf-8")
        return encode_row(values)


_PLAIN: Final = frozenset('"\r\n')


def _render(name: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    # bool is an int subclass; "True" is not a PowerMTA value, so refuse it.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, datetime):
        return format_time(value)
    raise TypeError(f"field {name!r}: cannot write a {type(value).__name__} value")


class AccountingWriter:
    """Append encoded records to a binary stream, with the header once at the top.

    The header is written at construction when the stream is at position 0
    (or cannot tell its position, like a pipe); call :meth:`write_header`
    when the field list changes mid-file, as PowerMTA does.
    """

    def __init__(self, stream: BinaryIO, fields: Sequence[str]) -> None:
        self._stream = stream
        self._encoder = AccountingEncoder(fields)
        try:
            at_start = stream.tell() == 0
        except OSError:  # io.UnsupportedOperation: a pipe or socket starts a new file
            at_start = True
        if at_start:
            self.write_header()

    @property
    def encoder(self) -> AccountingEncoder:
        """The encoder this writer uses (its ``fields`` are the file's header)."""
        return self._encoder

    def write_header(self) -> None:
        """Write the header row at the current position."""
        self._stream.write(self._encoder.header())

    def write(self, record: Mapping[str, object]) -> int:
        """Encode and write one record; return the number of bytes written."""
        data = self._encoder.encode(record)
        self._stream.write(data)
        return len(data)
