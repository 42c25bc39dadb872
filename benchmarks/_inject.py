"""Send N messages over C reused aiosmtplib connections and print seconds and CPU as JSON.

The bare loop the MTA benchmark measures against (sending straight to the sink),
and the client that injects into the MTA's listener. Runs as its own process so
its CPU is not counted as the MTA's.

    python -m benchmarks._inject --port 2526 --count 20000 --concurrency 20 --size 10240
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence

import aiosmtplib


def make_message(n: int, size: int) -> bytes:
    """A plain message of about ``size`` bytes (76-column lines of text)."""
    head = (
        f"From: News <news@sender.test>\r\nTo: <user{n}@example.com>\r\n"
        f"Subject: Benchmark message {n}\r\nMessage-ID: <bench-{n}@sender.test>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
    ).encode()
    line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod te\r\n"
    return head + line * max(1, (size - len(head)) // len(line))


async def _worker(host: str, port: int, jobs: asyncio.Queue[int], size: int, domains: int) -> int:
    sent = 0
    async with aiosmtplib.SMTP(hostname=host, port=port, start_tls=False, timeout=60) as smtp:
        while True:
            try:
                n = jobs.get_nowait()
            except asyncio.QueueEmpty:
                return sent
            rcpt = f"user{n}@d{n % domains}.example.com"
            await smtp.sendmail("news@sender.test", [rcpt], make_message(n, size))
            sent += 1


async def inject(
    host: str, port: int, count: int, concurrency: int, size: int, domains: int
) -> int:
    """Send ``count`` messages over ``concurrency`` connections; return how many were sent."""
    jobs: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        jobs.put_nowait(n)
    done = await asyncio.gather(
        *(_worker(host, port, jobs, size, domains) for _ in range(concurrency))
    )
    return sum(done)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, send, print ``{"seconds": …, "cpu": …, "sent": …}``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._inject")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--size", type=int, default=10_240)
    parser.add_argument("--domains", type=int, default=4)
    args = parser.parse_args(argv)
    wall, cpu = time.perf_counter(), time.process_time()
    sent = asyncio.run(
        inject(args.host, args.port, args.count, args.concurrency, args.size, args.domains)
    )
    result = {
        "seconds": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "sent": sent,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
