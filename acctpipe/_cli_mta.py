"""`acctpipe mta`: run the embedded MTA on a PowerMTA-syntax config until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler

from mta.server import MtaServer

__all__ = ["run_mta"]


def run_mta(config: Path, data_dir: Path, *, verbose: bool, err: Console) -> int:
    """Serve until SIGTERM/SIGINT (SIGHUP reloads the config); log to stderr."""
    handler = RichHandler(console=err, show_path=verbose, log_time_format="%Y-%m-%dT%H:%M:%S%z")
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(name)s: %(message)s",
        handlers=[handler],
        force=True,
    )
    for noisy in ("mail.log", "uvicorn.access", "watchdog"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    server = MtaServer.from_file(config, data_dir=data_dir)
    asyncio.run(server.serve_forever())
    return 0
