"""Sliding-window counters whose memory depends on the window, never on the volume.

The controller must count "complaints per delivered over an hour" on a pair that
delivers 100 messages a second, so it cannot keep events. A :class:`Counts`
splits its window into :data:`RESOLUTION` buckets and keeps one integer per
bucket; counts are exact to one bucket (1/60 of the window) at the window's old
edge. A :class:`Sample` keeps the last few event ids, for evidence.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import Final

__all__ = ["RESOLUTION", "Counts", "Sample", "pick"]

RESOLUTION: Final = 60
# Buckets kept at most: two windows' worth. Beyond that the oldest goes first, so a
# burst of out-of-order old rows cannot grow a counter.
MAX_BUCKETS: Final = 2 * RESOLUTION + 2


class Counts:
    """Events per time bucket over a window of ``window`` seconds (times in epoch seconds)."""

    __slots__ = ("buckets", "width")

    def __init__(self, window: float) -> None:
        self.width = window / RESOLUTION
        self.buckets: dict[int, int] = {}

    def add(self, when: float, n: int = 1) -> None:
        """Count ``n`` events at ``when``."""
        index = math.floor(when / self.width)
        self.buckets[index] = self.buckets.get(index, 0) + n
        if len(self.buckets) > MAX_BUCKETS:
            del self.buckets[min(self.buckets)]

    def total(self, since: float, until: float, after: float = -math.inf) -> int:
        """Events from the bucket holding ``since`` to the one holding ``until``.

        ``after`` is the time of the pair's last decision: the bucket holding it (and
        every older one) is left out, since its events may have come before the
        decision. Events timed after ``until`` (clock skew, bad rows) wait their turn.
        """
        first = math.floor(since / self.width)
        if after > -math.inf:
            first = max(first, math.floor(after / self.width) + 1)
        last = math.floor(until / self.width)
        return sum(n for index, n in self.buckets.items() if first <= index <= last)

    def oldest(self, since: float, until: float) -> float | None:
        """The start of the oldest non-empty bucket between ``since`` and ``until``."""
        first, last = math.floor(since / self.width), math.floor(until / self.width)
        found = [index for index in self.buckets if first <= index <= last]
        return min(found) * self.width if found else None

    def prune(self, before: float) -> None:
        """Forget buckets that end before ``before``."""
        first = math.floor(before / self.width)
        for index in [index for index in self.buckets if index < first]:
            del self.buckets[index]

    def __len__(self) -> int:
        return len(self.buckets)


class Sample:
    """The ids of the last ``size`` events counted, with their times."""

    __slots__ = ("items",)

    def __init__(self, size: int) -> None:
        self.items: deque[tuple[float, str]] = deque(maxlen=size)

    def add(self, when: float, event_id: str) -> None:
        """Remember one event (the oldest remembered one goes when full)."""
        self.items.append((when, event_id))

    def prune(self, before: float) -> None:
        """Forget events older than ``before``."""
        if self.items and self.items[0][0] < before:
            self.items = deque((i for i in self.items if i[0] >= before), self.items.maxlen)

    def __len__(self) -> int:
        return len(self.items)


def pick(
    samples: Iterable[Sample], since: float, until: float, after: float, size: int
) -> tuple[str, ...]:
    """The newest ``size`` ids timed in [``since``, ``until``] and after ``after``, oldest first."""
    chosen = sorted(
        {item for s in samples for item in s.items if since <= item[0] <= until and item[0] > after}
    )
    return tuple(event_id for _, event_id in chosen[len(chosen) - size :]) if size else ()
