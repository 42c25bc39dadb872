"""The bounce rules a config adds: rule files and <bounce-category-patterns>, checked first."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifiers import BOUNCE_CATEGORIES, classify_diag
from mta.config import load_config
from mta.config.rules import CATEGORY_CLASSES, rule_table
from mta.errors import InvalidConfigError

from .conftest import DATA, errors_of


def test_config_patterns_come_before_the_built_in_table() -> None:
    """A <bounce-category-patterns> line wins over the defaults; its class follows its category."""
    table = rule_table(load_config(DATA / "hot.conf"))
    verdict = classify_diag("smtp;550 5.7.1 listed in openRBL", table=table)
    assert (verdict.rule_id, verdict.category, verdict.cls) == (
        "config-pattern-3",
        "spam-related",
        "spam",
    )
    quota = classify_diag("smtp;552 mailbox is full", table=table)
    assert (quota.category, quota.cls) == ("quota-issues", "soft")


def test_bounce_rules_files_load_and_come_first(tmp_path: Path) -> None:
    """`bounce-rules FILE` is read relative to the config and checked before everything."""
    (tmp_path / "mine.toml").write_text(
        '[[rule]]\nid = "acme"\ncomment = "partner gateway"\ntext = "acme says no"\n'
        'category = "bad-mailbox"\nclass = "hard"\n'
    )
    conf = tmp_path / "a.conf"
    conf.write_text("bounce-rules mine.toml\n")
    table = rule_table(load_config(conf))
    assert classify_diag("550 acme says no", table=table).rule_id == "acme"


def test_broken_rule_file_is_a_located_config_error(tmp_path: Path) -> None:
    """A rule file that does not load is an error at the bounce-rules line, naming the rule."""
    (tmp_path / "bad.toml").write_text(
        '[[rule]]\nid = "oops"\ncomment = "x"\ntext = "("\ncategory = "other"\nclass = "soft"\n'
    )
    conf = tmp_path / "a.conf"
    conf.write_text("\nbounce-rules bad.toml\nbounce-rules missing.toml\n")
    with pytest.raises(InvalidConfigError) as info:
        load_config(conf)
    lines = [e.location_text() for e in info.value.errors]
    assert lines[0].startswith(f"{conf}:2: bounce-rules: ")
    assert "oops" in lines[0]
    assert lines[1].startswith(f"{conf}:3: bounce-rules: ")


def test_non_portable_pattern_is_refused_with_its_line() -> None:
    """A PCRE pattern with no portable spelling (look-ahead) is a config error at its line."""
    errors = errors_of(
        "<bounce-category-patterns>\n/spam(?=trap)/ spam-related\n</bounce-category-patterns>\n"
    )
    assert errors[0].startswith("t.conf:2: <bounce-category-patterns>: pattern /spam(?=trap)/")


def test_pattern_categories_take_their_class_from_known_categories() -> None:
    """The category → class table for ``<bounce-category-patterns>`` names only real categories."""
    assert set(CATEGORY_CLASSES) <= set(BOUNCE_CATEGORIES)
