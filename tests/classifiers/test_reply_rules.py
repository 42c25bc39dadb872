"""Rule tables: validation errors name the rule (and file), user rules come before defaults."""

from __future__ import annotations

import pytest

from classifiers._rules import (
    DEFAULT_SOURCE,
    RULE_CLASSES,
    RuleError,
    RuleText,
    default_table,
    load_rules,
    parse_rules,
)
from classifiers.reply import classify_reply
from classifiers.types import BOUNCE_CATEGORIES

GOOD = """
[[rule]]
id = "acme-gone"
comment = "ACME's MX says this for closed accounts."
text = 'mailbox has left the building'
category = "inactive-mailbox"
class = "hard"
"""


def _rule(**fields: str) -> str:
    body = {"id": "r1", "text": "x", "category": "other", "class": "soft"} | fields
    lines = [f"{key} = '{value}'" for key, value in body.items() if value != "<drop>"]
    return "[[rule]]\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_rule(txt="oops"), "unknown key(s) txt"),
        (_rule(category="<drop>"), "missing 'category'"),
        (_rule(**{"class": "<drop>"}), "missing 'class'"),
        (_rule(category="bounced"), "category 'bounced' is not one of"),
        (_rule(**{"class": "permanent"}), "class 'permanent' is not one of"),
        (_rule(**{"class": "complaint"}), "class 'complaint' is not one of"),
        (_rule(text="(unclosed"), "does not compile"),
        (_rule(text="a(?=b)"), "look-around"),
        (_rule(status="^5\\.1\\.1(?!0)"), "look-around"),
        (_rule(code="\\d+"), "drawn differently"),
        (_rule(text="<drop>"), "needs at least one of 'text', 'status', 'code'"),
        (_rule(text=""), "empty pattern"),
        (_rule() + _rule(), "duplicate id"),
    ],
)
def test_rule_errors_name_the_rule_and_the_file(text: str, message: str) -> None:
    """Each validation error says which rule (by id), where (file:line) and what is wrong."""
    with pytest.raises(RuleError) as caught:
        load_rules(RuleText("custom.toml", text))
    error = caught.value
    assert error.rule_id == "r1"
    assert error.source == "custom.toml"
    assert str(error).startswith("custom.toml:")
    assert "rule 'r1'" in str(error)
    assert message in str(error)


def test_error_line_points_at_the_rules_id() -> None:
    """The line number in a rule error is the line of that rule's ``id``."""
    text = GOOD + _rule(id="bad-one", category="nope")
    with pytest.raises(RuleError) as caught:
        parse_rules(text, "custom.toml")
    assert caught.value.line == text.splitlines().index("id = 'bad-one'") + 1
    assert str(caught.value).startswith(f"custom.toml:{caught.value.line}: rule 'bad-one':")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[rule]]\nid = ", "not valid TOML"),
        ("version = 2\n" + GOOD, "unknown top-level key(s) version"),
        ("rule = 3", "must be an array of tables"),
        ("rule = [1]", "is not a table"),
        (
            '[[rule]]\nid = "Has Spaces"\ntext = "x"\ncategory = "other"\nclass = "soft"\n',
            "needs an 'id'",
        ),
        ("[[rule]]\ntext = 'x'\ncategory = 'other'\nclass = 'soft'\n", "needs an 'id'"),
        (_rule(text="<drop>").replace("[[rule]]\n", "[[rule]]\ntext = 5\n"), "must be a string"),
        (
            _rule(comment="<drop>").replace("[[rule]]\n", "[[rule]]\ncomment = 1\n"),
            "'comment' must be a string",
        ),
    ],
)
def test_malformed_files_are_refused(text: str, message: str) -> None:
    """Broken TOML and tables that are not [[rule]] arrays are refused, naming the file."""
    with pytest.raises(RuleError, match=r"^custom\.toml") as caught:
        load_rules(RuleText("custom.toml", text))
    assert message in str(caught.value)


def test_a_user_rule_may_not_reuse_a_default_id() -> None:
    """Ids are unique across user files and the defaults, so a result names one rule."""
    with pytest.raises(RuleError, match="duplicate id") as caught:
        load_rules(RuleText("mine.toml", _rule(id="gmail-no-such-user")))
    assert caught.value.rule_id == "gmail-no-such-user"
    assert caught.value.source == "mine.toml"


def test_rule_error_is_a_value_error() -> None:
    """RuleError is a ValueError, so callers that validate input can catch it as such."""
    assert issubclass(RuleError, ValueError)


def test_user_rules_are_checked_before_the_defaults() -> None:
    """A user rule overrides the defaults by matching first; its id is reported."""
    reply = (550, "5.1.1", "The email account that you tried to reach does not exist")
    assert classify_reply(*reply).rule_id == "gmail-no-such-user"
    override = RuleText(
        "mine.toml",
        "[[rule]]\nid = 'treat-gmail-as-soft'\ncomment = 'test'\n"
        "text = 'tried to reach does not exist'\ncategory = 'other'\nclass = 'soft'\n",
    )
    table = load_rules(override)
    assert table.rules[0].id == "treat-gmail-as-soft"
    assert table.rules[0].source == "mine.toml"
    assert len(table) == len(default_table()) + 1
    verdict = classify_reply(*reply, table=table)
    assert (verdict.category, verdict.cls, verdict.rule_id) == (
        "other",
        "soft",
        "treat-gmail-as-soft",
    )


def test_user_files_keep_their_order_and_a_plain_string_is_accepted() -> None:
    """Several user texts are consulted in the order given; a str is TOML named <string>."""
    first = GOOD
    second = GOOD.replace("acme-gone", "acme-gone-2")
    table = load_rules(first, RuleText("b.toml", second), include_defaults=False)
    assert [rule.id for rule in table] == ["acme-gone", "acme-gone-2"]
    assert [rule.source for rule in table] == ["<string>", "b.toml"]
    assert table.get("acme-gone-2") is table.rules[1]
    assert table.get("nope") is None


def test_the_default_table_is_large_documented_and_well_formed() -> None:
    """The packaged table has >120 rules, unique ids, a comment on each, valid verdicts."""
    table = default_table()
    assert len(table) >= 120
    assert len({rule.id for rule in table}) == len(table)
    for rule in table:
        assert rule.comment.strip(), rule.id
        assert rule.category in BOUNCE_CATEGORIES
        assert rule.cls in RULE_CLASSES
        assert rule.source == DEFAULT_SOURCE
    assert default_table() is table  # parsed once


def test_no_default_rule_says_hard_for_a_security_status_or_a_4xx_code() -> None:
    """Status rules never map X.7.x to hard, and code rules never map 4xx to hard."""
    x7 = [f"{c}.7.{d}" for c in "45" for d in range(1000)]
    for rule in default_table():
        if rule.cls != "hard":
            continue
        if rule.status_re is not None:
            assert not any(rule.status_re.search(s) for s in x7), rule.id
        if rule.code_re is not None:
            assert not any(rule.code_re.search(str(code)) for code in range(400, 500)), rule.id


def test_text_rules_come_before_status_and_code_fallbacks() -> None:
    """Text rules precede the status fallbacks, which precede the code fallbacks.

    Only the generic 'temporary problem' texts, which say less than a specific status,
    and one text+status rule come after the first status rule.
    """
    rules = default_table().rules
    first_status = min(i for i, r in enumerate(rules) if r.status is not None)
    first_code = min(i for i, r in enumerate(rules) if r.code is not None)
    late_texts = {r.id for r in rules[first_status:] if r.text is not None}
    assert late_texts == {"greylist-4.7.1-try-later", "temporary-problem"}
    assert all(r.code is None for r in rules[:first_code])
    assert first_status < first_code


def test_fallback_rules_are_marked_in_the_table_not_by_their_ids() -> None:
    """The rules that decide from a status or reply code alone say so: ``fallback = true``.

    In the default table they are exactly the rules with no text condition (the
    ``status-*`` and ``code-*`` ones), so a renamed rule keeps its mark.
    """
    table = default_table()
    marked = table.fallback_ids
    assert marked == {rule.id for rule in table if rule.text is None}
    assert {"status-x.1.1", "status-5.x.x", "code-5xx", "code-4xx"} <= marked
    assert "gmail-no-such-user" not in marked


def test_a_user_rule_can_be_a_fallback_and_the_flag_must_be_a_boolean() -> None:
    """``fallback = true`` works in a user file; ``fallback = 'yes'`` is refused by name."""
    (rule,) = parse_rules(GOOD.replace('class = "hard"', 'class = "hard"\nfallback = true'))
    assert rule.fallback
    assert not parse_rules(GOOD)[0].fallback
    with pytest.raises(RuleError, match="'fallback' must be true or false"):
        parse_rules(GOOD.replace('class = "hard"', "class = \"hard\"\nfallback = 'yes'"))
