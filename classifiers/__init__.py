"""Pure classifiers: SMTP replies, DSNs, ARF reports and auto-replies → category and class.

No I/O, no clocks, no globals (DESIGN.md); nothing here imports ``mta`` or ``acctpipe``.

* :func:`classify_reply` / :func:`classify_diag` — one SMTP reply (the scalar path, the spec);
* :func:`classify_frame` — the same table over a polars column (the vectorised path);
* :func:`classify_message` — a whole returned message: DSN, ARF, auto-reply, odd bounces;
* :func:`load_rules` — the packaged rule table, with user rule files checked first;
  :func:`parse_rules` checks one rule file's text, :func:`portability_problem` one pattern
  (the MTA's config loader and the throttle rules use them for their own patterns);
* :func:`parse_bytes`, :func:`original_headers`, :func:`header` and :func:`address_of` —
  the returned original inside a bounce and the stamps our MTA put in it (the MTA's
  return intake reads them).
"""

from typing import TYPE_CHECKING, Any

from classifiers._mime import parse_bytes
from classifiers._original import address_of, header, original_headers
from classifiers._regex import portability_problem
from classifiers._rules import (
    Rule,
    RuleError,
    RuleTable,
    RuleText,
    default_table,
    load_rules,
    parse_rules,
)
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

if TYPE_CHECKING:
    from classifiers.message import classify_message

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
    "address_of",
    "classify_diag",
    "classify_message",
    "classify_reply",
    "default_table",
    "explain",
    "explain_diag",
    "header",
    "load_rules",
    "original_headers",
    "parse_bytes",
    "parse_rules",
    "portability_problem",
]


def __getattr__(name: str) -> Any:
    # classify_message pulls in every dialect (a third of a second): only on first use,
    # so a command that never classifies a message (ingest, tail) does not pay for it.
    if name == "classify_message":
        from classifiers.message import classify_message

        return classify_message
    raise AttributeError(f"module 'classifiers' has no attribute {name!r}")
