"""Suppression checks at RCPT time: lookups per second and memory for a large list.

The MTA keeps the list in memory (:class:`mta.suppression.SuppressionSet`, fed
from the store's change log) so a RCPT never waits on a database. This loads
N suppressed addresses, then times lookups of a mix of suppressed and clean
addresses (each lookup normalises the address and checks the global and the
sender-domain scope, as the listener does). The ceiling, measured in the same
run, is a bare Python ``set`` of the same (already lower-cased) strings — no
normalisation, no scopes, no expiry. Memory is the traced allocation of the
structure itself.

    .venv/bin/python -m benchmarks.suppression --entries 1000000
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from collections.abc import Sequence

from acctpipe.policy.normalise import normalise
from benchmarks._report import Figure, Target, add_json_argument, write_figures
from mta.suppression import SuppressionEntry, SuppressionSet


def _addresses(n: int, prefix: str) -> list[str]:
    domains = ("gmail.com", "Yahoo.com", "outlook.com", "example.org", "mail.ru", "web.de")
    return [f"{prefix}.user{i}+tag@{domains[i % len(domains)]}" for i in range(n)]


def _traced(build: object) -> tuple[object, int]:
    gc.collect()
    tracemalloc.start()
    value = build() if callable(build) else build
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return value, size


def main(argv: Sequence[str] | None = None) -> int:
    """Build both structures, time the lookups, print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.suppression", description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000, help="suppressed addresses")
    parser.add_argument("--lookups", type=int, default=500_000, help="lookups to time")
    add_json_argument(parser)
    args = parser.parse_args(argv)

    suppressed = _addresses(args.entries, "s")
    probes = [*suppressed[: args.lookups // 2], *_addresses(args.lookups - args.lookups // 2, "c")]

    def build_ours() -> SuppressionSet:
        s = SuppressionSet(normalise)
        s.apply(SuppressionEntry(a, "global", "hard-bounce") for a in suppressed)
        return s

    started = time.perf_counter()
    ours, ours_bytes = _traced(build_ours)
    load_s = time.perf_counter() - started
    assert isinstance(ours, SuppressionSet)
    bare, bare_bytes = _traced(lambda: {a.lower() for a in suppressed})
    assert isinstance(bare, set)

    start = time.perf_counter()
    hits = sum(1 for a in probes if ours.reason(a, sender="news@sender.example") is not None)
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    bare_hits = sum(1 for a in probes if a.lower() in bare)
    bare_s = time.perf_counter() - start

    n = len(probes)
    print(f"{args.entries:,} suppressed addresses; {n:,} lookups (half of them hits)")
    print(f"{'structure':<44}{'lookups/s':>12}{'MB':>8}")
    print(f"{'SuppressionSet (normalise + 2 scopes)':<44}{n / ours_s:>12,.0f}"
          f"{ours_bytes / 1e6:>8.1f}")  # fmt: skip
    print(f"{'bare Python set of strings (ceiling)':<44}{n / bare_s:>12,.0f}"
          f"{bare_bytes / 1e6:>8.1f}")  # fmt: skip
    print(f"loaded in {load_s:.1f} s; ratio ours/bare (lookups/s): {bare_s / ours_s:.2f}")
    print(f"lookups/s: {n / ours_s:,.0f} (target >= 200,000)")
    figure = Figure(
        f"SuppressionSet lookups, {args.entries:,} entries",
        n / ours_s,
        "lookups/s",
        "bare Python set",
        n / bare_s,
        Target(">=", 200_000),
    )
    write_figures(parser, argv, args.json, [figure])
    return 0 if hits == bare_hits == n // 2 else 1


if __name__ == "__main__":
    sys.exit(main())
