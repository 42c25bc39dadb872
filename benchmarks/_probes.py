"""Score the classifier on a folder of probe bounces it was not written beside.

A probe folder holds ``.eml`` files and an ``expectations.csv`` with the columns
``file,kind,recipients`` (recipients ``address|class`` joined by ``;``). It prints
detection, address recall, class accuracy on unambiguous classes, hard precision,
and every miss::

    .venv/bin/python -m benchmarks._probes /tmp/probes/mail
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from classifiers import classify_message

_REPORTS = frozenset({"dsn", "delay", "arf"})


def main(argv: list[str] | None = None) -> int:
    """Print the figures and the misses for one probe folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    folder: Path = args.folder
    reports = detected = addresses = found = unamb = right = hard = hard_right = 0
    not_reports = false_reports = 0
    misses: list[str] = []
    with (folder / "expectations.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        report = classify_message((folder / row["file"]).read_bytes())
        got = {r.address.lower(): r for r in report.recipients}
        want = [tuple(x.split("|")[:2]) for x in row["recipients"].split(";") if x]
        if row["kind"] in _REPORTS:
            reports += 1
            detected += report.kind in _REPORTS
        else:
            not_reports += 1
            false_reports += report.kind in _REPORTS
        problems = [] if (report.kind in _REPORTS) == (row["kind"] in _REPORTS) else ["kind"]
        for address, cls in want:
            addresses += 1
            r = got.get(address.lower())
            found += r is not None
            if cls in ("hard", "soft", "spam"):
                unamb += 1
                right += r is not None and r.cls == cls
            if r is None or r.cls != cls:
                problems.append(f"{address} want {cls} got {r.cls if r else 'none'}")
        wanted = {a.lower() for a, _ in want}
        for key, r in got.items():
            if r.cls == "hard":
                hard += 1
                hard_right += any(a.lower() == key and c == "hard" for a, c in want)
            if key not in wanted:
                problems.append(f"extra {key} ({r.cls})")
        if problems:
            misses.append(
                f"{row['file']}: {report.kind} [{report.detector}] "
                + "; ".join(problems)
                + f" | {[(r.address, r.cls, r.rule) for r in report.recipients]}"
            )
    print(f"probes {len(rows)}  detection {detected}/{reports} = {detected / max(reports, 1):.3f}")
    print(f"non-bounces read as bounces: {false_reports}/{not_reports}")
    print(f"address recall {found}/{addresses} = {found / max(addresses, 1):.3f}")
    print(f"class accuracy {right}/{unamb} = {right / max(unamb, 1):.3f}")
    print(f"hard precision {hard_right}/{hard} = {hard_right / max(hard, 1):.3f}")
    for miss in misses:
        print("MISS", miss)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
