"""Feed a stream decoder the same bytes in different chunkings (STYLE rule 10)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

T_co = TypeVar("T_co", covariant=True)


class StreamDecoder(Protocol[T_co]):
    """What the accounting and reject-log decoders have in common."""

    def feed(self, chunk: bytes) -> Sequence[T_co]: ...

    def close(self) -> Sequence[T_co]: ...


def feed_chunks(decoder: StreamDecoder[T_co], chunks: Sequence[bytes]) -> list[T_co]:
    """Feed every chunk, then close; return all events in order."""
    events: list[T_co] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return events


def whole(data: bytes) -> list[bytes]:
    """The input as one chunk."""
    return [data]


def bytewise(data: bytes) -> list[bytes]:
    """The input one byte at a time."""
    return [data[i : i + 1] for i in range(len(data))]


def random_splits(data: bytes, seed: int) -> list[bytes]:
    """The input cut at random places (some chunks empty), reproducibly."""
    rng = random.Random(seed)
    cuts = sorted(rng.randint(0, len(data)) for _ in range(rng.randint(1, 40)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


Chunker = Callable[[bytes], list[bytes]]


def _random_chunker(seed: int) -> Chunker:
    return lambda data: random_splits(data, seed)


CHUNKERS: dict[str, Chunker] = {
    "whole": whole,
    "bytewise": bytewise,
    **{f"random-{seed}": _random_chunker(seed) for seed in range(5)},
}
