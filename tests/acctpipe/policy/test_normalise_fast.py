"""The RCPT-time normaliser's shortcut gives what the full key rules give, for any text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from acctpipe.policy.normalise import address_key, normalise

_LOCAL = st.text(alphabet='aAzZ09.+-_=!#~"\\ ()<>@\u00e9K\u212a', min_size=0, max_size=70)
_DOMAIN = st.text(alphabet="aAzZ09.-_[]:\u00fc", min_size=0, max_size=80)


def _same(text: str) -> None:
    try:
        expected: str | None = address_key(text)
    except ValueError:
        expected = None
    try:
        got: str | None = normalise(text)
    except ValueError:
        got = None
    assert got == expected


@given(local=_LOCAL, domain=_DOMAIN, wrap=st.sampled_from(["{}", " {} ", "<{}>", "{}."]))
def test_the_shortcut_equals_the_key_rules(local: str, domain: str, wrap: str) -> None:
    """Case, dots, brackets, space, non-ASCII (a Kelvin sign lowers to ASCII) and long domains."""
    _same(wrap.format(f"{local}@{domain}"))


@given(st.text(max_size=80))
def test_any_text_normalises_or_raises_value_error_like_the_key_rules(text: str) -> None:
    """Arbitrary text: the same answer or the same refusal."""
    _same(text)


def test_a_domain_one_past_the_limit_takes_the_long_way() -> None:
    """The length check is the key rules' own, at the boundary."""
    labels = ".".join(["a" * 63] * 4)
    _same(f"x@{labels}")
    _same(f"x@{labels[:-2]}")
