"""The change-feed guarantee: a reader following changes_since never misses or repeats one.

Writers hold their transaction open a little after taking their cursor (the
change hook sleeps), which is exactly the window in which a plain sequence
would let a reader skip a change that commits late. (Without the lock in
acctpipe.sqlstore.write_transaction this test fails: racing writers collide, and with
disjoint addresses the reader misses cursors.)
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection

from acctpipe.sqlstore.schema import suppression_changes
from acctpipe.sqlstore.suppressions import Change, SuppressionStore

WRITERS = 4
OPS_PER_WRITER = 40
POOL = [f"user{i}@example.com" for i in range(25)]


def _linger(_conn: Connection, _changes: Sequence[Change]) -> None:
    time.sleep(random.uniform(0, 0.004))


@pytest.mark.slow
def test_concurrent_writers_and_a_following_reader(engine: Engine) -> None:
    """With writers adding and removing at once, the reader sees each change exactly once."""
    written: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    done = threading.Event()

    def write(seed: int) -> None:
        rng = random.Random(seed)
        store = SuppressionStore(engine, on_changes=_linger)
        try:
            for _ in range(OPS_PER_WRITER):
                address = rng.choice(POOL)
                if rng.random() < 0.4:
                    change = store.remove(address)
                else:
                    change = store.add(address, reason=rng.choice(["manual", "complaint"]))
                if change is not None:
                    with lock:
                        written.append(change.cursor)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    seen: list[int] = []

    def read() -> None:
        store = SuppressionStore(engine)
        cursor = 0
        try:
            while True:
                finished = done.is_set()  # read once more after the writers are done
                batch = store.changes_since(cursor, limit=7)
                seen.extend(c.cursor for c in batch)
                if batch:
                    cursor = batch[-1].cursor
                elif finished:
                    return
                else:
                    time.sleep(0.001)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    reader = threading.Thread(target=read)
    writers = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    reader.start()
    for t in writers:
        t.start()
    for t in writers:
        t.join(timeout=120)
    done.set()
    reader.join(timeout=120)
    assert not reader.is_alive()
    assert not any(t.is_alive() for t in writers)
    assert errors == []

    assert seen == sorted(set(seen)), "cursors strictly increasing, none repeated"
    assert sorted(written) == seen, "every change a writer made was seen, once"
    with engine.connect() as conn:
        logged = conn.execute(select(suppression_changes.c.cursor)).scalars().all()
    assert sorted(logged) == seen
    assert len(seen) > WRITERS * OPS_PER_WRITER // 4  # the test did exercise the log
