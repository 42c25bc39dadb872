"""The reject log's kinds and reasons (mta.acct.rejectlog) are the ones docs/reject-log.md lists."""

from __future__ import annotations

import re
from typing import get_args

from mta.acct.rejectlog import REJECT_KINDS, REJECT_REASONS, RejectReason, reject_reason
from tests._paths import ROOT


def _reasons_table() -> list[tuple[list[str], list[str]]]:
    """(stages, backticked reason texts) of each row of the "Reasons" table."""
    doc = (ROOT / "docs" / "reject-log.md").read_text(encoding="utf-8")
    section = doc.split("### Reasons", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 3 or cells[0] in ("stage", "---"):
            continue
        stages = [s.strip() for s in cells[0].split(",")]
        # `… for user NAME` and `(<source X>)` continue the reason before them.
        texts = [t for t in re.findall(r"`([^`]+)`", cells[1]) if not t.startswith(("…", "("))]
        rows.append((stages, texts))
    return rows


def _key(text: str) -> str | None:
    """The reason ``text`` starts with (a whole word of it), the longest if several do."""
    found = [r for r in REJECT_REASONS if text == r or text.startswith(r + " ")]
    return max(found, key=len) if found else None


def test_every_reject_reason_is_in_the_documented_table_and_nothing_else() -> None:
    """An operator reading a reject-log row finds its reason in docs/reject-log.md, and
    the table lists no reason the listener cannot write."""
    texts = [t for _, row in _reasons_table() for t in row]
    assert [t for t in texts if _key(t) is None] == []
    assert {_key(t) for t in texts} == set(get_args(RejectReason))


def test_the_reasons_table_names_every_reject_log_stage() -> None:
    """The stages in the reasons table are exactly the ``records`` a reject log can pick."""
    stages = {s for row, _ in _reasons_table() for s in row}
    assert stages == set(REJECT_KINDS)


def test_a_reason_cell_is_the_check_then_its_particulars() -> None:
    """A reason is written as the check that refused, then what it found, after a space."""
    assert reject_reason("too many recipients") == "too many recipients"
    assert reject_reason("max-smtp-in", "10 (<source x>)") == "max-smtp-in 10 (<source x>)"
    assert reject_reason("local error:", "disk full") == "local error: disk full"
