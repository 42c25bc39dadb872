"""Reading and writing at once: a parser thread hands batches to the writer through a short queue.

The database drivers release the GIL while the database works (SQLite inside
``sqlite3_step``, PostgreSQL while the server runs the statement), so parsing the
next batch overlaps writing the last one. The queue holds two batches: memory
stays bounded however long the input is, and a slow database slows the reader.
An error on either side stops both: the reader's is raised in the caller, and
the reader stops at its next batch when the writer fails.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Final, TypeVar

__all__ = ["run_pipeline"]

T = TypeVar("T")
_DEPTH: Final = 2  # batches waiting between the reader and the writer
_POLL: Final = 0.1  # seconds between looks at the stop flag while the queue is full


class _Done:
    """The reader's last item: the end of the input, or the error that ended it."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def run_pipeline(
    batches: Iterator[T], write: Callable[[T], None], *, threaded: bool = True
) -> None:
    """Call ``write`` on each batch of ``batches``, producing them in a thread of their own.

    Returns when every batch is written; raises what the reader or ``write`` raised.
    ``threaded=False`` reads and writes in turn in the caller's thread: for SQLite,
    whose ``executemany`` gives up and takes back the GIL once per row, so a busy
    reader thread makes each of those rows wait for it (measured: twice as slow).
    """
    if not threaded:
        for batch in batches:
            write(batch)
        return
    channel: queue.Queue[T | _Done] = queue.Queue(maxsize=_DEPTH)
    stop = threading.Event()

    def put(item: T | _Done) -> bool:
        while not stop.is_set():
            try:
                channel.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for batch in batches:
                if not put(batch):
                    return
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
            put(_Done(error))
            return
        put(_Done())

    reader = threading.Thread(target=read, name="import-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = channel.get()
            if isinstance(item, _Done):
                if item.error is not None:
                    raise item.error
                return
            write(item)
    finally:
        stop.set()
        reader.join()
