"""Suppression checks at RCPT time: lookups per second and memory for a large list.

The MTA keeps the list in memory (:class:`mta.suppression.SuppressionSet`, fed
from the store by stored key) so a RCPT never waits on a database. This builds
a set of N suppressions through the bulk array path a node's loader uses
(generated 64-bit keys, as the store's ``lookup_key`` column holds them, plus
real addresses for the lookups to hit: some of them also in the sender
domain's scope, and a few thousand later changes held beside the packed base),
then times full checks of a mix of suppressed and clean addresses: each one
normalises the address (:func:`acctpipe.policy.normalise.normalise`, the
store's key function) and checks the global and the sender-domain scope, as
the listener does.

The ceiling, measured in the same run, is a bare Python ``set`` of (already
lower-cased) address strings — no normalisation, no scopes, no expiry; above
a million entries it is built from the first million (its lookup speed barely
depends on its size; its memory per address is the same). Memory is the
traced allocation of each structure, per address.

    .venv/bin/python -m benchmarks.suppression --entries 1000000
    .venv/bin/python -m benchmarks.suppression --entries 50000000
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

import numpy as np

from acctpipe.policy.normalise import normalise
from benchmarks._report import Figure, Target, add_json_argument, write_figures
from mta.suppression import (
    REASONS,
    SuppressionEntry,
    SuppressionSet,
    address_hash,
    scope_hash,
)

T = TypeVar("T")
SENDER: Final = "news@sender.example"
_CEILING_MAX: Final = 1_000_000


def _addresses(n: int, prefix: str) -> list[str]:
    domains = ("gmail.com", "Yahoo.com", "outlook.com", "example.org", "mail.ru", "web.de")
    return [f"{prefix}.user{i}+tag@{domains[i % len(domains)]}" for i in range(n)]


def _traced(build: Callable[[], T]) -> tuple[T, int, int]:
    """``build()``, the memory it holds afterwards and its peak while building."""
    gc.collect()
    tracemalloc.start()
    value = build()
    size, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return value, size, peak


def _build(entries: int, real: list[str]) -> SuppressionSet:
    """``entries`` suppressions: generated keys, then the ``real`` addresses' keys (every
    fourth also in the sender domain's scope), 1 % expiring tomorrow."""
    rng = np.random.default_rng(18)
    keys = rng.integers(0, 2**64 - 1, entries, dtype=np.uint64, endpoint=True)
    codes = rng.integers(0, len(REASONS), entries, dtype=np.uint8)
    hashes = np.fromiter((address_hash(normalise(a)) for a in real), np.uint64, len(real))
    domain = np.uint64(scope_hash(f"domain:{SENDER.partition('@')[2]}"))
    scoped = hashes[::4] ^ domain
    keys[: len(hashes)] = hashes
    keys[len(hashes) : len(hashes) + len(scoped)] = scoped
    expiring = keys[rng.random(entries) < 0.01]
    expires_at = np.full(len(expiring), time.time() + 86_400.0)
    s = SuppressionSet(normalise)
    s.load_arrays(keys, codes, expiring, expires_at)
    return s


def main(argv: Sequence[str] | None = None) -> int:
    """Build both structures, time the lookups, print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.suppression", description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000, help="suppressed addresses")
    parser.add_argument("--lookups", type=int, default=500_000, help="lookups to time")
    add_json_argument(parser)
    args = parser.parse_args(argv)
    if args.entries < args.lookups:
        parser.error("--entries must be at least --lookups")

    real = _addresses(args.lookups // 2, "s")
    probes = [*real, *_addresses(args.lookups - len(real), "c")]
    started = time.perf_counter()
    ours, ours_bytes, ours_peak = _traced(lambda: _build(args.entries, real))
    load_s = time.perf_counter() - started
    ours.apply(SuppressionEntry(a, "global", "complaint") for a in _addresses(5000, "late"))
    ceiling_n = min(args.entries, _CEILING_MAX)
    strings = [*real, *_addresses(ceiling_n - len(real), "g")]
    bare, bare_bytes, _ = _traced(lambda: {a.lower() for a in strings})

    start, cpu = time.perf_counter(), time.process_time()
    hits = sum(1 for a in probes if ours.reason(a, sender=SENDER) is not None)
    ours_s, ours_cpu = time.perf_counter() - start, time.process_time() - cpu
    start = time.perf_counter()
    bare_hits = sum(1 for a in probes if a.lower() in bare)
    bare_s = time.perf_counter() - start

    n = len(probes)
    per_ours, per_bare = ours_bytes / args.entries, bare_bytes / ceiling_n
    print(f"{args.entries:,} suppressed addresses; {n:,} full checks (half of them hits)")
    print(f"{'structure':<44}{'checks/s':>12}{'B/address':>11}")
    print(f"{'SuppressionSet (normalise + 2 scopes)':<44}{n / ours_s:>12,.0f}{per_ours:>11.1f}")
    print(f"{'bare Python set of strings (ceiling)':<44}{n / bare_s:>12,.0f}{per_bare:>11.1f}")
    print(
        f"built from arrays in {load_s:.1f} s (peak {ours_peak / 1e6:,.0f} MB while building);"
        f" held: {ours_bytes / 1e6:,.0f} MB; arrays {ours.nbytes / args.entries:.2f} B/address"
    )
    print(f"checks/s: {n / ours_s:,.0f} (target >= 500,000); bytes/address: {per_ours:.1f} (<= 16)")
    # On a shared machine the wall clock counts the time other processes had the core.
    print(f"checks per CPU second: {n / ours_cpu:,.0f}")
    figures = [
        Figure(
            f"SuppressionSet full checks, {args.entries:,} entries",
            n / ours_s,
            "checks/s",
            "bare Python set",
            n / bare_s,
            Target(">=", 500_000),
        ),
        Figure(
            f"SuppressionSet memory, {args.entries:,} entries",
            per_ours,
            "bytes/address",
            "bare Python set",
            per_bare,
            Target("<=", 16),
        ),
        Figure(f"SuppressionSet bulk build, {args.entries:,} entries", load_s, "s"),
    ]
    write_figures(parser, argv, args.json, figures)
    return 0 if hits == bare_hits == len(real) else 1


if __name__ == "__main__":
    sys.exit(main())
