"""`acctpipe mta`: run the embedded MTA on a PowerMTA-syntax config until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler

from acctpipe.feedback.follower import MtaFollower
from acctpipe.sqlstore.migrate import open_database
from acctpipe.sqlstore.suppressions import SuppressionStore, ThrottleStore
from mta.node.process import MtaServer

__all__ = ["run_mta"]


def run_mta(
    config: Path,
    data_dir: Path,
    *,
    database_url: str | None = None,
    verbose: bool,
    err: Console,
) -> int:
    """Serve until SIGTERM/SIGINT (SIGHUP reloads the config); log to stderr.

    With ``database_url``, the MTA follows the suppression list and the throttle
    decisions stored there (the feedback loop).
    """
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
    if database_url is not None:
        engine = open_database(database_url)
        server.companions.append(
            MtaFollower(server.mta, SuppressionStore(engine), ThrottleStore(engine))
        )
    asyncio.run(server.serve_forever())
    return 0
