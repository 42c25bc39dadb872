"""One application submitting over one connection with stdlib ``smtplib``; prints JSON.

EHLO once, then ``sendmail`` per message — MAIL, RCPT, DATA, each waiting for
its reply (smtplib does not pipeline) — the way many applications submit. Runs
as its own process so its CPU is not counted as the server's. ``started`` and
``ended`` are wall-clock times (``time.time()``), so the caller can time what
happens after the last 250 on the same clock.

    python -m benchmarks._submit_client --port 2525 --count 2000 --size 10240
"""

from __future__ import annotations

import argparse
import json
import smtplib
import sys
import time
from collections.abc import Sequence

from benchmarks._inject import make_message


def main(argv: Sequence[str] | None = None) -> int:
    """Connect, EHLO, send ``--count`` messages one after the other, QUIT; print the times."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._submit_client")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--size", type=int, default=10_240)
    args = parser.parse_args(argv)
    messages = [make_message(n, args.size) for n in range(args.count)]
    smtp = smtplib.SMTP(args.host, args.port, timeout=60)
    smtp.ehlo("app.sender.test")
    started, cpu = time.time(), time.process_time()
    for n, message in enumerate(messages):
        smtp.sendmail("news@sender.test", [f"user{n}@example.com"], message)
    ended = time.time()
    cpu = time.process_time() - cpu
    smtp.quit()
    print(json.dumps({"started": started, "ended": ended, "cpu": cpu, "sent": args.count}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
