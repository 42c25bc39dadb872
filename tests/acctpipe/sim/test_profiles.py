"""Profiles: built-in wording classifies as intended, TOML files load or fail clearly."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from acctpipe.sim import BUILTIN_PROFILES, IspProfile, load_profile, profile_from_toml
from acctpipe.sim.profile import render_reply
from classifiers import classify_diag
from mta.config.values import Rate
from mta.errors import ConfigError

EXPECTED_CLASS = {
    "unknown_user": {"hard"},
    "mailbox_full": {"soft"},
    "blocked": {"spam"},
    "greylisted": {"soft"},
    "message_rate": {"soft", "spam"},
    "connection_rate": {"soft", "spam"},
    "too_many_connections": {"soft", "spam"},
    "accepted": {"delivered"},
}


@pytest.mark.parametrize("name", sorted(BUILTIN_PROFILES))
def test_builtin_replies_classify_as_the_outcome_they_simulate(name: str) -> None:
    """Every built-in reply text is read by the rule table as what it means (hard, spam, …)."""
    replies = BUILTIN_PROFILES[name].replies
    for field, classes in EXPECTED_CLASS.items():
        text = render_reply(
            getattr(replies, field),
            ip="127.0.0.2",
            rcpt="bob@isp.test",
            queue_id="ABC123",
            hostname="mx.sim.test",
            delay="5",
            timestamp="1700000000",
        )
        verdict = classify_diag(f"smtp;{text}")
        assert verdict.cls in classes, (name, field, text, verdict)


def test_address_checks_use_patterns_and_the_explicit_set() -> None:
    """unknown*/full* local parts and listed addresses are recognised case-insensitively."""
    p = IspProfile("t", unknown_users=frozenset({"ghost", "carol@isp.test"}))
    assert p.is_unknown_user("Unknown42@isp.test")
    assert p.is_unknown_user("ghost@other.test")
    assert p.is_unknown_user("carol@isp.test")
    assert not p.is_unknown_user("bob@isp.test")
    assert p.is_mailbox_full("FULL-box@isp.test")
    assert not p.is_mailbox_full("bob@isp.test")


def test_toml_profile_overrides_a_builtin_base(tmp_path: Path) -> None:
    """A TOML file starts from `base`, parses PowerMTA-style rates and overrides replies."""
    path = tmp_path / "isp.toml"
    path.write_text(
        'name = "mine"\nbase = "yahoo"\nmessage_rate = "10/s"\nmessage_burst = 4\n'
        'unknown_users = ["Ghost"]\nblocked_networks = ["127.0.0.9"]\ngreylist_delay = 2\n'
        "drop_after_commands = 3\ndrop_probability = 0.5\nseed = 7\n"
        '[replies]\naccepted = "250 ok {queue_id}"\n',
        encoding="utf-8",
    )
    p = load_profile(str(path))
    assert p.name == "mine"
    assert p.message_rate == Rate(10, 1)
    assert p.message_burst == 4
    assert p.unknown_users == frozenset({"ghost"})
    assert p.is_blocked("127.0.0.9")
    assert not p.is_blocked("127.0.0.2")
    assert p.replies.accepted == "250 ok {queue_id}"
    assert p.replies.message_rate == BUILTIN_PROFILES["yahoo"].replies.message_rate
    assert p == dataclasses.replace(p)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\nbogus = 1\n', "unknown key 'bogus'"),
        ('name = "x"\nbanner_delay = "slow"\n', "banner_delay: expected int"),
        ('name = "x"\nmessage_rate = "3/fortnight"\n', "unknown time unit"),
        ('name = "x"\n[replies]\nnope = "x"\n', "replies: unknown key(s) nope"),
        ('name = "x"\nblock_stage = "data"\n', "block_stage"),
        ("base = 'gmail'\n", "name: required"),
        ("name = ", "invalid TOML"),
    ],
)
def test_bad_toml_profiles_are_refused_naming_the_file(text: str, message: str) -> None:
    """An invalid profile file is a ConfigError that names the file and the problem."""
    with pytest.raises(ConfigError) as info:
        profile_from_toml(text, source="isp.toml")
    assert str(info.value).startswith("isp.toml")
    assert message in str(info.value)


def test_unknown_profile_name_lists_the_builtins() -> None:
    """A name that is neither built in nor a file says which names exist."""
    with pytest.raises(ConfigError, match="built-in: blocker, default, flaky, gmail"):
        load_profile("hotmail")
