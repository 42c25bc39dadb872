"""The checked tree → the frozen :class:`~mta.config.model.Config`, with cross-references.

The last pass: turns sections into model objects, fills defaults from the schema,
expands domain macros and checks that every name one section gives another
(pool members, default vmtas, pattern lists, sources) exists.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from classifiers import BOUNCE_CATEGORIES, portability_problem
from classifiers.pcre import translate
from mta.acct.rejectlog import REJECT_KINDS
from mta.config import schema
from mta.config._lexer import Where, error_at
from mta.config._tree import Node
from mta.config.model import (
    AcctFile,
    AddressPattern,
    BounceCategoryPattern,
    Config,
    ConfigWarning,
    DomainBlock,
    DomainKey,
    HttpAccess,
    Listener,
    PatternList,
    PatternRule,
    Pickup,
    RejectLog,
    ReturnProcessor,
    RuleFile,
    SmtpUser,
    Source,
    SourceHost,
    VirtualMta,
    VirtualMtaPool,
    Warmup,
)
from mta.config.values import Address, Rate, parse_network
from mta.errors import ConfigError

__all__ = ["build_config"]

T = TypeVar("T")
_DOMAIN = re.compile(
    r"(\*|(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*)"
)
_REGEX_TOKEN = re.compile(r"/((?:\\.|[^/\\])*)/([a-z]*)")


class _Builder:
    def __init__(self, root: Node, files: tuple[str, ...]) -> None:
        self.root = root
        self.files = files
        self.errors: list[ConfigError] = []
        self.warnings: list[ConfigWarning] = []

    # -- helpers -------------------------------------------------------------------------
    def err(self, where: Where, message: str, node: Node | None = None) -> None:
        section = f"{node.tag} {node.arg}".strip() if node and node.tag != "global" else None
        self.errors.append(error_at(where, message, section))

    @staticmethod
    def get(node: Node, name: str) -> Any:
        """The node's value for ``name``, or the schema default for its section."""
        if name in node.values:
            return node.values[name]
        spec = schema.lookup(node.tag, name)
        assert spec is not None, (node.tag, name)
        return spec.default

    @staticmethod
    def repeated(node: Node, name: str) -> list[tuple[Any, Where]]:
        value = node.values.get(name, ())
        assert isinstance(value, tuple)
        return list(value)

    def children(self, node: Node, tag: str) -> list[Node]:
        return [c for c in node.children if c.tag == tag]

    def unique(self, nodes: Iterable[Node], key: Callable[[Node], str], what: str) -> None:
        seen: dict[str, Node] = {}
        for n in nodes:
            k = key(n)
            if k in seen:
                first = seen[k].where
                self.err(n.where, f"duplicate {what} {k!r} (first defined at {first})")
            else:
                seen[k] = n

    # -- sections --------------------------------------------------------------------------
    def domain_names(self, node: Node, macros: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
        pattern = node.arg.strip().lower()
        if pattern.startswith("$"):
            names = macros.get(pattern[1:])
            if names is None:
                self.err(
                    node.where,
                    f"unknown domain macro {pattern!r} (define it with "
                    f"domain-macro {pattern[1:]} a.com,b.com)",
                    node,
                )
                return ()
            return names
        names = tuple(n.strip() for n in pattern.split(",") if n.strip())
        for name in names:
            if not _DOMAIN.fullmatch(name):
                self.err(node.where, f"bad domain name {name!r}", node)
        return names

    def domain_block(self, node: Node, macros: dict[str, tuple[str, ...]]) -> DomainBlock:
        values = dict(node.values)
        origins = dict(node.origins)
        if "route" in values:  # each `route` / `smtp-hosts` line gives one or more routes
            values["route"] = tuple(r for routes, _ in self.repeated(node, "route") for r in routes)
        warmups = self.children(node, "warmup")
        for extra in warmups[1:]:
            self.err(extra.where, "only one <warmup> per <domain>", node)
        if warmups:
            warmup = self.warmup(warmups[0])
            if warmup is not None:
                values["warmup"] = warmup
                origins["warmup"] = warmups[0].where
        return DomainBlock(
            node.arg.strip().lower(), self.domain_names(node, macros), values, origins, node.where
        )

    def warmup(self, node: Node) -> Warmup | None:
        missing = [k for k in ("start-rate", "end-rate", "period") if k not in node.values]
        if missing:
            self.err(node.where, f"<warmup> needs {', '.join(missing)}", node)
            return None
        start: Rate = node.values["start-rate"]  # type: ignore[assignment]
        end: Rate = node.values["end-rate"]  # type: ignore[assignment]
        if start.per_second > end.per_second:
            self.err(node.origins["end-rate"], "end-rate must not be lower than start-rate", node)
        period = self.get(node, "period")
        if not period:
            self.err(node.origins["period"], "period must be longer than zero", node)
        return Warmup(
            start, end, period, self.get(node, "start-date"), self.get(node, "curve"), node.where
        )

    def domain_keys(self, node: Node) -> tuple[DomainKey, ...]:
        return tuple(DomainKey(v[0], v[1], v[2], w) for v, w in self.repeated(node, "domain-key"))

    def vmta(self, node: Node, macros: dict[str, tuple[str, ...]]) -> VirtualMta:
        domains = self.children(node, "domain")
        self.unique(domains, lambda n: n.arg.strip().lower(), "<domain> in this vmta")
        source_host: SourceHost | None = node.values.get("smtp-source-host")  # type: ignore[assignment]
        dkim: bool | None = node.values.get("dkim-sign")  # type: ignore[assignment]
        return VirtualMta(
            node.arg,
            source_host,
            node.values.get("host-name"),  # type: ignore[arg-type]
            dkim,
            self.domain_keys(node),
            tuple(self.domain_block(d, macros) for d in domains),
            node.where,
        )

    def source(self, node: Node) -> Source:
        match = node.arg.strip()
        network = None
        if not (match.startswith("{") and match.endswith("}")):
            try:
                network = parse_network(match)
            except ValueError as exc:
                self.err(node.where, f"{exc} (or a name in braces, e.g. {{auth}})", node)
        g = self.get
        return Source(
            match,
            network,
            g(node, "always-allow-relaying"),
            g(node, "smtp-service"),
            g(node, "process-x-virtual-mta"),
            g(node, "process-x-job"),
            g(node, "default-virtual-mta"),
            g(node, "max-message-size"),
            g(node, "require-auth"),
            g(node, "allow-unencrypted-plain-auth"),
            tuple(v for v, _ in self.repeated(node, "allow-mail-from")),
            g(node, "max-smtp-in"),
            node.where,
            g(node, "verp-default"),
        )

    def listener(self, address: Address, node: Node | None, where: Where) -> Listener:
        if node is None:
            node = Node("smtp-listener", str(address), where)
        g = self.get
        mechs = tuple(m.upper() for m in g(node, "auth-mechanisms"))
        for m in mechs:
            if m not in ("PLAIN", "LOGIN"):
                self.err(
                    node.origins.get("auth-mechanisms", where),
                    f"unsupported AUTH mechanism {m!r} (PLAIN and LOGIN are)",
                    node,
                )
        cert, key = g(node, "tls-certificate"), g(node, "tls-private-key")
        if (cert is None) != (key is None):
            self.err(where, "tls-certificate and tls-private-key go together", node)
        return Listener(
            address,
            g(node, "require-auth"),
            mechs,
            g(node, "require-starttls-before-auth"),
            cert,
            key,
            g(node, "default-virtual-mta"),
            where,
        )

    def acct_file(self, node: Node) -> AcctFile:
        raw = self.get(node, "records")
        records = ("d", "b") if raw is None else self.record_types(node, raw)
        fields: dict[str, tuple[str, ...]] = {}
        for (kind, names), where in self.repeated(node, "record-fields"):
            if kind not in records:
                self.warnings.append(
                    ConfigWarning(
                        f"record-fields for {kind!r} records, which this file does not record "
                        f"(records {','.join(records)})",
                        where,
                        f"acct-file {node.arg}",
                    )
                )
            fields[kind] = names
        g = self.get
        return AcctFile(
            node.arg,
            tuple(records),
            fields,
            g(node, "max-size"),
            g(node, "move-interval"),
            g(node, "move-to"),
            g(node, "delete-after"),
            node.where,
        )

    def record_types(self, node: Node, items: tuple[str, ...]) -> tuple[str, ...]:
        from mta.config._parsers import parse_records

        try:
            return parse_records(",".join(items))
        except ValueError as exc:
            self.err(node.origins["records"], f"records: {exc}", node)
            return ()

    def reject_log(self, node: Node) -> RejectLog:
        raw = self.get(node, "records")
        kinds: tuple[str, ...] = REJECT_KINDS
        if raw is not None:
            short = {k[0]: k for k in REJECT_KINDS}
            picked: list[str] = []
            for item in raw:
                kind = short.get(item.lower(), item.lower())
                if kind not in REJECT_KINDS:
                    self.err(
                        node.origins["records"],
                        f"unknown reject-log record {item!r} (use {', '.join(REJECT_KINDS)})",
                        node,
                    )
                elif kind not in picked:
                    picked.append(kind)
            kinds = tuple(picked)
        g = self.get
        return RejectLog(
            node.arg,
            kinds,
            g(node, "max-size"),
            g(node, "move-interval"),
            g(node, "move-to"),
            g(node, "delete-after"),
            node.where,
        )

    def pickup(self, node: Node) -> Pickup:
        g = self.get
        return Pickup(
            node.arg,
            g(node, "virtual-mta"),
            g(node, "scan-interval"),
            g(node, "delete-after-read"),
            g(node, "bad-dir"),
            g(node, "done-dir"),
            node.where,
        )

    def regex(self, text: str, where: Where, node: Node) -> tuple[str, str] | None:
        m = _REGEX_TOKEN.match(text)
        if m is None:
            self.err(where, f"expected a /regex/ at the start of {text!r}", node)
            return None
        flags = re.IGNORECASE if "i" in m.group(2) else 0
        try:
            re.compile(m.group(1), flags)
        except re.error as exc:
            self.err(where, f"bad regular expression /{m.group(1)}/: {exc}", node)
            return None
        return m.group(0), text[m.end() :].strip()

    def pattern_list(self, node: Node) -> PatternList:
        rules: list[PatternRule] = []
        for line in node.lines:
            head = line.text.split(None, 1)
            kind, rest = head[0].lower(), head[1] if len(head) > 1 else ""
            if kind not in ("reply", "mail-from", "rcpt-to", "data"):
                self.err(
                    line.where,
                    f"expected 'reply /regex/ mode=backoff|normal', got {line.text!r}",
                    node,
                )
                continue
            parsed = self.regex(rest.strip(), line.where, node)
            if parsed is None:
                continue
            options: dict[str, str] = {}
            for opt in parsed[1].split():
                key, sep, value = opt.partition("=")
                if not sep:
                    self.err(line.where, f"expected key=value after the pattern, got {opt!r}", node)
                    continue
                options[key] = value
            if options.get("mode", "backoff") not in ("backoff", "normal"):
                self.err(
                    line.where, f"mode must be backoff or normal, got {options['mode']!r}", node
                )
            rules.append(PatternRule(kind, parsed[0], options, line.where))
        return PatternList(node.arg, tuple(rules), node.where)

    def bounce_patterns(self, node: Node) -> list[BounceCategoryPattern]:
        out: list[BounceCategoryPattern] = []
        for line in node.lines:
            parsed = self.regex(line.text, line.where, node)
            if parsed is None:
                continue
            category = parsed[1].lower()
            if category not in BOUNCE_CATEGORIES:
                self.err(
                    line.where,
                    f"unknown bounce category {parsed[1]!r} (one of "
                    f"{', '.join(sorted(BOUNCE_CATEGORIES))})",
                    node,
                )
                continue
            inner = parsed[0][1 : parsed[0].rindex("/")]
            portable = translate(inner)
            problem = portability_problem(portable)
            if problem:
                self.err(line.where, f"pattern {parsed[0]} cannot be used by the classifier: "
                         f"{problem}", node)  # fmt: skip
                continue
            out.append(BounceCategoryPattern(parsed[0], category, line.where, portable))
        return out

    _PROCESSOR_KINDS = (("bounce-processor", "bounce"), ("feedback-loop-processor", "feedback"))

    def return_processors(self) -> list[ReturnProcessor]:
        out: list[ReturnProcessor] = []
        for tag, kind in self._PROCESSOR_KINDS:
            for node in self.children(self.root, tag):
                addresses = tuple(
                    AddressPattern(pattern, is_regex, where)
                    for lst in self.children(node, "address-list")
                    for (pattern, is_regex), where in self.repeated(lst, "address")
                )
                if not addresses:
                    self.warnings.append(
                        ConfigWarning(
                            "no <address-list> addresses: this processor handles no mail",
                            node.where,
                            tag,
                        )
                    )
                g = self.get
                out.append(
                    ReturnProcessor(
                        "bounce" if kind == "bounce" else "feedback",
                        addresses,
                        g(node, "deliver-unmatched-email"),
                        g(node, "deliver-matched-email"),
                        node.where,
                    )
                )
        return out

    # -- the whole config ------------------------------------------------------------------------
    def build(self) -> Config:
        root, g = self.root, self.get
        macros: dict[str, tuple[str, ...]] = {}
        for (name, names), where in self.repeated(root, "domain-macro"):
            if name in macros:
                self.err(where, f"domain-macro {name!r} is defined twice")
            macros[name] = names
        domains = self.children(root, "domain")
        vmta_nodes = self.children(root, "virtual-mta")
        pool_nodes = self.children(root, "virtual-mta-pool")
        self.unique(domains, lambda n: n.arg.strip().lower(), "<domain>")
        self.unique([*vmta_nodes, *pool_nodes], lambda n: n.arg, "virtual-mta/pool name")
        vmtas = {n.arg: self.vmta(n, macros) for n in vmta_nodes}
        pools = {
            n.arg: VirtualMtaPool(
                n.arg,
                tuple(v for v, _ in self.repeated(n, "virtual-mta")),
                g(n, "source-hash"),
                n.where,
            )
            for n in pool_nodes
        }
        for pool_node in pool_nodes:
            members = self.repeated(pool_node, "virtual-mta")
            if not members:
                self.err(pool_node.where, "a pool needs at least one virtual-mta", pool_node)
            for member, where in members:
                if member not in vmtas:
                    self.err(where, f"unknown virtual-mta {member!r}", pool_node)
        block_list = [self.domain_block(n, macros) for n in domains]
        self.check_domain_overlap(block_list)
        listener_nodes = {n.arg: n for n in self.children(root, "smtp-listener")}
        listeners = [self.listener(a, None, w) for a, w in self.repeated(root, "smtp-listener")]
        for n in listener_nodes.values():
            from mta.config.values import parse_address

            try:
                address = parse_address(n.arg, default_port=25, allow_zero_port=True)
                listeners.append(self.listener(address, n, n.where))
            except ValueError as exc:
                self.err(n.where, str(exc), n)
        sources = [self.source(n) for n in self.children(root, "source")]
        users = [
            SmtpUser(n.arg, g(n, "password") or "", g(n, "source"), n.where)
            for n in self.children(root, "smtp-user")
        ]
        for n in self.children(root, "smtp-user"):
            if "password" not in n.values:
                self.err(n.where, "an <smtp-user> needs a password", n)
        pickups = [self.pickup(n) for n in self.children(root, "pickup")]
        pickups += [
            Pickup(d, None, 5.0, True, bad, None, w)
            for (d, bad), w in self.repeated(root, "pickup")
        ]
        pattern_lists = {
            n.arg: self.pattern_list(n) for n in self.children(root, "smtp-pattern-list")
        }
        bounce_patterns = [
            bp
            for n in self.children(root, "bounce-category-patterns")
            for bp in self.bounce_patterns(n)
        ]
        config = Config(
            host_name=g(root, "host-name"),
            postmaster=g(root, "postmaster"),
            spool=g(root, "spool"),
            http_mgmt_port=g(root, "http-mgmt-port"),
            http_access=tuple(
                HttpAccess(a.network, a.level) for a, _ in self.repeated(root, "http-access")
            ),
            http_mgmt_host_names=g(root, "http-mgmt-host-names"),
            http_admin_key=g(root, "http-admin-key"),
            listeners=tuple(listeners),
            sources=tuple(sources),
            smtp_users=tuple(users),
            domain_keys=self.domain_keys(root),
            domain_macros=macros,
            domains=tuple(block_list),
            virtual_mtas=vmtas,
            pools=pools,
            acct_files=tuple(self.acct_file(n) for n in self.children(root, "acct-file")),
            reject_logs=tuple(self.reject_log(n) for n in self.children(root, "rejectlog-file")),
            pickups=tuple(pickups),
            pattern_lists=pattern_lists,
            bounce_category_patterns=tuple(bounce_patterns),
            files=self.files,
            warnings=(),
            bounce_rule_files=tuple(
                RuleFile(v, "", w) for v, w in self.repeated(root, "bounce-rules")
            ),
            return_processors=tuple(self.return_processors()),
            suppressed_recipients=g(root, "suppressed-recipients"),
            suppressed_recipient_reply=g(root, "suppressed-recipient-reply"),
            total_max_smtp_in=g(root, "total-max-smtp-in"),
            smtp_workers=g(root, "smtp-workers"),
        )
        self.check_references(config)
        return config

    def check_domain_overlap(self, blocks: list[DomainBlock]) -> None:
        seen: dict[str, DomainBlock] = {}
        for block in blocks:
            for name in block.names:
                first = seen.get(name)
                if first is not None and first.pattern != block.pattern:
                    self.errors.append(
                        error_at(
                            block.where,
                            f"domain {name!r} is already configured by <domain "
                            f"{first.pattern}> at {first.where}",
                            f"domain {block.pattern}",
                        )
                    )
                seen.setdefault(name, block)

    def check_references(self, config: Config) -> None:
        targets = set(config.virtual_mtas) | set(config.pools)
        named_sources = {s.match for s in config.sources if s.network is None}

        def check_vmta(name: str | None, where: Where, what: str) -> None:
            if name is not None and name not in targets:
                self.errors.append(
                    error_at(where, f"{what} {name!r} is not a <virtual-mta> or <virtual-mta-pool>")
                )

        for s in config.sources:
            check_vmta(s.default_virtual_mta, s.where, "default-virtual-mta")
        for listener in config.listeners:
            check_vmta(listener.default_virtual_mta, listener.where, "default-virtual-mta")
        for pk in config.pickups:
            check_vmta(pk.virtual_mta, pk.where, "virtual-mta")
        for user in config.smtp_users:
            if user.source is not None and user.source not in named_sources and user.where:
                self.errors.append(
                    error_at(
                        user.where,
                        f"source {user.source!r} is not a named <source {{name}}> block",
                        f"smtp-user {user.name}",
                    )
                )
        blocks = [*config.domains, *(b for v in config.virtual_mtas.values() for b in v.domains)]
        for block in blocks:
            pl = block.values.get("smtp-pattern-list")
            if isinstance(pl, str) and pl not in config.pattern_lists:
                self.errors.append(
                    error_at(
                        block.origins["smtp-pattern-list"],
                        f"unknown smtp-pattern-list {pl!r}",
                        f"domain {block.pattern}",
                    )
                )


def build_config(
    root: Node, files: tuple[str, ...]
) -> tuple[Config, list[ConfigError], list[ConfigWarning]]:
    """Build the model from a checked tree; returns it with any errors and warnings."""
    builder = _Builder(root, files)
    config = builder.build()
    return config, builder.errors, builder.warnings
