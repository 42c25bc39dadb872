"""Rule tables: parse, validate and compile ordered ``[[rule]]`` TOML.

A table is data (``classifiers/rules/default.toml`` documents the format); this
module turns TOML text into an immutable :class:`RuleTable`. Nothing here opens a
file except the packaged default table, read once through ``importlib.resources``:
callers read user files themselves and pass their text as :class:`RuleText`, so the
error messages can still name the file.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Final, NamedTuple, cast

from classifiers._regex import portability_problem
from classifiers.fault import FAULTS, Fault
from classifiers.types import BOUNCE_CATEGORIES, BounceCategory, BounceClass

__all__ = [
    "DEFAULT_SOURCE",
    "RULE_CLASSES",
    "Rule",
    "RuleError",
    "RuleTable",
    "RuleText",
    "default_table",
    "load_rules",
    "parse_rules",
]

DEFAULT_SOURCE: Final = "default.toml"
# A reply rule decides a failure; "delivered", "autoreply" and "complaint" come
# from elsewhere (2xx replies, the message classifiers).
RULE_CLASSES: Final[tuple[BounceClass, ...]] = ("hard", "soft", "spam", "unknown")
_KEYS: Final = frozenset(
    {"id", "comment", "text", "status", "code", "category", "class", "fallback", "fault"}
)
_PATTERN_KEYS: Final = ("text", "status", "code")
_ID = re.compile(r"[a-z0-9][a-z0-9._-]*")


class RuleError(ValueError):
    """A rule table that cannot be used: ``source[:line]: rule 'id': message``."""

    def __init__(
        self, message: str, *, source: str, rule_id: str | None = None, line: int | None = None
    ) -> None:
        self.message = message
        self.source = source
        self.rule_id = rule_id
        self.line = line
        where = source if line is None else f"{source}:{line}"
        who = "" if rule_id is None else f"rule {rule_id!r}: "
        super().__init__(f"{where}: {who}{message}")


class RuleText(NamedTuple):
    """The TOML text of a user rule file and the name to report it under."""

    source: str
    text: str


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of a table: conditions (all given ones must match) and the verdict.

    ``text``, ``status`` and ``code`` are the pattern sources (``None`` when absent);
    ``text`` is matched case-insensitively against the reply text, ``status`` against
    the normalised enhanced status (``""`` if none), ``code`` against the three-digit
    reply code (``""`` if none). ``fallback`` marks a rule that decides from the status
    or code alone because nothing recognised the text: what it decides is "unmatched".
    ``fault``, when given, overrides the fixed mapping of
    :func:`classifiers.fault.fault_of`.
    """

    id: str
    comment: str
    category: BounceCategory
    cls: BounceClass
    text: str | None = None
    status: str | None = None
    code: str | None = None
    source: str = DEFAULT_SOURCE
    fallback: bool = False
    fault: Fault | None = None
    text_re: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    status_re: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    code_re: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, code: str, status: str, text: str) -> bool:
        """True when every condition this rule has matches (``re.search`` semantics)."""
        return self.matches_code_status(code, status) and (
            self.text_re is None or self.text_re.search(text) is not None
        )

    def matches_code_status(self, code: str, status: str) -> bool:
        """True when the rule's code and status conditions (if any) match; text is ignored."""
        return (self.code_re is None or self.code_re.search(code) is not None) and (
            self.status_re is None or self.status_re.search(status) is not None
        )


@dataclass(frozen=True, slots=True)
class RuleTable:
    """An ordered, immutable rule table: the first rule that matches wins."""

    rules: tuple[Rule, ...]
    # The ids of the rules marked ``fallback = true``: derived once, asked per verdict.
    fallback_ids: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fallbacks = frozenset(rule.id for rule in self.rules if rule.fallback)
        object.__setattr__(self, "fallback_ids", fallbacks)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def get(self, rule_id: str) -> Rule | None:
        """The rule called ``rule_id``, or None."""
        return next((rule for rule in self.rules if rule.id == rule_id), None)


def _line_of(text: str, rule_id: str, occurrence: int = 0) -> int | None:
    """The line of the ``occurrence``-th ``id = "rule_id"`` in ``text`` (1-based), if any."""
    pattern = rf"(?m)^[ \t]*id[ \t]*=[ \t]*[\"']{re.escape(rule_id)}[\"']"
    found = list(re.finditer(pattern, text))
    if occurrence >= len(found):
        return None
    return text.count("\n", 0, found[occurrence].start()) + 1


def _pattern(raw: Mapping[str, object], key: str, fail: _Fail) -> re.Pattern[str] | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise fail(f"{key!r} must be a string (a regular expression)")
    problem = portability_problem(value)
    if problem:
        raise fail(f"{key} pattern {value!r}: {problem}")
    try:
        return re.compile(value, re.IGNORECASE if key == "text" else 0)
    except re.error as exc:
        raise fail(f"{key} pattern {value!r} does not compile: {exc}") from None


class _Fail:
    """Builds RuleErrors located at one rule."""

    def __init__(self, source: str, text: str, rule_id: str | None) -> None:
        self.source, self.text, self.rule_id = source, text, rule_id

    def __call__(self, message: str) -> RuleError:
        line = None if self.rule_id is None else _line_of(self.text, self.rule_id)
        return RuleError(message, source=self.source, rule_id=self.rule_id, line=line)


def _rule(raw: object, index: int, source: str, text: str) -> Rule:
    if not isinstance(raw, dict):
        raise RuleError(f"[[rule]] #{index + 1} is not a table", source=source)
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not _ID.fullmatch(rule_id):
        raise RuleError(
            f"[[rule]] #{index + 1} needs an 'id' of lower-case letters, digits, '.', '_', '-'",
            source=source,
        )
    fail = _Fail(source, text, rule_id)
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise fail(f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_KEYS))}")
    for key in ("category", "class"):
        if key not in raw:
            raise fail(f"missing {key!r}")
    category, cls, comment = raw["category"], raw["class"], raw.get("comment", "")
    if category not in BOUNCE_CATEGORIES:
        raise fail(f"category {category!r} is not one of {', '.join(BOUNCE_CATEGORIES)}")
    if cls not in RULE_CLASSES:
        raise fail(f"class {cls!r} is not one of {', '.join(RULE_CLASSES)}")
    if not isinstance(comment, str):
        raise fail("'comment' must be a string")
    fallback = raw.get("fallback", False)
    if not isinstance(fallback, bool):
        raise fail("'fallback' must be true or false")
    fault = raw.get("fault")
    if fault is not None and fault not in FAULTS:
        raise fail(f"fault {fault!r} is not one of {', '.join(FAULTS)}")
    if not any(key in raw for key in _PATTERN_KEYS):
        raise fail("needs at least one of 'text', 'status', 'code'")
    compiled = {key: _pattern(raw, key, fail) for key in _PATTERN_KEYS}
    return Rule(
        id=rule_id,
        comment=comment,
        category=cast(BounceCategory, category),
        cls=cast(BounceClass, cls),
        text=cast("str | None", raw.get("text")),
        status=cast("str | None", raw.get("status")),
        code=cast("str | None", raw.get("code")),
        source=source,
        fallback=fallback,
        fault=cast("Fault | None", fault),
        text_re=compiled["text"],
        status_re=compiled["status"],
        code_re=compiled["code"],
    )


def parse_rules(text: str, source: str = "<string>") -> tuple[Rule, ...]:
    """Parse and validate one TOML rule file; raise :class:`RuleError` on the first problem."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"not valid TOML: {exc}", source=source) from None
    extra = sorted(set(document) - {"rule"})
    if extra:
        raise RuleError(
            f"unknown top-level key(s) {', '.join(extra)}; only [[rule]]", source=source
        )
    raws = document.get("rule", [])
    if not isinstance(raws, list):
        raise RuleError("'rule' must be an array of tables: [[rule]]", source=source)
    rules = tuple(_rule(raw, index, source, text) for index, raw in enumerate(raws))
    _check_unique(rules, {source: text})
    return rules


def _check_unique(rules: tuple[Rule, ...], texts: Mapping[str, str]) -> None:
    """Refuse a repeated id, blaming the user's rule rather than the packaged one."""
    seen: dict[str, Rule] = {}
    for rule in rules:
        first = seen.setdefault(rule.id, rule)
        if first is rule:
            continue
        blamed, other = (first, rule) if rule.source == DEFAULT_SOURCE else (rule, first)
        again = 1 if first.source == rule.source else 0
        raise RuleError(
            f"duplicate id (also defined in {other.source})",
            source=blamed.source,
            rule_id=rule.id,
            line=_line_of(texts.get(blamed.source, ""), rule.id, again),
        )


@cache
def default_table() -> RuleTable:
    """The packaged default table, parsed once (immutable; shared by every caller)."""
    text = resources.files("classifiers.rules").joinpath(DEFAULT_SOURCE).read_text("utf-8")
    return RuleTable(parse_rules(text, DEFAULT_SOURCE))


def load_rules(*user: RuleText | str, include_defaults: bool = True) -> RuleTable:
    """Build a table from user rule texts (in the order given), then the defaults.

    User rules come first, so they override a default by matching earlier. A plain
    ``str`` is TOML text reported as ``<string>``; pass ``RuleText(path, text)`` to have
    errors name the file. Ids must be unique across every part.
    """
    texts: dict[str, str] = {}
    rules: list[Rule] = []
    for item in user:
        part = item if isinstance(item, RuleText) else RuleText("<string>", item)
        texts[part.source] = part.text
        rules.extend(parse_rules(part.text, part.source))
    if include_defaults:
        rules.extend(default_table().rules)
    table = tuple(rules)
    _check_unique(table, texts)
    return RuleTable(table)
