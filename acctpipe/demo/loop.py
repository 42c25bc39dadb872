"""``acctpipe demo``: the whole loop on loopback, narrated, in under a minute.

With no services and no network, the demo

1. prepares its data directory (wiping a previous demo's, refusing anything else),
   starts four simulated receivers on loopback — gmail-, outlook- and yahoo-like
   ones and a corporate gateway that blocklists us — and generates a self-signed
   certificate, a DKIM key and the config (``examples/demo.conf``);
2. starts ``acctpipe run`` in this process (:class:`~acctpipe.node.full.Runner`: MTA,
   tailer → ``events.duckdb``, policy loop, webhook worker, API and dashboard),
   with an API key and a webhook subscription to a local CRM stand-in that
   verifies every signature;
3. injects a campaign over STARTTLS (:mod:`acctpipe.demo.campaign`), has the
   receivers' feedback loops report a few messages as spam (ARF), and narrates
   what the loop does as it does it (:mod:`acctpipe.demo.watch`);
4. once every message has its outcome and the loop has caught up, prints the
   summary (:mod:`acctpipe.demo.summary`) and where to look next; with
   ``serve`` it keeps everything running until Ctrl-C, otherwise it stops
   gracefully so the DuckDB file is checkpointed and can be queried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from acctpipe.analytics import ReadOnlyFile
from acctpipe.api import ApiKeyStore, Services
from acctpipe.cli.console import styled
from acctpipe.demo.campaign import (
    SENDER,
    Campaign,
    InjectStats,
    build_campaign,
    inject,
)
from acctpipe.demo.receiver import WebhookReceiver
from acctpipe.demo.setup import (
    DKIM_DOMAIN,
    DKIM_SELECTOR,
    DOMAINS,
    RECEIVER_NOTES,
    DemoFiles,
    api_port,
    demo_profiles,
    prepare_data_dir,
    write_files,
)
from acctpipe.demo.summary import Totals, print_summary, read_totals
from acctpipe.demo.watch import Narrator
from acctpipe.feedback.events import last_rowid, load_progress
from acctpipe.node.full import Runner, RunOptions
from acctpipe.sim.profile import IspProfile
from acctpipe.sim.server import IspSimulator
from acctpipe.sqlstore import make_engine
from mta.delivery.routing import StaticResolver
from mta.tls import client_context

__all__ = ["DemoOptions", "DemoResult", "run_demo"]

FBL_ADDRESS: Final = "fbl@shop.example"
_POLL: Final = 0.5  # seconds between two looks at the stores
_SETTLE_BUDGET: Final = 100.0  # seconds the demo waits for 3,000 messages to settle, at most


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What the demo runs: where, how many messages, and whether it keeps serving."""

    data_dir: Path = Path("demo-data")
    messages: int = 3000
    serve: bool = False
    api_host: str = "127.0.0.1"
    api_port: int = 8025
    rate: float = 150.0  # messages per second the campaign tool injects at most
    seed: int = 2026


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What the demo left behind: the files, the dashboard, its key, and the numbers."""

    events_db: Path
    api_url: str
    api_key: str
    totals: Totals
    elapsed: float
    interrupted: bool = False  # Ctrl-C before the run settled (the summary is partial)


def run_demo(options: DemoOptions, out: Console) -> DemoResult:
    """Run the demo (blocking); raise on a setup error, return what it left behind."""
    for noisy in ("mail.log", "uvicorn.error", "uvicorn.access", "watchdog"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return asyncio.run(_Demo(options, out).run())


class _Demo:
    def __init__(self, options: DemoOptions, out: Console) -> None:
        self.options = options
        self.out = out
        self.started = time.monotonic()
        self.since = datetime.now(UTC)
        self.sims: dict[str, IspSimulator] = {}
        self.stop = asyncio.Event()
        self.injected = InjectStats()
        self.complaints_sent = 0
        self.running: Runner | None = None

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, text: str) -> None:
        # ``text`` is our markup template with any data in it escaped.
        self.out.print(styled(f"[dim]{self.elapsed():5.1f}s[/dim]  {text}"), soft_wrap=True)

    async def run(self) -> DemoResult:
        opts, out = self.options, self.out
        self._signals()
        out.rule(styled("[bold]acctpipe demo[/bold] — the whole loop on loopback"))
        wiped = prepare_data_dir(opts.data_dir)
        self.say(
            f"data directory {escape(str(opts.data_dir))}"
            + (" (the previous demo's files were wiped)" if wiped else "")
        )
        profiles = demo_profiles()
        async with AsyncExitStack() as stack:
            for domain in DOMAINS:
                sim = IspSimulator(profiles[domain], keep=5000)
                self.sims[domain] = await stack.enter_async_context(sim)
            self._print_receivers(profiles)
            files = await asyncio.to_thread(
                write_files, opts.data_dir, {d: ("127.0.0.1", s.port) for d, s in self.sims.items()}
            )
            self._print_files(files)
            receiver = stack.enter_context(WebhookReceiver())
            runner = await self._start_runner(files)
            stack.push_async_callback(self._stop_runner)
            services = runner.node.services
            assert services is not None
            key = self._credentials(services, receiver)
            for sim in self.sims.values():
                sim.report_to = runner.smtp[0]
            campaign = build_campaign(opts.messages, seed=opts.seed)
            narrator = Narrator(out, services, receiver, started=self.started, since=self.since)
            queued = await self._send(runner, files, campaign, profiles, narrator)
            interrupted = self.stop.is_set()
            if interrupted:
                self.say("[yellow]interrupted: stopping and summarising what happened so far")
            return await self._finish(
                runner, services, receiver, narrator, key, queued, interrupted=interrupted
            )
        raise AssertionError("unreachable")  # pragma: no cover

    # -- setup -------------------------------------------------------------------------

    def _print_receivers(self, profiles: dict[str, IspProfile]) -> None:
        table = Table(title="Simulated receivers (one aiosmtpd server each, on loopback)")
        table.add_column("destination")
        table.add_column("listens on")
        table.add_column("behaves like")
        for domain, sim in self.sims.items():
            tls = ", STARTTLS" if profiles[domain].starttls else ""
            table.add_row(domain, f"127.0.0.1:{sim.port}{tls}", RECEIVER_NOTES[domain])
        self.out.print(table)

    def _shown(self, path: Path) -> Path:
        """``path`` (absolute, in the data directory) as the user named that directory."""
        return self.options.data_dir / path.relative_to(self.options.data_dir.resolve())

    def _print_files(self, files: DemoFiles) -> None:
        config = self._shown(files.config)
        self.say(f"self-signed certificate for the listener's STARTTLS: {self._shown(files.cert)}")
        self.say(
            f"DKIM key (Ed25519) {self._shown(files.dkim_key)}; publish at "
            f"{DKIM_SELECTOR}._domainkey.{DKIM_DOMAIN}: [dim]{escape(files.dkim_txt[:60])}…[/dim]"
        )
        self.say(
            f"config (PowerMTA syntax) {config} — "
            f"[dim]acctpipe check-config {config} --domain outlook.example[/dim]"
        )

    async def _start_runner(self, files: DemoFiles) -> Runner:
        opts = self.options
        port = api_port(opts.api_host, opts.api_port)
        if port != opts.api_port:
            self.say(f"[yellow]{opts.api_host}:{opts.api_port} is taken: the API takes a free port")
        options = RunOptions(
            config=files.config,
            # Absolute: the MTA resolves its default spool against the data directory
            # a second time, so a relative one would nest (demo-data/demo-data/spool).
            data_dir=opts.data_dir.resolve(),
            api_host=opts.api_host,
            api_port=port,
            summary_every=10.0,
            rescan=0.5,
            node="demo",
            resolver=StaticResolver(),  # nothing is ever looked up in DNS: routes only
        )
        runner = Runner(options)
        await runner.start()
        self.running = runner
        host, smtp_port = runner.smtp[0]
        self.say(
            f"acctpipe run started: MTA on SMTP {host}:{smtp_port}, tailer → "
            f"{opts.data_dir / 'events.duckdb'}, policy loop, webhook worker, API {runner.api_url}"
        )
        return runner

    async def _stop_runner(self) -> None:
        runner, self.running = self.running, None
        if runner is None:
            return
        self.say(
            "stopping: the MTA finishes in-flight deliveries, the tailer ingests the last "
            "rows and checkpoints DuckDB"
        )
        await runner.stop()

    def _credentials(self, services: Services, receiver: WebhookReceiver) -> str:
        _, key = ApiKeyStore(services.engine).create("demo", "admin")
        assert services.webhooks is not None
        subscription = services.webhooks.create(
            receiver.url, ["*"], description="acctpipe demo: a CRM stand-in"
        )
        receiver.secret = subscription.secret
        self.say(f"webhook subscription → {receiver.url} (every event type, Standard Webhooks)")
        return key

    def _signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop.set)

    # -- the run -----------------------------------------------------------------------

    async def _send(
        self,
        runner: Runner,
        files: DemoFiles,
        campaign: Campaign,
        profiles: dict[str, IspProfile],
        narrator: Narrator,
    ) -> int:
        """Inject, complain, narrate; return how many messages are still queued at the end."""
        opts, mta = self.options, runner.server.mta
        host, port = runner.smtp[0]
        # Full mailboxes at receivers that answer 452 stay queued for their next retry
        # (unless the receiver blocks us before it looks at the mailbox).
        stuck = sum(
            1
            for r in campaign.recipients
            if r.kind == "full"
            and profiles[r.domain].replies.mailbox_full.startswith("4")
            and not profiles[r.domain].blocked_networks
        )
        shares = ", ".join(f"{d} {n:,}" for d, n in campaign.by_domain().most_common())
        self.say(
            f"campaign: {len(campaign.recipients):,} messages from {SENDER} ({shares}); "
            f"{campaign.count('unknown'):,} to unknown users, {campaign.count('full'):,} to "
            f"full mailboxes; injected at up to {opts.rate:g} msg/s over 8 STARTTLS connections"
        )
        out = self.out
        columns = (
            TextColumn("{task.description:<28}"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TextColumn("{task.fields[extra]}"),
            TimeElapsedColumn(),
        )
        tls = client_context(cadata=files.cert.read_bytes())
        total = len(campaign.recipients)
        budget = _SETTLE_BUDGET * max(1.0, total / 3000)
        with Progress(*columns, console=out, transient=False) as progress:
            sent = progress.add_task("campaign tool → MTA", total=total, extra="")
            done = progress.add_task("final outcomes (d/b records)", total=total - stuck, extra="")
            injecting = asyncio.create_task(
                inject(host, port, campaign, tls, self.injected, rate=opts.rate)
            )
            complaining = asyncio.create_task(self._complaints(runner, total))
            deadline = time.monotonic() + budget
            try:
                while not self.stop.is_set():
                    status = mta.status()
                    totals = status.totals
                    final = sum(totals.get(k, 0) for k in ("delivered", "bounced", "expired"))
                    final += totals.get("suppressed", 0)
                    progress.update(sent, completed=self.injected.accepted + self.injected.refused)
                    if injecting.done():  # what was refused at RCPT never gets an outcome
                        progress.update(done, total=self.injected.accepted - stuck)
                    progress.update(
                        done,
                        completed=final,
                        extra=f"deferred attempts {totals.get('deferred', 0):,}",
                    )
                    await asyncio.to_thread(narrator.poll, status.queues)
                    if _failed(injecting) or _failed(complaining):
                        break  # raised below
                    settled = (
                        injecting.done()
                        and complaining.done()
                        and final >= self.injected.accepted - stuck
                    )
                    if settled and await asyncio.to_thread(
                        self._caught_up, runner, final, narrator
                    ):
                        break
                    if time.monotonic() > deadline:
                        self.say(
                            f"[yellow]not every message settled within {budget:.0f} s; "
                            "summarising what happened so far"
                        )
                        break
                    await asyncio.sleep(_POLL)
            finally:
                for task in (injecting, complaining):
                    if not task.done():
                        task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task  # re-raises what the task failed with
        await asyncio.to_thread(narrator.poll, final=True)
        return sum(q.queued for q in mta.status().queues)

    def _caught_up(self, runner: Runner, final: int, narrator: Narrator) -> bool:
        """The tailer ingested every outcome and complaint, the policy loop acted on them,
        and the webhook outbox is empty."""
        services = runner.node.services
        assert services is not None
        assert services.events is not None
        assert services.webhooks is not None
        with services.events.connect() as conn:
            row = conn.execute(
                "SELECT count(*) FILTER (WHERE type IN ('d', 'b')), "
                "count(*) FILTER (WHERE type = 'f') FROM events"
            ).fetchone()
            outcomes, complaints = (int(v) for v in row) if row else (0, 0)
            progress = load_progress(conn, "policy")
            acted = progress is not None and progress >= last_rowid(conn)
        if outcomes < final or complaints < self.complaints_sent or not acted:
            return False
        if narrator.seen.complaints < self.complaints_sent:
            return False
        return services.webhooks.stats()["pending"] == 0

    async def _complaints(self, runner: Runner, total: int) -> None:
        """Once half the campaign is delivered, a few recipients report it as spam."""
        count = min(8, max(2, round(total / 600)))
        mta = runner.server.mta
        while mta.status().totals.get("delivered", 0) < total // 2 and not self.injected.done:
            await asyncio.sleep(_POLL)
        rng = random.Random(self.options.seed)  # noqa: S311 - test data, not security
        chosen: set[str] = set()
        for n in range(count):
            domain = "outlook.example" if n % 3 == 2 else "yahoo.example"
            sim = self.sims[domain]
            candidates = [
                m
                for m in sim.messages
                if m.rcpt_tos
                and m.rcpt_tos[0] not in chosen
                and not m.rcpt_tos[0].startswith(("unknown", "full"))
            ]
            if not candidates:
                continue
            message = rng.choice(candidates)
            chosen.add(message.rcpt_tos[0])
            await sim.send_arf(message, FBL_ADDRESS, redact=domain == "yahoo.example")
            self.complaints_sent += 1
            self.say(
                f"{domain}'s feedback loop sends an ARF report to {FBL_ADDRESS}: "
                f"{escape(message.rcpt_tos[0])} marked the campaign as spam"
            )
            await asyncio.sleep(0.3)

    # -- the end -----------------------------------------------------------------------

    async def _finish(
        self,
        runner: Runner,
        services: Services,
        receiver: WebhookReceiver,
        narrator: Narrator,
        key: str,
        queued: int,
        *,
        interrupted: bool,
    ) -> DemoResult:
        opts, out = self.options, self.out
        db = opts.data_dir / "events.duckdb"
        api_url = runner.api_url
        serve = opts.serve and not interrupted
        if serve:
            assert services.events is not None
            totals = await asyncio.to_thread(
                read_totals, services.events, services.engine, receiver, self.since
            )
        else:
            await self._stop_runner()  # DuckDB checkpointed and closed: queryable from now on
            totals = await asyncio.to_thread(self._read_after_stop, runner, receiver)
        elapsed = self.elapsed()
        print_summary(out, totals, self.injected, queued=queued, elapsed=elapsed)
        self._print_next(db, api_url, key, serving=serve)
        if serve:
            self.say(f"[bold]serving[/bold] — dashboard {api_url}/ ; Ctrl-C stops")
            while not self.stop.is_set():
                await asyncio.to_thread(narrator.poll)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), 2.0)
        return DemoResult(db, api_url, key, totals, elapsed, interrupted)

    def _read_after_stop(self, runner: Runner, receiver: WebhookReceiver) -> Totals:
        engine = make_engine(runner.options.sql_url())
        try:
            events = ReadOnlyFile(runner.options.data_dir / "events.duckdb")
            return read_totals(events, engine, receiver, self.since)
        finally:
            engine.dispose()

    def _print_next(self, db: Path, api_url: str, key: str, *, serving: bool) -> None:
        out, opts = self.out, self.options
        query = (
            "SELECT rcpt_domain, type, bounce_class, count(*) AS n FROM events "
            "GROUP BY ALL ORDER BY rcpt_domain, n DESC"
        )
        shown_db = escape(str(db))
        out.print(styled(f"[bold]Events[/bold]     {shown_db} (DuckDB; schema in docs/schema.md)"))
        out.print(f"  acctpipe sql --db {db} '{query}'", markup=False, soft_wrap=True)
        lines = [f"[bold]Dashboard[/bold]  {api_url}/  (log in with the demo key below)"]
        if not serving:
            url = f"sqlite:///{opts.data_dir / 'acctpipe.sqlite'}"
            lines[0] = (
                f"[bold]Dashboard[/bold]  was at {api_url}/ — run `acctpipe demo --serve` to keep "
                f"it up, or `acctpipe serve --db {db} --database-url {url}`"
            )
        lines.append(f"[bold]API key[/bold]    {key}  (a demo key with the admin scope)")
        for line in lines:
            out.print(styled(line), soft_wrap=True)


def _failed(task: asyncio.Task[object]) -> bool:
    return task.done() and not task.cancelled() and task.exception() is not None
