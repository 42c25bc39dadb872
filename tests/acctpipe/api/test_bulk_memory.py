"""A bulk request never materialises its body, whatever its line lengths."""

from __future__ import annotations

import io

from acctpipe.api.bulk import _lines

_BODY = 2 * 1024 * 1024  # one "line" of 2 MiB: no newline anywhere
_MAX_LINE = 64 * 1024  # far beyond any real suppression row


def test_bulk_reader_never_yields_an_unbounded_line() -> None:
    """The bulk reader caps a line's length, so a body without newlines is not held whole."""
    body = io.BytesIO(b'{"address": "' + b"a" * _BODY + b'"}')
    lines = list(_lines(body))
    assert lines == [(1, None)]  # reported as one overlong line, never decoded whole
