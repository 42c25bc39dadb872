"""``acctpipe run``: MTA, tailer, policy loop, webhook worker and API in one process."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from datetime import UTC, datetime

from rich.console import Console

from acctpipe.run import Runner, RunOptions

__all__ = ["JsonLogFormatter", "run_all_in_one"]


class JsonLogFormatter(logging.Formatter):
    """One JSON object per log line: time (UTC), level, logger, message (and the error)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _logging(verbose: bool, json_logs: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonLogFormatter()
        if json_logs
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True
    )
    for noisy in ("mail.log", "uvicorn.access", "watchdog", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


async def _main(options: RunOptions, out: Console) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    runner = Runner(options)
    await runner.start()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
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
    _logging(verbose, json_logs)
    return asyncio.run(_main(options, out))
