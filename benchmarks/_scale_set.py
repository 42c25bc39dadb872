"""The MTA's RCPT-time set for :mod:`benchmarks.suppression_scale`: load time, memory, checks.

Run as a child process, so its memory is its own: the figures are the
resident set (``VmRSS``) grown by the set, after a garbage collection (held;
what the loader imports is imported before the baseline), the peak while it
was built, and the set's own ``nbytes`` where it counts its arrays. Checks are
full RCPT-time checks (the address normalised, the global and the sender-domain
scope looked up), half of them hits. Each command prints one JSON object.

``load URL`` loads a node's set from the store the way a node does at start
(:func:`load_set`: the one function to switch when the loader changes).
``keys N`` builds a set of N generated 64-bit keys without a database (the
first ``--real`` of them the keys of real addresses, so hits can be asked
for), through the set's own snapshot loader.
:func:`fill_postgres` fills a migrated PostgreSQL store with generated rows by
``COPY``, ``lookup_key`` computed as the store computes it, for ``load``.

    .venv/bin/python -m benchmarks._scale_set keys 50000000
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Final, cast

from acctpipe.feedback.follower import MtaFollower
from acctpipe.policy.normalise import normalise, normalise_domain
from acctpipe.sqlstore import open_database
from acctpipe.sqlstore.suppressions import SuppressionStore, ThrottleStore
from benchmarks._scale_data import address
from mta.node.runtime import Mta
from mta.suppression import SuppressionSet

__all__ = ["check_rate", "fill_postgres", "keys_set", "load_set", "main", "rss_mb"]

_SENDER: Final = "news@sender.example"
_COPY_COLUMNS: Final = (
    "lookup_key, address, scope, reason, detail, event_ids, created_at, updated_at, expires_at"
)


def rss_mb() -> float:
    """This process's resident set now, in MB (from /proc/self/status)."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_set(url: str) -> SuppressionSet:
    """A node's set loaded from the store at ``url``, as the MTA loads it at start.

    Today that is :meth:`MtaFollower._load_all` (every row read back through the
    store, normalised and hashed again); the follower is given a stand-in MTA,
    since loading touches nothing of it but the attribute the set is kept in.
    """
    engine = open_database(url)
    try:
        holder = cast(Mta, SimpleNamespace(suppressions=None))
        follower = MtaFollower(holder, SuppressionStore(engine), ThrottleStore(engine))
        return follower._load_all()  # the loader a node runs at start
    finally:
        engine.dispose()


def keys_set(n: int, real: int, *, seed: int = 20261207) -> SuppressionSet:
    """A set of ``n`` keys: those of ``real`` addresses (``address(i, "s")``), then random ones."""
    import numpy as np

    from mta.suppression import suppression_key

    keys = np.random.default_rng(seed).integers(0, 2**64 - 1, size=n, dtype=np.uint64)
    for i in range(min(real, n)):
        keys[i] = suppression_key("global", normalise(address(i, "s")))
    header = {"format": 2, "cursor": 0, "entries": n, "expiring": 0}
    data = json.dumps(header).encode() + b"\n" + keys.tobytes() + bytes(n)
    del keys
    # A node's normalisers: the lenient address key, the sender domain as domain: scopes
    # are stored (the follower's, which also takes domains the store refuses).
    target = SuppressionSet(normalise, normalise_domain)
    target.load_bytes(data)
    return target


def check_rate(target: SuppressionSet, hits: int, probes: int, prefix: str) -> tuple[float, int]:
    """Full checks per second over ``probes`` addresses (half ``address(i, prefix)`` with
    ``i < hits``, half never suppressed), and how many answers were wrong."""
    half = probes // 2
    asked = [address(i % max(hits, 1), prefix) for i in range(half)]
    asked += [address(i, "never.") for i in range(probes - half)]
    started = time.perf_counter()
    said = [target.reason(a, sender=_SENDER) is not None for a in asked]
    seconds = time.perf_counter() - started
    wrong = said[:half].count(False) + said[half:].count(True)
    return probes / seconds, wrong


def fill_postgres(url: str, rows: int, *, prefix: str = "s", chunk: int = 100_000) -> float:
    """``COPY`` ``rows`` generated suppressions into the migrated store at ``url``; seconds.

    Row ``i`` is ``address(i, prefix)`` normalised, global scope, reason manual,
    with its ``lookup_key``; the kept count is set to match.
    """
    import psycopg

    from acctpipe.sqlstore.suppressions.store import lookup_key

    stamp = "2026-01-01 00:00:00+00"
    started = time.perf_counter()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY suppressions ({_COPY_COLUMNS}) FROM STDIN") as cp,
        ):
            for first in range(0, rows, chunk):
                lines = []
                for i in range(first, min(rows, first + chunk)):
                    a = normalise(address(i, prefix))
                    key = lookup_key("global", a)
                    lines.append(f"{key}\t{a}\tglobal\tmanual\t\t[]\t{stamp}\t{stamp}\t\\N\n")
                cp.write("".join(lines))
        counts = "INSERT INTO suppression_counts (reason, scope_kind, n) VALUES (%s, %s, %s)"
        conn.execute(counts, ("manual", "global", rows))
        conn.execute("ANALYZE suppressions")
    return time.perf_counter() - started


def _preload() -> None:
    """Import what a loader imports lazily (numpy, the key loader), so the baseline has it:
    a module's code is not the set's memory."""
    for name in ("numpy", "acctpipe.sqlstore.suppressions.keys"):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def _measure(build: Any, hits: int, probes: int, prefix: str) -> dict[str, float]:
    _preload()
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    target = build()
    seconds = time.perf_counter() - started
    gc.collect()
    held = rss_mb() - before
    rate, wrong = check_rate(target, hits, probes, prefix)
    # The set's own count of its arrays, where it keeps one (a packed set does).
    nbytes = getattr(target, "nbytes", None)
    return {
        "nbytes_per_entry": nbytes / max(len(target), 1) if nbytes is not None else float("nan"),
        "entries": len(target),
        "seconds": seconds,
        "held_mb": held,
        "peak_mb": _peak_mb() - before,
        "bytes_per_entry": held * 2**20 / max(len(target), 1),
        "checks_per_s": rate,
        "wrong": wrong,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``load URL`` or ``keys N``: build the set, print its figures as one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._scale_set", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("load", help="load a node's set from the store at URL")
    load.add_argument("url")
    load.add_argument("--hits", type=int, default=0, help="address(i, prefix), i < hits, are in")
    load.add_argument("--prefix", default="", help="the list's prefix (see _scale_data.address)")
    keys = sub.add_parser("keys", help="a set of N generated keys, no database")
    keys.add_argument("n", type=int)
    keys.add_argument("--real", type=int, default=1_000_000, help="keys of real addresses")
    for p in (load, keys):
        p.add_argument("--probes", type=int, default=500_000, help="full checks to time")
    args = parser.parse_args(argv)
    if args.command == "load":
        figures = _measure(lambda: load_set(args.url), args.hits, args.probes, args.prefix)
    else:
        real = min(args.real, args.n)
        figures = _measure(lambda: keys_set(args.n, real), real, args.probes, "s")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
