"""One application, one connection: stdlib smtplib through the MTA to a fast sink, vs straight in.

The way many applications submit: one ``smtplib`` connection, EHLO once, then
MAIL, RCPT and DATA per message, each waiting for its reply (no pipelining),
messages of 10 KB one after the other (:mod:`benchmarks._submit_client`, its
own process). Every round trip waits on the server, so what counts is the
latency per message: the time from the final dot to our 250 (fsync included)
and the delivery work sharing the event loop.

1. **ceiling**: the same smtplib loop straight into the sink.
2. **ours**: the loop into our listener (fsync before 250) while the engine
   delivers to the same sink at the same time; timed from the first MAIL
   until the sink has every message and the accounting file every ``d`` row.

The sink is Postfix's ``smtp-sink`` (C) from the peer-MTA prefix, or our
smallest asyncio sink where that cannot run (:mod:`benchmarks._sink` says
which). CPU per message is this process's CPU time (the MTA's) over the
messages. ``--profile FILE`` writes a cProfile of the MTA side.

    .venv/bin/python -m benchmarks.submit_single --count 2000
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks._report import Figure, Target, add_json_argument, write_figures
from benchmarks._sink import Sink, free_port, start_sink, wait_port
from mta.config import parse_config_text
from mta.delivery.routing import StaticResolver
from mta.eventloop import LOOPS, loop_factory, loop_name
from mta.node.process import MtaServer

_CONFIG = """
host-name mta.bench.test
smtp-listener 127.0.0.1:0
<source 127.0.0.1/32>
    always-allow-relaying yes
</source>
<acct-file acct.csv>
    records d,b,t,tq
</acct-file>
<domain *>
    route 127.0.0.1:{port}
    use-starttls no
</domain>
"""


def _client(port: int, count: int, size: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks._submit_client", "--port", str(port),
         "--count", str(count), "--size", str(size)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return dict(json.loads(out.stdout))


def _d_rows(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\r\nd,")
    except FileNotFoundError:
        return 0


async def _ours(sink: Sink, count: int, size: int, profile: Path | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="acctpipe-bench-submit-", dir=Path.cwd()) as tmp:
        config = parse_config_text(_CONFIG.format(port=sink.port))
        server = MtaServer(config, data_dir=Path(tmp), resolver=StaticResolver())
        await server.start()
        profiler = cProfile.Profile() if profile is not None else None
        try:
            port = server.listeners[0].port
            before = sink.received()
            totals = server.mta.engine.totals
            cpu = time.process_time()
            if profiler is not None:
                profiler.enable()
            client = asyncio.create_task(asyncio.to_thread(_client, port, count, size))
            while totals["delivered"] + totals["bounced"] < count or not client.done():
                await asyncio.sleep(0.005)
            acct = Path(tmp) / "acct.csv"
            server.mta.flush_accounting()  # a no-op: each settle flushed its rows already
            while _d_rows(acct) < count:
                await asyncio.sleep(0.005)
            ended = time.time()
            if profiler is not None:
                profiler.disable()
            cpu = time.process_time() - cpu
            sent = client.result()
            ended = max(ended, await asyncio.to_thread(sink.wait_for, before + count))
            bounced = totals["bounced"]
        finally:
            await server.stop()
    if profiler is not None and profile is not None:
        profiler.dump_stats(profile)
    return {
        "rate": count / (ended - sent["started"]),
        "accept_rate": count / (sent["ended"] - sent["started"]),
        "cpu_ms": 1000 * cpu / count,
        "bounced": float(bounced),
    }


def _postfix(sink: Sink, count: int, size: int) -> float | None:
    """The same loop through Postfix (its queue fsyncs before 250 too), or None if it cannot run."""
    try:
        from benchmarks.relay_peer import POSTFIX_MAIN_CF
        from scripts.peer_mta import postfix
        from scripts.peer_mta.prefix import Namespace

        ns = Namespace(postfix.prefix())
    except Exception as exc:  # noqa: BLE001 - no apt, no root, no namespaces: no peer
        print(f"Postfix unavailable ({exc}); no peer row", file=sys.stderr)
        return None
    with ns:
        port = free_port()
        postfix.start(ns, main_cf=POSTFIX_MAIN_CF.format(sink=sink.port, sessions=20),
                      listen=f"127.0.0.1:{port}")  # fmt: skip
        try:
            wait_port(port)
            before = sink.received()
            sent = _client(port, count, size)
            return count / (sink.wait_for(before + count) - sent["started"])
        finally:
            postfix.stop(ns)


def run(
    count: int, size: int, *, sink_kind: str, profile: Path | None, loop: str, peer: bool = True
) -> dict[str, float | str]:
    """The phases against one sink; the figures (``postfix_rate`` 0: not measured)."""
    sink = start_sink(prefer=sink_kind)
    try:
        bare = _client(sink.port, count, size)
        with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
            ours = runner.run(_ours(sink, count, size, profile))
        postfix_rate = (_postfix(sink, count, size) if peer else None) or 0.0
    finally:
        sink.stop()
    return {
        "sink": sink.name,
        "bare_rate": count / (bare["ended"] - bare["started"]),
        "postfix_rate": postfix_rate,
        **ours,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run once and print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.submit_single", description=__doc__)
    parser.add_argument("--count", type=int, default=2000, help="messages")
    parser.add_argument("--size", type=int, default=10_240, help="bytes per message")
    parser.add_argument("--sink", choices=("smtp-sink", "tiny"), default="smtp-sink",
                        help="the sink: Postfix's smtp-sink when it can run, or ours")  # fmt: skip
    parser.add_argument("--profile", type=Path, help="write a cProfile of the MTA side here")
    parser.add_argument("--no-peer", action="store_true",
                        help="skip the Postfix phase (the same loop through Postfix)")  # fmt: skip
    parser.add_argument("--loop", choices=LOOPS, default="auto",
                        help="the MTA's event loop (auto: uvloop when installed)")  # fmt: skip
    add_json_argument(parser)
    args = parser.parse_args(argv)
    r = run(args.count, args.size, sink_kind=args.sink, profile=args.profile, loop=args.loop,
            peer=not args.no_peer)  # fmt: skip
    bare, rate = float(r["bare_rate"]), float(r["rate"])
    print(f"{args.count} messages of {args.size} bytes, one smtplib connection, sink: {r['sink']}"
          f", MTA loop: {loop_name(args.loop)}")  # fmt: skip
    print(f"{'path':<52}{'msg/s':>10}")
    print(f"{'smtplib -> sink (ceiling)':<52}{bare:>10,.0f}")
    print(f"{'smtplib -> our MTA (fsync, 250) -> sink, end to end':<52}{rate:>10,.0f}")
    print(f"{'  of which the client loop alone (last 250)':<52}{float(r['accept_rate']):>10,.0f}")
    peer = float(r["postfix_rate"])
    if peer:
        print(f"{'smtplib -> Postfix (fsync, 250) -> sink, end to end':<52}{peer:>10,.0f}")
    print(f"ratio ours/bare: {rate / bare:.2f} (target >= 0.6)")
    if peer:
        print(f"ratio ours/Postfix: {rate / peer:.2f}")
    print(f"MTA CPU per message: {float(r['cpu_ms']):.2f} ms")
    figures = [
        Figure("one smtplib connection, end to end", rate, "msg/s",
               f"smtplib -> {r['sink']}", bare, Target(">=", 0.6, of="ratio")),
        Figure("MTA CPU per message", float(r["cpu_ms"]), "ms"),
    ]  # fmt: skip
    if peer:
        figures.insert(1, Figure("one smtplib connection, vs Postfix", rate, "msg/s",
                                 "smtplib -> Postfix (fsync, 250)", peer))  # fmt: skip
    write_figures(parser, argv, args.json, figures)
    return 0 if not float(r["bounced"]) else 1


if __name__ == "__main__":
    sys.exit(main())
