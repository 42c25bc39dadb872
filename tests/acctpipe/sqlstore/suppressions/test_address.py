"""Address normalisation: one spelling per mailbox; only ValueError for bad input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acctpipe.policy.normalise import (
    _slow,
    address_key,
    normalise,
    normalise_address,
    normalise_domain,
    normalise_scope,
)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("John.Doe@Example.COM", "john.doe@example.com"),
        ("  <john@example.com>  ", "john@example.com"),
        ("john@example.com.", "john@example.com"),
        ("john+News@example.com", "john+news@example.com"),
        ("jane@Bücher.Example", "jane@xn--bcher-kva.example"),
        ("jane@xn--bcher-kva.example", "jane@xn--bcher-kva.example"),
        ("Jürgen@example.de", "jürgen@example.de"),
        ('"john"@example.com', "john@example.com"),
        ('"john doe"@example.com', '"john doe"@example.com'),
        ('"odd@local"@example.com', '"odd@local"@example.com'),
        ('"john..doe"@example.com', '"john..doe"@example.com'),
        ("root@[192.0.2.1]", "root@[192.0.2.1]"),
        ("root@[IPv6:2001:DB8:0:0::1]", "root@[IPv6:2001:db8::1]"),
        ("under_score@mx1.example", "under_score@mx1.example"),
    ],
)
def test_examples(raw: str, normal: str) -> None:
    """Domain case, IDN, brackets, quotes and a trailing dot are normalised; +tags are kept."""
    assert normalise_address(raw) == normal


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("John..Doe@Example.com", "john..doe@example.com"),
        ("under_score@MX_1.example", "under_score@mx_1.example"),
        ("user@-bad-.example", "user@-bad-.example"),
    ],
)
def test_rows_stored_before_the_address_check_keep_their_key(raw: str, key: str) -> None:
    """address_key (for lookups and removals) still gives addresses the check now refuses
    the key they were stored under."""
    assert address_key(raw) == key
    assert normalise(raw) == key  # what the MTA's suppression set uses: they still suppress
    with pytest.raises(ValueError, match="invalid address"):
        normalise_address(raw)


def test_plus_addressing_is_kept() -> None:
    """a+tag@x and a@x are different suppressions."""
    assert normalise_address("a+tag@x.example") != normalise_address("a@x.example")


def test_local_part_case_can_be_kept() -> None:
    """casefold_local=False keeps the local part as written (the domain is still folded)."""
    assert normalise_address("John@Example.COM", casefold_local=False) == "John@example.com"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("", "no @"),
        ("john", "no @"),
        ("@example.com", "empty local part"),
        ("john@", "empty domain"),
        ("john doe@example.com", "' ' is not allowed"),
        ("john@exa mple.com", "characters other than letters"),
        ("john@example..com", "two dots in a row"),
        ("x" * 65 + "@example.com", "longer than 64"),
        ("john@" + "a" * 64 + ".com", "longer than 63"),
        ("john@" + "a." * 127 + "com", "longer than 254 octets"),
        ("john@[300.1.1.1]", "bad address literal"),
        ("jo\x00hn@example.com", "control character U+0000"),
        ("jöhn\u200b@example.com", "unprintable"),
        ("john..doe@example.com", "two in a row"),
        ("../../../etc/passwd@example.com", "starts or ends with a dot"),
        ("user@-bad-.example", "hyphen"),
        ("user@exa_mple.com", "underscore"),
        ("user\ufffd@example.com", "not valid UTF-8"),
    ],
)
def test_invalid_addresses_raise_a_clear_value_error(raw: str, why: str) -> None:
    """Something that is not an address raises ValueError naming it and saying why."""
    with pytest.raises(ValueError, match="invalid address") as caught:
        normalise_address(raw)
    assert why in str(caught.value)


def test_scopes() -> None:
    """Scopes are global, domain:<normalised domain> or list:<name>; anything else raises."""
    assert normalise_scope(" Global ") == "global"
    assert normalise_scope("domain:News.Bücher.Example.") == "domain:news.xn--bcher-kva.example"
    assert normalise_scope("list:Weekly News") == "list:Weekly News"
    for bad in ("", "everything", "domain:", "list:", "domain:bad domain", "user:x"):
        with pytest.raises(ValueError, match="invalid scope"):
            normalise_scope(bad)


def test_domain_normalisation() -> None:
    """normalise_domain folds case, encodes IDN, drops the trailing dot."""
    assert normalise_domain("MÜNCHEN.de.") == "xn--mnchen-3ya.de"


_ATEXT = "abcXYZ019!#$%&'*+-/=?^_`{|}~."
addresses = st.builds(
    lambda local, labels, tld: f"{local}@{'.'.join([*labels, tld])}",
    st.text(st.sampled_from(_ATEXT) | st.characters(min_codepoint=0xC0), min_size=1, max_size=70),
    st.lists(
        st.text(st.sampled_from("abcDEF019-_") | st.characters(min_codepoint=0xC0), max_size=70),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from(["com", "ORG", "de", "xn--p1ai", "рф"]),
)
anything = st.text() | addresses | st.emails().map(str)


def _attempt(raw: str, casefold: bool = True) -> str | None:
    try:
        return normalise_address(raw, casefold_local=casefold)
    except ValueError:
        return None


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(anything, st.booleans())
def test_normalisation_is_idempotent_and_only_raises_value_error(raw: str, casefold: bool) -> None:
    """For any string: ValueError or an address that normalises to itself."""
    normal = _attempt(raw, casefold)  # any other exception fails the test
    if normal is not None:
        assert normalise_address(normal, casefold_local=casefold) == normal


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(st.emails())
def test_every_generated_email_is_accepted(raw: str) -> None:
    """Addresses built by the RFC 5322 grammar (hypothesis' emails()) all normalise."""
    assert "@" in normalise_address(raw)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(anything)
def test_a_valid_address_keeps_the_key_it_always_had(raw: str) -> None:
    """The address check only refuses: for an address it takes, the stored key is the
    lenient key (the one rows were always stored under)."""
    normal = _attempt(raw)
    if normal is not None:
        assert normal == address_key(raw)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from(_ATEXT + '@ <>"\\[]:'), max_size=40) | st.emails().map(str))
def test_fast_path_agrees_with_the_full_rules(raw: str) -> None:
    """The one-regex fast path gives exactly what the long way gives (or both refuse)."""
    try:
        fast: str | None = address_key(raw)
    except ValueError:
        fast = None
    text = raw.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    try:
        slow: str | None = _slow(raw, text, True)
    except ValueError:
        slow = None
    assert fast == slow


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(addresses)
def test_domain_case_never_matters(raw: str) -> None:
    """Upper- or lower-casing the domain's ASCII letters gives the same address.

    (Only ASCII: Unicode case mapping is not one-to-one — the dotless i upper-cases to I.)
    """
    local, _, domain = raw.rpartition("@")
    upper = "".join(c.upper() if c.isascii() else c for c in domain)
    lower = "".join(c.lower() if c.isascii() else c for c in domain)
    assert _attempt(f"{local}@{upper}") == _attempt(f"{local}@{lower}")
