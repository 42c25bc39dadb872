"""`acctpipe simulate-isp`: run one simulated ISP until Ctrl-C, then print its counters."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from acctpipe.errors import ConfigError, one_line
from acctpipe.sim import IpStats, IspSimulator, load_profile, parse_listen

__all__ = ["counters_table", "run_simulate_isp"]


def counters_table(stats: dict[str, IpStats]) -> Table:
    """The per-IP counters as a table."""
    table = Table(
        "client IP", "conns", "max conc", "accepted", "rcpts", "rejected", "dropped", "tls"
    )
    for ip, s in stats.items():
        rejected = ", ".join(f"{k}: {n}" for k, n in sorted(s.rejected.items())) or "-"
        table.add_row(
            ip,
            str(s.connections_opened),
            str(s.max_concurrent),
            str(s.messages_accepted),
            str(s.recipients_accepted),
            rejected,
            str(s.dropped),
            str(s.tls_sessions),
        )
    return table


def run_simulate_isp(
    profile_ref: str, listen: str, maildir: Path | None, out: Console, err: Console
) -> int:
    """Serve until SIGINT/SIGTERM; 2 (one line on ``err``) for a bad profile or address."""
    try:
        host, port = parse_listen(listen)
        profile = load_profile(profile_ref)
    except ConfigError as exc:
        err.print(f"acctpipe: error: {one_line(exc)}", markup=False)
        return 2
    sim = IspSimulator(profile, host=host, port=port, maildir=maildir)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with sim:
            out.print(
                f"simulating {profile.name!r} ({profile.hostname}) on {host}:{sim.port}"
                " — Ctrl-C prints the counters and stops"
            )
            await stop.wait()

    try:
        asyncio.run(serve())
    except OSError as exc:
        err.print(f"acctpipe: error: cannot listen on {listen}: {exc.strerror}", markup=False)
        return 1
    with contextlib.suppress(BrokenPipeError):
        out.print(counters_table(sim.counters.snapshot()))
    return 0
