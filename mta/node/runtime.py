"""The running MTA: config, spool, delivery engine and accounting, started and stopped as one.

:class:`Mta` is what ``acctpipe mta`` runs and what ``acctpipe run`` embeds. It
accepts submissions (from the SMTP listeners, pickup folders or the API),
splits each into one spooled copy per destination queue, and hands them to the
delivery engine. ``reload()`` re-reads the config file, validates it completely,
and only then swaps it in — a bad file is refused and the running config kept.

Accounting records are part of "nothing lost". The writers hold a record until
it is in its file; while any cannot be written (a full disk) the MTA refuses
new mail (``452 4.3.1`` at MAIL FROM, LocalError to other submitters), opens no
delivery connection, and keeps each attempted message in ``active/`` until its
records are written — so a crash meanwhile sends the message again and writes
its records again. Writing resumes, in order, as soon as the disk has room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from classifiers import RuleTable
from mta.acct.acctfile import AccountingFile
from mta.config import Config, load_config
from mta.config.rules import rule_table
from mta.delivery.attempt import Context, Reply, attempt_record, suppressed_record
from mta.delivery.engine import DeliveryEngine
from mta.delivery.pool import PoolSelector
from mta.delivery.prepare import DEFAULT_VMTA, Signer, stamp
from mta.delivery.queue import Override
from mta.delivery.routing import DnsPythonResolver, Resolver, domain_of
from mta.delivery.share import SLOT_DIR, Share
from mta.errors import AcctpipeError, LocalError
from mta.failurelog import FailureLog
from mta.node.workers import adopt_orphans, for_worker, worker_spool
from mta.spool.commit import GroupCommit
from mta.spool.durable import Envelope, Spool
from mta.status import ListenerStatus, MtaStatus
from mta.submit import Submission
from mta.suppression import SuppressionSet

__all__ = ["Mta", "MtaOptions"]


def _retrieve(task: asyncio.Future[list[str]]) -> None:
    """Mark a shielded commit's error as seen when its caller is gone (it was answered 451
    or hung up; the error is logged by whoever awaited it, if anyone did)."""
    if not task.cancelled():
        task.exception()


log = logging.getLogger("mta")
FLUSH_SECONDS = 0.2  # accounting rows reach the OS this often (the tailer reads them)
STORAGE_REFUSAL = "452 4.3.1 Insufficient system storage, please try again later"


@dataclass(frozen=True, slots=True)
class MtaOptions:
    """Where the MTA keeps its files and how it resolves destinations."""

    data_dir: Path
    config_path: Path | None = None
    resolver: Resolver | None = None
    keep_done: bool = False
    suppressions: SuppressionSet | None = None  # fed by the product's change-log follower
    worker: int = 0  # which of `smtp-workers` processes this is (0: the only one, or the first)
    workers: int = 1  # how many run (worker 0 adopts the spools of workers beyond)


class Mta:
    """Config, spool, engine and accounting of one running MTA."""

    def __init__(self, config: Config, options: MtaOptions) -> None:
        self.options = options
        self.config = config
        self.data_dir = options.data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # A relative spool directive is relative to the data directory (and so is the
        # default): joining the default again would nest DATA_DIR/DATA_DIR/spool.
        spool_dir = Path(config.spool or "spool")
        self.spool_root = spool_dir if spool_dir.is_absolute() else self.data_dir / spool_dir
        self.spool = Spool(
            worker_spool(self.spool_root, options.worker), keep_done=options.keep_done
        )
        self.host_name = config.host_name or "localhost"
        self.table: RuleTable = rule_table(config)
        self.acct_files = [AccountingFile(spec, self.data_dir) for spec in config.acct_files]
        self.engine = DeliveryEngine(
            self.spool,
            config,
            resolver=options.resolver or DnsPythonResolver(),
            records=self.write_record,
            signer=Signer.from_config(config, self._config_base()),
            table=self.table,
            host_name=self.host_name,
            # Outbound limits are per MTA: each smtp worker enforces its share of them.
            share=Share(options.worker, options.workers, self.spool_root / SLOT_DIR),
        )
        self.suppressions = options.suppressions or SuppressionSet()
        self.engine.suppressed = self.suppressed_reason
        self.engine.blocked = lambda: self.accounting_error is not None
        self.engine.settler.records_written = self.flush_accounting
        self._acct_failures = FailureLog(log, "writing the accounting files")
        self._pools = {name: PoolSelector(pool) for name, pool in config.pools.items()}
        self.committer = GroupCommit(self.spool)
        self.started_at = datetime.now(UTC)
        self.config_loaded_at = self.started_at
        self.listener_stats: list[Callable[[], ListenerStatus]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._reload_hooks: list[Callable[[Config], None]] = []

    def _config_base(self) -> Path | None:
        path = self.options.config_path
        return path.parent if path is not None else None

    @property
    def config_base(self) -> Path | None:
        """Where relative key and certificate paths of the config start (its directory)."""
        return self._config_base()

    # -- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Recover the spool after a crash, rebuild the queues, start delivering."""
        if self.options.worker == 0:  # spools of smtp-workers no longer running are ours
            adopted = await asyncio.to_thread(adopt_orphans, self.spool_root, self.options.workers)
            if adopted:
                log.warning("spool: %d message(s) adopted from stopped smtp workers", adopted)
        requeued, poisoned = await asyncio.to_thread(self.spool.recover)
        if requeued or poisoned:
            log.warning(
                "spool recovery: %d message(s) requeued, %d quarantined as poison",
                requeued,
                poisoned,
            )
        now = datetime.now(UTC)
        for spool_id, envelope in self.spool.poisoned:
            # The sender must hear about it: a bounce record per recipient, then bad/.
            reply = Reply(554, f"5.3.0 message {spool_id} crashed the MTA; quarantined in bad/")
            ctx = Context(
                sender=envelope.sender,
                queued_at=datetime.fromtimestamp(envelope.received_at, UTC),
                queue=domain_of(envelope.recipients[0]) if envelope.recipients else "",
                vmta=envelope.vmta or DEFAULT_VMTA,
                job_id=envelope.job_id or "",
            )
            for rcpt in envelope.recipients:
                self.write_record(attempt_record("bounced", rcpt, reply, ctx, now=now))
        await self.engine.start()
        self._flusher = asyncio.create_task(self._flush_loop(), name="acct-flush")

    async def stop(self, grace: float = 10.0) -> None:
        """Finish in-flight messages (up to ``grace`` seconds), flush and close the files."""
        await self.engine.stop(grace)
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        for acct in self.acct_files:
            try:
                acct.close()
            except OSError as exc:  # their messages were put back in incoming/: sent again
                log.error("%d accounting record(s) not written at stop: %s", acct.held, exc)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            if not self.flush_accounting():
                continue
            for acct in self.acct_files:
                try:
                    acct.rotate_if_due()  # move-interval applies on a quiet day too
                except OSError as exc:
                    self._acct_failures.failed(exc)
            if self.accounting_error is None and self.engine.blocked():
                self.engine.wake()

    # -- accounting ----------------------------------------------------------------------

    def flush_accounting(self) -> bool:
        """Write every record held so far to its file; say whether all are written.

        A failure (a full disk) keeps the records held and is logged once, then
        summarised, until a flush succeeds.
        """
        ok = True
        for acct in self.acct_files:
            try:
                acct.flush()
            except OSError as exc:
                ok = False
                self._acct_failures.failed(f"{acct.path}: {exc}")
        if ok:
            self._acct_failures.succeeded()
        return ok

    @property
    def accounting_error(self) -> str | None:
        """Why accounting records are held and cannot be written now (None: all is well)."""
        for acct in self.acct_files:
            if acct.error is not None:
                return f"cannot write {acct.path}: {acct.error.strerror or acct.error}"
        return None

    def storage_refusal(self) -> str | None:
        """The reply to new mail while its records could not be written, or None."""
        return STORAGE_REFUSAL if self.accounting_error is not None else None

    def write_record(self, record: dict[str, object]) -> None:
        """Append one accounting record to every ``<acct-file>`` that records its type
        (held in memory until written: see :meth:`flush_accounting`)."""
        for acct in self.acct_files:
            acct.write(record)

    def write_records(self, records: Iterable[dict[str, object]]) -> None:
        """Several records (e.g. one returned DSN naming several recipients)."""
        for record in records:
            self.write_record(record)

    # -- submission ----------------------------------------------------------------------

    def _vmta_for(self, name: str | None, domain: str) -> tuple[str | None, str]:
        """(vmta, pool) for a message naming ``name`` (a vmta, a pool, or nothing)."""
        if name is None:
            return None, ""
        selector = self._pools.get(name)
        if selector is not None:
            return selector.choose(domain), name
        return name, ""

    def _groups(
        self, submission: Submission, *, verp: bool
    ) -> list[tuple[tuple[str, ...], str | None, str]]:
        """Split recipients into copies: one per (queue, vmta), at most max-rcpt-per-message
        (one per recipient with VERP: each copy carries its own return path)."""
        groups: dict[tuple[str, str | None, str], list[str]] = {}
        limits: dict[tuple[str, str | None, str], int] = {}
        for rcpt in submission.recipients:
            domain = domain_of(rcpt)
            vmta, pool = self._vmta_for(submission.vmta, domain)
            queue, settings = self.engine.settings_for(domain, vmta)
            key = (queue, vmta, pool)
            groups.setdefault(key, []).append(rcpt)
            limits[key] = 1 if verp else settings.max_rcpt_per_message or len(submission.recipients)
        out = []
        for key, rcpts in groups.items():
            size = limits[key]
            for i in range(0, len(rcpts), size):
                out.append((tuple(rcpts[i : i + size]), key[1], key[2]))
        return out

    def suppressed_reason(self, rcpt: str, sender: str, job_id: str | None = None) -> str | None:
        """Why ``rcpt`` is on the suppression list for this sender (and job), or None."""
        if self.config.suppressed_recipients == "ignore":
            return None
        return self.suppressions.reason(rcpt, sender=sender, job_id=job_id)

    def _drop_suppressed(
        self, submission: Submission, now: datetime
    ) -> tuple[Submission, list[dict[str, object]]]:
        """Recipients on the suppression list are not spooled; each gets a ``b`` record
        (returned, to be written once the rest is accepted)."""
        keep = []
        records: list[dict[str, object]] = []
        for rcpt in submission.recipients:
            why = self.suppressed_reason(rcpt, submission.sender, submission.job_id)
            if why is None:
                keep.append(rcpt)
                continue
            ctx = Context(
                sender=submission.sender,
                queued_at=now,
                queue=domain_of(rcpt),
                vmta=submission.vmta or DEFAULT_VMTA,
                job_id=submission.job_id or "",
                env_id=submission.env_id or "",
                src_type=submission.origin,
                src_mta=submission.source_ip or "",
            )
            records.append(suppressed_record(rcpt, why, ctx, now=now, table=self.table))
        if not records:
            return submission, records
        return replace(submission, recipients=tuple(keep)), records

    def set_overrides(self, overrides: list[Override]) -> None:
        """Apply the feedback loop's live throttle decisions (replacing the previous set)."""
        self.engine.set_overrides(overrides)

    async def submit(self, submission: Submission) -> list[str]:
        """Spool a submission durably (one copy per destination queue); queue it for delivery.

        Suppressed recipients are dropped first, each with a ``b`` record (with
        ``suppressed-recipients reject`` the listener has refused most of them at RCPT
        already; this catches list-scoped entries, pickup files and late additions).
        """
        problem = self.accounting_error
        if problem is not None:  # nothing new while records cannot be written
            raise LocalError(f"accounting records are held: {problem}")
        now = datetime.now(UTC)
        submission, dropped = self._drop_suppressed(submission, now)
        if not submission.recipients:
            self._account_dropped(dropped)
            return []
        verp = self._verp(submission)
        items: list[tuple[bytes, Envelope, str | None]] = []
        for rcpts, vmta, pool in self._groups(submission, verp=verp):
            spool_id = Spool.new_id()
            raw = stamp(
                submission.raw,
                spool_id=spool_id,
                recipients=rcpts,
                job_id=submission.job_id,
                host_name=self.host_name,
                now=now,
            )
            extra = {"src_type": submission.origin, "src_mta": submission.source_ip or ""}
            if pool:
                extra["pool"] = pool
            if submission.env_id:
                extra["env_id"] = submission.env_id
            if verp:
                extra["verp"] = "1"
            envelope = Envelope(
                submission.sender,
                list(rcpts),
                vmta=vmta,
                job_id=submission.job_id,
                received_at=now.timestamp(),
                extra=extra,
            )
            items.append((raw, envelope, spool_id))
        # Shielded: a client hanging up after its final dot must not leave a message
        # spooled but never queued (the commit finishes and the copies are queued anyway).
        task = asyncio.ensure_future(self._commit(submission, items, dropped, now))
        task.add_done_callback(_retrieve)
        return await asyncio.shield(task)

    async def _commit(
        self,
        submission: Submission,
        items: list[tuple[bytes, Envelope, str | None]],
        dropped: list[dict[str, object]],
        now: datetime,
    ) -> list[str]:
        ids = await self.committer.accept(items)
        for spool_id, (_, envelope, _) in zip(ids, items, strict=True):
            self.engine.enqueue(spool_id, envelope)
            for rcpt in envelope.recipients:
                self.write_record(self._received(submission, envelope, rcpt, now))
        self._account_dropped(dropped)
        return ids

    def _account_dropped(self, records: list[dict[str, object]]) -> None:
        for record in records:
            self.write_record(record)
        self.engine.totals["suppressed"] += len(records)

    def _verp(self, submission: Submission) -> bool:
        source = next((s for s in self.config.sources if s.match == submission.source), None)
        return source is not None and source.verp_default

    @staticmethod
    def _received(
        submission: Submission, envelope: Envelope, rcpt: str, now: datetime
    ) -> dict[str, object]:
        return {
            "type": "r",
            "timeLogged": now,
            "timeQueued": now,
            "orig": envelope.sender,
            "rcpt": rcpt,
            "srcType": submission.origin,
            "srcMta": submission.source_ip or "",
            "dlvSize": len(submission.raw),
            "vmta": envelope.vmta or DEFAULT_VMTA,
            "jobId": envelope.job_id or "",
            "envId": submission.env_id or "",
            "vmtaPool": envelope.extra.get("pool", ""),
        }

    # -- management ----------------------------------------------------------------------

    def status(self) -> MtaStatus:
        """A snapshot of everything (the management endpoint serves it)."""
        return MtaStatus(
            host_name=self.host_name,
            started_at=self.started_at,
            now=datetime.now(UTC),
            config_files=self.config.files,
            config_loaded_at=self.config_loaded_at,
            spool=self.spool.counts(),
            listeners=tuple(stats() for stats in self.listener_stats),
            queues=tuple(self.engine.status()),
            totals=dict(self.engine.totals),
        )

    def pause(self, queue: str, vmta: str | None = None) -> int:
        """Stop opening connections for a queue (messages stay spooled)."""
        found = self.engine.matching(queue, vmta)
        for q in found:
            q.paused = True
        return len(found)

    def resume(self, queue: str, vmta: str | None = None) -> int:
        """Resume a paused queue, leave backoff and retry now."""
        found = self.engine.matching(queue, vmta)
        for q in found:
            q.paused = False
            q.backoff_until = None
            q.retry_at = 0.0
        self.engine.wake()
        return len(found)

    def on_reload(self, hook: Callable[[Config], None]) -> None:
        """Call ``hook(new_config)`` after each successful reload (listeners, pickups)."""
        self._reload_hooks.append(hook)

    def reload(self) -> str:
        """Re-read the config file; swap it in only if it loads cleanly. One line says how.

        Raises the config's error (and keeps running on the old one) when it does not load.
        """
        path = self.options.config_path
        if path is None:
            return "nothing to reload: the MTA was started without a config file"
        started = time.monotonic()
        try:
            config = for_worker(load_config(path), self.options.worker)
            signer = Signer.from_config(config, self._config_base())
            table = rule_table(config)
        except AcctpipeError as exc:
            log.error("reload of %s refused, the running config is kept: %s", path, exc)
            raise
        self.config = config
        self.table = table
        self.engine.table = table
        self._pools = {name: PoolSelector(pool) for name, pool in config.pools.items()}
        self.engine.reconfigure(config, signer)
        for hook in self._reload_hooks:
            hook(config)
        self.config_loaded_at = datetime.now(UTC)
        took = time.monotonic() - started
        log.info("reloaded %s in %.3f s", path, took)
        return f"reloaded {path} ({len(config.files)} file(s))"
