"""Numeric directive values have sane ranges: absurd values are `file:line` errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mta.config import schema
from mta.config._ranges import describe
from mta.config.effective import effective_settings
from tests.mta.config.conftest import errors_of, parse

_NUMERIC = ("int", "float", "duration", "durations", "size", "rate")


def _domain(line: str) -> str:
    return f"<domain example.com>\n{line}\n</domain>\n"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("retry-after 0s", "retry-after value 0s out of range (0.1s..30d)"),
        ("retry-after 5m,0s", "retry-after value 0s out of range (0.1s..30d)"),
        ("max-smtp-out 999999999999", "max-smtp-out value 999999999999 out of range (1..10000)"),
        ("max-msg-rate 1e300/s", "max-msg-rate value 1e+300/s out of range (0/s..1000000/s)"),
        ("bounce-after 99999999d", "bounce-after value 99999999d out of range (1s..365d)"),
        ("backoff-scale-factor 1e9", "backoff-scale-factor value 1000000000 out of range (1..100)"),
    ],
)
def test_absurd_domain_values_are_refused_with_their_range(line: str, message: str) -> None:
    """The issue's absurd values each give one `file:line: <section>:` error naming the range."""
    assert errors_of(_domain(line)) == [f"t.conf:2: <domain example.com>: {message}"]


def test_absurd_sizes_are_refused() -> None:
    """`max-message-size 999999999T` is refused, and so is a rotation size of a petabyte."""
    (error,) = errors_of("<source 0/0>\nmax-message-size 999999999T\n</source>\n")
    assert error == (
        "t.conf:2: <source 0/0>: max-message-size value 999999999T out of range (1..2G)"
    )
    (error,) = errors_of("<acct-file a.csv>\nmax-size 1024T\n</acct-file>\n")
    assert error.endswith("max-size value 1024T out of range (1K..1T)")


def test_unlimited_and_never_are_still_accepted() -> None:
    """`unlimited` rates and `never` durations are not numbers and need no range."""
    cfg = parse(_domain("max-msg-rate unlimited\nbackoff-to-normal-after never"))
    settings = effective_settings(cfg, "example.com").settings
    assert settings.max_msg_rate.is_unlimited
    assert settings.backoff_to_normal_after is None


def test_every_numeric_directive_declares_a_range() -> None:
    """Every implemented numeric directive has bounds, so no absurd value slips through."""
    missing = [
        d.name for d in schema.DIRECTIVES if d.implemented and d.kind in _NUMERIC and not d.bounds
    ]
    assert missing == []


_BOUNDED = sorted(
    {(d.name, d.kind, d.bounds) for d in schema.DIRECTIVES if d.bounds and d.kind == "int"}
)


@pytest.mark.slow
@settings(max_examples=120, deadline=None)
@given(spec=st.sampled_from(_BOUNDED), offset=st.integers(-3, 3), high=st.booleans())
def test_int_range_boundaries(
    spec: tuple[str, str, tuple[float, float]], offset: int, high: bool
) -> None:
    """A count is accepted exactly when it lies in the declared range, at both ends."""
    name, kind, bounds = spec
    value = int(bounds[1] if high else bounds[0]) + offset
    sections = schema.sections_of(name)
    section = "domain" if "domain" in sections else sections[0]
    arg = {"domain": "example.com", "source": "0/0"}.get(section, "x")
    text = f"{name} {value}\n"
    if section != "global":
        text = f"<{section} {arg}>\n{text}</{section}>\n"
    inside = bounds[0] <= value <= bounds[1]
    if inside:
        parse(text)
    else:
        errors = errors_of(text)
        assert any(f"out of range ({describe(kind, bounds)})" in e for e in errors), errors


def test_the_reference_shows_the_ranges() -> None:
    """The generated config reference has a range column with each directive's bounds."""
    from mta.config.render import reference_markdown

    doc = reference_markdown()
    assert "| `retry-after` | durations | 10m | 0.1s..30d |" in doc
    assert "| `max-smtp-out` | int | 20 | 1..10000 |" in doc
