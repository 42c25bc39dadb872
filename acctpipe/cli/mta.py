"""`acctpipe mta`: run the embedded MTA on a PowerMTA-syntax config until SIGTERM."""

from __future__ import annotations

import logging
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler

from acctpipe.feedback.follower import MtaFollower
from acctpipe.sqlstore.migrate import open_database
from acctpipe.sqlstore.suppressions import SuppressionStore, ThrottleStore
from mta.config import load_config
from mta.eventloop import run as run_loop
from mta.node.process import MtaServer
from mta.node.workers import WorkerRole, supervise, worker_count

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

    loaded = load_config(config)

    def serve(worker: WorkerRole | None) -> int:
        server = MtaServer(loaded, data_dir=data_dir, config_path=config, worker=worker)
        if database_url is not None:
            engine = open_database(database_url)
            server.companions.append(
                MtaFollower(server.mta, SuppressionStore(engine), ThrottleStore(engine))
            )
        run_loop(server.serve_forever())
        return 0

    if worker_count(loaded) > 1:  # smtp-workers: this process supervises, workers serve
        return supervise(loaded, serve)
    return serve(None)
