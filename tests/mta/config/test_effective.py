"""Effective settings per destination: layering, wildcards, macros, vmtas and provenance."""

from __future__ import annotations

from dataclasses import fields

import pytest

from mta.config import DomainSettings, effective_settings, load_config
from mta.config.effective import DOMAIN_DIRECTIVES

from .conftest import DATA, parse


def test_every_domain_directive_has_a_settings_field() -> None:
    """DomainSettings and the directive table describe the same settings."""
    assert set(DOMAIN_DIRECTIVES.values()) == {f.name for f in fields(DomainSettings)}


def test_exact_block_beats_wildcard_beats_default() -> None:
    """`<domain a.b.example>` overrides `*.example`, which overrides `<domain *>`."""
    cfg = parse(
        "<domain *>\nmax-smtp-out 5\nmax-msg-rate 1/s\nretry-after 1m\n</domain>\n"
        "<domain *.example>\nmax-smtp-out 6\nmax-msg-rate 2/s\n</domain>\n"
        "<domain *.b.example>\nmax-smtp-out 7\n</domain>\n"
        "<domain a.b.example>\nmax-smtp-out 8\n</domain>\n"
    )
    eff = effective_settings(cfg, "A.B.Example")
    assert eff.settings.max_smtp_out == 8
    assert eff.settings.max_msg_rate.per_second == 2
    assert eff.settings.retry_after == (60.0,)
    assert eff.origins["max-smtp-out"] == "t.conf:14 <domain a.b.example>"
    assert eff.origins["max-msg-rate"] == "t.conf:8 <domain *.example>"
    assert eff.origins["bounce-after"] == "default"
    assert len(eff.blocks) == 4
    assert effective_settings(cfg, "example").settings.max_smtp_out == 5  # *.x is not x


def test_vmta_domain_blocks_override_top_level_ones() -> None:
    """A `<domain>` inside a `<virtual-mta>` applies on top of the top-level blocks."""
    cfg = load_config(DATA / "hot.conf")
    assert effective_settings(cfg, "gmail.com").settings.max_msg_rate.per_second == pytest.approx(
        2000 / 3600
    )
    via = effective_settings(cfg, "gmail.com", "ip-2")
    assert via.settings.max_msg_rate.per_second == 20
    assert "<virtual-mta ip-2> <domain gmail.com>" in via.origins["max-msg-rate"]
    assert via.settings.max_smtp_out == 100  # still from the top-level gmail block


def test_macro_domains_share_one_queue_and_warmup() -> None:
    """hotmail/outlook/live share the `queue-to` queue and the warmup schedule."""
    cfg = load_config(DATA / "hot.conf")
    for name in ("hotmail.com", "outlook.com", "live.com"):
        eff = effective_settings(cfg, name)
        assert eff.queue == "microsoft.queue"
        assert eff.settings.warmup is not None
        assert eff.settings.warmup.end_rate.per_second == pytest.approx(4000 / 3600)
    assert effective_settings(cfg, "yahoo.com").queue == "yahoo.com"


def test_static_routes_keep_priority_and_backup() -> None:
    """Routes pin a destination to loopback hosts with priority and backup (our extension)."""
    cfg = load_config(DATA / "hot.conf")
    routes = effective_settings(cfg, "sink.example.test").settings.route
    assert [(str(r.address), r.priority, r.backup) for r in routes] == [
        ("127.0.0.1:2626", 5, False),
        ("127.0.0.1:2627", 10, True),
    ]


def test_seed_spellings_of_backoff_bounds_are_aliases() -> None:
    """`min-backoff`/`max-backoff` (from the notes) mean `backoff-min`/`backoff-max`."""
    cfg = load_config(DATA / "hot.conf")
    s = effective_settings(cfg, "gmail.com").settings
    assert (s.backoff_min, s.backoff_max, s.backoff_scale_factor) == (30.0, 86400.0, 1.5)
    assert s.adaptive_throttling


def test_unknown_vmta_is_a_clear_error() -> None:
    """Asking for an undefined vmta names the ones that exist."""
    cfg = load_config(DATA / "hot.conf")
    with pytest.raises(ValueError, match=r"unknown virtual-mta 'nope' \(known: ip-1"):
        effective_settings(cfg, "gmail.com", "nope")


def test_vmta_catch_all_does_not_loosen_a_specific_top_level_block() -> None:
    """A vmta <domain *> yields to a top-level <domain gmail.com>; at equal rank the vmta wins."""
    cfg = parse(
        "<domain gmail.com>\nmax-smtp-out 3\n</domain>\n"
        "<virtual-mta ip1>\n<domain *>\nmax-smtp-out 50\nmax-msg-rate 9/s\n</domain>\n"
        "</virtual-mta>\n"
    )
    eff = effective_settings(cfg, "gmail.com", "ip1")
    assert eff.settings.max_smtp_out == 3
    assert eff.settings.max_msg_rate.per_second == 9  # nothing more specific sets it
    assert effective_settings(cfg, "yahoo.com", "ip1").settings.max_smtp_out == 50


def test_domains_are_normalised_once() -> None:
    """Case and a trailing dot do not make a separate queue."""
    cfg = parse("domain-macro Big Gmail.com,Yahoo.com\n<domain $Big>\nmax-smtp-out 2\n</domain>\n")
    eff = effective_settings(cfg, "GMAIL.COM.")
    assert (eff.domain, eff.queue, eff.settings.max_smtp_out) == ("gmail.com", "gmail.com", 2)


def test_dkim_sign_in_a_virtual_mta_applies_to_its_deliveries() -> None:
    """`dkim-sign yes` written in <virtual-mta> signs that vmta's mail (it was accepted and
    ignored); a matching <domain> block that sets dkim-sign still decides."""
    cfg = parse(
        "<virtual-mta v1>\n dkim-sign yes\n <domain hold.example>\n  dkim-sign no\n </domain>\n"
        "</virtual-mta>\n<virtual-mta v2>\n</virtual-mta>\n"
    )
    assert effective_settings(cfg, "gmail.com", "v1").settings.dkim_sign is True
    assert effective_settings(cfg, "gmail.com", "v2").settings.dkim_sign is False
    assert effective_settings(cfg, "hold.example", "v1").settings.dkim_sign is False
    assert effective_settings(cfg, "gmail.com").settings.dkim_sign is False
