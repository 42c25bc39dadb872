"""Query slots: how many reports and SQL queries run at once, in all and per API key."""

from __future__ import annotations

import threading
from collections import Counter

__all__ = ["QuerySlots"]


class QuerySlots:
    """``total`` slots; one key holds at most ``per_key`` of them, and never all of them.

    With two slots or more, a key's share is capped below the total, so one busy
    (or hostile) key always leaves a slot for the others.
    """

    def __init__(self, total: int, per_key: int) -> None:
        if total < 1 or per_key < 1:
            # A caller bug, not input (a plain ValueError): limits are constants.
            raise ValueError("total and per_key must be at least 1")
        self.total = total
        self.per_key = min(per_key, total - 1) if total > 1 else 1
        self._held: Counter[str] = Counter()
        self._lock = threading.Lock()

    def take(self, key: str) -> str | None:
        """Take a slot for ``key``; None on success, else why not (for a 429)."""
        with self._lock:
            if self._held[key] >= self.per_key:
                return f"this key already runs {self.per_key} queries (the most one key may)"
            if self._held.total() >= self.total:
                return f"{self.total} queries are running already"
            self._held[key] += 1
            return None

    def give(self, key: str) -> None:
        """Give back a slot ``key`` took."""
        with self._lock:
            self._held[key] -= 1
            if self._held[key] <= 0:
                del self._held[key]
