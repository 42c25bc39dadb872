"""The throttle rule table as data: defaults, user changes by id, errors that name the rule."""

from __future__ import annotations

import pytest

from acctpipe.policy.throttle import PolicyText, default_throttle_rules, load_throttle_rules
from mta.errors import ConfigError
from tests.acctpipe.policy._events import GMAIL_4728, event

DEFAULT_IDS = [
    "spam-block",
    "queue-spam-block",
    "rate-limited-4.7.28",
    "rate-limit-text",
    "deferral-burst",
    "deferral-burst-421",
    "not-the-recipient",
    "complaint-rate",
    "clean-ramp",
]


def test_packaged_table_and_settings() -> None:
    """The defaults: pause rules first, then slow rules, the complaint ratio, the ramp."""
    rules = default_throttle_rules()
    assert [rule.id for rule in rules.rules] == DEFAULT_IDS
    assert [rule.id for rule in rules.ramps] == ["clean-ramp"]
    assert len(rules.actions) == len(DEFAULT_IDS) - 1
    settings = rules.settings
    assert (settings.floor, settings.rate_window, settings.sample, settings.history) == (
        0.1,
        60.0,
        5,
        10,
    )
    burst = rules.get("deferral-burst")
    assert burst is not None
    assert (burst.count, burst.window, burst.action, burst.factor) == (5, 60.0, "slow", 0.5)
    complaints = rules.get("complaint-rate")
    assert complaints is not None
    assert (complaints.ratio, complaints.over, complaints.min_volume) == (0.003, ("d",), 1000)
    assert rules.get("nope") is None
    assert burst.describe() == ">= 5 in 60 s"
    assert complaints.describe() == ">= 0.003 of d (min 1000) in 3600 s"


def test_user_file_changes_a_rule_in_place_drops_one_and_adds_one_first() -> None:
    """Same id: only the given keys change, in place; enabled=false drops; a new id goes first."""
    text = """
[throttle]
floor = 0.5

[[throttle.rule]]
id = "deferral-burst"
count = 10

[[throttle.rule]]
id = "complaint-rate"
enabled = false

[[throttle.rule]]
id = "acme-too-fast"
comment = "ACME says 'slow down' in its own words."
diag = 'slow down'
count = 2
window = "30s"
action = "slow"
factor = 0.25
duration = "5m"
"""
    rules = load_throttle_rules(PolicyText("mine.toml", text))
    ids = [rule.id for rule in rules.rules]
    assert ids == ["acme-too-fast", *(i for i in DEFAULT_IDS if i != "complaint-rate")]
    burst = rules.get("deferral-burst")
    assert burst is not None
    assert (burst.count, burst.window, burst.status, burst.source) == (
        10,
        60.0,
        r"^4\.7\.",
        "mine.toml",
    )
    assert rules.settings.floor == 0.5
    assert rules.settings.sample == 5


def test_later_files_win_and_suppression_tables_are_ignored() -> None:
    """Two user files changing one rule: the later one's keys win; [suppression] is not read."""
    first = '[[throttle.rule]]\nid = "deferral-burst"\ncount = 7\nfactor = 0.7\n'
    second = '[suppression.soft]\ncount = 2\n[[throttle.rule]]\nid = "deferral-burst"\ncount = 9\n'
    burst = load_throttle_rules(first, second).get("deferral-burst")
    assert burst is not None
    assert (burst.count, burst.factor) == (9, 0.7)


def _rule(**keys: object) -> str:
    body: dict[str, object] = {
        "id": "r1",
        "types": ["t"],
        "count": 3,
        "window": "60s",
        "action": "slow",
        "factor": 0.5,
        "duration": "10m",
    } | keys
    lines = [f"{key} = {_toml(value)}" for key, value in body.items() if value != "<drop>"]
    return "[[throttle.rule]]\n" + "\n".join(lines) + "\n"


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        (_rule(count=0), "count", "expected an integer >= 1"),
        (_rule(count="<drop>"), "count", "exactly one threshold"),
        (_rule(ratio=0.1), "count", "exactly one threshold"),
        (_rule(count="<drop>", ratio=1.5), "ratio", "must satisfy 0 < value <= 1"),
        (_rule(count="<drop>", ratio=0.1, over=["x"]), "over", "'x' is not one of"),
        (_rule(**{"min-volume": 10}), "min-volume", "only a 'ratio' threshold"),
        (_rule(window="<drop>"), "window", "missing"),
        (_rule(window="soon"), "window", "expected a duration"),
        (_rule(types=["zz"]), "types", "'zz' is not one of"),
        (_rule(classes=["nope"]), "classes", "'nope' is not one of"),
        (_rule(categories=["bounced"]), "categories", "'bounced' is not one of"),
        (_rule(status="^4(?!x)"), "status", "look-around"),
        (_rule(diag="(unclosed"), "diag", "does not compile"),
        (_rule(diag=3), "diag", "must be a string"),
        (_rule(action="stop"), "action", "'stop' is not one of"),
        (_rule(factor=1.5), "factor", "must satisfy 0 < value <= 1"),
        (_rule(factor=1.0), "factor", "must be below 1"),
        (_rule(factor="<drop>"), "factor", "needs 'factor'"),
        (_rule(duration="<drop>"), "duration", "needs 'duration'"),
        (_rule(action="pause"), "factor", "takes no 'factor'"),
        (_rule(action="ramp", factor="<drop>"), "step", "exactly one of 'step', 'step-rate'"),
        (
            _rule(action="ramp", factor="<drop>", step=0.1, **{"step-rate": 1.0}),
            "step",
            "exactly one of",
        ),
        (_rule(action="ramp", factor="<drop>", step=0), "step", "must satisfy 0 < value"),
        (
            _rule(action="ramp", factor="<drop>", step=0.1, count="<drop>", ratio=0.1),
            "count",
            "threshold is a 'count'",
        ),
        (_rule(cuont=3), "cuont", "unknown key(s) cuont"),
        (_rule(enabled="no"), "enabled", "expected true or false"),
        (_rule(comment=3), "comment", "must be a string"),
        (_rule(types="<drop>"), None, "needs at least one match key"),
        (_rule() + _rule(), "id", "duplicate id"),
    ],
)
def test_bad_rules_name_the_file_line_rule_and_key(
    text: str, key: str | None, message: str
) -> None:
    """A bad rule raises a ConfigError with the file, the line of its id, the rule and the key."""
    source = "# my rules\n" + text
    with pytest.raises(ConfigError) as caught:
        load_throttle_rules(PolicyText("rules.toml", source))
    error = str(caught.value)
    assert error.startswith("rules.toml:3: <throttle.rule>: rule 'r1': ")
    if key is not None:
        assert f"{key!r}: " in error
    assert message in error


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[throttle.rule]]\nid = "Bad Id"\n', "#1 needs an id"),
        ("[[throttle.rule]]\ncount = 3\n", "#1 needs an id"),
        ("[throttle]\nfloor = 0\n", "'floor': must satisfy 0 < value"),
        ("[throttle]\nsample = -1\n", "'sample': expected an integer >= 0"),
        ('[throttle]\nrate-window = "0s"\n', "'rate-window': must be a positive duration"),
        ("[throttle]\nflor = 1\n", "unknown key(s) flor"),
        ("[throttle]\nrule = 3\n", "must be an array of tables"),
        ("throttle = 3\n", "must be a table"),
    ],
)
def test_bad_settings_and_ids_are_refused(text: str, message: str) -> None:
    """Table-wide settings and rule ids are checked too, naming the file."""
    with pytest.raises(ConfigError, match=r"^rules\.toml") as caught:
        load_throttle_rules(PolicyText("rules.toml", text))
    assert message in str(caught.value)


def test_status_is_matched_in_its_normalised_form() -> None:
    """A rule's status pattern sees "4.7.28" even when the row says "4.7.28 (rate limited)"."""
    rule = default_throttle_rules().get("rate-limited-4.7.28")
    assert rule is not None
    assert rule.matches(event("t", reply=GMAIL_4728, status="4.7.28 (rate limited)"))
    assert not rule.matches(event("t", reply=GMAIL_4728, status="4.7.2"))
    assert not rule.matches(event("b", reply=GMAIL_4728))
