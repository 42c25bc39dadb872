"""VERP return paths: what the MTA encodes, the MTA and the classifiers decode alike."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from classifiers._original import verp_recipient
from mta.delivery.verp import decode_verp, encode_verp

_LOCAL = st.text(alphabet=st.sampled_from("abcxyz019._-+="), min_size=1, max_size=20).filter(
    lambda s: not s.startswith(("+", "="))
)


def test_encode_and_decode() -> None:
    """bounce@b.example + alice@Example.COM ↔ bounce+alice=example.com@b.example."""
    verp = encode_verp("bounce@bounces.sender.example", "alice@Example.COM")
    assert verp == "bounce+alice=example.com@bounces.sender.example"
    assert decode_verp(f"<{verp}>") == "alice@example.com"


@pytest.mark.slow
@given(_LOCAL)
def test_round_trip_and_classifier_agree(local: str) -> None:
    """Any local part (with + or =) survives the trip, and the classifier reads the same."""
    verp = encode_verp("bounce@bounces.sender.example", f"{local}@example.org")
    assert decode_verp(verp) == f"{local}@example.org"
    assert verp_recipient(verp) == f"{local}@example.org"


@pytest.mark.parametrize("text", ["bounce@b.example", "bounce+x@b.example", "+a=b.c@d", ""])
def test_non_verp_addresses_decode_to_nothing(text: str) -> None:
    """An ordinary address is not mistaken for a VERP one."""
    assert decode_verp(text) == ""


def test_bad_inputs_are_refused() -> None:
    """A bounce mailbox with '+' or a recipient without a domain cannot be encoded."""
    with pytest.raises(ValueError, match="must not contain"):
        encode_verp("b+x@b.example", "a@example.com")
    with pytest.raises(ValueError, match="cannot VERP-encode"):
        encode_verp("b@b.example", "no-domain")
