"""The SMTP reply classifier, scalar path — the specification the vectorised path follows.

``classify_reply(550, "5.1.1", "User unknown")`` walks the ordered rule table
(``classifiers/rules/default.toml`` plus any user rules placed before it) and returns
the first match as a :class:`~classifiers.types.Classification`. Around the table:

* a 2xx code (or, with no code, a 2.x.x status) is ``delivered`` (rule ``delivered``);
* nothing at all — no code, no status, no text — is ``unknown`` (rule ``no-information``);
* a table with no matching rule gives ``unknown`` (rule ``no-match``);
* a temporary failure (4xx code or 4.x.x status) never proves an address dead: a
  ``hard`` or ``unknown`` verdict becomes ``soft`` and the rule id gains ``+temporary``;
* an X.7.x status is a security or policy refusal: a ``hard`` verdict becomes ``soft``
  and the rule id gains ``+security-status``;
* a status about our sender (X.1.7, X.1.8, X.7.27) means the receiver refused *us*,
  whatever the text says: a ``hard`` or ``unknown`` verdict becomes ``spam`` and the
  rule id gains ``+sender-status`` (checked first).

Every verdict also says whose fault the failure is (:func:`classifiers.fault.fault_of`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from classifiers._rules import (
    Rule,
    RuleError,
    RuleTable,
    RuleText,
    default_table,
    load_rules,
)
from classifiers.fault import fault_of, is_sender_status
from classifiers.status import (
    is_temporary,
    normalise_text,
    parse_diag,
    parse_enhanced_status,
    status_subject,
)
from classifiers.types import BounceClass, Classification

__all__ = [
    "DELIVERED",
    "NO_INFORMATION",
    "NO_MATCH",
    "SECURITY_SUFFIX",
    "SENDER_SUFFIX",
    "TEMPORARY_SUFFIX",
    "Explanation",
    "Rule",
    "RuleError",
    "RuleTable",
    "RuleText",
    "classify_diag",
    "classify_reply",
    "default_table",
    "explain",
    "explain_diag",
    "load_rules",
]

DELIVERED: Final = "delivered"
NO_INFORMATION: Final = "no-information"
NO_MATCH: Final = "no-match"
TEMPORARY_SUFFIX: Final = "+temporary"
SECURITY_SUFFIX: Final = "+security-status"
SENDER_SUFFIX: Final = "+sender-status"
_CACHE_SIZE: Final = 65_536


@dataclass(frozen=True, slots=True)
class Explanation:
    """A classification and how it was reached, for ``acctpipe rules explain``.

    ``tried`` lists the rules evaluated in order; when a rule fired it is the last one.
    ``code``, ``status`` and ``text`` are the inputs as the table saw them.
    """

    classification: Classification
    tried: tuple[Rule, ...]
    code: int | None
    status: str
    text: str
    adjustment: str = ""  # "", TEMPORARY_SUFFIX, SECURITY_SUFFIX or SENDER_SUFFIX

    @property
    def rule(self) -> Rule | None:
        """The rule that fired, or None (delivered, no information, no match)."""
        fired = self.classification.rule_id.split("+", 1)[0]
        return self.tried[-1] if self.tried and self.tried[-1].id == fired else None


def _adjust(cls: BounceClass, code: int | None, status: str) -> tuple[BounceClass, str]:
    if cls in ("hard", "unknown") and is_sender_status(status):
        return "spam", SENDER_SUFFIX
    if cls in ("hard", "unknown") and is_temporary(code, status):
        return "soft", TEMPORARY_SUFFIX
    if cls == "hard" and status_subject(status) == "7":
        return "soft", SECURITY_SUFFIX
    return cls, ""


def _inputs(code: int | None, enhanced_status: str, text: str) -> tuple[int | None, str, str]:
    if code is not None and not 200 <= code <= 599:
        code = None
    return code, parse_enhanced_status(enhanced_status), normalise_text(text)


def _decide(code: int | None, status: str, text: str, table: RuleTable) -> Explanation:
    """Classify already-normalised inputs; the one decision procedure of this module."""
    if (code is not None and code < 300) or (code is None and status.startswith("2.")):
        return Explanation(
            Classification("other", "delivered", DELIVERED, status), (), code, status, text
        )
    if code is None and not status and not text:
        return Explanation(Classification("other", "unknown", NO_INFORMATION), (), None, "", "")
    code_text = "" if code is None else str(code)
    for index, rule in enumerate(table.rules):
        if rule.matches(code_text, status, text):
            cls, suffix = _adjust(rule.cls, code, status)
            fault = fault_of(rule.category, status, rule.fault)
            verdict = Classification(rule.category, cls, rule.id + suffix, status, fault)
            return Explanation(verdict, table.rules[: index + 1], code, status, text, suffix)
    verdict = Classification("other", "unknown", NO_MATCH, status, fault_of("other", status))
    return Explanation(verdict, table.rules, code, status, text)


@lru_cache(maxsize=_CACHE_SIZE)
def _classify_default(code: int | None, status: str, text: str) -> Classification:
    return _decide(code, status, text, default_table()).classification


def classify_reply(
    code: int | None, enhanced_status: str, text: str, *, table: RuleTable | None = None
) -> Classification:
    """Classify one SMTP reply: its code (or None), its enhanced status (or ""), its text.

    ``enhanced_status`` may carry a description (``"5.1.1 (bad destination mailbox
    address)"``) and ``text`` line breaks; both are normalised first. With the default
    table, results are cached (LRU, keyed on the normalised inputs).
    """
    code, status, text = _inputs(code, enhanced_status, text)
    if table is None:
        return _classify_default(code, status, text)
    return _decide(code, status, text, table).classification


def _diag_inputs(diag: str, status: str) -> tuple[int | None, str, str]:
    code, parsed_status, text = parse_diag(diag)
    return code, parsed_status or parse_enhanced_status(status), text


def classify_diag(diag: str, status: str = "", *, table: RuleTable | None = None) -> Classification:
    """Classify a diagnostic string such as PowerMTA's ``dsnDiag`` (``"smtp;550 5.1.1 ..."``).

    ``status`` is a separately reported status such as PowerMTA's ``dsnStatus``
    (``"5.1.1 (bad destination mailbox address)"``); it is used only when the
    diagnostic itself carries none. Never raises on any string.
    """
    if table is None:
        return _classify_diag_default(diag, status)
    code, parsed_status, text = _diag_inputs(diag, status)
    return classify_reply(code, parsed_status, text, table=table)


@lru_cache(maxsize=_CACHE_SIZE)
def _classify_diag_default(diag: str, status: str) -> Classification:
    # Keyed on the raw strings: a repeated diagnostic skips parse_diag's regexes too.
    code, parsed_status, text = _diag_inputs(diag, status)
    return classify_reply(code, parsed_status, text)


def explain(
    code: int | None, enhanced_status: str, text: str, *, table: RuleTable | None = None
) -> Explanation:
    """Like :func:`classify_reply`, plus the rules tried up to the one that fired."""
    return _decide(*_inputs(code, enhanced_status, text), table or default_table())


def explain_diag(diag: str, status: str = "", *, table: RuleTable | None = None) -> Explanation:
    """Like :func:`classify_diag`, plus the parsed inputs and the rules tried."""
    return explain(*_diag_inputs(diag, status), table=table)
