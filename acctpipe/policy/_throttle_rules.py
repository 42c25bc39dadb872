"""Throttle rules as data: the ordered ``[[throttle.rule]]`` table and its settings.

A rule is *match → threshold → action* (format in ``default.toml`` and
docs/policy.md). This module parses and validates the packaged table and user
files into an immutable :class:`ThrottleRules`; the controller
(:mod:`acctpipe.policy._controller`) runs it. User files change a default rule by
naming its id (only the keys given change; the rule keeps its place), drop one with
``enabled = false``, and add new rules, which go before the defaults in file order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final, Literal, cast, get_args

from acctpipe.policy._toml import Fail, PolicyText, as_text, default_document, parse_document
from acctpipe.policy.types import Event
from classifiers import portability_problem
from classifiers.fault import FAULTS
from classifiers.status import parse_enhanced_status
from classifiers.types import BOUNCE_CATEGORIES, BOUNCE_CLASSES
from mta.acct.fields import RECORD_TYPES

__all__ = [
    "RULE_ACTIONS",
    "RuleAction",
    "ThrottleRule",
    "ThrottleRules",
    "ThrottleSettings",
    "default_throttle_rules",
    "load_throttle_rules",
]

RuleAction = Literal["slow", "pause", "ramp"]
RULE_ACTIONS: Final[tuple[RuleAction, ...]] = get_args(RuleAction)
_ID = re.compile(r"[a-z0-9][a-z0-9._-]*")
_MATCH_KEYS: Final = ("types", "classes", "categories", "faults", "status", "diag")
_RULE_KEYS: Final = frozenset(
    {"id", "comment", "enabled", "count", "ratio", "over", "min-volume", "window"}
    | {"action", "factor", "duration", "step", "step-rate"}
    | set(_MATCH_KEYS)
)
_SETTINGS_KEYS: Final = frozenset({"floor", "rate-window", "sample", "history", "rule"})
# Keys each action takes beyond the common ones (and which it must have).
_ACTION_KEYS: Final[dict[str, tuple[frozenset[str], frozenset[str]]]] = {
    "slow": (frozenset({"factor", "duration"}), frozenset({"factor", "duration"})),
    "pause": (frozenset(), frozenset()),
    "ramp": (frozenset({"step", "step-rate", "duration"}), frozenset({"duration"})),
}


@dataclass(frozen=True, slots=True)
class ThrottleSettings:
    """The table-wide knobs: rate floor (msg/s), rate window (s), evidence sizes."""

    floor: float
    rate_window: float
    sample: int
    history: int


@dataclass(frozen=True, slots=True)
class ThrottleRule:
    """One row: which events it counts, how many make it act, and what it does.

    Empty match tuples (and None patterns) match anything. ``status`` is searched in
    the event's normalised enhanced status (``"4.7.28"``, ``""`` if none); ``diag``,
    case-insensitively, in its diagnostic. The threshold is ``count`` matching events
    within ``window`` seconds, or a ``ratio`` of matching events to events of the
    ``over`` types (with at least ``min_volume`` of those).
    """

    id: str
    comment: str
    action: RuleAction
    window: float
    types: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    faults: tuple[str, ...] = ()
    status: str | None = None
    diag: str | None = None
    count: int | None = None
    ratio: float | None = None
    over: tuple[str, ...] = ()
    min_volume: int = 1
    factor: float | None = None  # slow: the multiplier
    duration: float | None = None  # slow, ramp: how long the decision lasts (s)
    step: float | None = None  # ramp: a fraction of the ceiling per step
    step_rate: float | None = None  # ramp: msg/s per step
    source: str = "default.toml"
    status_re: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    diag_re: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, event: Event) -> bool:
        """True when ``event`` meets every match condition of this rule."""
        return (
            (not self.types or event.type in self.types)
            and (not self.classes or event.cls in self.classes)
            and (not self.categories or event.category in self.categories)
            and (not self.faults or event.fault in self.faults)
            and (
                self.status_re is None
                or self.status_re.search(parse_enhanced_status(event.status)) is not None
            )
            and (self.diag_re is None or self.diag_re.search(event.diag) is not None)
        )

    def describe(self) -> str:
        """The threshold in words: ``>= 5 in 60 s`` or ``>= 0.3% of d (min 1000) in 3600 s``."""
        if self.ratio is not None:
            over = ",".join(self.over)
            return f">= {self.ratio:.4g} of {over} (min {self.min_volume}) in {self.window:g} s"
        return f">= {self.count} in {self.window:g} s"


@dataclass(frozen=True, slots=True)
class ThrottleRules:
    """The ordered table: action rules (slow, pause) tried in order, then ramp rules."""

    settings: ThrottleSettings
    rules: tuple[ThrottleRule, ...]

    @property
    def actions(self) -> tuple[ThrottleRule, ...]:
        """The slow and pause rules, in table order."""
        return tuple(rule for rule in self.rules if rule.action != "ramp")

    @property
    def ramps(self) -> tuple[ThrottleRule, ...]:
        """The ramp rules, in table order."""
        return tuple(rule for rule in self.rules if rule.action == "ramp")

    def get(self, rule_id: str) -> ThrottleRule | None:
        """The rule called ``rule_id``, or None."""
        return next((rule for rule in self.rules if rule.id == rule_id), None)


def _pattern(fail: Fail, key: str, value: object) -> re.Pattern[str]:
    if not isinstance(value, str):
        raise fail(key, "must be a string (a regular expression)")
    problem = portability_problem(value)
    if problem:
        raise fail(key, f"pattern {value!r}: {problem}")
    try:
        return re.compile(value, re.IGNORECASE if key == "diag" else 0)
    except re.error as exc:
        raise fail(key, f"pattern {value!r} does not compile: {exc}") from None


def _threshold(fail: Fail, raw: dict[str, Any]) -> dict[str, Any]:
    if ("count" in raw) == ("ratio" in raw):
        raise fail("count", "needs exactly one threshold: 'count' or 'ratio'")
    if "count" in raw:
        for key in ("over", "min-volume"):
            if key in raw:
                raise fail(key, "only a 'ratio' threshold takes it")
        return {"count": fail.integer("count", raw["count"])}
    over = raw.get("over", ["d"])
    return {
        "ratio": fail.number("ratio", raw["ratio"], low=0.0, high=1.0),
        "over": fail.strings("over", over, RECORD_TYPES) or ("d",),
        "min_volume": fail.integer("min-volume", raw.get("min-volume", 1)),
    }


def _action(fail: Fail, raw: dict[str, Any]) -> dict[str, Any]:
    action = fail.choice("action", raw.get("action"), RULE_ACTIONS)
    allowed, required = _ACTION_KEYS[action]
    for key in ("factor", "duration", "step", "step-rate"):
        if key in raw and key not in allowed:
            raise fail(key, f"a {action!r} rule takes no {key!r}")
        if key in required and key not in raw:
            raise fail(key, f"a {action!r} rule needs {key!r}")
    out: dict[str, Any] = {"action": action}
    if "factor" in raw:
        out["factor"] = fail.number("factor", raw["factor"], low=0.0, high=1.0)
        if out["factor"] >= 1.0:
            raise fail("factor", "must be below 1 (a slow decision lowers the rate)")
    if "duration" in raw:
        out["duration"] = fail.seconds("duration", raw["duration"])
    if action == "ramp":
        if ("step" in raw) == ("step-rate" in raw):
            raise fail("step", "a 'ramp' rule needs exactly one of 'step', 'step-rate'")
        if "count" not in raw:
            raise fail("count", "a 'ramp' rule's threshold is a 'count' of clean events")
        if "step" in raw:
            out["step"] = fail.number("step", raw["step"], low=0.0, high=1.0)
        else:
            out["step_rate"] = fail.number("step-rate", raw["step-rate"], low=0.0)
    return out


def _rule(raw: dict[str, Any], part: PolicyText) -> ThrottleRule:
    rule_id = cast(str, raw["id"])  # checked by _build
    fail = Fail(part, "throttle.rule", rule_id)
    fail.table(raw, _RULE_KEYS)
    if not any(key in raw for key in _MATCH_KEYS):
        raise fail(None, f"needs at least one match key: {', '.join(_MATCH_KEYS)}")
    comment = raw.get("comment", "")
    if not isinstance(comment, str):
        raise fail("comment", "must be a string")
    fields: dict[str, Any] = {
        "types": fail.strings("types", raw.get("types", []), RECORD_TYPES),
        "classes": fail.strings("classes", raw.get("classes", []), BOUNCE_CLASSES),
        "categories": fail.strings("categories", raw.get("categories", []), BOUNCE_CATEGORIES),
        "faults": fail.strings("faults", raw.get("faults", []), FAULTS),
    }
    if "window" not in raw:
        raise fail("window", "missing (how far back the threshold counts)")
    fields["window"] = fail.seconds("window", raw["window"])
    for key in ("status", "diag"):
        if key in raw:
            fields[key] = raw[key]
            fields[f"{key}_re"] = _pattern(fail, key, raw[key])
    fields |= _threshold(fail, raw) | _action(fail, raw)
    return ThrottleRule(id=rule_id, comment=comment, source=part.source, **fields)


def _settings(merged: dict[str, tuple[Any, PolicyText]]) -> ThrottleSettings:
    def get(key: str) -> tuple[Any, Fail]:
        value, part = merged[key]  # the packaged defaults set every key
        return value, Fail(part, "throttle")

    floor, floor_fail = get("floor")
    window, window_fail = get("rate-window")
    sample, sample_fail = get("sample")
    history, history_fail = get("history")
    return ThrottleSettings(
        floor=floor_fail.number("floor", floor, low=0.0),
        rate_window=window_fail.seconds("rate-window", window),
        sample=sample_fail.integer("sample", sample, low=0),
        history=history_fail.integer("history", history),
    )


def _build(parts: list[PolicyText]) -> ThrottleRules:
    settings: dict[str, tuple[Any, PolicyText]] = {}
    defaults: dict[str, tuple[dict[str, Any], PolicyText]] = {}  # by id, in table order
    added: dict[str, tuple[dict[str, Any], PolicyText]] = {}
    for number, part in enumerate(parts):
        table = parse_document(part).get("throttle", {})
        fail = Fail(part, "throttle")
        if not isinstance(table, dict):
            raise fail(None, "must be a table: [throttle]")
        fail.table(table, _SETTINGS_KEYS)
        settings |= {key: (value, part) for key, value in table.items() if key != "rule"}
        raws = table.get("rule", [])
        if not isinstance(raws, list) or not all(isinstance(raw, dict) for raw in raws):
            raise fail("rule", "must be an array of tables: [[throttle.rule]]")
        seen: set[str] = set()
        for index, raw in enumerate(raws):
            rule_id = raw.get("id")
            if not isinstance(rule_id, str) or not _ID.fullmatch(rule_id):
                raise Fail(part, "throttle.rule")(
                    "id", f"[[throttle.rule]] #{index + 1} needs an id of a-z, 0-9, '.', '_', '-'"
                )
            if rule_id in seen:
                raise Fail(part, "throttle.rule", rule_id)("id", "duplicate id in one file")
            seen.add(rule_id)
            home = defaults if number == 0 or rule_id in defaults else added
            earlier = home.get(rule_id, ({}, part))[0]
            home[rule_id] = (earlier | raw, part)
    rules = [
        _rule(raw, part)
        for raw, part in [*added.values(), *defaults.values()]
        if _enabled(raw, part)
    ]
    return ThrottleRules(_settings(settings), tuple(rules))


def _enabled(raw: dict[str, Any], part: PolicyText) -> bool:
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise Fail(part, "throttle.rule", str(raw.get("id")))("enabled", "expected true or false")
    return enabled


@cache
def default_throttle_rules() -> ThrottleRules:
    """The packaged table and settings (``[throttle]`` of ``acctpipe/policy/default.toml``)."""
    return _build([default_document()])


def load_throttle_rules(*user: PolicyText | str) -> ThrottleRules:
    """The packaged table with ``user`` files' ``[throttle]`` settings and rules merged in.

    Settings are replaced key by key (later files win). A rule whose id is already in
    the table is changed in place (only the keys given); ``enabled = false`` removes
    it; a new id adds a rule before the packaged ones, in file order. A bad rule
    raises :class:`~mta.errors.ConfigError` naming the file, the line of the rule's
    id, the rule and the key (``policy.toml:12: <throttle.rule>: rule 'x': 'count':
    expected an integer >= 1, got 0``).
    """
    if not user:
        return default_throttle_rules()
    return _build([default_document(), *(as_text(item) for item in user)])
