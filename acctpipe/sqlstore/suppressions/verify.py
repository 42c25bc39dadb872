"""Stored suppressions the address check refuses: found and reported, never changed.

Suppressions added before :func:`mta.address.check_mailbox` guarded the store
(or written by hand) can hold keys the MTA would never take — ``john..doe@…``,
``user@exa_mple.com``, a U+FFFD left by bytes that were not UTF-8. Dropping or
re-keying them silently could let mail through to an address someone meant to
stop, so :func:`failing_rows` only lists them, for a person to decide
(``acctpipe suppress verify``).
"""

from __future__ import annotations

from collections.abc import Iterator

from acctpipe.sqlstore.suppressions.model import Suppression
from acctpipe.sqlstore.suppressions.store import SuppressionStore
from mta.address import mailbox_problem

__all__ = ["failing_rows"]


def failing_rows(
    store: SuppressionStore, *, batch: int = 10_000
) -> Iterator[tuple[Suppression, str]]:
    """(row, reason) for each stored row whose address fails the check.

    Reads ``batch`` rows at a time in key order (keyset pages: stable while
    others write); never writes.
    """
    for row in store.iter_all(batch):
        problem = mailbox_problem(row.address)
        if problem is not None:
            yield row, problem
