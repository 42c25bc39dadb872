"""Pure classifiers: SMTP replies, DSNs, ARF reports and auto-replies → category and class.

No I/O, no clocks, no globals (DESIGN.md); nothing here imports ``mta`` or ``acctpipe``.

* :func:`classify_reply` / :func:`classify_diag` — one SMTP reply (the scalar path, the spec);
* :func:`classify_frame` — the same table over a polars column (the vectorised path);
* :func:`classify_message` — a whole returned message: DSN, ARF, auto-reply, odd bounces;
* :func:`load_rules` — the packaged rule table, with user rule files checked first.
"""

from classifiers._rules import Rule, RuleError, RuleTable, RuleText, default_table, load_rules
from classifiers.message import classify_message
from classifiers.reply import Explanation, classify_diag, classify_reply, explain, explain_diag
from classifiers.types import (
    BOUNCE_CATEGORIES,
    BOUNCE_CLASSES,
    BounceCategory,
    BounceClass,
    Classification,
    Feedback,
    MessageKind,
    MessageReport,
    RecipientReport,
)

__all__ = [
    "BOUNCE_CATEGORIES",
    "BOUNCE_CLASSES",
    "BounceCategory",
    "BounceClass",
    "Classification",
    "Explanation",
    "Feedback",
    "MessageKind",
    "MessageReport",
    "RecipientReport",
    "Rule",
    "RuleError",
    "RuleTable",
    "RuleText",
    "classify_diag",
    "classify_message",
    "classify_reply",
    "default_table",
    "explain",
    "explain_diag",
    "load_rules",
]
