"""The bounce categories and classes (classifiers.types) are the ones the docs list."""

from __future__ import annotations

import re

from classifiers.fault import CATEGORY_FAULT, FAULTS
from classifiers.types import BOUNCE_CATEGORIES, BOUNCE_CLASSES
from tests._paths import ROOT


def _doc(name: str) -> str:
    return (ROOT / "docs" / name).read_text(encoding="utf-8")


def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


def test_the_classes_table_lists_every_bounce_class_in_order() -> None:
    """docs/classification.md's "Classes" table has one row per class, in the code's order."""
    table = _between(_doc("classification.md"), "### Classes", "Decisions worth knowing")
    assert tuple(re.findall(r"^\| `([a-z]+)` \|", table, re.M)) == BOUNCE_CLASSES


def test_the_fault_mapping_names_every_category_with_its_fault() -> None:
    """ "Whose fault" names every category: step 3 gives each the fault the code gives
    it (classifiers.fault.CATEGORY_FAULT), and step 4 is about `other`."""
    doc = _doc("classification.md")
    step3 = " ".join(_between(doc, "3. otherwise the category:", "4. for ").split())
    mapped: dict[str, str] = {}
    for group in step3.rstrip(";").split(";"):
        names, _, fault = group.partition("→")
        (fault_name,) = re.findall(r"`([a-z-]+)`", fault)
        mapped.update(dict.fromkeys(re.findall(r"`([a-z-]+)`", names), fault_name))
    assert mapped == CATEGORY_FAULT
    assert "4. for `other`" in doc
    assert set(mapped) | {"other"} == set(BOUNCE_CATEGORIES)
    assert set(mapped.values()) <= set(FAULTS)


def test_the_throttle_rule_keys_list_every_class_and_fault() -> None:
    """docs/policy.md's throttle-rule table lists every bounce class and fault, in order."""
    table = _doc("policy.md")
    classes = _between(table, "| `classes` | bounce classes (`", "`)")
    faults = _between(table, "| `faults` | whose fault (`", "`)")
    assert tuple(classes.split()) == BOUNCE_CLASSES
    assert tuple(faults.split()) == FAULTS
