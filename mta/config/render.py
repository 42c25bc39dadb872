"""Human renderings of config values, and the generated config reference (Markdown)."""

from __future__ import annotations

from datetime import date

from mta.config import schema
from mta.config._ranges import describe
from mta.config.model import HttpAccess, Route, SourceHost, Warmup
from mta.config.values import Address, Rate, format_duration

__all__ = ["format_duration", "format_value", "reference_markdown"]

_DURATION_KINDS = frozenset({"duration", "durations"})


def format_value(value: object, kind: str = "") -> str:
    """Render a parsed directive value the way a user would write it back."""
    if value is None:
        return "never" if kind == "duration" else "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and kind in _DURATION_KINDS:
        return format_duration(value)
    if isinstance(value, Route):
        extra = (f" priority={value.priority}" if value.priority != 10 else "") + (
            " backup=yes" if value.backup else ""
        )
        return f"{value.address}{extra}"
    if isinstance(value, Warmup):
        return (
            f"{value.start_rate} → {value.end_rate} over {format_duration(value.period)} "
            f"({value.curve})"
        )
    if isinstance(value, Rate | Address | date):
        return str(value)
    if isinstance(value, SourceHost):
        return f"{value.ip} {value.hostname or ''}".strip()
    if isinstance(value, HttpAccess):
        return f"{value.network} {value.level}"
    if isinstance(value, tuple):
        if not value:
            return "-"
        return ", ".join(format_value(v, kind) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def reference_markdown() -> str:
    """The configuration reference, generated from the directive table."""
    lines = [
        "# Configuration reference",
        "",
        "Generated from `mta/config/schema.py` by `acctpipe config-reference`; do not edit.",
        "",
        "acctpipe reads PowerMTA's configuration language. *Origin* says whether a name is",
        "PowerMTA's or an acctpipe extension; *recognised only* directives are accepted",
        "with a `file:line` warning and have no effect. *Range* is the sane range of a",
        "numeric value (durations in time units, sizes in bytes, rates per second, each",
        "item of a list); a value outside it is a `file:line` error.",
        "",
        "## Sections",
        "",
        "| section | inside | origin | what it is |",
        "| --- | --- | --- | --- |",
    ]
    for s in schema.SECTIONS.values():
        where = ", ".join("top level" if p == "global" else f"`<{p}>`" for p in sorted(s.parents))
        arg = {"required": " NAME", "none": "", "optional": " [NAME]"}[s.arg]
        origin = s.origin if s.implemented else f"{s.origin} (recognised only)"
        lines.append(f"| `<{s.tag}{arg}>` | {where} | {origin} | {_cell(s.doc)} |")
    order = ["global", *schema.SECTIONS]
    for section in order:
        specs = [d for d in schema.DIRECTIVES if section in d.sections]
        if not specs:
            continue
        title = "Top level" if section == "global" else f"`<{section}>`"
        lines += [
            "",
            f"## {title}",
            "",
            "| directive | type | default | range | origin | meaning |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        implemented = [d for d in specs if d.implemented]
        for d in sorted(implemented, key=lambda d: d.name):
            names = " / ".join(f"`{n}`" for n in (d.name, *d.aliases))
            default = format_value(d.default, d.kind) if d.default != () else "-"
            repeat = " (repeatable)" if d.repeat else ""
            bounds = describe(d.kind, d.bounds) if d.bounds else "-"
            lines.append(
                f"| {names} | {d.kind}{repeat} | {_cell(default)} | {bounds} | {d.origin} "
                f"| {_cell(d.doc)} |"
            )
        known = sorted(d.name for d in specs if not d.implemented)
        if known:
            lines += [
                "",
                "Recognised only (warning, no effect): " + ", ".join(f"`{n}`" for n in known) + ".",
            ]
    return "\n".join(lines) + "\n"
