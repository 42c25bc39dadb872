"""The byte-level DSN fast path gives exactly what the full MIME parser gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifiers import message
from classifiers._fastdsn import fast_dsn

MAIL = Path(__file__).resolve().parents[1] / "data" / "mail"
SAMPLES = sorted(MAIL.rglob("*.eml"))


@pytest.mark.parametrize("path", SAMPLES, ids=[str(p.relative_to(MAIL)) for p in SAMPLES])
def test_fast_path_agrees_with_full_parser(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the fast path answers, its report equals the full parser's, field for field."""
    data = path.read_bytes()
    fast = fast_dsn(data, None)
    monkeypatch.setattr(message, "fast_dsn", lambda _data, _table: None)
    slow = message.classify_message(data)
    if fast is not None:
        assert fast == slow


def test_fast_path_covers_most_standard_dsns() -> None:
    """Plain RFC 3464 DSNs (the bulk of returned mail) take the fast path."""
    dsns = [p for p in SAMPLES if p.parent.name.startswith("dsn-")]
    taken = sum(fast_dsn(p.read_bytes(), None) is not None for p in dsns)
    assert taken >= 0.8 * len(dsns)
