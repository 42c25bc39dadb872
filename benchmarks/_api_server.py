"""The API server process for :mod:`benchmarks.api`: the app served as ``acctpipe serve`` does.

``create_app`` over the stores (no webhooks, event store or MTA), served by
:class:`mta.mgmt.app.MgmtServer` (uvicorn, one worker, on this process's event
loop), with the access logs off. It prints the port on the first stdout line
and serves until SIGTERM/SIGINT (or, with ``--stdin-eof``, until its parent goes away).

``--profile PATH`` runs cProfile in every thread (the event loop and the thread pool that
runs the synchronous handlers and the SQL) and writes the merged stats to PATH.

    .venv/bin/python -m benchmarks._api_server --database-url sqlite:///store.sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import pstats
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

from acctpipe.api import ApiKeyStore, Services, create_app
from acctpipe.sqlstore import open_database
from acctpipe.sqlstore.suppressions import SuppressionStore, ThrottleStore
from mta.mgmt.app import MgmtServer

__all__ = ["main", "serve"]


def _on_eof(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    # The parent holds our stdin open; EOF means it is gone, however it died.
    sys.stdin.buffer.read()
    loop.call_soon_threadsafe(stop.set)


async def serve(database_url: str, port: int, *, stdin_eof: bool = False) -> None:
    """Serve the API over ``database_url`` on 127.0.0.1:``port`` until SIGTERM/SIGINT.

    With ``stdin_eof``, also stop when stdin reaches its end (the parent died).
    """
    engine = await asyncio.to_thread(open_database, database_url)
    services = Services(
        engine=engine,
        suppressions=SuppressionStore(engine),
        throttles=ThrottleStore(engine),
        keys=ApiKeyStore(engine),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if stdin_eof:
        threading.Thread(target=_on_eof, args=(loop, stop), daemon=True).start()
    server = MgmtServer(create_app(services), "127.0.0.1", port)
    await server.start()
    print(server.port, flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()
        engine.dispose()


class _ThreadProfiles:
    """One cProfile per thread: the main thread's, and one started in each new thread."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self._lock = threading.Lock()

    def _start(self, frame: FrameType, event: str, arg: Any) -> None:
        # Called on the first profile event of a new thread: hand over to cProfile.
        sys.setprofile(None)
        profile = cProfile.Profile()
        with self._lock:
            self.profiles.append(profile)
        profile.enable()

    def __enter__(self) -> _ThreadProfiles:
        threading.setprofile(self._start)
        main = cProfile.Profile()
        self.profiles.append(main)
        main.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        self.profiles[0].disable()
        threading.setprofile(None)

    def dump(self, path: str) -> None:
        """Merge every thread's stats and write them to ``path`` (pstats format)."""
        merged: pstats.Stats | None = None
        for profile in self.profiles:
            try:
                one = pstats.Stats(profile)
            except TypeError:  # a thread that recorded nothing
                continue
            if merged is None:
                merged = one
            else:
                merged.add(one)
        if merged is not None:
            merged.dump_stats(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options and serve."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._api_server", description=__doc__)
    parser.add_argument("--database-url", required=True, help="the SQL store (already migrated)")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    parser.add_argument("--profile", metavar="PATH", help="write cProfile stats here on exit")
    parser.add_argument("--stdin-eof", action="store_true", help="also stop at EOF on stdin")
    args = parser.parse_args(argv)
    for name in ("acctpipe.api.access", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if args.profile is None:
        asyncio.run(serve(args.database_url, args.port, stdin_eof=args.stdin_eof))
        return 0
    with _ThreadProfiles() as profiles:
        asyncio.run(serve(args.database_url, args.port, stdin_eof=args.stdin_eof))
    profiles.dump(args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
