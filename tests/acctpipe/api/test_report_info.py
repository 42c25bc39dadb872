"""GET /v1/reports describes every report's parameters as the report declares them."""

from __future__ import annotations

import dataclasses

from acctpipe.analytics.reports import REPORTS
from acctpipe.api.routes_analytics import reports


def test_each_listed_parameter_is_the_declared_one() -> None:
    """Name, kind, description, default, bounds and choices of each parameter are shown
    exactly as the report declares them (choices as a list)."""
    listed = {info.name: info for info in reports()}
    assert list(listed) == list(REPORTS)
    for name, report in REPORTS.items():
        shown = [p.model_dump() for p in listed[name].parameters]
        declared = [
            {
                f: list(v) if f == "choices" else v
                for f, v in dataclasses.asdict(p).items()
                if f not in ("lower", "max_length")
            }
            for p in report.parameters
        ]
        assert shown == declared
