"""The suppression policy as data: packaged defaults, user overrides, located errors."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from acctpipe.policy.suppression import (
    PolicyText,
    default_suppression_policy,
    history_query_window,
    load_suppression_policy,
)
from mta.errors import ConfigError


def test_packaged_defaults_are_the_documented_ones() -> None:
    """Hard and complaint: global, for good, complaints notify; soft: 5 b/rb in 7 days → 30 days."""
    policy = default_suppression_policy()
    assert policy.hard_scope == "global"
    assert policy.complaint_scope == "global"
    assert policy.complaint_notify is True
    assert policy.soft_records == ("b", "rb")
    assert policy.soft_categories == ()
    assert policy.soft_count == 5
    assert policy.soft_window == timedelta(days=7)
    assert policy.soft_duration == timedelta(days=30)
    assert policy.soft_half_life is None
    assert policy.soft_scope == "global"
    assert history_query_window(policy) == timedelta(days=7)


def test_user_keys_replace_defaults_one_by_one_later_files_win() -> None:
    """A user file changes only the keys it sets; of two files, the later one wins."""
    first = PolicyText("a.toml", '[suppression.soft]\ncount = 3\nwindow = "2d"\n')
    second = PolicyText(
        "b.toml",
        '[suppression.soft]\ncount = 4\nhalf-life = "1d"\n[suppression.hard]\nscope = "job"\n',
    )
    policy = load_suppression_policy(first, second)
    assert policy.soft_count == 4
    assert policy.soft_window == timedelta(days=2)
    assert policy.soft_half_life == timedelta(days=1)
    assert policy.hard_scope == "job"
    assert policy.soft_duration == timedelta(days=30)
    assert replace(policy, soft_count=5, soft_window=timedelta(days=7)).soft_count == 5


def test_throttle_tables_are_ignored_by_the_suppression_loader() -> None:
    """One user file can hold both sections; the suppression loader reads only its own."""
    text = "[throttle]\nfloor = 0.5\n[suppression.complaint]\nnotify = false\n"
    assert load_suppression_policy(text).complaint_notify is False


@pytest.mark.parametrize(
    ("body", "key", "message"),
    [
        ("[suppression.soft]\ncount = 0\n", "count", "expected an integer >= 1"),
        ('[suppression.soft]\ncount = "5"\n', "count", "expected an integer >= 1"),
        ('[suppression.soft]\nwindow = "7x"\n', "window", "unknown time unit"),
        ("[suppression.soft]\nduration = -1\n", "duration", "positive duration"),
        ("[suppression.soft]\nhalf-life = true\n", "half-life", "expected a duration"),
        ('[suppression.soft]\nrecords = ["d"]\n', "records", "'d' is not one of"),
        ('[suppression.soft]\ncategories = ["nope"]\n', "categories", "'nope' is not one of"),
        ('[suppression.soft]\nrecords = "b"\n', "records", "expected a list of strings"),
        ('[suppression.hard]\nscope = "planet"\n', "scope", "'planet' is not one of"),
        ('[suppression.complaint]\nnotify = "yes"\n', "notify", "expected true or false"),
        ("[suppression.soft]\ncuont = 5\n", "cuont", "unknown key(s) cuont"),
    ],
)
def test_bad_values_name_the_file_line_table_and_key(body: str, key: str, message: str) -> None:
    """Each bad value raises a ConfigError that says where (file:line), which key, and why."""
    text = "# my policy\n\n" + body
    with pytest.raises(ConfigError) as caught:
        load_suppression_policy(PolicyText("policy.toml", text))
    error = caught.value
    assert error.path == "policy.toml"
    assert error.line == 4
    assert f"{key!r}" in str(error)
    assert message in str(error)
    assert str(error).startswith("policy.toml:4: <suppression.")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[suppression.medium]\ncount = 1\n", "unknown key(s) medium"),
        ("[suppresion.soft]\ncount = 1\n", "unknown top-level key(s) suppresion"),
        ("[suppression\n", "not valid TOML"),
        ("suppression = 3\n", "must be a table"),
        ("[suppression]\nsoft = 3\n", "must be a table"),
    ],
)
def test_bad_structure_is_refused(text: str, message: str) -> None:
    """Misspelt tables, non-tables and broken TOML are refused with the file's name."""
    with pytest.raises(ConfigError, match=r"^custom\.toml") as caught:
        load_suppression_policy(PolicyText("custom.toml", text))
    assert message in str(caught.value)


def test_policy_refuses_impossible_values_when_built_in_code() -> None:
    """A policy changed in code is checked too: windows positive, count at least 1."""
    policy = default_suppression_policy()
    with pytest.raises(ValueError, match="soft_window"):
        replace(policy, soft_window=timedelta(0))
    with pytest.raises(ValueError, match="soft_count"):
        replace(policy, soft_count=0)


def test_half_life_off_or_zero_means_no_decay() -> None:
    """``half-life = "off"`` or ``0`` turns decay off; a duration turns it on."""
    assert load_suppression_policy("[suppression.soft]\nhalf-life = 0\n").soft_half_life is None
    on = load_suppression_policy('[suppression.soft]\nhalf-life = "36h"\n')
    assert on.soft_half_life == timedelta(hours=36)
