"""The bulk API's shortcut past the request model accepts only what the model accepts, as it."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from acctpipe.api.bulk import _plain
from acctpipe.api.models import SuppressionIn

_TEXT = st.text(alphabet=st.sampled_from("ab@ .:\t\n\x1cé-_"), max_size=12)
_ITEM = st.fixed_dictionaries(
    {
        "address": st.one_of(
            _TEXT,
            st.sampled_from(["a@example.com", "x@y", "@a", "a b@c.d", "a@b@c"]),
            st.integers(),
            st.just("a" * 330 + "@example.com"),
        )
    },
    optional={
        "scope": st.one_of(_TEXT, st.sampled_from(["global", "list:news", "domain:a.b", "list:"])),
        "reason": st.sampled_from(["manual", "complaint", "nope", None]),
        "detail": st.one_of(_TEXT, st.just("d" * 1001), st.integers()),
        "expires_at": st.just("2030-01-01T00:00:00Z"),
        "extra": st.just(1),
    },
)


@given(_ITEM)
def test_the_shortcut_agrees_with_the_model(item: dict[str, Any]) -> None:
    """Whatever _plain accepts, SuppressionIn accepts too, with the same values."""
    quick = _plain(dict(item))
    if quick is None:
        return
    try:
        model = SuppressionIn.model_validate(item)
    except ValidationError as exc:  # pragma: no cover - the failure this test looks for
        raise AssertionError(f"{item!r} passed the shortcut but not the model: {exc}") from exc
    assert quick == (model.address, model.scope, model.reason, model.detail)
    assert model.expires_at is None


def test_the_shortcut_takes_the_everyday_line() -> None:
    """An address alone (the bulk body of a migration) skips the model."""
    assert _plain({"address": "user@example.com"}) is not None
    assert _plain({"address": "user@example.com", "scope": "list:news", "reason": "complaint"})
