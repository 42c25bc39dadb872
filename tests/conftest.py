"""The `slow` mark kept honest: with ACCTPIPE_CHECK_SLOW set, an unmarked test over a second fails.

`slow` means "over a second" (and "starts a process, a browser or an MTA", which
this check cannot see): `scripts/test --fast` skips it, so one unmarked slow
test costs everyone's edit-test loop. ``ACCTPIPE_CHECK_SLOW=1 scripts/test``
fails each test without the mark whose call phase (not its fixtures) took
longer than the value in seconds. It is off by default: a loaded machine can
push a quick test over the line, and that must not turn a run red.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest
from hypothesis import settings

# Hypothesis's per-example deadline is a timed assertion: on a loaded machine (CI
# shares two cores) one slow example turns a correct property red. Speed is
# measured by benchmarks/, never by the suite, so no deadline anywhere.
settings.register_profile("acctpipe", deadline=None)
settings.load_profile("acctpipe")

_CHECK = os.environ.get("ACCTPIPE_CHECK_SLOW", "")


def _limit() -> float | None:
    """The limit in seconds, or None when the check is off ("", "0")."""
    if not _CHECK:
        return None
    try:
        seconds = float(_CHECK)
    except ValueError:
        raise pytest.UsageError(f"ACCTPIPE_CHECK_SLOW={_CHECK!r}: expected seconds") from None
    return seconds if seconds > 0 else None


LIMIT = _limit()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Fail a passed, unmarked test whose call took longer than LIMIT."""
    report = yield
    if (
        LIMIT is not None
        and report.when == "call"
        and report.passed
        and report.duration > LIMIT
        and item.get_closest_marker("slow") is None
    ):
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} took {report.duration:.2f} s (over {LIMIT:g} s) "
            "without @pytest.mark.slow: mark it slow, or make it quicker"
        )
    return report
