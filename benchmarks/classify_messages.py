"""Returned-mail classification rate: classify_message vs flufl.bounce on the same messages.

The messages are the golden corpus (tests/data/mail), repeated to ``--messages``.
Both sides parse raw bytes: flufl.bounce needs an ``email`` Message, so its time
includes ``email.message_from_bytes``; ours includes everything (parse, DSN/ARF
detection, per-recipient classification). flufl.bounce only finds addresses; we
also say why. Target (issue 4): >= 10,000 DSN messages/s on one core.
The corpus repeats, so after its first pass the verdict caches (``classify_diag``'s,
keyed on the raw diagnostic, and the rule table's) answer every recipient: the
figure measures parsing and detection, with classification of known diagnostics.

    .venv/bin/python -m benchmarks.classify_messages --messages 20000
"""

from __future__ import annotations

import argparse
import email
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from flufl.bounce import all_failures

from benchmarks._report import Figure, Target, add_json_argument, write_figures
from classifiers import classify_message

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "mail"


def _ours(messages: list[bytes]) -> None:
    for data in messages:
        classify_message(data)


def _flufl(messages: list[bytes]) -> None:
    for data in messages:
        try:
            all_failures(email.message_from_bytes(data))
        except Exception:  # noqa: BLE001, S112 - flufl.bounce raises on some real bounces
            continue


def _flufl_crashes(messages: list[bytes]) -> int:
    crashes = 0
    for data in set(messages):
        try:
            all_failures(email.message_from_bytes(data))
        except Exception:  # noqa: BLE001 - counted, not hidden
            crashes += 1
    return crashes


def _rate(run: Callable[[list[bytes]], None], messages: list[bytes], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run(messages)
        best = min(best, time.perf_counter() - start)
    return len(messages) / best


def _sample(folders: str, count: int) -> list[bytes]:
    files = sorted(p for p in CORPUS.rglob("*.eml") if p.parent.name.startswith(folders))
    data = [p.read_bytes() for p in files]
    return [data[i % len(data)] for i in range(count)] if data else []


def main(argv: Sequence[str] | None = None) -> int:
    """Time both classifiers over DSNs only and over the whole corpus; print a table."""
    logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)  # its tracebacks, not ours
    parser = argparse.ArgumentParser(prog="python -m benchmarks.classify_messages")
    parser.add_argument("--messages", type=int, default=20_000, help="messages per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side; best is kept")
    add_json_argument(parser)
    args = parser.parse_args(argv)
    print(f"{'set':<22}{'ours msg/s':>12}{'flufl msg/s':>13}{'ratio':>8}{'target':>10}")
    figures = []
    for label, prefix, target in (("RFC 3464 DSNs", "dsn-", 10_000), ("whole corpus", "", None)):
        messages = _sample(prefix, args.messages)
        ours = _rate(_ours, messages, args.repeat)
        flufl = _rate(_flufl, messages, args.repeat)
        print(f"{label:<22}{ours:>12,.0f}{flufl:>13,.0f}{ours / flufl:>8.2f}{target or '':>10}")
        goal = Target(">=", target) if target else None
        figures.append(
            Figure(f"classify_message, {label}", ours, "msg/s", "flufl.bounce", flufl, goal)
        )
    crashes = _flufl_crashes(_sample("", args.messages))
    print(f"flufl.bounce raised an exception on {crashes} distinct corpus messages; ours on none")
    write_figures(parser, argv, args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
