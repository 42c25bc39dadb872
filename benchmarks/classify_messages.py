"""Returned-mail classification rate: classify_message vs flufl.bounce on the same messages.

The messages are the golden corpus (tests/data/mail), repeated to ``--messages``: the
RFC 3464 DSNs (the ``dsn-*`` folders) and the whole corpus (every sample: DSNs, the
non-standard dialects, ESP notifications, ARF reports, auto-replies, broken input).
Both sides start from the raw bytes, as the MTA's returns intake and ``acctpipe
classify mail`` receive them: flufl.bounce's time includes ``email.message_from_bytes``,
ours everything up to the final report (parse, detection, per-recipient
classification). Ours is called with a rule table loaded the way the intake loads its
config's (``load_rules``: a table of its own, not the packaged default object); the
CLI without ``--rules`` passes none, which is printed beside it. flufl.bounce only
finds addresses; we also say why.

Targets (issue 17): >= 20,000 DSN msg/s and >= 10,000 msg/s on the whole corpus, on
one core, timed by this process's CPU time unless ``--clock wall``. Each of ``--runs``
runs times ours and then flufl.bounce on the same list (best of ``--repeat`` passes
each); the figure is the median run, the spread is printed. The corpus repeats, so
after its first pass the verdict memos (keyed on the raw diagnostic) answer every
recipient: the figure measures parsing and detection, with classification of known
diagnostics.

    .venv/bin/python -m benchmarks.classify_messages --messages 20000
"""

from __future__ import annotations

import argparse
import email
import logging
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from flufl.bounce import all_failures

from benchmarks._report import Figure, Target, add_json_argument, write_figures
from classifiers import RuleTable, classify_message, load_rules

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "mail"
SETS = (("RFC 3464 DSNs", "dsn-", 20_000.0), ("whole corpus", "", 10_000.0))


def _ours(table: RuleTable | None) -> Callable[[list[bytes]], None]:
    def run(messages: list[bytes]) -> None:
        for data in messages:
            classify_message(data, table=table)

    return run


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


def _rate(
    run: Callable[[list[bytes]], None], messages: list[bytes], repeat: int, clock: str
) -> float:
    now = time.process_time if clock == "cpu" else time.perf_counter
    best = float("inf")
    for _ in range(repeat):
        start = now()
        run(messages)
        best = min(best, now() - start)
    return len(messages) / best


def _sample(folders: str, count: int) -> list[bytes]:
    files = sorted(p for p in CORPUS.rglob("*.eml") if p.parent.name.startswith(folders))
    data = [p.read_bytes() for p in files]
    return [data[i % len(data)] for i in range(count)] if data else []


def _spread(values: list[float]) -> str:
    return f"{min(values):,.0f}-{max(values):,.0f}"


def main(argv: Sequence[str] | None = None) -> int:
    """Time both classifiers over DSNs only and over the whole corpus; print a table."""
    logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)  # its tracebacks, not ours
    parser = argparse.ArgumentParser(prog="python -m benchmarks.classify_messages")
    parser.add_argument("--messages", type=int, default=20_000, help="messages per set and run")
    parser.add_argument("--runs", type=int, default=3, help="runs; the median is the figure")
    parser.add_argument("--repeat", type=int, default=2, help="passes per side and run; best")
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="cpu: this process's CPU time (both loops are CPU-bound on one core; on a"
        " shared machine the wall clock also counts the other load); wall: elapsed time",
    )
    add_json_argument(parser)
    args = parser.parse_args(argv)
    intake = load_rules()  # what the returns intake passes: a table loaded from rule texts
    head = f"{'set':<15}{'run':>4}{'ours msg/s':>12}{'flufl msg/s':>13}{'x flufl':>9}"
    print(f"{head}{'target':>9}{'x target':>10}{'CLI, no table':>15}")
    figures = []
    for label, prefix, target in SETS:
        messages = _sample(prefix, args.messages)
        ours: list[float] = []
        flufl: list[float] = []
        for run in range(1, args.runs + 1):
            ours.append(_rate(_ours(intake), messages, args.repeat, args.clock))
            flufl.append(_rate(_flufl, messages, args.repeat, args.clock))
            cli = _rate(_ours(None), messages, args.repeat, args.clock)
            now, against = ours[-1], flufl[-1]
            print(
                f"{label:<15}{run:>4}{now:>12,.0f}{against:>13,.0f}{now / against:>9.2f}"
                f"{target:>9,.0f}{now / target:>10.2f}{cli:>15,.0f}"
            )
        mid, peer = statistics.median(ours), statistics.median(flufl)
        print(
            f"{label:<15}{'med':>4}{mid:>12,.0f}{peer:>13,.0f}{mid / peer:>9.2f}{target:>9,.0f}"
            f"{mid / target:>10.2f}   ours {_spread(ours)}, flufl {_spread(flufl)}"
        )
        figures.append(
            Figure(
                f"classify_message, {label} (median of {args.runs})",
                mid,
                "msg/s",
                "flufl.bounce",
                peer,
                Target(">=", target),
            )
        )
    crashes = _flufl_crashes(_sample("", args.messages))
    print(f"flufl.bounce raised an exception on {crashes} distinct corpus messages; ours on none")
    write_figures(parser, argv, args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
