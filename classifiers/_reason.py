"""The reason a bounce gives when it ties none to an address.

Many hand-made bounces list the failed addresses in one place and say why in
another ("Delivery to the following recipients failed permanently: … The recipient
name is not recognized", an X.400 gateway's report, a list server's French notice).
When every recipient a reader found is undecided — no rule, or only a reply-code
fallback, and no enhanced status (a status such as 5.4.7 says more than a sentence
found elsewhere) — :func:`notification_reason` looks for the reason in
the notification's own lines (never the returned original: they stop at its divider
and ``message/*`` parts are not read). It returns the first line a specific rule
decides, and only when every such line agrees on the class: a notice that names
both a full mailbox and an unknown user is ambiguous and stays so.
"""

from __future__ import annotations

from email.message import Message
from typing import Final

from classifiers._rules import RuleTable
from classifiers._verdicts import verdict_of
from classifiers.dialects import lines_before, notification_text
from classifiers.dialects.generic import DIVIDER
from classifiers.reply import default_table
from classifiers.types import Classification

__all__ = ["decided", "notification_reason"]

_MAX_LINES: Final = 200  # a notification's own text is short; bound hostile input
_MAX_LINE: Final = 500
_UNDECIDED: Final = frozenset({"no-match", "no-information"})
_FAILURES: Final = frozenset({"hard", "soft", "spam"})


def decided(verdict: Classification, table: RuleTable | None) -> bool:
    """Whether a specific rule (not a status/code fallback, not none) gave a failure class."""
    rule = verdict.rule_id.split("+", 1)[0]
    fallbacks = (table or default_table()).fallback_ids
    return verdict.cls in _FAILURES and rule not in _UNDECIDED and rule not in fallbacks


def notification_reason(msg: Message, text: str, table: RuleTable | None) -> str:
    """The notification's one reason line, or ``""`` when it has none or disagrees."""
    lines = lines_before(notification_text(msg, text, fall_back=False), DIVIDER)
    first = ""
    classes: set[str] = set()
    for raw in lines[:_MAX_LINES]:
        line = raw.strip()[:_MAX_LINE]
        if not line:
            continue
        verdict = verdict_of(line, "", table)
        if decided(verdict, table):
            classes.add(verdict.cls)
            first = first or line
    return first if len(classes) == 1 else ""
