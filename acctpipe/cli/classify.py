"""``acctpipe classify-mail`` and ``classify-diag``: the classifiers from the shell."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable
from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from acctpipe.mailsource import iter_messages
from classifiers import RuleTable, classify_diag, classify_message, default_table, explain_diag
from classifiers.types import Classification, MessageReport

__all__ = [
    "diag_json",
    "print_explanation",
    "print_rules",
    "report_json",
    "run_classify_diag",
    "run_classify_mail",
]


def report_json(label: str, report: MessageReport) -> dict[str, object]:
    """The documented JSON shape of one classified message."""
    feedback = None
    if report.feedback is not None:
        f = report.feedback
        feedback = {
            "type": f.type,
            "user_agent": f.user_agent,
            "source_ip": f.source_ip,
            "reported_domain": f.reported_domain,
            "original_mail_from": f.original_mail_from,
            "original_rcpt_to": f.original_rcpt_to,
            "arrival_date": f.arrival_date,
        }
    return {
        "file": label,
        "kind": report.kind,
        "recipients": [
            {
                "address": r.address,
                "action": r.action,
                "status": r.status,
                "diag": r.diag,
                "category": r.category,
                "class": r.cls,
                "rule": r.rule,
                "fault": r.fault,
            }
            for r in report.recipients
        ],
        "feedback": feedback,
        "reason": report.reason,
    }


def diag_json(diag: str, verdict: Classification) -> dict[str, str]:
    """The documented JSON shape of one classified diagnostic."""
    return {
        "diag": diag,
        "status": verdict.status,
        "category": verdict.category,
        "class": verdict.cls,
        "rule": verdict.rule_id,
        "fault": verdict.fault,
    }


def run_classify_mail(
    sources: list[str], jsonl: bool, table: RuleTable | None, out: Console, stream: TextIO
) -> int:
    """Classify every message in ``sources``; JSON lines or a summary. Returns the exit code."""
    kinds: Counter[str] = Counter()
    classes: Counter[str] = Counter()
    messages = 0
    for label, raw in iter_messages(sources):
        report = classify_message(raw, table=table)
        messages += 1
        kinds[report.kind] += 1
        for r in report.recipients:
            classes[r.cls] += 1
        if jsonl:
            stream.write(json.dumps(report_json(label, report), ensure_ascii=False) + "\n")
    if not jsonl:
        _summary(messages, kinds, classes, out)
    return 0


def _summary(messages: int, kinds: Counter[str], classes: Counter[str], out: Console) -> None:
    table = Table(title=f"{messages} message(s)")
    table.add_column("kind")
    table.add_column("messages", justify="right")
    for kind, n in kinds.most_common():
        table.add_row(kind, str(n))
    out.print(table)
    if classes:
        by_class = Table(title="recipients by class")
        by_class.add_column("class")
        by_class.add_column("recipients", justify="right")
        for cls, n in classes.most_common():
            by_class.add_row(cls, str(n))
        out.print(by_class)


def run_classify_diag(
    texts: Iterable[str], status: str, table: RuleTable | None, stream: TextIO
) -> int:
    """Classify each diagnostic line; one JSON object per line."""
    for text in texts:
        diag = text.rstrip("\r\n")
        if not diag.strip():
            continue
        verdict = classify_diag(diag, status, table=table)
        stream.write(json.dumps(diag_json(diag, verdict), ensure_ascii=False) + "\n")
    return 0


def print_rules(table: RuleTable | None, out: Console) -> None:
    """The table in order: id, what it matches, the verdict, where it came from.

    A fallback rule's class reads ``unknown (fallback)``: it decided without
    recognising the text, which ``rules unmatched`` lists.
    """
    rules = table if table is not None else default_table()
    view = Table(title=f"{len(rules)} rules, tried in this order; the first match wins")
    for col in ("#", "id", "matches", "category", "class", "source"):
        view.add_column(col, overflow="fold", no_wrap=col in ("#", "id", "class"))
    for n, rule in enumerate(rules, start=1):
        conditions = [
            f"{name}~{pattern}"
            for name, pattern in (("code", rule.code), ("status", rule.status), ("text", rule.text))
            if pattern
        ]
        cls = f"{rule.cls} (fallback)" if rule.fallback else rule.cls
        view.add_row(str(n), rule.id, Text(" & ".join(conditions)), rule.category, cls,
                     rule.source)  # fmt: skip
    out.print(view)


_ADJUSTMENTS = {
    "+temporary": "a temporary (4xx) failure never proves an address dead",
    "+security-status": "an X.7 security/policy status never proves an address dead",
    "+sender-status": "an X.1.7/X.1.8/X.7.27 status means the receiver refused our sender",
}


def print_explanation(text: str, status: str, table: RuleTable | None, out: Console) -> None:
    """Which rule fires for ``text`` and why; the rules tried before it are counted."""
    why = explain_diag(text, status, table=table)
    c = why.classification
    out.print(Text(f"input: code={why.code} status={why.status or '-'} text={why.text!r}"))
    out.print(
        Text.assemble(
            "class ",
            (c.cls, "bold"),
            ", category ",
            (c.category, "bold"),
            f", rule {c.rule_id}, fault {c.fault}",
        )
    )
    rule = why.rule
    if rule is not None:
        out.print(Text(f"fired: #{len(why.tried)} {rule.id} ({rule.source}): {rule.comment}"))
        out.print(f"{len(why.tried) - 1} earlier rule(s) did not match")
        if rule.fallback:
            out.print(
                "a fallback: no rule recognised the text (acctpipe rules unmatched lists these)"
            )
    else:
        out.print(f"no rule fired ({len(why.tried)} tried); the verdict is a built-in fallback")
    if why.adjustment:
        out.print(Text(f"adjusted: {why.adjustment} ({_ADJUSTMENTS.get(why.adjustment, '')})"))


def stdin_lines() -> Iterable[str]:
    """Lines of standard input, streamed."""
    yield from sys.stdin
