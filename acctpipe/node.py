"""One acctpipe node in one process: API, webhook worker, and (optionally) the tailer.

:class:`Node` wires the pieces together the way ``acctpipe serve`` runs them:

* the SQL store (SQLite or a shared PostgreSQL) with the webhook outbox hooked
  into every suppression change and throttle decision, so each event is written
  in the transaction that made it;
* the DuckDB event store: followed in this process when ``watch`` names
  directories (a tailer thread, with the feedback loop after every pass), or
  opened read-only per request when another process or nobody writes it;
* the webhook worker, on the node's event loop;
* a ``delivery.summary`` event every ``summary_every`` seconds;
* the HTTP API (uvicorn, on the node's event loop).

``acctpipe run`` adds the MTA to the same node (see :mod:`acctpipe.run`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acctpipe.api import ApiKeyStore, ApiSettings, Services, create_app
from acctpipe.db.migrate import open_database
from acctpipe.suppress import SuppressionStore, ThrottleStore
from acctpipe.webhooks import Outbox, WebhookStore, WebhookWorker, summary_event
from acctpipe.webhooks.wiring import stores_with_webhooks
from mta.mgmt import MgmtServer

if TYPE_CHECKING:
    import duckdb
    from sqlalchemy import Engine

    from acctpipe.analytics.source import EventSource
    from acctpipe.api.mtalink import MtaLink
    from acctpipe.feedback.loop import PolicyLoop
    from acctpipe.ingest import Tailer
    from acctpipe.store import Store

__all__ = ["Node", "NodeOptions", "delivery_summary"]

log = logging.getLogger("acctpipe.node")


@dataclass(frozen=True, slots=True)
class NodeOptions:
    """What a node runs. Paths are used as given (the CLI resolves them)."""

    database_url: str
    db: Path | None = None  # the DuckDB event store
    watch: tuple[Path, ...] = ()  # accounting directories to tail in this process
    globs: tuple[str, ...] = ()
    rescan: float = 1.0
    batch_rows: int = 50_000
    config: Path | None = None  # the MTA config: queue names, adaptive-throttling bounds
    policy: tuple[Path, ...] = ()
    backfill: bool = False
    export_dir: Path | None = None  # Parquet export of the event store
    export_every: float = 300.0
    mta_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8025
    webhooks: bool = True
    webhook_schedule: tuple[timedelta, ...] | None = None
    summary_every: float = 3600.0  # 0: no delivery.summary events
    node: str = field(default_factory=socket.gethostname)
    api: ApiSettings = field(default_factory=ApiSettings)


def delivery_summary(
    conn: duckdb.DuckDBPyConnection, since: datetime, until: datetime
) -> dict[str, Any]:
    """Deliveries, bounces, deferrals and complaints per (domain, vmta) in [since, until)."""
    rows = conn.execute(
        """
        SELECT rcpt_domain, vmta,
               count(*) FILTER (WHERE type = 'd') AS delivered,
               count(*) FILTER (WHERE type IN ('b', 'rb')) AS bounced,
               count(*) FILTER (WHERE type IN ('b', 'rb') AND bounce_class = 'hard')
                   AS hard_bounced,
               count(*) FILTER (WHERE type IN ('t', 'tq')) AS deferred,
               count(*) FILTER (WHERE type = 'f') AS complaints
        FROM events
        WHERE time_logged >= ? AND time_logged < ? AND rcpt_domain IS NOT NULL
        GROUP BY ALL
        ORDER BY delivered + bounced + deferred DESC, rcpt_domain, vmta
        LIMIT 200
        """,
        [since, until],
    ).fetchall()
    keys = ("domain", "vmta", "delivered", "bounced", "hard_bounced", "deferred", "complaints")
    groups = [dict(zip(keys, row, strict=True)) for row in rows]
    totals = {k: sum(int(g[k]) for g in groups) for k in keys[2:]}
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "totals": totals,
        "groups": groups,
    }


class _TailThread:
    """The tailer (and the feedback loop after each pass) in a thread of its own."""

    def __init__(self, tailer: Tailer, after: Callable[[], None]) -> None:
        self.tailer = tailer
        self.after = after
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="acctpipe-tailer", daemon=True)

    def _run(self) -> None:
        try:
            self.tailer.run()
            self.after()
        except BaseException as exc:  # reported by the health check and on stop
            self.error = exc
            log.exception("the tailer stopped")

    def health(self) -> str | None:
        if self.error is not None:
            return f"the tailer stopped: {self.error}"
        if not self.thread.is_alive() and not self.tailer.stopping.is_set():
            return "the tailer is not running"
        return None


class Node:
    """Start with :meth:`start`, stop with :meth:`stop` (both on the node's event loop)."""

    def __init__(
        self,
        options: NodeOptions,
        *,
        mta: MtaLink | None = None,
        checks: dict[str, Callable[[], str | None]] | None = None,
        queue_sizes: Callable[[], list[tuple[str, str, int]]] | None = None,
    ) -> None:
        self.options = options
        self._mta = mta
        self._checks = dict(checks or {})
        self._queue_sizes = queue_sizes
        self.engine: Engine | None = None
        self.services: Services | None = None
        self.outbox: Outbox | None = None
        self.store: Store | None = None
        self.loop: PolicyLoop | None = None
        self._tail: _TailThread | None = None
        self._server: MgmtServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        self._halt = threading.Event()

    @property
    def url(self) -> str:
        """The API's base URL (once started)."""
        if self._server is None:
            raise RuntimeError("the node is not started")
        return self._server.url

    def _events(
        self, suppressions: SuppressionStore, throttles: ThrottleStore
    ) -> EventSource | None:
        from acctpipe.analytics.source import ReadOnlyFile, SharedStore

        opts = self.options
        if opts.db is None:
            return None
        if not opts.watch:
            return ReadOnlyFile(opts.db)
        from acctpipe.ingest import DEFAULT_GLOBS, Loader, Tailer
        from acctpipe.store import Store, export_parquet

        self.store = store = Store.open(opts.db)
        self.loop = self._policy_loop(store, suppressions, throttles)
        self._halt = threading.Event()
        loader = Loader(store, batch_rows=opts.batch_rows, stop=self._halt)
        exported = [datetime.now(UTC)]

        def after_pass() -> None:
            if self.loop is not None:
                self.loop.run_once()
            now = datetime.now(UTC)
            due = (now - exported[0]).total_seconds() >= opts.export_every
            if opts.export_dir is not None and due:
                export_parquet(store, opts.export_dir, node=opts.node)
                exported[0] = now

        def finally_export() -> None:
            if opts.export_dir is not None:
                export_parquet(store, opts.export_dir, node=opts.node)

        tailer = Tailer(
            loader,
            opts.watch,
            globs=opts.globs or DEFAULT_GLOBS,
            rescan=opts.rescan,
            on_pass=after_pass,
        )
        self._tail = _TailThread(tailer, finally_export)
        self._checks["tailer"] = self._tail.health
        return SharedStore(store)

    def _policy_loop(
        self, store: Store, suppressions: SuppressionStore, throttles: ThrottleStore
    ) -> PolicyLoop:
        from acctpipe.feedback.loop import PolicyLoop

        opts = self.options
        return PolicyLoop.from_files(
            store.conn,
            suppressions,
            throttles,
            config=opts.config,
            policy=opts.policy,
            backfill=opts.backfill,
        )

    async def start(self) -> None:
        """Open the stores, start the tailer, the worker, the summaries and the API."""
        opts = self.options
        self.engine = engine = await asyncio.to_thread(open_database, opts.database_url)
        self.outbox, suppressions, throttles = stores_with_webhooks(engine)
        webhooks = WebhookStore(engine)
        events = await asyncio.to_thread(self._events, suppressions, throttles)
        self.services = Services(
            engine=engine,
            suppressions=suppressions,
            throttles=throttles,
            keys=ApiKeyStore(engine),
            webhooks=webhooks,
            events=events,
            mta=self._mta,
            settings=opts.api,
            checks=self._checks,
            queue_sizes=self._queue_sizes,
        )
        if self._tail is not None:
            self._tail.thread.start()
        if opts.webhooks:
            self._start_worker(engine)
        if opts.summary_every > 0 and events is not None:
            self._tasks.append(asyncio.create_task(self._summaries(events), name="summaries"))
        remote = opts.host not in ("127.0.0.1", "::1", "localhost")
        self._server = MgmtServer(
            create_app(self.services), opts.host, opts.port, allow_remote=remote
        )
        await self._server.start()
        log.info("API listening on %s (node %s)", self._server.url, opts.node)

    def _start_worker(self, engine: Engine) -> None:
        opts = self.options
        kwargs: dict[str, Any] = {"node": opts.node}
        if opts.webhook_schedule:
            kwargs["schedule"] = opts.webhook_schedule
        worker = WebhookWorker(engine, **kwargs)
        task = asyncio.create_task(worker.run(self._stop), name="webhook-worker")
        self._tasks.append(task)

        def health() -> str | None:
            if task.done():
                error = None if task.cancelled() else task.exception()
                return f"the webhook worker stopped: {error or 'cancelled'}"
            return None

        self._checks["webhooks"] = health

    async def _summaries(self, events: EventSource) -> None:
        assert self.outbox is not None
        outbox = self.outbox
        since = datetime.now(UTC)
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.options.summary_every)
            if self._stop.is_set():
                return
            until = datetime.now(UTC)

            def publish(start: datetime = since, end: datetime = until) -> int:
                with events.connect() as conn:
                    data = delivery_summary(conn, start, end)
                data["node"] = self.options.node  # each node reports its own traffic
                return outbox.publish([summary_event(data, at=end)])

            try:
                await asyncio.to_thread(publish)
            except Exception:  # a locked or missing event store: try again next time
                log.exception("delivery summary failed")
                continue
            since = until

    async def stop(self) -> None:
        """Stop the API, the worker and the tailer (finishing its batch), then close."""
        self._stop.set()
        if self._server is not None:
            await self._server.stop()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 15)
        if self._tail is not None:
            self._halt.set()
            self._tail.tailer.stop()
            await asyncio.to_thread(self._tail.thread.join, 60)
            if self._tail.thread.is_alive():
                # Closing DuckDB under a running batch would be worse than leaving it.
                log.error("the tailer did not stop within 60 s; the event store is left open")
                self.store = None
        if self.store is not None:
            self.store.close()
        if self.engine is not None:
            self.engine.dispose()

    async def serve_forever(self, stop: asyncio.Event) -> None:
        """Start, wait for ``stop``, stop."""
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()
