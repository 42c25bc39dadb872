"""The accounting record types (mta.acct.fields.RecordType) are the ones the docs and the
config's ``records`` directive know."""

from __future__ import annotations

import re

from mta.acct.fields import RECORD_TYPE_DESCRIPTIONS, RECORD_TYPES
from mta.config._parsers import RECORD_TYPE_NAMES, parse_records
from tests._paths import ROOT


def _doc(name: str) -> str:
    return (ROOT / "docs" / name).read_text(encoding="utf-8")


def test_the_accounting_doc_table_lists_every_record_type_in_order() -> None:
    """docs/accounting.md's "Record types" table has one row per type, in the code's order."""
    section = _doc("accounting.md").split("## Record types", 1)[1].split("\n## ", 1)[0]
    assert tuple(re.findall(r"^\| `([a-z]+)` \|", section, re.M)) == RECORD_TYPES
    assert set(RECORD_TYPE_DESCRIPTIONS) == set(RECORD_TYPES)


def test_the_schema_doc_type_column_lists_every_record_type_in_order() -> None:
    """docs/schema.md describes the events ``type`` column with every record type."""
    (line,) = [ln for ln in _doc("schema.md").splitlines() if ln.startswith("| `type` |")]
    meaning = line.rsplit("|", 2)[1]
    assert tuple(re.findall(r"`([a-z]+)`", meaning)) == RECORD_TYPES


def test_the_throttle_rule_doc_lists_every_record_type_in_order() -> None:
    """docs/policy.md's throttle-rule ``types`` key lists every record type."""
    doc = _doc("policy.md")
    types = doc.split("| `types` | record types that match (`", 1)[1].split("`)", 1)[0]
    assert tuple(types.split()) == RECORD_TYPES


def test_records_accepts_every_type_and_only_those() -> None:
    """``records`` takes each record type by its code, and every long name means one."""
    assert parse_records(",".join(RECORD_TYPES)) == RECORD_TYPES
    assert set(RECORD_TYPE_NAMES.values()) == set(RECORD_TYPES)
