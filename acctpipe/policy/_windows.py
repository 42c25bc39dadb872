"""Sliding-window counters whose memory depends on the window, never on the volume.

The controller must count "complaints per delivered over an hour" on a pair that
delivers 100 messages a second, so it cannot keep events. A :class:`Counts`
splits its window into :data:`RESOLUTION` buckets and keeps one integer per
bucket; counts are exact to one bucket (1/60 of the window) at the window's old
edge. A :class:`Sample` keeps the last few event ids, for evidence, and picks them
by the same buckets (:meth:`Counts.span`): the ids a decision lists are events it
counted, all of them whenever it counted no more than the sample holds.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from typing import Final

__all__ = ["RESOLUTION", "Counts", "Sample", "bucket_of", "pick"]

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

    def span(self, since: float, until: float, after: float = -math.inf) -> tuple[int, int]:
        """The buckets counted between ``since`` and ``until``: (first, last) indices.

        From the bucket holding ``since`` to the one holding ``until``. ``after`` is the
        time of the pair's last decision: the bucket holding it (and every older one)
        is left out, since its events may have come before the decision. Events timed
        after ``until`` (clock skew, bad rows) wait their turn.
        """
        first = bucket_of(since, self.width)
        if after > -math.inf:
            first = max(first, bucket_of(after, self.width) + 1)
        return first, bucket_of(until, self.width)

    def total(self, since: float, until: float, after: float = -math.inf) -> int:
        """Events in the buckets of :meth:`span`."""
        first, last = self.span(since, until, after)
        return sum(n for index, n in self.buckets.items() if first <= index <= last)

    def oldest(self, since: float, until: float) -> float | None:
        """The start of the oldest non-empty bucket between ``since`` and ``until``."""
        first, last = math.floor(since / self.width), math.floor(until / self.width)
        found = [index for index in self.buckets if first <= index <= last]
        return min(found) * self.width if found else None

    def prune(self, before: float) -> None:
        """Forget buckets that end before ``before``."""
        first = bucket_of(before, self.width)
        for index in [index for index in self.buckets if index < first]:
            del self.buckets[index]

    def __len__(self) -> int:
        return len(self.buckets)


def bucket_of(when: float, width: float) -> int:
    """The index of the bucket of ``width`` seconds that holds time ``when``."""
    return math.floor(when / width)


class Sample:
    """The ids of the newest ``size`` events counted, with their times and buckets.

    ``width`` is the bucket width of the :class:`Counts` these events went into, so
    a sample keeps and picks exactly the events that count keeps and totals.
    """

    __slots__ = ("items", "size", "width")

    def __init__(self, size: int, width: float) -> None:
        self.size = size
        self.width = width
        self.items: list[tuple[float, str]] = []  # sorted by time, newest last

    def add(self, when: float, event_id: str) -> None:
        """Remember one event; past ``size``, the oldest by time goes (not the first come:
        a late row must not push a newer one out)."""
        if not self.size:
            return
        bisect.insort(self.items, (when, event_id))
        if len(self.items) > self.size:
            del self.items[0]

    def prune(self, before: float) -> None:
        """Forget events in buckets that end before ``before`` (as :meth:`Counts.prune`)."""
        first = bucket_of(before, self.width)
        if self.items and bucket_of(self.items[0][0], self.width) < first:
            self.items = [i for i in self.items if bucket_of(i[0], self.width) >= first]

    def __len__(self) -> int:
        return len(self.items)


def pick(samples: Iterable[Sample], span: tuple[int, int], size: int) -> tuple[str, ...]:
    """The newest ``size`` ids in the buckets of ``span`` (:meth:`Counts.span`), oldest first."""
    first, last = span
    chosen = sorted(
        {item for s in samples for item in s.items if first <= bucket_of(item[0], s.width) <= last}
    )
    # max(): with fewer ids than ``size``, a bare len - size would slice from the end.
    return tuple(event_id for _, event_id in chosen[max(len(chosen) - size, 0) :]) if size else ()
