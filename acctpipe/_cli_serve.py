"""``acctpipe serve``: the HTTP API, the webhook worker and (optionally) the tailer."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from rich.console import Console

from acctpipe.node import Node, NodeOptions

__all__ = ["run_serve"]


def _logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


async def _main(options: NodeOptions, out: Console) -> int:
    from acctpipe.api.mtalink import HttpMtaLink

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    mta = HttpMtaLink(options.mta_url) if options.mta_url else None
    node = Node(options, mta=mta)
    await node.start()
    what = ["API", "webhook worker" if options.webhooks else "", "tailer" if options.watch else ""]
    out.print(f"serving {' + '.join(w for w in what if w)} at {node.url} (Ctrl-C to stop)")
    out.print(f"  dashboard {node.url}/   reference {node.url}/docs   health {node.url}/readyz")
    try:
        await stop.wait()
    finally:
        out.print("stopping: finishing requests, webhook deliveries and the current batch")
        await node.stop()
    return 0


def run_serve(options: NodeOptions, out: Console, *, verbose: bool) -> int:
    """Serve until SIGINT/SIGTERM; return the exit code."""
    _logging(verbose)
    return asyncio.run(_main(options, out))
