"""Subscription filters: domains with subdomains, globs, keys that only filter what they name."""

from __future__ import annotations

from typing import Any

import pytest

from acctpipe.webhooks import filter_matches, validate_filter


def _ok(filter_: dict[str, Any], **data: Any) -> bool:
    return filter_matches(validate_filter(filter_), data)


def test_plain_domain_matches_itself_and_subdomains() -> None:
    """`example.com` matches example.com and mail.example.com, not badexample.com."""
    f = {"domains": ["Example.COM"]}
    assert _ok(f, domain="example.com")
    assert _ok(f, domain="mail.example.com")
    assert not _ok(f, domain="badexample.com")
    assert not _ok(f, domain="example.net")


def test_glob_domain_matches_subdomains_only() -> None:
    """`*.example.com` matches the subdomains but not example.com itself."""
    f = {"domains": ["*.example.com"]}
    assert _ok(f, domain="mx.mail.example.com")
    assert not _ok(f, domain="example.com")


def test_keys_are_anded_and_patterns_ored() -> None:
    """Every key present must match; any one pattern of a key is enough."""
    f = {"reasons": ["complaint", "hard-bounce"], "scopes": ["domain:*"]}
    assert _ok(f, reason="complaint", scope="domain:news.example")
    assert not _ok(f, reason="complaint", scope="global")
    assert not _ok(f, reason="manual", scope="domain:news.example")


def test_a_key_only_filters_events_that_carry_its_field() -> None:
    """A vmtas filter passes suppression events; a domains filter passes throttle events."""
    assert _ok({"vmtas": ["ip-*"]}, domain="example.com", reason="manual")
    assert _ok({"vmtas": ["ip-*"]}, vmta="ip-2", queue="gmail.com")
    assert not _ok({"vmtas": ["ip-*"]}, vmta="pool-a")
    assert _ok({"domains": ["example.com"]}, vmta="ip-1", queue="gmail.com")
    assert _ok({}, anything="goes")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"colours": ["red"]}, "unknown filter key 'colours'"),
        ({"domains": "example.com"}, "must be a list"),
        ({"domains": []}, "is empty"),
        ({"reasons": [""]}, "is not a pattern"),
        ({"domains": ["not a domain!"]}, "domain"),
        (["domains"], "must be an object"),
    ],
)
def test_bad_filters_are_refused_with_the_reason(bad: Any, message: str) -> None:
    """A filter that cannot mean anything is a ValueError that says what is wrong."""
    with pytest.raises(ValueError, match=message):
        validate_filter(bad)
