"""``acctpipe check-config``: summary, every error located, effective settings per domain."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mta.config import Config, effective_settings, load_config
from mta.config.effective import DOMAIN_DIRECTIVES
from mta.config.render import format_value
from mta.config.schema import lookup
from mta.errors import InvalidConfigError

__all__ = ["print_summary", "run_check_config"]


def run_check_config(
    path: Path, domain: str | None, vmta: str | None, out: Console, err: Console
) -> int:
    """Check ``path``; return the exit code (0 valid, 2 invalid)."""
    try:
        config = load_config(path)
    except InvalidConfigError as exc:
        for e in exc.errors:
            err.print(e.location_text(), markup=False)
        n = exc.total
        err.print(f"{path}: {n} error{'s' * (n != 1)}; configuration refused", style="red")
        return 2
    for w in config.warnings:
        err.print(f"{w}", style="yellow", markup=False)
    if vmta is not None and domain is None:
        err.print("--vmta needs --domain", style="red")
        return 2
    if domain is not None:
        try:
            _print_effective(config, domain, vmta, out)
        except ValueError as exc:
            err.print(f"{path}: {exc}", style="red", markup=False)
            return 2
        return 0
    print_summary(config, out)
    out.print(
        Text.assemble(
            ("OK", "green"),
            f" {path}: {len(config.files)} file(s), {len(config.warnings)} warning(s)",
        )
    )
    return 0


def print_summary(config: Config, out: Console) -> None:
    table = Table(title="configuration", show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("n", justify="right")
    table.add_column("names")
    domain_names = [b.pattern for b in config.domains]
    rows: list[tuple[str, int, str]] = [
        ("domains", len(domain_names), ", ".join(domain_names)),
        (
            "virtual MTAs",
            len(config.virtual_mtas),
            ", ".join(
                f"{v.name} ({v.smtp_source_host.ip})" if v.smtp_source_host else v.name
                for v in config.virtual_mtas.values()
            ),
        ),
        (
            "pools",
            len(config.pools),
            ", ".join(
                f"{p.name} [{', '.join(p.members)}]{' source-hash' if p.source_hash else ''}"
                for p in config.pools.values()
            ),
        ),
        (
            "listeners",
            len(config.listeners),
            ", ".join(
                f"{ln.address}{' auth' if ln.require_auth else ''}" for ln in config.listeners
            ),
        ),
        ("sources", len(config.sources), ", ".join(s.match for s in config.sources)),
        ("smtp users", len(config.smtp_users), ", ".join(u.name for u in config.smtp_users)),
        (
            "acct files",
            len(config.acct_files),
            ", ".join(f"{a.path} ({','.join(a.records)})" for a in config.acct_files),
        ),
        ("reject logs", len(config.reject_logs), ", ".join(r.path for r in config.reject_logs)),
        ("pickup folders", len(config.pickups), ", ".join(p.path for p in config.pickups)),
        ("pattern lists", len(config.pattern_lists), ", ".join(config.pattern_lists)),
        ("bounce patterns", len(config.bounce_category_patterns), ""),
        (
            "DKIM keys",
            len(config.domain_keys) + sum(len(v.domain_keys) for v in config.virtual_mtas.values()),
            "",
        ),
        ("files read", len(config.files), ", ".join(config.files)),
    ]
    for what, n, names in rows:
        table.add_row(what, str(n), Text(names))
    out.print(table)


def _print_effective(config: Config, domain: str, vmta: str | None, out: Console) -> None:
    eff = effective_settings(config, domain, vmta)
    via = f" via {vmta}" if vmta else ""
    table = Table(title=f"effective settings for {eff.domain}{via} (queue {eff.queue})")
    table.add_column("directive", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("from", overflow="fold")
    for name, attr in DOMAIN_DIRECTIVES.items():
        spec = lookup("domain", name)
        kind = spec.kind if spec else ""
        value = getattr(eff.settings, attr)
        origin = eff.origins[name]
        style = "" if origin == "default" else "bold"
        table.add_row(name, Text(format_value(value, kind)), Text(origin), style=style)
    out.print(table)
    if eff.blocks:
        out.print("matched, in order: " + "; ".join(eff.blocks), markup=False)
    else:
        out.print("no <domain> block matches; built-in defaults apply")
