"""The one mailbox validator (RFC 5321 / 6531, IDNA): what it takes, what it refuses and why."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mta.address import check_mailbox, mailbox_problem
from mta.errors import AddressError, InputDataError


@pytest.mark.parametrize(
    "address",
    [
        "john@example.com",
        "John.Doe+news@Example.COM",
        "o'brien@example.ie",
        '"john doe"@example.com',
        '"john..doe"@example.com',
        '"odd@local"@example.com',
        "jürgen@bücher.example",
        "jane@xn--bcher-kva.example",
        "root@[192.0.2.1]",
        "root@[IPv6:2001:db8::1]",
        "postmaster@localhost",
        "a@例え。jp",
        "x" * 64 + "@example.com",
    ],
)
def test_valid_mailboxes_pass(address: str) -> None:
    """Dot-strings, quoted strings, UTF-8 local parts, IDN domains and address literals pass."""
    assert mailbox_problem(address) is None


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("nul\x00sender@x.com", "control character U+0000"),
        ("tab\t@x.com", "control character U+0009"),
        ("c1\x85@x.com", "control character U+0085"),
        ("a\udcff@x.com", "not valid UTF-8"),
        ("a\ufffd@x.com", "U+FFFD"),
        ("zw\u200b@x.com", "unprintable"),
        ("../../../etc/passwd@example.com", "dot"),
        ("john..doe@example.com", "dot"),
        (".john@example.com", "dot"),
        ("john.@example.com", "dot"),
        ("john doe@example.com", "' ' is not allowed"),
        ("a@b@example.com", "'@' is not allowed"),
        ('"unclosed@example.com', "bad quoted local part"),
        ("user@-bad-.example", "hyphen"),
        ("user@exa_mple.com", "underscore"),
        ("user@example..com", "two dots"),
        ("user@example.com.", "ends with a dot"),
        ("user@", "empty domain"),
        ("@example.com", "empty local part"),
        ("user", "no @"),
        ("user@[300.1.1.1]", "bad address literal"),
        ("user@[tag:stuff]", "bad address literal"),
        ("user@xn--zz.example", "not valid punycode"),
        ("x" * 65 + "@example.com", "longer than 64"),
        ("user@" + "a" * 64 + ".com", "longer than 63"),
        ("u@" + "a." * 126 + "com", "longer than 254"),
    ],
)
def test_invalid_mailboxes_name_the_reason(address: str, why: str) -> None:
    """Each refusal is an AddressError (a ValueError and an InputDataError) with a reason."""
    with pytest.raises(AddressError) as caught:
        check_mailbox(address)
    assert why in caught.value.reason
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, InputDataError)
    assert str(caught.value).startswith("invalid address ")


def test_non_ascii_needs_utf8() -> None:
    """Without SMTPUTF8 (utf8=False) a UTF-8 address is refused; the ASCII form of its domain
    is given for a valid one."""
    assert mailbox_problem("zoë@example.com", utf8=False) == "non-ASCII address without SMTPUTF8"
    assert check_mailbox("a@Bücher.example").ascii_domain == "xn--bcher-kva.example"


_ATEXT = "abcXYZ019!#$%&'*+-/=?^_`{|}~."


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=80) | st.text(st.sampled_from(_ATEXT + '@ <>"\\[]:\x00\x7f-_'), max_size=40)
)
def test_any_text_is_a_mailbox_or_an_address_error(text: str) -> None:
    """For any string the validator returns a Mailbox or raises AddressError, nothing else;
    a mailbox it takes has no control character and fits the RFC 5321 length limits."""
    problem = mailbox_problem(text)
    if problem is not None:
        return
    box = check_mailbox(text)
    assert all(ord(c) >= 0x20 and c != "\x7f" for c in text)
    assert len(text.encode()) <= 254
    assert len(box.local.encode()) <= 64
    assert f"{box.local}@{box.domain}" == text


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(st.emails())
def test_generated_rfc_addresses_pass(address: str) -> None:
    """Addresses built from the RFC grammar (hypothesis' emails()) are all valid mailboxes."""
    assert mailbox_problem(address) is None


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(
    st.from_regex(r"[a-z0-9]([a-z0-9.]{0,20}[a-z0-9])?", fullmatch=True),
    st.from_regex(r"[a-z0-9_-]{1,20}", fullmatch=True),
)
def test_dots_and_host_name_labels(local: str, label: str) -> None:
    """A dot-string is refused exactly when it has two dots in a row; a label exactly when it
    has an underscore or a hyphen at either end."""
    assume(not label.startswith("xn--"))  # an A-label is checked as punycode instead
    bad_local = ".." in local
    bad_label = "_" in label or label.startswith("-") or label.endswith("-")
    assert (mailbox_problem(f"{local}@example.com") is not None) == bad_local
    assert (mailbox_problem(f"a@{label}.example") is not None) == bad_label
