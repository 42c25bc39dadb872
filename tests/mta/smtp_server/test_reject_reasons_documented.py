"""Every reason the listener writes to the reject log is in docs/reject-log.md's table."""

from __future__ import annotations

import re

from tests._paths import ROOT as REPO

ROOT = REPO
# A reason written as a literal, or an f-string's text before its first {field}.
_REASON = re.compile(r'reason = f?"([^"{]+)|refuse\([^()]*?,\s*f?"([^"{]+)"?[^()]*\)', re.S)


def _reasons() -> set[str]:
    found: set[str] = set()
    for path in sorted((ROOT / "mta" / "smtp_server").glob("*.py")):
        for match in _REASON.finditer(path.read_text(encoding="utf-8")):
            text = (match.group(1) or match.group(2) or "").strip()
            if text and not text.startswith(("4", "5")):  # a reply, not a reason
                found.add(text)
    return found


def test_every_reject_reason_the_listener_writes_is_documented() -> None:
    """An operator reading a reject-log row finds its reason in docs/reject-log.md (the
    full-disk 'local storage' reason, AUTH lockouts and bad bytes were missing)."""
    doc = (ROOT / "docs" / "reject-log.md").read_text(encoding="utf-8")
    reasons = _reasons()
    assert len(reasons) >= 10
    assert sorted(r for r in reasons if r not in doc) == []
