"""``acctpipe run``: the whole loop in one process — MTA, tailer, policy, webhooks, API.

One asyncio loop hosts the MTA (listeners, pickup folders, delivery) and the
node of :mod:`acctpipe.node.api` (API, webhook worker, delivery summaries); the
tailer runs in a thread of its own and feeds the DuckDB event store, running
the feedback loop after each pass; the MTA follows the suppression list and
throttle decisions the loop writes.

The data directory (``--data-dir``)::

    DATA_DIR/
      spool/               the MTA's spool (tmp, incoming, active, deferred, bad)
                           and warmup.json, the warmup progress per vmta
      acct*.csv            accounting files (<acct-file>), tailed into events.duckdb
      esp/                 ESP notifications posted to /v1/esp/… as rb/f rows (tailed too)
      events.duckdb        the event store: query it with acctpipe sql or DuckDB
      acctpipe.sqlite      suppressions, throttles, API keys, webhook outbox
                           (unless --database-url names a shared PostgreSQL)
      parquet/             the Parquet export of events.duckdb (day=YYYY-MM-DD/)
      suppressions.snapshot  the last suppression list seen (start-up with the store down)
      mta.json, node.json  state files

Start order: the SQL store and the API first, then the MTA (its follower
loads the suppression list before the engine sends anything). A shared store
that cannot be reached does not stop a node that ran before: it starts on its
local suppression snapshot, says so in ``/readyz``, and catches up when the
store returns. Stop order on
SIGTERM: the MTA stops accepting and finishes in-flight deliveries (writing
their accounting rows), the tailer ingests what is left and checkpoints, the
webhook worker finishes its deliveries, the API closes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from acctpipe.api.mtalink import LocalMtaLink
from acctpipe.api.settings import ApiSettings
from acctpipe.esp import EspSettings
from acctpipe.feedback.follower import MtaFollower
from acctpipe.node.api import Node, NodeOptions
from mta.config import Config
from mta.delivery.routing import Resolver
from mta.node.process import MtaServer

__all__ = ["RunOptions", "Runner", "accounting_dirs"]

log = logging.getLogger("acctpipe.node.full")


@dataclass(frozen=True, slots=True)
class RunOptions:
    """What ``acctpipe run`` starts; paths relative to the working directory."""

    config: Path
    data_dir: Path = Path("acctpipe-data")
    database_url: str | None = None  # default: sqlite:///DATA_DIR/acctpipe.sqlite
    api_host: str = "127.0.0.1"
    api_port: int = 8025
    policy: tuple[Path, ...] = ()
    summary_every: float = 3600.0
    export_every: float = 300.0
    rescan: float = 0.5
    webhook_schedule: tuple[timedelta, ...] | None = None
    node: str = field(default_factory=socket.gethostname)
    api: ApiSettings | None = None
    resolver: Resolver | None = None  # tests and the demo pin destinations to loopback
    esp: EspSettings | None = None  # default: ESP intake into DATA_DIR/esp

    def sql_url(self) -> str:
        """The SQL store's URL (the SQLite file in the data directory by default)."""
        return self.database_url or f"sqlite:///{self.data_dir / 'acctpipe.sqlite'}"


def accounting_dirs(config: Config, data_dir: Path) -> tuple[Path, ...]:
    """Every directory the MTA writes accounting or reject-log files to (or rotates into)."""
    found: list[Path] = []
    specs: list[tuple[str, str | None]] = [(a.path, a.move_to) for a in config.acct_files]
    specs += [(r.path, r.move_to) for r in config.reject_logs]
    for where, move_to in specs:
        path = Path(where)
        found.append((path if path.is_absolute() else data_dir / path).parent)
        if move_to:
            folder = Path(move_to)
            found.append(folder if folder.is_absolute() else data_dir / folder)
    unique: list[Path] = []
    for d in found:
        if d not in unique:
            unique.append(d)
    return tuple(unique)


class Runner:
    """One process, the whole loop: :meth:`start`, then :meth:`stop` (same event loop)."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        opts = options
        opts.data_dir.mkdir(parents=True, exist_ok=True)
        self.server = MtaServer.from_file(
            opts.config, data_dir=opts.data_dir, resolver=opts.resolver
        )
        config = self.server.config
        dirs = accounting_dirs(config, opts.data_dir)
        for d in dirs:
            d.mkdir(parents=True, exist_ok=True)
        node_options = NodeOptions(
            database_url=opts.sql_url(),
            db=opts.data_dir / "events.duckdb",
            watch=dirs,
            rescan=opts.rescan,
            config=opts.config,
            policy=opts.policy,
            export_dir=opts.data_dir / "parquet",
            export_every=opts.export_every,
            host=opts.api_host,
            port=opts.api_port,
            webhook_schedule=opts.webhook_schedule,
            summary_every=opts.summary_every,
            node=opts.node,
            start_without_store=True,
            api=opts.api or ApiSettings(node=opts.node),
            rules=lambda: self.server.mta.table,  # the MTA's, reloads included
            esp=opts.esp or EspSettings(directory=opts.data_dir / "esp"),
        )
        mta = self.server.mta
        self.follower: MtaFollower | None = None
        self.node = Node(
            node_options,
            mta=LocalMtaLink(mta),
            checks={"mta": self._mta_health, "suppressions": self._follower_health},
        )
        self._started = False

    def _mta_health(self) -> str | None:
        if not self._started:
            return "the MTA is starting"
        if not self.server.listeners and self.server.config.listeners:
            return "no SMTP listener is open"
        return None

    def _follower_health(self) -> str | None:
        return self.follower.health() if self.follower is not None else None

    @property
    def api_url(self) -> str:
        """The API's base URL."""
        return self.node.url

    @property
    def smtp(self) -> list[tuple[str, int]]:
        """The SMTP listeners' (host, port), real ports once started."""
        return [(x.host, x.port) for x in self.server.listeners]

    async def start(self) -> None:
        """Start the node (stores, tailer, worker, API), then the MTA following the store."""
        await self.node.start()
        services = self.node.services
        assert services is not None
        self.follower = MtaFollower(
            self.server.mta,
            services.suppressions,
            services.throttles,
            snapshot=self.options.data_dir / "suppressions.snapshot",
        )
        self.server.companions.append(self.follower)
        try:
            await self.server.start()
        except BaseException:
            await self.node.stop()
            raise
        self._started = True
        self._write_state()
        log.info("acctpipe running: API %s, SMTP %s", self.api_url, self.smtp)

    def _write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "node": self.options.node,
            "api": self.api_url,
            "smtp": [{"host": h, "port": p} for h, p in self.smtp],
            "database": "shared" if self.options.database_url else "sqlite",
            "events": str(self.options.data_dir / "events.duckdb"),
        }
        path = self.options.data_dir / "node.json"
        tmp = path.with_suffix(".json.new")
        tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop accepting mail and finish deliveries, then ingest the rest and stop the node."""
        self._started = False
        self.node.bound_store_calls()  # a frozen store must not hold the stop up
        try:
            await self.server.stop(grace)
        finally:
            await self.node.stop()
            (self.options.data_dir / "node.json").unlink(missing_ok=True)

    async def serve_forever(self, stop: asyncio.Event) -> None:
        """Start, wait for ``stop``, stop."""
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()
