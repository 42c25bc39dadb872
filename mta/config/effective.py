"""Effective settings for one destination: merge every matching ``<domain>`` block.

Layers, least specific first, each overriding what it sets: the built-in
defaults (:mod:`mta.config.schema`), then every matching ``<domain>`` block —
``*``, then ``*.suffix`` wildcards from the shortest suffix to the longest, then
the exact name (or a ``$macro`` naming it). A block inside the chosen
``<virtual-mta>`` beats a top-level block *of the same specificity*, but not a
more specific one: a vmta-wide ``<domain *>`` must not loosen a top-level
``<domain gmail.com>`` throttle (write ``<domain gmail.com>`` inside the vmta to
change gmail.com for that IP).

Every value remembers where it came from, so ``acctpipe check-config --domain``
can say *why* gmail.com gets 30/s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields

from mta.config import schema
from mta.config.model import Config, DomainBlock, DomainSettings
from mta.errors import InvalidValueError

__all__ = ["DOMAIN_DIRECTIVES", "Effective", "effective_settings", "match_order"]

# Directive name → DomainSettings attribute, for every implemented domain directive.
DOMAIN_DIRECTIVES: dict[str, str] = {
    spec.name: spec.name.replace("-", "_")
    for spec in schema.DIRECTIVES
    if "domain" in spec.sections and spec.implemented
}
DOMAIN_DIRECTIVES["warmup"] = "warmup"


@dataclass(frozen=True, slots=True)
class Effective:
    """The merged settings for (domain, vmta) and where each value came from."""

    domain: str
    vmta: str | None
    queue: str
    settings: DomainSettings
    origins: Mapping[str, str]
    blocks: tuple[str, ...]


def _specificity(pattern: str, domain: str) -> int | None:
    """How specifically ``pattern`` matches ``domain`` (None: it does not)."""
    if pattern == "*":
        return 0
    if pattern.startswith("*."):
        suffix = pattern[1:]
        return suffix.count(".") if domain.endswith(suffix) and domain != suffix[1:] else None
    return 1000 if pattern == domain else None


def match_order(blocks: Iterable[DomainBlock], domain: str) -> list[DomainBlock]:
    """The blocks that apply to ``domain``, least specific first."""
    return [block for _, block in _scored(blocks, domain)]


def _scored(blocks: Iterable[DomainBlock], domain: str) -> list[tuple[int, DomainBlock]]:
    domain = domain.lower().rstrip(".")
    scored: list[tuple[int, DomainBlock]] = []
    for block in blocks:
        best = max(
            (s for s in (_specificity(n, domain) for n in block.names) if s is not None),
            default=None,
        )
        if best is not None:
            scored.append((best, block))
    scored.sort(key=lambda pair: pair[0])
    return scored


def effective_settings(config: Config, domain: str, vmta: str | None = None) -> Effective:
    """Merge defaults, top-level and vmta ``<domain>`` blocks for ``domain`` (and ``vmta``)."""
    domain = domain.lower().rstrip(".")
    values: dict[str, object] = {}
    origins: dict[str, str] = {}
    for spec in schema.DIRECTIVES:
        # The <domain> spec only: a same-named one elsewhere (dkim-sign in <source> is
        # recognised only, default None) must not replace the domain default.
        if spec.name in DOMAIN_DIRECTIVES and "domain" in spec.sections and spec.implemented:
            values[spec.name] = spec.default
            origins[spec.name] = "default"
    values["warmup"] = None
    origins["warmup"] = "default"
    ranked = [(score, 0, block) for score, block in _scored(config.domains, domain)]
    if vmta is not None:
        if vmta not in config.virtual_mtas:
            known = ", ".join(sorted(config.virtual_mtas)) or "none defined"
            raise InvalidValueError(f"unknown virtual-mta {vmta!r} (known: {known})")
        own = config.virtual_mtas[vmta]
        if own.dkim_sign is not None:
            # `dkim-sign` written in <virtual-mta> itself is that vmta's default; any
            # matching <domain> block that sets it still decides.
            values["dkim-sign"] = own.dkim_sign
            origins["dkim-sign"] = f"{own.where} <virtual-mta {vmta}>"
        vmta_blocks = own.domains
        ranked += [(score, 1, block) for score, block in _scored(vmta_blocks, domain)]
    ranked.sort(key=lambda item: (item[0], item[1]))  # specificity, then vmta over top level
    layers = [block for _, _, block in ranked]
    labels: list[str] = []
    for block in layers:
        scope = f"<virtual-mta {vmta}> " if block not in config.domains else ""
        label = f"{scope}<domain {block.pattern}>"
        labels.append(f"{label} at {block.where}")
        for name, value in block.values.items():
            if name in DOMAIN_DIRECTIVES:
                values[name] = value
                origins[name] = f"{block.origins[name]} {label}"
    settings = DomainSettings(**{DOMAIN_DIRECTIVES[k]: v for k, v in values.items()})  # type: ignore[arg-type]
    queue_to = settings.queue_to
    return Effective(domain, vmta, queue_to or domain, settings, origins, tuple(labels))


def domain_settings_fields() -> set[str]:
    """The attribute names of :class:`DomainSettings` (a test checks the schema covers them)."""
    return {f.name for f in fields(DomainSettings)}
