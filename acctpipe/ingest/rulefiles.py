"""User rule files that are re-read when they change, without a restart.

``acctpipe tail --rules FILE`` classifies with the built-in table behind the user's
files. :class:`RuleFiles` notes each file's size and modification time; :meth:`refresh`
(called between tail passes) rebuilds the table when one changed and swaps it in whole.
A file that no longer loads keeps the table that was running, and its problem is
logged once, as one line naming the file and line, until the file changes again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from classifiers import RuleError, RuleTable, RuleText, load_rules

__all__ = ["RuleFiles"]

_LOG = logging.getLogger(__name__)

Signature = tuple[tuple[int, int] | None, ...]


class RuleFiles:
    """The table built from ``paths`` (in order) then the defaults, kept current."""

    def __init__(self, paths: Sequence[Path]) -> None:
        """Load ``paths`` now; raise :class:`~classifiers.RuleError` or OSError if one fails."""
        self.paths = tuple(paths)
        self._seen = self._signature()
        self.table: RuleTable = self._load()

    def _signature(self) -> Signature:
        found: list[tuple[int, int] | None] = []
        for path in self.paths:
            try:
                info = path.stat()
            except OSError:
                found.append(None)
            else:
                found.append((info.st_mtime_ns, info.st_size))
        return tuple(found)

    def _load(self) -> RuleTable:
        texts = [RuleText(str(p), p.read_text(encoding="utf-8")) for p in self.paths]
        return load_rules(*texts)

    def refresh(self) -> bool:
        """Reload if a file changed since the last look; True when a new table is in force."""
        now = self._signature()
        if now == self._seen:
            return False
        # Noted before loading: a broken file is reported once, not at every pass.
        self._seen = now
        try:
            table = self._load()
        except (RuleError, OSError, UnicodeDecodeError) as exc:
            _LOG.error("rule files not reloaded, the running table is kept: %s", exc)
            return False
        self.table = table
        _LOG.info("rule files reloaded: %d rules", len(table))
        return True
