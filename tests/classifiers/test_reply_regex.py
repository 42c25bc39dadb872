"""Rule patterns are limited to syntax Python ``re`` and Rust ``regex`` read the same way."""

from __future__ import annotations

import re

import polars as pl
import pytest

from classifiers._regex import portability_problem
from classifiers._rules import default_table


@pytest.mark.parametrize(
    "pattern",
    [
        r"user unknown",
        r"(?i)no such (user|mailbox)",
        r"^5\.1\.1$",
        r"^[45]\.7\.2[0-6]$",
        r"bo[iî]te pleine",
        r"[]a]x",
        r"[^]a]x",
        r"a{3}b{1,}c{2,4}",
        r"(?:x)*?y+?z??",
        r"(?s:a.b)(?-i:C)",
        r"\(S3140\)|\[TSS04\]|\x41\u00e9",
        r"(^|[^a-z0-9])SPF($|[^a-z0-9])",
        r"пользователь не найден",
    ],
)
def test_portable_patterns_are_accepted(pattern: str) -> None:
    """Ordinary regex syntax both engines share passes the check and compiles in both."""
    assert portability_problem(pattern) is None
    re.compile(pattern)
    pl.Series(["x"]).str.contains(pattern)


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("", "empty"),
        ("foo(?=bar)", "look-around"),
        ("foo(?!bar)", "look-around"),
        ("(?<=foo)bar", "look-around"),
        ("(?<!foo)bar", "look-around"),
        ("(?>foo)", "atomic"),
        ("(a)\\1", "backreference"),
        ("(?P<x>a)(?P=x)", "named groups"),
        ("(?P=x)", "backreference"),
        ("(?#comment)a", "comments"),
        ("(?(1)a|b)", "conditional"),
        ("a*+", "possessive"),
        ("a++", "possessive"),
        ("a?+", "possessive"),
        ("a{2}+", "possessive"),
        ("a{,3}", "quantifier"),
        ("a{x}", "quantifier"),
        ("(?x)a b", "inline flag"),
        ("(?U)a+", "inline flag"),
        ("a\\Z", "not understood"),
        ("a\\z", "not understood"),
        ("\\p{L}", "not understood"),
        ("\\N{DASH}", "not understood"),
        ("\\<word", "word boundary"),
        ("\\bword\\b", "drawn differently"),
        ("\\w+", "drawn differently"),
        ("\\d+", "drawn differently"),
        ("\\s", "drawn differently"),
        ("[[:alpha:]]", "nested class"),
        ("[a&&b]", "set operation"),
        ("[a--b]", "set operation"),
        ("[a~~b]", "set operation"),
        ("[a||b]", "set operation"),
        ("[abc", "unterminated"),
        ("abc\\", "lone backslash"),
        ("\\é", "non-ASCII"),
        ("\u0130nvalid", "dotted/dotless"),
    ],
)
def test_non_portable_patterns_are_refused_with_a_reason(pattern: str, why: str) -> None:
    """Syntax one engine lacks or reads differently is refused, and the reason says which."""
    problem = portability_problem(pattern)
    assert problem is not None
    assert why in problem


def _default_patterns() -> list[tuple[str, str]]:
    found = []
    for rule in default_table():
        if rule.text is not None:
            found.append((rule.id, f"(?i){rule.text}"))
        found.extend((rule.id, p) for p in (rule.status, rule.code) if p is not None)
    return found


@pytest.mark.slow
def test_every_default_pattern_compiles_in_rust_regex() -> None:
    """Every pattern of the packaged table compiles in polars (Rust regex) as it is used."""
    probe = pl.Series(["smtp;550 5.1.1 user unknown", ""])
    failures = []
    for rule_id, pattern in _default_patterns():
        try:
            probe.str.contains(pattern)
        except pl.exceptions.ComputeError as exc:  # pragma: no cover - reported below
            failures.append(f"{rule_id}: {exc}")
    assert failures == []
