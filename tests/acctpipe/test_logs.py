"""Log lines of run and serve: UTC timestamps, and one JSON object per line on request."""

from __future__ import annotations

import json
import logging
import sys

from acctpipe._logs import JsonLogFormatter


def test_json_lines_carry_utc_time_level_logger_and_error() -> None:
    """A JSON log line has an aware UTC time, the level, the logger and the traceback."""
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "acctpipe.node.api", logging.ERROR, __file__, 1, "failed %s", ("x",), sys.exc_info()
        )
    entry = json.loads(JsonLogFormatter().format(record))
    assert entry["time"].endswith("+00:00")
    assert entry["level"] == "error"
    assert entry["logger"] == "acctpipe.node.api"
    assert entry["message"] == "failed x"
    assert "ValueError: boom" in entry["error"]
