"""Classification accuracy on the golden corpus, overall and per source family.

The figures are the ones a held-out corpus of returned mail is judged by:

* **detection**: of the messages that are bounces, delays or feedback reports, the
  share read as one (kind ``dsn``, ``delay`` or ``arf``, not ``unknown``/``autoreply``);
* **address recall**: of the expected recipients, the share found (address compared
  case-insensitively);
* **accuracy**: of the expected recipients whose class is unambiguous (``hard``,
  ``soft``, ``spam``), the share given that class;
* **hard precision**: of the recipients we call ``hard``, the share that are (never
  unsubscribe a good address);
* **complaint recall**: of the expected complaints, the share found as complaints;
* **fault**: of the expected failures, the share with the right ``fault``.

A family is the sample's folder (``dsn-postfix``, ``gmail``, ``exim-real`` …).

    .venv/bin/python -m benchmarks.accuracy
    .venv/bin/python -m benchmarks.accuracy --families   # the per-family table too
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks._report import Figure, add_json_argument, write_figures
from classifiers import classify_message
from classifiers.types import MessageReport

MAIL = Path(__file__).resolve().parent.parent / "tests" / "data" / "mail"
_REPORT_KINDS = frozenset({"dsn", "delay", "arf"})
_UNAMBIGUOUS = frozenset({"hard", "soft", "spam"})


@dataclass
class Score:
    """Counts behind the figures, for one family or for the whole corpus."""

    messages: int = 0
    kind_right: int = 0
    reports: int = 0  # messages expected to be a bounce, delay or feedback report
    detected: int = 0
    addresses: int = 0
    found: int = 0
    unambiguous: int = 0
    class_right: int = 0
    called_hard: int = 0
    hard_right: int = 0
    complaints: int = 0
    complaints_found: int = 0
    failures: int = 0
    fault_right: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, other: Score) -> None:
        """Fold another score's counts into this one."""
        for name in self.__dataclass_fields__:
            if name != "misses":
                setattr(self, name, getattr(self, name) + getattr(other, name))
        self.misses += other.misses


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else float("nan")


def _expected(row: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Expected recipients of a row: lower-cased address → (class, fault)."""
    out: dict[str, tuple[str, str]] = {}
    for item in filter(None, row["recipients"].split(";")):
        address, cls, _category, fault = item.split("|")
        out[address.lower()] = (cls, fault)
    return out


def score_message(row: dict[str, str], report: MessageReport) -> Score:
    """The counts for one message of the table and what the classifier made of it."""
    s = Score(messages=1, kind_right=int(report.kind == row["kind"]))
    if row["kind"] in _REPORT_KINDS:
        s.reports, s.detected = 1, int(report.kind in _REPORT_KINDS)
    truth = _expected(row)
    guess = {r.address.lower(): (r.cls, r.fault) for r in report.recipients}
    for address, (cls, fault) in truth.items():
        got = guess.get(address)
        s.addresses += 1
        s.found += got is not None
        if cls in _UNAMBIGUOUS:
            s.unambiguous += 1
            s.class_right += got is not None and got[0] == cls
            s.failures += 1
            s.fault_right += got is not None and got[1] == fault
        if cls == "complaint":
            s.complaints += 1
            s.complaints_found += got is not None and got[0] == "complaint"
        if got is None or got[0] != cls:
            s.misses.append(f"{row['file']}: {address} expected {cls}, got {got and got[0]}")
    for address, (cls, _fault) in guess.items():
        if cls == "hard":
            s.called_hard += 1
            s.hard_right += truth.get(address, ("",))[0] == "hard"
    return s


def _family(file: str) -> str:
    return file.split("/", 1)[0]


def score_corpus(rows: Iterable[dict[str, str]]) -> tuple[Score, dict[str, Score]]:
    """The whole corpus's score and each family's."""
    total = Score()
    families: dict[str, Score] = defaultdict(Score)
    for row in rows:
        s = score_message(row, classify_message((MAIL / row["file"]).read_bytes()))
        families[_family(row["file"])].add(s)
        total.add(s)
    return total, dict(families)


_COLUMNS = ("msgs", "detect", "recall", "acc", "hardP", "complR", "fault")


def _cells(s: Score) -> list[str]:
    values = (
        _ratio(s.detected, s.reports),
        _ratio(s.found, s.addresses),
        _ratio(s.class_right, s.unambiguous),
        _ratio(s.hard_right, s.called_hard),
        _ratio(s.complaints_found, s.complaints),
        _ratio(s.fault_right, s.failures),
    )
    return [str(s.messages)] + ["-" if v != v else f"{v:.3f}" for v in values]


def format_table(total: Score, families: dict[str, Score]) -> str:
    """A fixed-width table: one line per family, then the whole corpus."""
    width = max(len(name) for name in [*families, "family"]) + 2
    lines = ["family".ljust(width) + "".join(c.rjust(8) for c in _COLUMNS)]
    for name in sorted(families):
        lines.append(name.ljust(width) + "".join(c.rjust(8) for c in _cells(families[name])))
    lines.append("all".ljust(width) + "".join(c.rjust(8) for c in _cells(total)))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the corpus's figures (and with --families the per-family table)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.accuracy", description=__doc__)
    parser.add_argument("--families", action="store_true", help="print the per-family table")
    parser.add_argument("--misses", action="store_true", help="list every recipient missed")
    add_json_argument(parser)
    args = parser.parse_args(argv)
    with (MAIL / "expectations.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    total, families = score_corpus(rows)
    kind_right = _ratio(total.kind_right, total.messages)
    print(f"messages: {total.messages} from {len(families)} families, kind right: {kind_right:.1%}")
    if args.families:
        print(format_table(total, families))
    else:
        print(format_table(total, {}))
    if args.misses:
        print("\n".join(total.misses) or "no misses")
    figures = [
        Figure("message detection", 100 * _ratio(total.detected, total.reports), "%"),
        Figure("address recall", 100 * _ratio(total.found, total.addresses), "%"),
        Figure("hard/soft/spam accuracy", 100 * _ratio(total.class_right, total.unambiguous), "%"),
        Figure("hard precision", 100 * _ratio(total.hard_right, total.called_hard), "%"),
        Figure("complaint recall", 100 * _ratio(total.complaints_found, total.complaints), "%"),
        Figure("fault right", 100 * _ratio(total.fault_right, total.failures), "%"),
    ]
    write_figures(parser, argv, args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
