"""The typed, frozen configuration: what the parser yields and the MTA reads.

Built once by :func:`mta.config.load_config`; never mutated. Defaults are not
written here: they live in the directive table (:mod:`mta.config.schema`), the one
place the reference documentation is generated from.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from mta.config._lexer import Where
from mta.config.values import Address, Rate

__all__ = [
    "AcctFile",
    "AddressPattern",
    "BounceCategoryPattern",
    "Config",
    "ConfigWarning",
    "DomainBlock",
    "DomainKey",
    "DomainSettings",
    "HttpAccess",
    "Listener",
    "PatternList",
    "PatternRule",
    "Pickup",
    "RejectLog",
    "ReturnProcessor",
    "Route",
    "RuleFile",
    "SmtpUser",
    "Source",
    "SourceHost",
    "VirtualMta",
    "VirtualMtaPool",
    "Warmup",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class ConfigWarning:
    """A directive we know but do not act on (yet), or another non-fatal remark."""

    message: str
    where: Where
    section: str | None = None

    def __str__(self) -> str:
        section = f"<{self.section}>: " if self.section else ""
        return f"{self.where}: {section}{self.message}"


@dataclass(frozen=True, slots=True)
class SourceHost:
    """``smtp-source-host IP HOSTNAME``: the local address to bind and the HELO name."""

    ip: str
    hostname: str | None


@dataclass(frozen=True, slots=True)
class DomainKey:
    """``domain-key SELECTOR,DOMAIN,KEYFILE`` — a DKIM signing key."""

    selector: str
    domain: str
    key_path: str
    where: Where


@dataclass(frozen=True, slots=True)
class HttpAccess:
    """``http-access ADDR LEVEL`` — who may reach the management port and how far."""

    network: Network
    level: str


@dataclass(frozen=True, slots=True)
class Route:
    """Pin a destination to a fixed host (acctpipe: priority and backup options).

    ``route host:port`` is PowerMTA's; ``priority=N`` (lower first, default 10) and
    ``backup=yes`` (used only when every non-backup route fails) are acctpipe's.
    """

    address: Address
    priority: int = 10
    backup: bool = False


@dataclass(frozen=True, slots=True)
class Warmup:
    """An IP/domain warmup schedule (acctpipe extension): the rate rises over a period."""

    start_rate: Rate
    end_rate: Rate
    period: float
    start_date: date | None
    curve: str
    where: Where


@dataclass(frozen=True, slots=True)
class DomainSettings:
    """Effective delivery settings for one destination (after merging every block)."""

    max_smtp_out: int
    max_msg_per_connection: int
    max_msg_rate: Rate
    max_conn_rate: Rate
    max_errors_per_connection: int
    max_rcpt_per_message: int
    retry_after: tuple[float, ...]
    bounce_after: float
    bounce_upon_no_mx: bool
    connect_timeout: float
    smtp_greeting_timeout: float
    data_send_timeout: float
    use_starttls: bool
    require_starttls: bool
    smtp_pipelining: bool
    dkim_sign: bool
    smtp_pattern_list: str | None
    queue_to: str | None
    backoff_max_msg_rate: Rate
    backoff_retry_after: tuple[float, ...]
    backoff_to_normal_after: float | None
    backoff_to_normal_after_delivery: bool
    backoff_max_msg_per_connection: int
    adaptive_throttling: bool
    backoff_min: float
    backoff_max: float
    backoff_scale_factor: float
    route: tuple[Route, ...]
    warmup: Warmup | None


@dataclass(frozen=True, slots=True)
class DomainBlock:
    """One ``<domain PATTERN>`` block as written; ``names`` has macros expanded."""

    pattern: str
    names: tuple[str, ...]
    values: Mapping[str, object]
    origins: Mapping[str, Where]
    where: Where


@dataclass(frozen=True, slots=True)
class VirtualMta:
    """``<virtual-mta NAME>``: a sending identity (source IP + HELO) and its domain blocks."""

    name: str
    smtp_source_host: SourceHost | None
    host_name: str | None
    dkim_sign: bool | None
    domain_keys: tuple[DomainKey, ...]
    domains: tuple[DomainBlock, ...]
    where: Where


@dataclass(frozen=True, slots=True)
class VirtualMtaPool:
    """``<virtual-mta-pool NAME>``: vmtas chosen per message (round robin or source hash)."""

    name: str
    members: tuple[str, ...]
    source_hash: bool
    where: Where


@dataclass(frozen=True, slots=True)
class Source:
    """``<source ADDR/CIDR>`` or a named ``<source {name}>``: rules for inbound clients."""

    match: str
    network: Network | None
    always_allow_relaying: bool
    smtp_service: bool
    process_x_virtual_mta: bool
    process_x_job: bool
    default_virtual_mta: str | None
    max_message_size: int | None
    require_auth: bool
    allow_unencrypted_plain_auth: bool
    allow_mail_from: tuple[str, ...]
    max_smtp_in: int | None  # None: unset, the per-address default applies
    where: Where
    verp_default: bool = False


@dataclass(frozen=True, slots=True)
class Listener:
    """An SMTP listener (``smtp-listener ADDR`` or the ``<smtp-listener ADDR>`` block)."""

    address: Address
    require_auth: bool
    auth_mechanisms: tuple[str, ...]
    require_starttls_before_auth: bool
    tls_certificate: str | None
    tls_private_key: str | None
    default_virtual_mta: str | None
    where: Where


@dataclass(frozen=True, slots=True)
class SmtpUser:
    """``<smtp-user NAME>``: SMTP AUTH credentials. The password never prints."""

    name: str
    password: str = field(repr=False)
    source: str | None = None
    where: Where | None = None


@dataclass(frozen=True, slots=True)
class AcctFile:
    """``<acct-file PATH>``: which records go to the file, which fields, and rotation."""

    path: str
    records: tuple[str, ...]
    record_fields: Mapping[str, tuple[str, ...]]
    max_size: int | None
    move_interval: float | None
    move_to: str | None
    delete_after: float | None
    where: Where


@dataclass(frozen=True, slots=True)
class RejectLog:
    """``<rejectlog-file PATH>`` (acctpipe): refused SMTP commands, one CSV row each."""

    path: str
    records: tuple[str, ...]
    max_size: int | None
    move_interval: float | None
    move_to: str | None
    delete_after: float | None
    where: Where


@dataclass(frozen=True, slots=True)
class Pickup:
    """A pickup hot folder: ``<pickup PATH>`` (acctpipe) or PowerMTA's ``pickup DIR BADDIR``."""

    path: str
    virtual_mta: str | None
    scan_interval: float
    delete_after_read: bool
    bad_dir: str | None
    done_dir: str | None
    where: Where


@dataclass(frozen=True, slots=True)
class PatternRule:
    """One ``reply /regex/ mode=backoff`` line of an ``<smtp-pattern-list>``."""

    kind: str
    regex: str
    options: Mapping[str, str]
    where: Where


@dataclass(frozen=True, slots=True)
class PatternList:
    """``<smtp-pattern-list NAME>``: replies that switch a queue to backoff (or back)."""

    name: str
    rules: tuple[PatternRule, ...]
    where: Where


@dataclass(frozen=True, slots=True)
class BounceCategoryPattern:
    """One ``/regex/ category`` line of ``<bounce-category-patterns>``.

    ``regex`` is as written; ``portable`` is its translation into the rule-regex
    subset both classifier engines share (see :mod:`classifiers.pcre`).
    """

    regex: str
    category: str
    where: Where
    portable: str = ""


@dataclass(frozen=True, slots=True)
class RuleFile:
    """``bounce-rules PATH`` (acctpipe): a TOML rule file read at load time."""

    path: str
    text: str
    where: Where


@dataclass(frozen=True, slots=True)
class AddressPattern:
    """One ``address`` line of an ``<address-list>``.

    ``pattern`` is the regex between the slashes when ``is_regex`` (searched,
    case-insensitively), else a literal address, lower-cased, matched whole.
    """

    pattern: str
    is_regex: bool
    where: Where


@dataclass(frozen=True, slots=True)
class ReturnProcessor:
    """``<bounce-processor>`` or ``<feedback-loop-processor>``: who handles returned mail.

    ``kind`` only says which section it came from: a message is classified by its
    content, so a DSN sent to a feedback address still yields bounce records.
    """

    kind: Literal["bounce", "feedback"]
    addresses: tuple[AddressPattern, ...]
    deliver_unmatched: bool
    deliver_matched: bool
    where: Where


@dataclass(frozen=True, slots=True)
class Config:
    """A whole, validated configuration."""

    host_name: str | None
    postmaster: str | None
    spool: str | None
    http_mgmt_port: int | None
    http_access: tuple[HttpAccess, ...]
    listeners: tuple[Listener, ...]
    sources: tuple[Source, ...]
    smtp_users: tuple[SmtpUser, ...]
    domain_keys: tuple[DomainKey, ...]
    domain_macros: Mapping[str, tuple[str, ...]]
    domains: tuple[DomainBlock, ...]
    virtual_mtas: Mapping[str, VirtualMta]
    pools: Mapping[str, VirtualMtaPool]
    acct_files: tuple[AcctFile, ...]
    reject_logs: tuple[RejectLog, ...]
    pickups: tuple[Pickup, ...]
    pattern_lists: Mapping[str, PatternList]
    bounce_category_patterns: tuple[BounceCategoryPattern, ...]
    files: tuple[str, ...]
    warnings: tuple[ConfigWarning, ...]
    bounce_rule_files: tuple[RuleFile, ...] = ()
    return_processors: tuple[ReturnProcessor, ...] = ()
    # acctpipe: Host names the management port answers to, and the admin key's digest.
    http_mgmt_host_names: tuple[str, ...] = ()
    http_admin_key: str | None = None
    suppressed_recipients: str = "reject"
    suppressed_recipient_reply: str = "550 5.7.1 <{rcpt}>: recipient suppressed ({reason})"
    total_max_smtp_in: int = 1000  # 0: no cap
    smtp_workers: int = 1  # acctpipe mta's processes (0: one per CPU)
