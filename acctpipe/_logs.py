"""Logging for the long-running commands (run, serve): plain lines or one JSON object each."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime

__all__ = ["JsonLogFormatter", "configure_logging"]


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


def configure_logging(verbose: bool, *, json_logs: bool = False) -> None:
    """Log to stderr at INFO (DEBUG with ``verbose``); quiet the chattiest libraries."""
    handler = logging.StreamHandler(sys.stderr)
    plain = logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%SZ"
    )
    plain.converter = time.gmtime  # UTC, and the Z says so
    handler.setFormatter(JsonLogFormatter() if json_logs else plain)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True
    )
    for noisy in ("mail.log", "uvicorn.access", "watchdog", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
