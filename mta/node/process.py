"""The whole MTA process: runtime, SMTP listeners, pickup folders, returned mail, management.

:class:`MtaServer` starts the parts in dependency order (spool recovery and
queues first, so nothing is accepted before it can be delivered; then the ways
in; then the management port) and stops them in reverse: stop accepting, let
in-flight transactions and deliveries finish, flush and close the files.
``serve_forever`` adds the signals an operator expects — SIGHUP reloads the
config (validated first; a bad file is logged and the old config kept),
SIGTERM and SIGINT stop gracefully.

Paths: what the MTA writes or watches (spool, accounting files, reject log,
pickup folders) resolves against the data directory; what it reads as
configuration (includes, ``bounce-rules``, ``domain-key`` files) against the
config file's directory.

Once listening, the server writes ``DATA_DIR/mta.json`` with its pid and the
real ports (useful with port 0 in tests and demos).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from mta.acct.rejectfile import RejectLogFile
from mta.config import Config, load_config
from mta.delivery.routing import Resolver
from mta.errors import AcctpipeError
from mta.mgmt.app import MgmtServer, create_mgmt_app
from mta.node.runtime import Mta, MtaOptions
from mta.node.workers import WorkerRole, for_worker
from mta.pickup.watcher import PickupFolder
from mta.returns.intake import ReturnsProcessor
from mta.smtp_server.listener import AuthLimiter, ConnectionGate, SmtpListener
from mta.smtp_server.relay import check_rcpt
from mta.submit import Submission

__all__ = ["Companion", "MtaServer", "ReturnedMail"]


class Companion(Protocol):
    """Something that runs beside the MTA (e.g. the product's suppression follower)."""

    async def start(self) -> None:
        """Called before the engine starts and before any listener accepts mail."""
        ...

    async def stop(self) -> None:
        """Called after the listeners stopped, before the engine stops."""
        ...


log = logging.getLogger("mta")


class ReturnedMail:
    """Returned mail: the listeners' :class:`~mta.smtp_server.listener.LocalMail`, and the pickup
    folders' submitter — bounces and FBL reports to our addresses become records."""

    def __init__(self, mta: Mta) -> None:
        self.mta = mta
        self.processor = ReturnsProcessor(mta.config)
        mta.on_reload(self._reload)

    def _reload(self, config: Config) -> None:
        self.processor = ReturnsProcessor(config)

    def is_local(self, rcpt: str) -> bool:
        """Whether ``rcpt`` is one of our bounce or feedback-loop addresses."""
        return self.processor.is_local(rcpt)

    async def consume(
        self, raw: bytes, sender: str, recipients: tuple[str, ...], peer_ip: str
    ) -> None:
        """Classify the returned message and write its rb/rs/f records."""
        outcome = self.processor.process(
            raw, sender, recipients, now=datetime.now(UTC), peer_ip=peer_ip
        )
        self.mta.write_records(outcome.records)
        if outcome.deliver:  # deliver-(un)matched-email yes: also relay it as ordinary mail
            # ...but only where this client may relay: an address-list pattern must never
            # turn into an open relay to other domains (pickup files, peer_ip "", are ours).
            config = self.mta.config
            onward = tuple(
                r for r in recipients if not peer_ip or check_rcpt(config, peer_ip, None, r).ok
            )
            if onward:
                await self.mta.submit(Submission(raw, sender, onward, source_ip=peer_ip))

    async def submit(self, submission: Submission) -> list[str]:
        """A :class:`~mta.submit.Submitter` for pickup folders: files addressed to our own
        bounce/FBL addresses are read here, the other recipients are spooled."""
        local = tuple(r for r in submission.recipients if self.is_local(r))
        if local:
            await self.consume(submission.raw, submission.sender, local, "")
        remote = tuple(r for r in submission.recipients if r not in local)
        return await self.mta.submit(replace(submission, recipients=remote)) if remote else []


class MtaServer:
    """Everything ``acctpipe mta`` runs, for one config file and one data directory."""

    def __init__(
        self,
        config: Config,
        *,
        data_dir: Path,
        config_path: Path | None = None,
        resolver: Resolver | None = None,
        worker: WorkerRole | None = None,
    ) -> None:
        self.worker = worker or WorkerRole(0, 1)
        index, count = self.worker.index, self.worker.count
        config = for_worker(config, index)
        options = MtaOptions(
            data_dir, config_path=config_path, resolver=resolver, worker=index, workers=count
        )
        self.mta = Mta(config, options)
        self.returns = ReturnedMail(self.mta)
        self.rejects = [RejectLogFile(spec, data_dir) for spec in config.reject_logs]
        self.listeners: list[SmtpListener] = []
        self.pickups: list[PickupFolder] = []
        self.mgmt: MgmtServer | None = None
        self.companions: list[Companion] = []
        self._stop = asyncio.Event()

    @classmethod
    def from_file(
        cls,
        path: Path,
        *,
        data_dir: Path,
        resolver: Resolver | None = None,
        worker: WorkerRole | None = None,
    ) -> MtaServer:
        """Load ``path`` (raising its config errors) and build the server."""
        config = load_config(path)
        return cls(config, data_dir=data_dir, config_path=path, resolver=resolver, worker=worker)

    @property
    def config(self) -> Config:
        """The config in force (it changes on reload)."""
        return self.mta.config

    async def start(self) -> None:
        """Recover the spool and start delivering, then open the ways in and the mgmt port."""
        mta = self.mta
        # Companions first: the suppression list must be in memory before the engine
        # sends what the spool holds from before the restart.
        for companion in self.companions:
            await companion.start()
        await mta.start()
        reject_log = self.rejects[0] if self.rejects else None
        # One session count (total-max-smtp-in) and one AUTH-failure count for all listeners.
        gate, auth_limiter = ConnectionGate(), AuthLimiter()
        shared = self.worker.sockets
        for i, spec in enumerate(self.config.listeners):
            listener = SmtpListener(
                lambda: self.mta.config,
                spec,
                mta,
                reject_log=reject_log,
                local=self.returns,
                suppressed=lambda rcpt, sender: self.mta.suppressed_reason(rcpt, sender),
                storage=mta.storage_refusal,
                base=mta.config_base,
                gate=gate,
                auth_limiter=auth_limiter,
                sock=shared[i] if i < len(shared) else None,
            )
            await listener.start()
            self.listeners.append(listener)
            mta.listener_stats.append(listener.stats)
        for pickup_spec in self.config.pickups:
            folder = PickupFolder(
                pickup_spec, self.returns, get_config=lambda: self.mta.config, base=mta.data_dir
            )
            await folder.start()
            self.pickups.append(folder)
        if self.config.http_mgmt_port is not None:
            app = create_mgmt_app(
                mta,
                lambda: self.mta.config.http_access,
                get_host_names=lambda: self.mta.config.http_mgmt_host_names,
                get_admin_key=lambda: self.mta.config.http_admin_key,
            )
            self.mgmt = MgmtServer(app, "127.0.0.1", self.config.http_mgmt_port)
            await self.mgmt.start()
        if self.worker.index == 0:
            self._write_state()
        log.info("MTA ready: %s", ", ".join(f"smtp {x.host}:{x.port}" for x in self.listeners))

    def _write_state(self) -> None:
        state = {
            # With smtp-workers, the supervisor: signals sent to it reach every worker.
            "pid": self.worker.supervisor_pid or os.getpid(),
            "workers": self.worker.count,
            "started_at": self.mta.started_at.isoformat(),
            "listeners": [{"host": x.host, "port": x.port} for x in self.listeners],
            "mgmt_port": self.mgmt.port if self.mgmt else None,
            "spool": str(self.mta.spool.root),
        }
        path = self.mta.data_dir / "mta.json"
        tmp = path.with_suffix(".json.new")
        tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop accepting, finish what is in flight, close every file."""
        for listener in self.listeners:
            await listener.stop(timeout=grace)
        for folder in self.pickups:
            await folder.stop()
        for companion in reversed(self.companions):
            await companion.stop()
        await self.mta.stop(grace)
        if self.mgmt is not None:
            await self.mgmt.stop()
        for rejects in self.rejects:
            rejects.close()
        if self.worker.index == 0:
            with contextlib.suppress(FileNotFoundError):
                (self.mta.data_dir / "mta.json").unlink()

    def reload(self) -> None:
        """SIGHUP: reload the config; on error, log it and keep running on the old one."""
        try:
            log.info(self.mta.reload())
        except AcctpipeError:
            return  # already logged by the runtime, with the file and line

    def request_stop(self) -> None:
        """Ask :meth:`serve_forever` to stop (SIGTERM, SIGINT)."""
        self._stop.set()

    async def serve_forever(self) -> None:
        """Start, serve until SIGTERM/SIGINT (SIGHUP reloads), then stop gracefully."""
        loop = asyncio.get_running_loop()
        await self.start()
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        try:
            await self._stop.wait()
        finally:
            for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            log.info("MTA stopping: finishing in-flight work")
            await self.stop()
