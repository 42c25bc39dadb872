"""``acctpipe serve``: the HTTP API, the webhook worker and (optionally) the tailer."""

from __future__ import annotations

import asyncio
import signal

from rich.console import Console

from acctpipe._logs import configure_logging
from acctpipe.node.api import Node, NodeOptions

__all__ = ["run_serve"]


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


def run_serve(options: NodeOptions, out: Console, *, verbose: bool, json_logs: bool = False) -> int:
    """Serve until SIGINT/SIGTERM; return the exit code."""
    configure_logging(verbose, json_logs=json_logs)
    return asyncio.run(_main(options, out))
