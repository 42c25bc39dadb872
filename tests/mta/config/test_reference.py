"""The generated configuration reference stays in step with the directive table."""

from __future__ import annotations

from mta.config import schema
from mta.config.render import reference_markdown
from tests._paths import ROOT as REPO

DOC = REPO / "docs" / "config-reference.md"


def test_docs_config_reference_is_generated_from_the_table() -> None:
    """docs/config-reference.md equals `acctpipe config-reference` output (regenerate if not)."""
    assert DOC.read_text(encoding="utf-8") == reference_markdown(), (
        "run: acctpipe config-reference -o docs/config-reference.md"
    )


def test_every_directive_is_documented_and_typed() -> None:
    """Every implemented directive has a parser and a doc line; names are unique per section."""
    seen: set[tuple[str, str]] = set()
    for spec in schema.DIRECTIVES:
        assert spec.doc
        assert spec.parse is not None or not spec.implemented
        for section in spec.sections:
            key = (section, spec.name)
            assert key not in seen, key
            seen.add(key)


def test_seed_features_have_a_home() -> None:
    """Every feature the source notes describe maps to a directive or section we accept."""
    needed = {
        ("domain", "max-smtp-out"),
        ("domain", "max-msg-per-connection"),
        ("domain", "max-msg-rate"),
        ("domain", "max-conn-rate"),
        ("domain", "max-errors-per-connection"),
        ("domain", "retry-after"),
        ("domain", "bounce-after"),
        ("domain", "backoff-max-msg-rate"),
        ("domain", "backoff-retry-after"),
        ("domain", "backoff-to-normal-after"),
        ("domain", "backoff-min"),
        ("domain", "backoff-max"),
        ("domain", "backoff-scale-factor"),
        ("domain", "use-starttls"),
        ("domain", "require-starttls"),
        ("domain", "smtp-pipelining"),
        ("domain", "dkim-sign"),
        ("global", "domain-key"),
        ("virtual-mta", "smtp-source-host"),
        ("global", "host-name"),
        ("global", "http-mgmt-port"),
        ("global", "http-access"),
        ("global", "postmaster"),
        ("source", "always-allow-relaying"),
        ("source", "process-x-virtual-mta"),
        ("source", "default-virtual-mta"),
        ("virtual-mta-pool", "source-hash"),
        ("domain", "route"),
        ("domain", "queue-to"),
        ("global", "domain-macro"),
        ("pickup", "scan-interval"),
        ("pickup", "delete-after-read"),
        ("acct-file", "records"),
        ("acct-file", "record-fields"),
        ("acct-file", "max-size"),
        ("acct-file", "move-interval"),
        ("smtp-user", "password"),
        ("smtp-listener", "auth-mechanisms"),
        ("warmup", "start-rate"),
        ("warmup", "end-rate"),
        ("warmup", "period"),
    }
    missing = {k for k in needed if schema.lookup(*k) is None}
    assert missing == set()
    assert {
        "warmup",
        "pickup",
        "rejectlog-file",
        "smtp-pattern-list",
        "bounce-category-patterns",
    } <= set(schema.SECTIONS)
