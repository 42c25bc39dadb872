"""acctpipe.errors: the one error tree, re-exported whole, with ValueError/LookupError
compatibility and the CLI's one-line rendering."""

from __future__ import annotations

import pytest

import mta.errors
from acctpipe import errors
from acctpipe.policy.normalise import (
    normalise_address,
    normalise_domain,
    normalise_scope,
)
from acctpipe.webhooks.filters import validate_filter
from mta.config.values import parse_duration


def test_the_whole_mta_tree_is_re_exported() -> None:
    """Every class of mta.errors is importable from acctpipe.errors, as the same object."""
    for name in mta.errors.__all__:
        assert getattr(errors, name) is getattr(mta.errors, name)
        assert name in errors.__all__


def test_input_errors_stay_value_errors_and_not_found_stays_a_lookup_error() -> None:
    """Code written as ``except ValueError`` / ``except LookupError`` still catches the
    specific input errors, and each is also an InputDataError of the tree."""
    for klass in (
        errors.AddressError,
        errors.InvalidValueError,
        errors.BadFilterError,
        errors.BadCursorError,
        errors.InvalidRuleError,
        errors.InvalidSubscriptionError,
        errors.BadFormatError,
    ):
        assert issubclass(klass, ValueError)
        assert issubclass(klass, errors.InputDataError)
    assert issubclass(errors.UnknownSubscriptionError, LookupError)
    assert issubclass(errors.UnknownReportError, errors.NotFoundError)


def test_raise_sites_raise_the_specific_types() -> None:
    """A bad address, scope, duration and webhook filter each raise their own class."""
    with pytest.raises(errors.AddressError):
        normalise_address("john..doe@example.com")
    with pytest.raises(errors.AddressError) as scope:
        normalise_scope("domain:a..b")
    assert scope.value.kind == "scope"
    with pytest.raises(errors.InvalidValueError):
        parse_duration("soon")
    with pytest.raises(errors.BadFilterError):
        validate_filter({"colour": ["red"]})


def test_an_idna_failure_keeps_the_codec_error_as_its_cause() -> None:
    """An internationalised domain the IDNA codec refuses is an AddressError whose
    ``__cause__`` is the codec's own error."""
    with pytest.raises(errors.AddressError) as caught:
        normalise_domain("ü" * 70 + ".example")
    assert isinstance(caught.value.__cause__, UnicodeError)
    assert caught.value.kind == "domain"


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (
            errors.ConfigError("unknown directive", path="a.conf", line=3, section="domain x"),
            "a.conf:3: <domain x>: unknown directive",
        ),
        (KeyError("no such key"), "no such key"),
        (ValueError("first\nsecond"), "first"),
        (errors.StoreError(""), "StoreError"),
    ],
)
def test_one_line(exc: BaseException, line: str) -> None:
    """The CLI's error line: config errors located, KeyError unquoted, only the first
    line of the text, the class name when there is no text."""
    assert errors.one_line(exc) == line
