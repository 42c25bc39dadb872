"""Statements → a checked tree of sections, with every directive parsed and located.

The first of three passes (lex → tree → model). It knows the *shape* of the
language — which sections nest where, which directives each accepts, how each
value parses — and collects every problem instead of stopping at the first.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from mta.config import schema
from mta.config._lexer import NAME, Close, Directive, Open, Statement, Where, error_at
from mta.config._ranges import out_of_range
from mta.config.model import ConfigWarning
from mta.errors import ConfigError

__all__ = ["Node", "build_tree"]


@dataclass
class Node:
    """A section (or the top level, tag ``global``) with its parsed directives."""

    tag: str
    arg: str
    where: Where
    values: dict[str, object] = field(default_factory=dict)
    origins: dict[str, Where] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    lines: list[Directive] = field(default_factory=list)  # raw lines of pattern sections


@dataclass
class _Sink:
    errors: list[ConfigError] = field(default_factory=list)
    warnings: list[ConfigWarning] = field(default_factory=list)


# Spellings from blog-post configs (not PowerMTA's) and what PowerMTA calls them.
_HINTS = {
    "max-per-host-out": "max-smtp-out",
    "enable-starttls": "use-starttls",
    "smtp-starttls": "use-starttls / require-starttls",
    "tls": "use-starttls / require-starttls",
    "smtp-source-ip": "smtp-source-host",
    "bind-to-source-ip": "smtp-source-host",
    "bind-ip": "smtp-source-host",
    "accounting-file": "<acct-file PATH>",
    "accounting-log": "<acct-file PATH>",
    "http-port": "http-mgmt-port",
    "allow-relay": "always-allow-relaying",
}


def _suggest(word: str, choices: list[str]) -> str:
    if word in _HINTS:
        return f" (PowerMTA calls it {_HINTS[word]})"
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _section_label(node: Node) -> str | None:
    if node.tag == "global":
        return None
    return f"{node.tag} {node.arg}".strip()


_LONGEST_NAME = 48  # longer than any directive: a base64 line of a key, say, not a typo


def _apply_directive(node: Node, st: Directive, sink: _Sink) -> None:
    section = _section_label(node)
    spec = schema.lookup(node.tag, st.name)
    if spec is None and (len(st.name) > _LONGEST_NAME or not NAME.fullmatch(st.name)):
        # Not echoed: this may be a line of a file that is no configuration at all
        # (`include /etc/shadow`), and a line of it must not end up in a log.
        msg = "expected a directive name (letters, digits, '-') at the start of the line"
        sink.errors.append(error_at(st.where, msg, section))
        return
    if spec is None:
        elsewhere = [s for s in schema.sections_of(st.name) if s != node.tag]
        if elsewhere:
            where_ok = ", ".join("top level" if s == "global" else f"<{s}>" for s in elsewhere)
            hint = " (use <domain *> for a default)" if elsewhere == ["domain"] else ""
            msg = f"{st.name!r} is not allowed here; it belongs in {where_ok}{hint}"
        else:
            msg = f"unknown directive {st.name!r}{_suggest(st.name, schema.names_in(node.tag))}"
        sink.errors.append(error_at(st.where, msg, section))
        return
    if not spec.implemented:
        sink.warnings.append(
            ConfigWarning(
                f"{st.name!r} is a PowerMTA directive acctpipe does not implement; "
                "it has no effect",
                st.where,
                section,
            )
        )
        return
    assert spec.parse is not None
    if not st.value and spec.kind != "text":
        sink.errors.append(error_at(st.where, f"{spec.name!r} needs a value", section))
        return
    try:
        value = spec.parse(st.value)
    except ValueError as exc:
        sink.errors.append(error_at(st.where, f"{spec.name}: {exc}", section))
        return
    problem = out_of_range(spec.name, spec.kind, spec.bounds, value)
    if problem is not None:
        sink.errors.append(error_at(st.where, problem, section))
        return
    if spec.repeat:
        previous = node.values.get(spec.name, ())
        assert isinstance(previous, tuple)
        node.values[spec.name] = (*previous, (value, st.where))
        node.origins.setdefault(spec.name, st.where)
        return
    if spec.name in node.values:
        sink.warnings.append(
            ConfigWarning(
                f"{spec.name!r} is set twice in this section; the value on line "
                f"{st.where.line} replaces the one on line "
                f"{node.origins[spec.name].line}",
                st.where,
                section,
            )
        )
    node.values[spec.name] = value
    node.origins[spec.name] = st.where


def _open(stack: list[Node], st: Open, sink: _Sink) -> Node | None:
    parent = stack[-1]
    spec = schema.SECTIONS.get(st.tag)
    label = _section_label(parent)
    if spec is None:
        msg = f"unknown section <{st.tag}>{_suggest(st.tag, sorted(schema.SECTIONS))}"
        sink.errors.append(error_at(st.where, msg, label))
        return None
    if parent.tag not in spec.parents:
        allowed = " or ".join(
            "the top level" if p == "global" else f"<{p}>" for p in sorted(spec.parents)
        )
        sink.errors.append(error_at(st.where, f"<{st.tag}> must be inside {allowed}", label))
        return None
    if spec.arg == "required" and not st.arg:
        sink.errors.append(error_at(st.where, f"<{st.tag}> needs an argument", label))
        return None
    if spec.arg == "none" and st.arg:
        sink.errors.append(error_at(st.where, f"<{st.tag}> takes no argument", label))
        return None
    if not spec.implemented:
        sink.warnings.append(
            ConfigWarning(
                f"<{st.tag}> is a PowerMTA section acctpipe does not implement; its "
                "contents are ignored",
                st.where,
                label,
            )
        )
    node = Node(st.tag, st.arg, st.where)
    parent.children.append(node)
    return node


def build_tree(statements: list[Statement], top: Where) -> tuple[Node, _Sink]:
    """Nest ``statements`` into sections and parse every directive's value."""
    sink = _Sink()
    root = Node("global", "", top)
    stack: list[Node] = [root]
    skipping = 0  # depth inside a section whose contents are ignored or broken
    for st in statements:
        if isinstance(st, Open):
            if skipping:
                skipping += 1
                continue
            node = _open(stack, st, sink)
            if node is None or schema.SECTIONS[st.tag].body == "ignored":
                skipping = 1
                continue
            stack.append(node)
        elif isinstance(st, Close):
            if skipping:
                skipping -= 1
                continue
            current = stack[-1]
            if len(stack) == 1:
                sink.errors.append(error_at(st.where, f"</{st.tag}> closes nothing"))
            elif st.tag != current.tag:
                sink.errors.append(
                    error_at(
                        st.where,
                        f"</{st.tag}> does not close <{current.tag}> opened on "
                        f"line {current.where.line}",
                        _section_label(current),
                    )
                )
            else:
                stack.pop()
        elif skipping:
            continue
        elif schema.SECTIONS.get(stack[-1].tag, _PLAIN).body == "patterns":
            stack[-1].lines.append(st)
        else:
            _apply_directive(stack[-1], st, sink)
    for node in stack[1:]:
        sink.errors.append(
            error_at(
                node.where,
                f"<{node.tag}> is never closed (expected </{node.tag}>)",
                _section_label(node),
            )
        )
    return root, sink


_PLAIN = schema.SectionSpec("global", frozenset(), "none", "")
