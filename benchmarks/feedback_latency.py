"""Feedback latency: a hard-bounce row written → the address refused at RCPT.

Everything real and on loopback, in one process for a clean clock: the MTA with its
SMTP listener and the change-log follower (``acctpipe mta --database-url``), and
the tailer with the policy loop (``acctpipe tail --database-url``) on a thread with
its watchdog observer. Each round appends one ``b`` row (550 5.1.1, a new address)
to the accounting file the tailer follows, then asks the listener, over SMTP, to
take ``RCPT TO`` for that address until it answers 550. The figure is the time
from the write to that refusal; the target is under 2 s.

    .venv/bin/python -m benchmarks.feedback_latency --rounds 30
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import aiosmtplib

from acctpipe.eventstore import Store
from acctpipe.feedback.follower import MtaFollower
from acctpipe.feedback.loop import PolicyLoop
from acctpipe.ingest import Loader, Tailer
from acctpipe.sqlstore.migrate import open_database
from acctpipe.sqlstore.suppressions import SuppressionStore, ThrottleStore
from benchmarks._report import Figure, Target, add_json_argument, write_figures
from mta.acct.timefmt import format_time
from mta.config import parse_config_text
from mta.delivery.routing import StaticResolver
from mta.node.process import MtaServer

_CONFIG = """
smtp-listener 127.0.0.1:0
<source 127.0.0.1/32>
    always-allow-relaying yes
</source>
<domain *>
    route 127.0.0.1:9
</domain>
"""
HEADER = "type,timeLogged,orig,rcpt,dsnAction,dsnStatus,dsnDiag,vmta,queue\r\n"


async def _refused(port: int, rcpt: str) -> bool:
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=5)
    async with smtp:
        await smtp.mail("news@sender.test")
        try:
            await smtp.rcpt(rcpt)
        except aiosmtplib.SMTPRecipientRefused:
            return True
        await smtp.rset()
        return False


async def run(rounds: int, tmp: Path) -> list[float]:
    """Measure ``rounds`` write → refusal latencies (seconds)."""
    engine = open_database(f"sqlite:///{tmp / 'store.sqlite'}")
    server = MtaServer(parse_config_text(_CONFIG), data_dir=tmp / "mta", resolver=StaticResolver())
    server.companions.append(
        MtaFollower(server.mta, SuppressionStore(engine), ThrottleStore(engine))
    )
    await server.start()
    acct_dir = tmp / "acct"
    acct_dir.mkdir()
    acct = acct_dir / "acct.csv"
    acct.write_text(HEADER, encoding="utf-8")
    store = Store.open(tmp / "events.duckdb")
    loop = PolicyLoop(store.conn, SuppressionStore(engine), ThrottleStore(engine))

    def after_pass() -> None:
        loop.run_once()

    tailer = Tailer(Loader(store), [acct_dir], rescan=2.0, on_pass=after_pass)
    thread = threading.Thread(target=tailer.run, name="tailer", daemon=True)
    thread.start()
    port = server.listeners[0].port
    latencies = []
    try:
        for n in range(rounds):
            rcpt = f"gone{n}@example.com"
            row = (
                f"b,{format_time(datetime.now(UTC))},news@sender.test,{rcpt},failed,5.1.1,"
                f'"smtp;550 5.1.1 <{rcpt}>: user unknown",default,example.com\r\n'
            )
            written = time.perf_counter()
            with acct.open("a", encoding="utf-8", newline="") as f:
                f.write(row)
            while not await _refused(port, rcpt):
                if time.perf_counter() - written > 30:
                    raise RuntimeError(f"{rcpt} was not refused within 30 s")
                await asyncio.sleep(0.02)
            latencies.append(time.perf_counter() - written)
            await asyncio.sleep(0.1)
    finally:
        tailer.stop()
        thread.join(timeout=30)
        store.close()
        await server.stop()
        engine.dispose()
    return latencies


def main(argv: Sequence[str] | None = None) -> int:
    """Run and print the latency distribution."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.feedback_latency")
    parser.add_argument("--rounds", type=int, default=30, help="bounces to time")
    add_json_argument(parser)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="acctpipe-bench-feedback-") as tmp:
        latencies = asyncio.run(run(args.rounds, Path(tmp)))
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"{len(latencies)} hard bounces: row written → refused at RCPT")
    print(f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
          f"max {latencies[-1] * 1000:.0f} ms (target < 2000 ms)")  # fmt: skip
    figures = [
        Figure("bounce row → refused at RCPT, p50", p50 * 1000, "ms"),
        Figure("bounce row → refused at RCPT, max", latencies[-1] * 1000, "ms",
               target=Target("<", 2000)),
    ]  # fmt: skip
    write_figures(parser, argv, args.json, figures)
    return 0 if latencies[-1] < 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
