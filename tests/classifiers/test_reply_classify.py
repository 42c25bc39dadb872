"""classify_reply / classify_diag / explain: the scalar path, which is the specification."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifiers._rules import RuleText, load_rules
from classifiers.reply import (
    NO_INFORMATION,
    NO_MATCH,
    SECURITY_SUFFIX,
    TEMPORARY_SUFFIX,
    _classify_default,
    classify_diag,
    classify_reply,
    default_table,
    explain,
    explain_diag,
)
from classifiers.status import parse_diag, parse_enhanced_status
from classifiers.types import BOUNCE_CATEGORIES, BOUNCE_CLASSES, Classification
from tests.classifiers._replies import Reply, corpus


def test_a_2xx_reply_is_delivered() -> None:
    """Any 2xx code, or a 2.x.x status without a code, is class delivered, rule delivered."""
    assert classify_reply(250, "2.0.0", "OK") == Classification(
        "other", "delivered", "delivered", "2.0.0"
    )
    assert classify_reply(None, "2.6.0", "").cls == "delivered"
    assert classify_reply(250, "5.1.1", "user unknown").cls == "delivered"


def test_nothing_at_all_is_no_information() -> None:
    """No code, no status and no text (or only whitespace) gives unknown / no-information."""
    assert classify_reply(None, "", "") == Classification("other", "unknown", NO_INFORMATION)
    assert classify_diag("  \n ") == Classification("other", "unknown", NO_INFORMATION)
    assert classify_diag("smtp;", "undefined") == Classification("other", "unknown", NO_INFORMATION)


def test_no_matching_rule_is_no_match() -> None:
    """A table without a matching rule yields unknown / no-match, keeping the status."""
    table = load_rules(
        "[[rule]]\nid = 'only'\ntext = 'zzz'\ncategory = 'other'\nclass = 'spam'\n",
        include_defaults=False,
    )
    assert classify_reply(550, "5.1.1", "user unknown", table=table) == Classification(
        "other", "unknown", NO_MATCH, "5.1.1", "recipient"
    )


def test_a_temporary_failure_never_proves_an_address_dead() -> None:
    """A hard rule on a 4xx code or 4.x.x status becomes soft, and the rule id says why."""
    hard = classify_reply(550, "5.1.1", "User unknown in local recipient table")
    assert (hard.cls, hard.rule_id) == ("hard", "postfix-user-unknown-table")
    for code, status in [(450, "4.1.1"), (450, ""), (550, "4.1.1"), (None, "4.1.1")]:
        verdict = classify_reply(code, status, "User unknown in local recipient table")
        assert verdict.cls == "soft"
        assert verdict.category == "bad-mailbox"
        assert verdict.rule_id == "postfix-user-unknown-table" + TEMPORARY_SUFFIX


def test_an_unknown_verdict_on_a_temporary_failure_is_soft() -> None:
    """'unknown' fallbacks also become soft on a temporary failure (a retry may succeed)."""
    assert classify_reply(550, "", "whatever").cls == "unknown"
    verdict = classify_reply(550, "4.0.0", "whatever")
    assert (verdict.cls, verdict.rule_id) == ("soft", "status-4.x.x")
    assert classify_reply(None, "4.1.5", "").rule_id == "status-x.1.other" + TEMPORARY_SUFFIX


def test_an_x7_status_is_never_hard() -> None:
    """A hard rule firing on an X.7.x status (Yandex's 5.7.1 No such user!) becomes soft."""
    verdict = classify_diag("smtp;550 5.7.1 No such user!")
    assert (verdict.category, verdict.cls) == ("bad-mailbox", "soft")
    assert verdict.rule_id == "yandex-no-such-user" + SECURITY_SUFFIX


def test_gmail_no_such_user_temporary_names_the_downgrade() -> None:
    """A 4xx Gmail 'does not exist' reply is reported as gmail-no-such-user+temporary."""
    verdict = classify_diag(
        "smtp;450 4.1.1 The email account that you tried to reach does not exist."
    )
    assert verdict.rule_id == "gmail-no-such-user+temporary"


def test_the_dsn_status_field_is_used_only_when_the_diagnostic_has_none() -> None:
    """PowerMTA's dsnStatus fills in a missing status; the diagnostic's own status wins."""
    assert classify_diag("smtp;550 Rejected", "5.7.1 (delivery not authorized)").status == "5.7.1"
    assert classify_diag("smtp;550 5.1.1 gone", "5.0.0 (undefined status)").status == "5.1.1"
    assert classify_diag("", "5.1.1 (bad destination mailbox address)").rule_id == "status-x.1.1"


def test_inputs_are_normalised_before_matching() -> None:
    """Status descriptions and leading zeros are dropped, line breaks in texts collapse."""
    a = classify_reply(550, "5.01.001 (bad destination mailbox address)", "User\r\n  unknown")
    assert a == classify_reply(550, "5.1.1", "User unknown")
    assert classify_reply(999, "", "User unknown") == classify_reply(None, "", "User unknown")


def test_explain_lists_the_rules_tried_up_to_the_one_that_fired() -> None:
    """explain returns the classification, the parsed inputs and the rules tried, in order."""
    table = default_table()
    result = explain_diag(
        "smtp;550 5.1.1 <a@example.com>: Recipient address rejected: "
        "User unknown in virtual mailbox table"
    )
    assert result.classification.rule_id == "postfix-user-unknown-table"
    assert result.rule is not None
    assert result.rule.id == "postfix-user-unknown-table"
    assert result.tried == table.rules[: len(result.tried)]
    assert (result.code, result.status) == (550, "5.1.1")
    assert result.adjustment == ""
    temporary = explain(450, "4.1.1", "no such user")
    assert temporary.adjustment == TEMPORARY_SUFFIX
    assert temporary.rule is not None
    assert temporary.rule.id == "mailbox-no-such-user"
    delivered = explain(250, "", "ok")
    assert delivered.tried == ()
    assert delivered.rule is None
    nothing = explain(None, "", "", table=load_rules("", include_defaults=False))
    assert nothing.classification.rule_id == NO_INFORMATION


def test_explain_of_an_unmatched_reply_lists_every_rule() -> None:
    """When no rule matches, explain reports every rule as tried and no rule as fired."""
    table = load_rules(
        RuleText(
            "t.toml", "[[rule]]\nid = 'a'\ntext = 'zzz'\ncategory = 'other'\nclass = 'spam'\n"
        ),
        include_defaults=False,
    )
    result = explain(550, "", "hello", table=table)
    assert result.classification.rule_id == NO_MATCH
    assert result.tried == table.rules
    assert result.rule is None


def test_the_default_table_results_are_cached() -> None:
    """Repeated replies are answered from an LRU cache keyed on the normalised inputs."""
    before = _classify_default.cache_info().hits
    for _ in range(3):
        classify_reply(550, "5.1.1 (bad destination mailbox address)", "cache   probe")
    assert _classify_default.cache_info().hits >= before + 2


def test_a_custom_table_is_not_served_from_the_default_cache() -> None:
    """Passing a table bypasses the default table's cache and uses that table."""
    table = load_rules(
        "[[rule]]\nid = 'mine'\ntext = 'cache probe 2'\ncategory = 'other'\nclass = 'spam'\n"
    )
    assert classify_reply(550, "", "cache probe 2").rule_id == "code-5xx"
    assert classify_reply(550, "", "cache probe 2", table=table).rule_id == "mine"


_TEXTS = st.one_of(
    st.text(max_size=80),
    st.sampled_from([r.diag for r in corpus()]),
    st.sampled_from(["User unknown", "No such user!", "mailbox disabled", "Host not found"]),
)
_STATUS_TEXT = st.one_of(
    st.just(""),
    st.builds("{}.{}.{}".format, st.sampled_from("245"), st.integers(0, 12), st.integers(0, 30)),
    st.text(max_size=12),
)


@given(code=st.integers(400, 499), status=_STATUS_TEXT, text=_TEXTS)
def test_a_4xx_reply_is_never_hard(code: int, status: str, text: str) -> None:
    """Whatever the text and status, a 4xx reply code is never classified hard."""
    assert classify_reply(code, status, text).cls != "hard"


@pytest.mark.slow
@given(
    code=st.one_of(st.none(), st.integers(200, 599)),
    status=st.builds("{}.7.{}".format, st.sampled_from("245"), st.integers(0, 999)),
    text=_TEXTS,
)
def test_an_x7_status_is_never_hard_whatever_the_text(
    code: int | None, status: str, text: str
) -> None:
    """Whatever the code and text, an X.7.x enhanced status is never classified hard."""
    assert classify_reply(code, status, text).cls != "hard"


_EVERYTHING_HARD = load_rules(
    "[[rule]]\nid = 'all-hard'\ntext = '.'\ncategory = 'bad-mailbox'\nclass = 'hard'\n"
    "[[rule]]\nid = 'all-hard-code'\ncode = '.'\ncategory = 'bad-mailbox'\nclass = 'hard'\n",
    include_defaults=False,
)


@pytest.mark.slow
@given(code=st.integers(400, 499), status=_STATUS_TEXT, text=_TEXTS)
def test_a_4xx_reply_is_never_hard_with_user_rules_either(
    code: int, status: str, text: str
) -> None:
    """The 4xx guard is the engine's, so a user rule marked hard cannot defeat it."""
    assert classify_reply(code, status, text, table=_EVERYTHING_HARD).cls != "hard"


@pytest.mark.slow
@settings(max_examples=300)
@given(diag=st.text(), status=st.text(max_size=40))
def test_classify_diag_never_raises_on_any_text(diag: str, status: str) -> None:
    """Any diagnostic and status string gives a valid category and class, never an error."""
    verdict = classify_diag(diag, status)
    assert verdict.category in BOUNCE_CATEGORIES
    assert verdict.cls in BOUNCE_CLASSES
    assert verdict.rule_id


@pytest.mark.parametrize("reply", corpus()[::40], ids=lambda r: f"line{r.line}")
def test_classify_diag_is_classify_reply_of_the_parsed_diagnostic(reply: Reply) -> None:
    """classify_diag is classify_reply applied to parse_diag's output (plus dsnStatus)."""
    code, status, text = parse_diag(reply.diag)
    expected = classify_reply(code, status or parse_enhanced_status(reply.status), text)
    assert classify_diag(reply.diag, reply.status) == expected
