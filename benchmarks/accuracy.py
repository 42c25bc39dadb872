"""Classification accuracy on the golden corpus: per class precision/recall, kinds, and
the two figures that matter most (hard precision: never unsubscribe a good address;
complaint recall: never miss a complaint).

    .venv/bin/python -m benchmarks.accuracy
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from benchmarks._report import Figure, add_json_argument, write_figures
from classifiers import classify_message

MAIL = Path(__file__).resolve().parent.parent / "tests" / "data" / "mail"


def main(argv: Sequence[str] | None = None) -> int:
    """Print message-kind accuracy and per-class precision/recall over all recipients."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.accuracy", description=__doc__)
    add_json_argument(parser)
    args = parser.parse_args(argv)
    with (MAIL / "expectations.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    kinds_ok = 0
    truth: dict[tuple[str, str], str] = {}
    guess: dict[tuple[str, str], str] = {}
    for row in rows:
        report = classify_message((MAIL / row["file"]).read_bytes())
        kinds_ok += report.kind == row["kind"]
        for item in filter(None, row["recipients"].split(";")):
            address, cls, _category = item.split("|")
            truth[(row["file"], address)] = cls
        for r in report.recipients:
            guess[(row["file"], r.address)] = r.cls
    keys = set(truth) | set(guess)
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for key in keys:
        t, g = truth.get(key, "-"), guess.get(key, "-")
        if t == g:
            tp[t] += 1
        else:
            fp[g] += 1
            fn[t] += 1
    print(f"messages: {len(rows)}, kind right: {kinds_ok} ({kinds_ok / len(rows):.1%})")
    print(f"{'class':<11}{'expected':>9}{'precision':>11}{'recall':>8}")
    precision: dict[str, float] = {}
    recall: dict[str, float] = {}
    for cls in sorted({*truth.values()}):
        n = tp[cls] + fn[cls]
        precision[cls] = tp[cls] / (tp[cls] + fp[cls]) if tp[cls] + fp[cls] else 1.0
        recall[cls] = tp[cls] / n
        print(f"{cls:<11}{n:>9}{precision[cls]:>11.3f}{recall[cls]:>8.3f}")
    nan = float("nan")
    figures = [
        Figure("message kind right", 100 * kinds_ok / len(rows), "%"),
        Figure("hard precision", 100 * precision.get("hard", nan), "%"),
        Figure("complaint recall", 100 * recall.get("complaint", nan), "%"),
    ]
    write_figures(parser, argv, args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
