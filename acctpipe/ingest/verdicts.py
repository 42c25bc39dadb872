"""Verdicts of distinct diagnostics, kept from batch to batch (each is classified once).

An accounting file holds far fewer distinct ``(dsnDiag, dsnStatus)`` pairs than
rows, and the same ones batch after batch. :class:`Verdicts` keeps the verdict
of every pair it has classified, as a small frame; a batch classifies only the
pairs it has not seen (with :func:`classifiers.vector.classify_frame`, whose
verdict depends on the pair and the rule table alone) and takes every row's
verdict by a join on its pair. Without it each batch of a tailer would compile
the table's patterns for polars again (polars keeps only 32 compiled regexes).

Memory stays bounded: past ``limit`` pairs, or ``limit_bytes`` of diagnostic text,
the kept frame starts over. A new rule
table (``acctpipe tail --rules`` reloads) starts over too, so a verdict never
outlives the table that gave it.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from classifiers import RuleTable
from classifiers.vector import OUTPUT_COLUMNS, classify_frame

__all__ = ["DEFAULT_LIMIT", "DEFAULT_LIMIT_BYTES", "Verdicts"]

DEFAULT_LIMIT: Final = 100_000
"""Distinct pairs kept before starting over."""

DEFAULT_LIMIT_BYTES: Final = 32 << 20
"""Bytes of diagnostic text kept before starting over (long diagnostics fill it first)."""

_KEYS: Final = ("_d", "_s")


class Verdicts:
    """The verdicts of the ``(diag, status)`` pairs seen so far, under one rule table."""

    def __init__(self, limit: int = DEFAULT_LIMIT, limit_bytes: int = DEFAULT_LIMIT_BYTES) -> None:
        self._limit = limit
        self._limit_bytes = limit_bytes
        self._bytes = 0
        self._table: RuleTable | None = None
        self._known = self._empty()

    @staticmethod
    def _empty() -> pl.DataFrame:
        return pl.DataFrame(schema=dict.fromkeys((*_KEYS, *OUTPUT_COLUMNS), pl.String))

    def __len__(self) -> int:
        return self._known.height

    def of(self, diags: pl.Series, statuses: pl.Series, table: RuleTable | None) -> pl.DataFrame:
        """The :data:`~classifiers.vector.OUTPUT_COLUMNS` for each row (nulls count as "")."""
        if table is not self._table:
            self._table, self._known, self._bytes = table, self._empty(), 0
        keys = pl.DataFrame(
            {
                "_d": diags.cast(pl.String).fill_null(""),
                "_s": statuses.cast(pl.String).fill_null(""),
            }
        )
        new = keys.unique(maintain_order=True).join(self._known, on=_KEYS, how="anti")
        if new.height:
            done = classify_frame(new, diag="_d", status="_s", table=table)
            size = int(new.get_column("_d").str.len_bytes().sum())
            if (
                self._known.height + done.height > self._limit
                or self._bytes + size > self._limit_bytes
            ):
                self._known, self._bytes = self._empty(), 0
            self._bytes += size
            self._known = pl.concat([self._known, done.select(*_KEYS, *OUTPUT_COLUMNS)])
        joined = keys.join(self._known, on=_KEYS, how="left", maintain_order="left")
        return joined.select(OUTPUT_COLUMNS)
