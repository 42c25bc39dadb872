"""The policies name addresses exactly as the suppression store does, and survive bad ones."""

from __future__ import annotations

import pytest

from acctpipe.policy.address import domain_of, suppression_key
from acctpipe.policy.normalise import normalise


@pytest.mark.parametrize(
    "raw",
    ["Bob@EXAMPLE.com", "  <bob@example.com.>  ", "bob+news@Example.COM", "bob@bücher.example"],
)
def test_keys_are_the_stores_normal_form(raw: str) -> None:
    """A decision's address is what the store and the MTA's set would look up."""
    assert suppression_key(raw) == normalise(raw)


@pytest.mark.parametrize("raw", ["", "postmaster", "a@", "@example.com", "a b@example.com"])
def test_what_is_not_an_address_has_no_key(raw: str) -> None:
    """Unreadable recipients give None instead of raising: the policy goes on."""
    assert suppression_key(raw) is None


def test_domain_of() -> None:
    """domain_of gives the normalised domain, a lenient one when invalid, "" when none."""
    assert domain_of("<News@Bücher.Example>") == "xn--bcher-kva.example"
    assert domain_of("a@Bad Domain.Example.") == "bad domain.example"
    assert domain_of("postmaster") == ""
