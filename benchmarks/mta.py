"""The embedded MTA on loopback: messages/s accepted (with fsync) and delivered, vs a bare loop.

Three processes: the sink (``acctpipe simulate-isp``, default profile), this
one (the MTA: SMTP listener, spool, delivery engine, accounting), and an
injector (:mod:`benchmarks._inject`, aiosmtplib). The ceiling is measured in
the same run: the injector sending the same messages straight to the sink over
the same number of reused connections — a bare aiosmtplib loop with no spool,
no queues, no accounting.

1. **bare**: injector → sink.
2. **accept**: injector → our listener, delivery held: every 250 is after
   fsync + rename into the spool.
3. **deliver**: delivery released; time until every message was accounted as
   delivered (``d`` records written).

CPU per message is this process's CPU time (the MTA's) over the messages.

    .venv/bin/python -m benchmarks.mta --count 20000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks._report import Figure, Target, add_json_argument, write_figures
from mta.config import parse_config_text
from mta.delivery.routing import StaticResolver
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
    max-smtp-out {concurrency}
    use-starttls no
</domain>
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _inject(port: int, count: int, concurrency: int, size: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks._inject", "--port", str(port), "--count", str(count),
         "--concurrency", str(concurrency), "--size", str(size)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return dict(json.loads(out.stdout))


async def _wait_port(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise RuntimeError(f"the sink did not listen on port {port}")


async def run(count: int, concurrency: int, size: int) -> dict[str, float]:
    """Run the three phases; return the figures."""
    sink_port = _free_port()
    sink = subprocess.Popen(
        [sys.executable, "-m", "acctpipe.cli", "simulate-isp", "--listen",
         f"127.0.0.1:{sink_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await _wait_port(sink_port)
        bare = await asyncio.to_thread(_inject, sink_port, count, concurrency, size)
        with tempfile.TemporaryDirectory(prefix="acctpipe-bench-mta-", dir=Path.cwd()) as tmp:
            config = parse_config_text(_CONFIG.format(port=sink_port, concurrency=concurrency))
            server = MtaServer(config, data_dir=Path(tmp), resolver=StaticResolver())
            await server.start()
            try:
                server.mta.engine.held = True
                port = server.listeners[0].port
                cpu = time.process_time()
                accept = await asyncio.to_thread(_inject, port, count, concurrency, size)
                accept_cpu = time.process_time() - cpu
                cpu, wall = time.process_time(), time.perf_counter()
                server.mta.engine.held = False
                server.mta.engine.wake()
                totals = server.mta.engine.totals
                while totals["delivered"] + totals["bounced"] < count:
                    await asyncio.sleep(0.05)
                deliver_s = time.perf_counter() - wall
                deliver_cpu = time.process_time() - cpu
            finally:
                await server.stop()
    finally:
        sink.terminate()
        sink.wait(timeout=30)
    return {
        "bare_rate": count / bare["seconds"],
        "accept_rate": count / accept["seconds"],
        "accept_cpu_ms": 1000 * accept_cpu / count,
        "deliver_rate": count / deliver_s,
        "deliver_cpu_ms": 1000 * deliver_cpu / count,
        "delivered": float(totals["delivered"]),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run once and print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mta", description=__doc__)
    parser.add_argument("--count", type=int, default=20_000, help="messages")
    parser.add_argument("--concurrency", type=int, default=20, help="connections")
    parser.add_argument("--size", type=int, default=10_240, help="bytes per message")
    add_json_argument(parser)
    args = parser.parse_args(argv)
    r = asyncio.run(run(args.count, args.concurrency, args.size))
    print(f"{args.count} messages of {args.size} bytes, {args.concurrency} connections, loopback")
    print(f"{'phase':<44}{'msg/s':>10}{'CPU ms/msg':>12}")
    print(f"{'bare aiosmtplib loop -> sink (ceiling)':<44}{r['bare_rate']:>10,.0f}{'':>12}")
    print(f"{'accepted by our listener (fsync, 250)':<44}{r['accept_rate']:>10,.0f}"
          f"{r['accept_cpu_ms']:>12.2f}")  # fmt: skip
    print(f"{'delivered by our engine -> sink':<44}{r['deliver_rate']:>10,.0f}"
          f"{r['deliver_cpu_ms']:>12.2f}")  # fmt: skip
    print(f"accepted: {r['accept_rate']:,.0f} msg/s (target >= 1,000)")
    print(f"delivery ratio ours/bare: {r['deliver_rate'] / r['bare_rate']:.2f} (target >= 0.5)")
    bare = "bare aiosmtplib loop"
    figures = [
        Figure("accepted (fsync, 250)", r["accept_rate"], "msg/s", bare, r["bare_rate"],
               Target(">=", 1000)),
        Figure("delivered to the sink", r["deliver_rate"], "msg/s", bare, r["bare_rate"],
               Target(">=", 0.5, of="ratio")),
    ]  # fmt: skip
    write_figures(parser, argv, args.json, figures)
    return 0 if r["delivered"] == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
