"""``acctpipe run``: MTA, tailer, policy loop, webhook worker and API in one process."""

from __future__ import annotations

import asyncio
import signal

from rich.console import Console

from acctpipe._logs import configure_logging
from acctpipe.node.full import Runner, RunOptions

__all__ = ["run_all_in_one"]


async def _main(options: RunOptions, out: Console) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Signals first: a SIGTERM during start-up stops cleanly once start-up is done.
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = Runner(options)
    await runner.start()
    loop.add_signal_handler(signal.SIGHUP, runner.server.reload)
    smtp = ", ".join(f"{h}:{p}" for h, p in runner.smtp) or "none"
    out.print(f"acctpipe running: API {runner.api_url}  SMTP {smtp}  data {options.data_dir}")
    out.print(f"  dashboard {runner.api_url}/   health {runner.api_url}/readyz   (Ctrl-C stops)")
    try:
        await stop.wait()
    finally:
        out.print("stopping: no new mail; finishing deliveries, ingest and webhooks")
        await runner.stop()
    return 0


def run_all_in_one(options: RunOptions, out: Console, *, verbose: bool, json_logs: bool) -> int:
    """Run until SIGINT/SIGTERM (SIGHUP reloads the MTA config); return the exit code."""
    configure_logging(verbose, json_logs=json_logs)
    return asyncio.run(_main(options, out))
