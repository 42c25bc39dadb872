"""A batch that cannot be committed (a full disk) fails with the disk's error, not a later one."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Runs in a child: it caps its own file size (RLIMIT_FSIZE, SIGXFSZ ignored) so the
# store's write-ahead log hits EFBIG the way it hits ENOSPC on a full disk.
CHILD = textwrap.dedent(
    """
    import resource, signal, sys
    from acctpipe.eventstore.store import Store
    from mta.acct._csvcore import MalformedRow
    store = Store.open(sys.argv[1])
    state = store.new_file("acct.csv", "acct", 1, 2, ("f", 10))
    rows = [MalformedRow(n * 70000, 70000, b"x" * 65536, "too long") for n in range(200)]
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, resource.RLIM_INFINITY))
    try:
        store.commit_batch(state.advanced(offset=14_000_000), quarantine=rows)
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}")
    else:
        print("committed")
    """
)


@pytest.mark.slow
def test_a_commit_the_disk_refuses_reports_the_write_error(tmp_path: Path) -> None:
    """When the disk refuses a batch, the error the tailer reports (and /readyz shows) is
    the write failure, not DuckDB's 'cannot rollback - no transaction is active'."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "events.duckdb")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    said = out.stdout.strip()
    assert said != "committed", out.stderr
    assert "cannot rollback" not in said
    assert "File too large" in said or "write" in said.lower(), said
