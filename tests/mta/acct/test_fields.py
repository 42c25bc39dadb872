"""Record types and field names of the PowerMTA accounting file."""

from __future__ import annotations

import pytest

from mta.acct import fields
from mta.acct.fields import (
    DEFAULT_FIELDS,
    DEFAULT_HEADER,
    FEEDBACK_FIELDS,
    RECORD_TYPE_DESCRIPTIONS,
    RECORD_TYPES,
    is_known_field,
    is_record_type,
    union_fields,
)


def test_record_types_are_powermtas() -> None:
    """The record types are PowerMTA's d, b, t, tq, f, rb, rs and r, each described."""
    assert set(RECORD_TYPES) == {"d", "b", "t", "tq", "f", "rb", "rs", "r"}
    assert set(RECORD_TYPE_DESCRIPTIONS) == set(RECORD_TYPES)
    assert all(is_record_type(kind) for kind in RECORD_TYPES)
    assert not is_record_type("delivery")
    assert not is_record_type("")


def test_default_header_is_powermtas_order() -> None:
    """The default header is the 23 base fields, type first, then the 7 feedback fields."""
    assert len(DEFAULT_FIELDS) == 23
    assert DEFAULT_FIELDS[:5] == ("type", "timeLogged", "timeQueued", "orig", "rcpt")
    assert DEFAULT_FIELDS[-3:] == ("envId", "queue", "vmtaPool")
    assert FEEDBACK_FIELDS[0] == "feedbackType"
    assert len(FEEDBACK_FIELDS) == 7
    assert DEFAULT_HEADER == DEFAULT_FIELDS + FEEDBACK_FIELDS


@pytest.mark.parametrize(
    "name",
    ["dsnDiag", "sourceIp", "timeFirstAttempt", "totalSecondsQueued", "dlvTlsCipher"],
)
def test_documented_fields_are_known(name: str) -> None:
    """Documented PowerMTA fields, default or optional, are known."""
    assert is_known_field(name)


@pytest.mark.parametrize("name", ["header_X-Campaign", "header_Subject", "header_List-Id"])
def test_header_fields_are_known(name: str) -> None:
    """header_<Name> logs a message header and is accepted for any valid header name."""
    assert is_known_field(name)


@pytest.mark.parametrize("name", ["dsndiag", "bogus", "header_", "header_Bad:Name", "header_A B"])
def test_unknown_and_invalid_names_are_not_known(name: str) -> None:
    """Misspelt fields and header_ names that are not RFC 5322 field names are not known."""
    assert not is_known_field(name)


def test_union_puts_type_first_and_keeps_first_appearance_order() -> None:
    """The union of per-type field lists is one stable header with type first (PowerMTA's rule)."""
    delivered = ["timeLogged", "orig", "rcpt", "dlvSourceIp"]
    bounced = ["timeLogged", "orig", "rcpt", "bounceCat"]
    assert union_fields(delivered, bounced) == (
        "type",
        "timeLogged",
        "orig",
        "rcpt",
        "dlvSourceIp",
        "bounceCat",
    )
    assert union_fields(["rcpt", "type"], ["orig"]) == ("type", "rcpt", "orig")


def test_module_exports_are_public_names() -> None:
    """Everything fields.py exports exists and nothing private is exported."""
    for name in fields.__all__:
        assert hasattr(fields, name)
        assert not name.startswith("_")
