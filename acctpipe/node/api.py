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

``acctpipe run`` adds the MTA to the same node (see :mod:`acctpipe.node.full`).
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
from acctpipe.eventstore.rates import COUNTS
from acctpipe.sqlstore import make_engine, migrate, sqlite_path
from acctpipe.sqlstore.deadline import deadline_of
from acctpipe.sqlstore.migrate import open_database
from acctpipe.sqlstore.suppressions import SuppressionStore, ThrottleStore
from acctpipe.webhooks import Outbox, WebhookStore, WebhookWorker, summary_event
from acctpipe.webhooks.wiring import stores_with_webhooks
from mta.errors import StoreError
from mta.failurelog import FailureLog
from mta.mgmt.app import MgmtServer

if TYPE_CHECKING:
    import duckdb
    from sqlalchemy import Engine

    from acctpipe.analytics.source import EventSource
    from acctpipe.api.mtalink import MtaLink
    from acctpipe.esp import EspSettings
    from acctpipe.eventstore import Store
    from acctpipe.feedback.loop import PolicyLoop
    from acctpipe.ingest import Tailer
    from classifiers import RuleTable

__all__ = ["Node", "NodeOptions", "delivery_summary"]

log = logging.getLogger("acctpipe.node.api")
_SUMMARY = "delivery-summary"  # its progress row in the event store
STORE_RETRY_SECONDS = 2.0  # how often an unreachable store is tried while starting without it
STOP_CALL_LIMIT = 2.0  # at stop, a store call waits at most this long for the server


@dataclass(frozen=True, slots=True)
class NodeOptions:
    """What a node runs. Paths are used as given (the CLI resolves them)."""

    database_url: str
    db: Path | None = None  # the DuckDB event store
    watch: tuple[Path, ...] = ()  # accounting directories to tail in this process
    globs: tuple[str, ...] = ()
    rescan: float = 1.0
    batch_rows: int = 50_000
    config: Path | None = None  # the MTA config: queue names, bounds, its bounce-rules
    # The rule table the tailer classifies rows with, asked before every pass (acctpipe
    # run: the running MTA's, so a SIGHUP reload reaches ingest too). None: the table of
    # ``config`` (its bounce-rules files and <bounce-category-patterns>), read at start,
    # or the built-in table without a config.
    rules: Callable[[], RuleTable] | None = None
    policy: tuple[Path, ...] = ()
    backfill: bool = False
    export_dir: Path | None = None  # Parquet export of the event store
    export_every: float = 300.0
    mta_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8025
    # Bind the API's socket with SO_REUSEPORT: one of several worker processes on the port.
    reuse_port: bool = False
    webhooks: bool = True
    webhook_schedule: tuple[timedelta, ...] | None = None
    summary_every: float = 3600.0  # 0: no delivery.summary events
    # Start even when a shared (PostgreSQL) store cannot be reached: migrate it when it
    # answers (acctpipe run: the MTA runs on its local suppression snapshot meanwhile).
    start_without_store: bool = False
    node: str = field(default_factory=socket.gethostname)
    api: ApiSettings = field(default_factory=ApiSettings)
    # POST /v1/esp/{provider} writes ESP notifications as accounting rows here (None: off).
    # Its directory is tailed with the others when this node tails (see watched()).
    esp: EspSettings | None = None

    def watched(self) -> tuple[Path, ...]:
        """The directories the tailer follows: ``watch``, and the ESP directory with them."""
        if not self.watch or self.esp is None or self.esp.directory in self.watch:
            return self.watch
        return (*self.watch, self.esp.directory)


def delivery_summary(
    conn: duckdb.DuckDBPyConnection, after_rowid: int, upto_rowid: int
) -> dict[str, Any]:
    """Deliveries, bounces, deferrals and complaints per (domain, vmta) of the events
    ingested after ``after_rowid`` up to ``upto_rowid`` (rowids: the order of ingestion).

    Windows by ingestion, not by ``time_logged``: a row logged while acctpipe was
    down, or ingested just after a period closed, lands in the next summary
    instead of in none. ``since``/``until`` give the rows' logged-time span.
    """
    count = {c.name: c.sql for c in COUNTS}  # the one definition of each count
    rows = conn.execute(
        f"""
        SELECT rcpt_domain, vmta,
               {count["delivered"]} AS delivered,
               {count["bounced"]} AS bounced,
               {count["hard_bounces"]} AS hard_bounced,
               {count["deferrals"]} AS deferred,
               {count["complaints"]} AS complaints
        FROM events
        WHERE rowid > ? AND rowid <= ? AND rcpt_domain IS NOT NULL
        GROUP BY ALL
        ORDER BY delivered + bounced + deferred DESC, rcpt_domain, vmta
        LIMIT 200
        """,  # noqa: S608 - constant text; the rowids are bound parameters
        [after_rowid, upto_rowid],
    ).fetchall()
    span = conn.execute(
        "SELECT min(time_logged), max(time_logged), count(*) FROM events"
        " WHERE rowid > ? AND rowid <= ?",
        [after_rowid, upto_rowid],
    ).fetchone()
    keys = ("domain", "vmta", "delivered", "bounced", "hard_bounced", "deferred", "complaints")
    groups = [dict(zip(keys, row, strict=True)) for row in rows]
    totals = {k: sum(int(g[k]) for g in groups) for k in keys[2:]}
    first, last, count = span if span else (None, None, 0)
    return {
        "since": first.isoformat() if first else None,
        "until": last.isoformat() if last else None,
        "events": int(count or 0),
        "totals": totals,
        "groups": groups,
    }


class _TailThread:
    """The tailer (and the feedback loop after each pass) in a thread of its own.

    An unexpected error does not end ingestion: it is logged, reported by the
    health check, and the tailer starts again after a pause (doubling, up to a
    minute) until a pass succeeds. On stop, one final pass ingests what the MTA
    wrote while it shut down, then ``after`` runs (the last export).
    """

    def __init__(self, tailer: Tailer, after: Callable[[], None]) -> None:
        self.tailer = tailer
        self.after = after
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="acctpipe-tailer", daemon=True)

    def _run(self) -> None:
        pause = 1.0
        while not self.tailer.stopping.is_set():
            try:
                self.tailer.run()
            except Exception as exc:  # logged, reported by health(), and retried
                self.error = exc
                log.exception("the tailer failed; starting again in %.0f s", pause)
                self.tailer.stopping.wait(pause)
                pause = min(pause * 2, 60.0)
        try:
            self.tailer.final_pass()
            self.after()
        except Exception:
            log.exception("the final ingest pass failed; the rows wait for the next start")

    def passed(self) -> None:
        """A pass finished: the tailer is healthy again."""
        self.error = None

    def health(self) -> str | None:
        """None when healthy, else what is wrong."""
        if self.error is not None:
            # Not the error's text (it names files): /readyz answers without a key.
            return "the tailer failed and is retrying (details in the server log)"
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
    ) -> None:
        self.options = options
        self._mta = mta
        self._checks = dict(checks or {})
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
        from acctpipe.analytics.snapshot import remove_stale
        from acctpipe.analytics.source import ReadOnlyFile, SharedStore

        opts = self.options
        if opts.db is None:
            return None
        # SQL snapshot copies a killed server left behind (each a whole copy of the store).
        remove_stale(opts.db)
        if not opts.watch:
            return ReadOnlyFile(opts.db)
        from acctpipe.eventstore import Store, export_parquet
        from acctpipe.ingest import DEFAULT_GLOBS, Loader, Tailer

        self.store = store = Store.open(opts.db)
        if opts.summary_every > 0:
            # Summaries count what is ingested from here on (before the tailer starts,
            # so the rows waiting in the files now are in the first one).
            from acctpipe.feedback.events import last_rowid, load_progress, save_progress

            if load_progress(store.conn, _SUMMARY) is None:
                save_progress(store.conn, _SUMMARY, last_rowid(store.conn))
        self.loop = self._policy_loop(store, suppressions, throttles)
        self._halt = threading.Event()
        table_of = opts.rules or self._config_rules()
        loader = Loader(
            store,
            batch_rows=opts.batch_rows,
            stop=self._halt,
            table_source=table_of,
        )
        exported = [datetime.now(UTC)]

        def after_pass() -> None:
            if self.loop is not None:
                self.loop.run_once()  # logs and retries database errors itself
            now = datetime.now(UTC)
            due = (now - exported[0]).total_seconds() >= opts.export_every
            if opts.export_dir is not None and due:
                exported[0] = now
                try:
                    export_parquet(store, opts.export_dir, node=opts.node)
                except Exception:  # an export is a copy: never let it stop ingestion
                    log.exception(
                        "Parquet export to %s failed; next try in %.0f s",
                        opts.export_dir,
                        opts.export_every,
                    )
            if self._tail is not None:
                self._tail.passed()

        def finally_export() -> None:
            if opts.export_dir is not None:
                export_parquet(store, opts.export_dir, node=opts.node)

        tailer = Tailer(
            loader,
            opts.watched(),
            globs=opts.globs or DEFAULT_GLOBS,
            rescan=opts.rescan,
            on_pass=after_pass,
        )
        self._tail = _TailThread(tailer, finally_export)
        self._checks["tailer"] = self._tail.health
        return SharedStore(store)

    def _config_rules(self) -> Callable[[], RuleTable] | None:
        """The MTA config's rule table (read once), so ingest decides as the MTA does."""
        if self.options.config is None:
            return None
        from mta.config import load_config
        from mta.config.rules import rule_table

        table = rule_table(load_config(self.options.config))
        return lambda: table

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
        self.engine = engine = await self._open_store()
        self.outbox, suppressions, throttles = stores_with_webhooks(engine)
        webhooks = WebhookStore(engine)
        events = await asyncio.to_thread(self._events, suppressions, throttles)
        esp = None
        if opts.esp is not None:
            from acctpipe.esp import EspIntake

            esp = await asyncio.to_thread(EspIntake, opts.esp)
        self.services = Services(
            engine=engine,
            suppressions=suppressions,
            throttles=throttles,
            keys=ApiKeyStore(engine),
            webhooks=webhooks,
            events=events,
            mta=self._mta,
            esp=esp,
            settings=opts.api,
            checks=self._checks,
        )
        if self._tail is not None:
            self._tail.thread.start()
        if opts.webhooks:
            self._start_worker(engine)
        if opts.summary_every > 0 and events is not None:
            self._tasks.append(asyncio.create_task(self._summaries(events), name="summaries"))
        remote = opts.host not in ("127.0.0.1", "::1", "localhost")
        self._server = MgmtServer(
            create_app(self.services),
            opts.host,
            opts.port,
            allow_remote=remote,
            reuse_port=opts.reuse_port,
        )
        await self._server.start()
        log.info("API listening on %s (node %s)", self._server.url, opts.node)

    async def _open_store(self) -> Engine:
        """The SQL store, migrated; a shared one that cannot be reached is (with
        ``start_without_store``) opened unmigrated and migrated when it answers."""
        url = self.options.database_url
        try:
            return await asyncio.to_thread(open_database, url)
        except StoreError as exc:
            if not self.options.start_without_store or sqlite_path(url) is not None:
                raise
            # /readyz answers without a key: the URL and the driver's text go to the log only.
            problem = "the shared store cannot be reached (details in the server log); retrying"
            log.error("starting without the shared store: %s", exc)
        engine = make_engine(url)
        self._checks["store"] = lambda: problem
        self._tasks.append(asyncio.create_task(self._migrate_later(engine), name="store-retry"))
        return engine

    async def _migrate_later(self, engine: Engine) -> None:
        failures = FailureLog(log, "reaching the shared store")
        failures.failed("unreachable at start")
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), STORE_RETRY_SECONDS)
            if self._stop.is_set():
                return
            try:
                await asyncio.to_thread(migrate, engine)
            except Exception as exc:  # noqa: BLE001 - still down: try again
                failures.failed(exc)
                continue
            failures.succeeded()
            self._checks.pop("store", None)
            return

    def bound_store_calls(self) -> None:
        """From now on no store call waits more than a moment for the server (at stop)."""
        deadline = deadline_of(self.engine) if self.engine is not None else None
        if deadline is not None:
            deadline.shorten(STOP_CALL_LIMIT)

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
        from acctpipe.analytics.source import SharedStore
        from acctpipe.feedback.events import last_rowid, load_progress, save_progress

        assert self.outbox is not None
        outbox = self.outbox
        writable = isinstance(events, SharedStore)  # else the cursor lives in memory only

        def start() -> int:
            with events.connect() as conn:
                found = load_progress(conn, _SUMMARY)
                if found is None:  # the first run starts now, not with all of history
                    found = last_rowid(conn)
                    if writable:
                        save_progress(conn, _SUMMARY, found)
            return found

        def publish(after: int) -> int:
            with events.connect() as conn:
                upto = last_rowid(conn)
                if upto <= after:
                    return after  # no traffic: no summary
                data = delivery_summary(conn, after, upto)
                data["node"] = self.options.node  # each node reports its own traffic
                outbox.publish([summary_event(data)])
                if writable:  # a crash between the two repeats a summary, never loses one
                    save_progress(conn, _SUMMARY, upto)
            return upto

        cursor: int | None = None
        while not self._stop.is_set():
            try:
                if cursor is None:
                    cursor = await asyncio.to_thread(start)
            except Exception:
                log.exception("delivery summary: cannot read the event store")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.options.summary_every)
            if self._stop.is_set() or cursor is None:
                continue
            try:
                cursor = await asyncio.to_thread(publish, cursor)
            except Exception:  # a locked or missing event store: try again next time
                log.exception("delivery summary failed")

    async def stop(self) -> None:
        """Stop the API, the worker and the tailer (finishing its batch), then close."""
        self._stop.set()
        self.bound_store_calls()
        if self._server is not None:
            await self._server.stop()
        if self.services is not None and self.services.esp is not None:
            await self.services.esp.aclose()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 15)
        if self._tail is not None:
            self._tail.tailer.stop()  # finishes the file in hand, then a final pass
            await asyncio.to_thread(self._tail.thread.join, 60)
            if self._tail.thread.is_alive():
                self._halt.set()  # cut the load short between batches
                await asyncio.to_thread(self._tail.thread.join, 10)
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
