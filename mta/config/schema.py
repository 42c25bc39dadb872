"""The directive and section tables: every name we accept, where, its type and default.

This is the single place defaults live; ``docs/config-reference.md`` is generated
from it (``acctpipe check-config --reference``) and a test keeps the two equal.

``implemented=False`` marks a PowerMTA directive we recognise but do not act on:
the loader keeps going and warns with ``file:line``. ``origin="acctpipe"`` marks
our extensions to PowerMTA's language (warmup, static-route options, pickup and
reject-log sections, adaptive backoff bounds, the ``<smtp-listener>`` block).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Literal

from mta.acct.fields import RECORD_TYPES
from mta.acct.rejectlog import REJECT_KINDS
from mta.config import _parsers as p
from mta.config._ranges import DAY, GIB, YEAR, Bounds
from mta.config.values import (
    UNLIMITED,
    parse_address,
    parse_bool,
    parse_duration,
    parse_duration_list,
    parse_int,
    parse_rate,
    parse_size,
)

__all__ = [
    "BOUNDS",
    "DIRECTIVES",
    "SECTIONS",
    "DirectiveSpec",
    "SectionSpec",
    "lookup",
    "names_in",
    "sections_of",
]

Origin = Literal["powermta", "acctpipe"]
Body = Literal["directives", "patterns", "ignored"]


@dataclass(frozen=True, slots=True)
class SectionSpec:
    """A ``<tag ARG>`` section: where it may open, whether it takes an argument."""

    tag: str
    parents: frozenset[str]
    arg: Literal["required", "none", "optional"]
    doc: str
    origin: Origin = "powermta"
    body: Body = "directives"
    implemented: bool = True


@dataclass(frozen=True, slots=True)
class DirectiveSpec:
    """One directive: its sections, value grammar, default and documentation."""

    name: str
    sections: frozenset[str]
    kind: str
    default: object
    doc: str
    parse: Callable[[str], object] | None = None
    implemented: bool = True
    origin: Origin = "powermta"
    repeat: bool = False
    aliases: tuple[str, ...] = ()
    bounds: Bounds | None = None


_S = frozenset
SECTIONS: dict[str, SectionSpec] = {
    s.tag: s
    for s in (
        SectionSpec("domain", _S({"global", "virtual-mta"}), "required",
                    "Delivery settings for destinations: a name, `*` (default), `*.suffix`, "
                    "or `$macro` from `domain-macro`."),
        SectionSpec("virtual-mta", _S({"global"}), "required",
                    "A sending identity: source IP, HELO name, DKIM, and its own `<domain>` "
                    "overrides."),
        SectionSpec("virtual-mta-pool", _S({"global"}), "required",
                    "A group of virtual MTAs messages are spread over."),
        SectionSpec("source", _S({"global"}), "required",
                    "Rules for inbound clients, by address/CIDR (`0/0` = all) or a named "
                    "`{source}` that `smtp-user` blocks refer to."),
        SectionSpec("smtp-listener", _S({"global"}), "required",
                    "An SMTP listener with its AUTH and TLS settings (the one-line "
                    "`smtp-listener ADDR` form takes the defaults).", origin="acctpipe"),
        SectionSpec("smtp-user", _S({"global"}), "required",
                    "SMTP AUTH credentials for one user."),
        SectionSpec("acct-file", _S({"global"}), "required",
                    "An accounting file (CSV): which records, which fields, rotation."),
        SectionSpec("rejectlog-file", _S({"global"}), "required",
                    "The reject log: one CSV row per SMTP command the listener refused.",
                    origin="acctpipe"),
        SectionSpec("pickup", _S({"global"}), "required",
                    "A pickup hot folder: complete files renamed into it are queued.",
                    origin="acctpipe"),
        SectionSpec("smtp-pattern-list", _S({"global"}), "required",
                    "Reply patterns that switch a queue into backoff (`mode=backoff`) or back "
                    "(`mode=normal`).", body="patterns"),
        SectionSpec("bounce-category-patterns", _S({"global"}), "none",
                    "`/regex/ category` lines checked before the built-in bounce rules.",
                    body="patterns"),
        SectionSpec("warmup", _S({"domain"}), "none",
                    "A warmup schedule: `max-msg-rate` rises from `start-rate` to `end-rate` "
                    "over `period`.", origin="acctpipe"),
        SectionSpec("bounce-processor", _S({"global"}), "none",
                    "Inbound bounces: mail to its `<address-list>` is classified and logged as "
                    "`rb`/`rs` records (see docs/returns.md)."),
        SectionSpec("feedback-loop-processor", _S({"global"}), "none",
                    "Inbound feedback-loop (ARF) reports: mail to its `<address-list>` is "
                    "classified and logged as `f` records (see docs/returns.md)."),
        SectionSpec("address-list", _S({"bounce-processor", "feedback-loop-processor"}), "none",
                    "The addresses a processor handles: `address /regex/` or `address "
                    "user@domain` lines, matched case-insensitively."),
    )
}  # fmt: skip

_G, _D, _V, _P = "global", "domain", "virtual-mta", "virtual-mta-pool"
_SRC, _L, _U = "source", "smtp-listener", "smtp-user"
_A, _R, _K, _W = "acct-file", "rejectlog-file", "pickup", "warmup"
_BP, _FB, _AL = "bounce-processor", "feedback-loop-processor", "address-list"

# Counts: the range is the directive's BOUNDS entry (one message for both ends).
_count = partial(parse_int, minimum=None)
_unlimited_int = partial(parse_int, minimum=None, unlimited=0)
_never = partial(parse_duration, allow_never=True)


def _d(
    name: str,
    sections: set[str],
    kind: str,
    default: object,
    doc: str,
    parse: Callable[[str], object] | None = None,
    *,
    origin: Origin = "powermta",
    repeat: bool = False,
    aliases: tuple[str, ...] = (),
) -> DirectiveSpec:
    return DirectiveSpec(
        name,
        frozenset(sections),
        kind,
        default,
        doc,
        parse,
        origin=origin,
        repeat=repeat,
        aliases=aliases,
    )


def _known(name: str, sections: set[str], doc: str = "") -> DirectiveSpec:
    """A PowerMTA directive we recognise but do not implement: a warning, never silent."""
    return DirectiveSpec(
        name,
        frozenset(sections),
        "text",
        None,
        doc or "Recognised; no effect.",
        None,
        implemented=False,
    )


DIRECTIVES: tuple[DirectiveSpec, ...] = (
    # -- global ------------------------------------------------------------------
    _d("host-name", {_G, _V}, "name", None, "HELO/EHLO name (global default, or per vmta).",
       p.parse_string),
    _d("postmaster", {_G}, "email", None, "Address for the MTA's own notices.", p.parse_email),
    _d("suppressed-recipients", {_G}, "enum", "reject",
       "What the MTA does with a suppressed recipient: `reject` it at RCPT (and bounce it "
       "before delivery), `drop` it and write a `b` record, or `ignore` the list.",
       p.parse_enum("reject", "drop", "ignore"), origin="acctpipe"),
    _d("suppressed-recipient-reply", {_G}, "text",
       "550 5.7.1 <{rcpt}>: recipient suppressed ({reason})",
       "The RCPT reply for a suppressed recipient; `{rcpt}` and `{reason}` are filled in.",
       p.parse_string, origin="acctpipe"),
    _d("spool", {_G}, "path", None, "Spool directory (default: `<data dir>/spool`).",
       p.parse_string),
    _d("total-max-smtp-in", {_G}, "int", 1000,
       "Concurrent inbound SMTP connections, all listeners and clients together (0 = any), "
       "per smtp worker; the open-file limit is raised to fit.",
       _unlimited_int),
    _d("smtp-workers", {_G}, "int", 1,
       "Processes `acctpipe mta` runs, each accepting on every `smtp-listener` and delivering "
       "what it accepted from a spool of its own (0 = one per CPU). Outbound limits stay "
       "per MTA (each worker enforces its share); inbound session limits count per worker. "
       "See docs/mta.md.",
       _count, origin="acctpipe"),
    _d("smtp-listener", {_G}, "address", None,
       "Listen for SMTP on ADDR:PORT (`0/0:25` = all IPv4; port 0 = any free port). Repeatable.",
       partial(parse_address, default_port=25, allow_zero_port=True), repeat=True),
    _d("http-mgmt-port", {_G}, "int", None,
       "Port of the HTTP management/status endpoint (0 = any free port).",
       _count),
    _d("http-access", {_G}, "access", (), "`ADDR/CIDR none|monitor|admin`. Repeatable.",
       p.parse_http_access, repeat=True),
    _d("http-mgmt-host-names", {_G}, "list", (),
       "Host names the management port answers to, besides its own IP address and "
       "`localhost`; a request naming any other host gets 421 (no DNS rebinding).",
       p.parse_host_names, origin="acctpipe"),
    _d("http-admin-key", {_G}, "secret", None,
       "A key every admin action on the management port must present (`Authorization: Bearer "
       "KEY`, or HTTP Basic with KEY as the password), on top of `http-access`; "
       "`sha256:HEX` gives its SHA-256 digest instead of the key.",
       p.parse_admin_key, origin="acctpipe"),
    _d("domain-key", {_G, _V}, "dkim-key", (),
       "`SELECTOR,DOMAIN,KEYFILE` — a DKIM key (`*` domain = any). Repeatable.",
       p.parse_domain_key, repeat=True),
    _d("domain-macro", {_G}, "macro", (), "`NAME d1,d2,…` — use as `<domain $NAME>`.",
       p.parse_domain_macro, repeat=True),
    _d("pickup", {_G}, "pickup", (), "PowerMTA form: `pickup DIR [BADDIR]`. Repeatable.",
       p.parse_pickup_line, repeat=True),
    _d("include", {_G}, "path", None, "Read another file (glob allowed) in place.",
       p.parse_string),
    _d("bounce-rules", {_G}, "path", (), "A TOML bounce-rule file, checked before "
       "`<bounce-category-patterns>` and the built-in table. Repeatable.", p.parse_string,
       origin="acctpipe", repeat=True),
    _d("smtp-source-host", {_G, _V}, "source-host", None,
       "`IP HOSTNAME` — local address to bind and its name.", p.parse_source_host),
    # -- domain --------------------------------------------------------------------
    _d("max-smtp-out", {_D}, "int", 20,
       "Concurrent connections to the destination (from the whole MTA, every smtp worker).",
       _count),
    _d("max-msg-per-connection", {_D}, "int", 0, "Messages per connection (0 = unlimited).",
       _unlimited_int),
    _d("max-msg-rate", {_D}, "rate", UNLIMITED, "Messages per time unit, e.g. `30/s`, `2000/h`.",
       parse_rate),
    _d("max-conn-rate", {_D}, "rate", UNLIMITED, "New connections per time unit.", parse_rate),
    _d("max-errors-per-connection", {_D}, "int", 0,
       "Close a connection after this many errors (0 = unlimited).", _unlimited_int),
    _d("max-rcpt-per-message", {_D}, "int", 0,
       "Recipients per SMTP transaction (0 = unlimited).", _unlimited_int),
    _d("retry-after", {_D}, "durations", (600.0,),
       "Wait before retrying a deferred message; a list (`5m,30m,2h`) is a schedule.",
       parse_duration_list),
    _d("bounce-after", {_D}, "duration", 388800.0, "Give up (`message-expired`) after this long.",
       parse_duration),
    _d("bounce-upon-no-mx", {_D}, "bool", False, "Bounce at once when the domain has no MX.",
       parse_bool),
    _d("connect-timeout", {_D}, "duration", 60.0, "TCP connect timeout.", parse_duration),
    _d("smtp-greeting-timeout", {_D}, "duration", 300.0, "Wait for the 220 greeting.",
       parse_duration),
    _d("data-send-timeout", {_D}, "duration", 300.0, "Sending the message data.",
       parse_duration),
    _d("use-starttls", {_D}, "bool", True, "Use STARTTLS when the receiver offers it.",
       parse_bool),
    _d("require-starttls", {_D}, "bool", False, "Defer rather than deliver without TLS.",
       parse_bool),
    _d("smtp-pipelining", {_D}, "bool", True, "Use PIPELINING when offered.", parse_bool),
    _d("dkim-sign", {_D, _V}, "bool", False, "Sign with the matching `domain-key`.", parse_bool),
    _d("smtp-pattern-list", {_D}, "name", None, "Name of an `<smtp-pattern-list>` to apply.",
       p.parse_name),
    _d("queue-to", {_D}, "name", None,
       "Put these domains in one shared queue (e.g. hotmail/outlook/live).", p.parse_name),
    _d("route", {_D}, "route", (),
       "Deliver to HOST[:PORT] instead of MX; `[1.2.3.4]:2526`, `[::1]:25` and a list "
       "(`smtp-hosts h1:2525, [10.0.0.2]`) as in PowerMTA. acctpipe options: `priority=N` "
       "(lower first), `backup=yes` (only when the others fail). Repeatable.", p.parse_route,
       repeat=True, aliases=("smtp-hosts",)),
    _d("backoff-max-msg-rate", {_D}, "rate", UNLIMITED, "Rate while in backoff mode.",
       parse_rate),
    _d("backoff-retry-after", {_D}, "durations", (3600.0,), "Retry interval while in backoff.",
       parse_duration_list),
    _d("backoff-to-normal-after", {_D}, "duration", None,
       "Leave backoff after this long (`never` = only by pattern/delivery).", _never),
    _d("backoff-to-normal-after-delivery", {_D}, "bool", False,
       "Leave backoff on the first successful delivery.", parse_bool),
    _d("backoff-max-msg-per-connection", {_D}, "int", 0,
       "Messages per connection in backoff (0 = as normal).", _unlimited_int),
    _d("adaptive-throttling", {_D}, "bool", False,
       "Let the feedback loop lower/raise rates within bounds.", parse_bool, origin="acctpipe"),
    _d("backoff-min", {_D}, "duration", 30.0, "Shortest adaptive backoff pause.",
       parse_duration, origin="acctpipe", aliases=("min-backoff",)),
    _d("backoff-max", {_D}, "duration", 86400.0, "Longest adaptive backoff pause.",
       parse_duration, origin="acctpipe", aliases=("max-backoff",)),
    _d("backoff-scale-factor", {_D}, "float", 1.5, "Pause multiplier per repeated block.",
       p.parse_float, origin="acctpipe"),
    # -- warmup (acctpipe) -----------------------------------------------------------
    _d("start-rate", {_W}, "rate", None, "Rate on day one.", parse_rate, origin="acctpipe"),
    _d("end-rate", {_W}, "rate", None, "Rate at the end of the period.", parse_rate,
       origin="acctpipe"),
    _d("period", {_W}, "duration", None, "How long the rise takes (e.g. `10d`).",
       parse_duration, origin="acctpipe"),
    _d("start-date", {_W}, "date", None, "First day (default: first use).", p.parse_date,
       origin="acctpipe"),
    _d("curve", {_W}, "enum", "exponential", "`exponential` (doubling-style) or `linear`.",
       p.parse_enum("exponential", "linear"), origin="acctpipe"),
    # -- virtual-mta-pool ---------------------------------------------------------------
    _d("virtual-mta", {_P}, "name", (), "A member vmta. Repeatable.", p.parse_name, repeat=True),
    _d("source-hash", {_P}, "bool", False,
       "Pick the member by a hash of the recipient domain (stable IP per domain).",
       parse_bool, origin="acctpipe"),
    # -- source ---------------------------------------------------------------------------
    _d("always-allow-relaying", {_SRC}, "bool", False, "Relay for this source without AUTH.",
       parse_bool),
    _d("smtp-service", {_SRC}, "bool", True, "Accept SMTP connections from this source.",
       parse_bool),
    _d("process-x-virtual-mta", {_SRC}, "bool", False, "Honour (then strip) `X-Virtual-MTA`.",
       parse_bool),
    _d("process-x-job", {_SRC}, "bool", False, "Honour (then strip) `X-Job`.", parse_bool),
    _d("default-virtual-mta", {_SRC, _L}, "name", None, "Vmta or pool for accepted mail.",
       p.parse_name),
    _d("max-message-size", {_SRC}, "size", None, "Largest message accepted (SIZE).", parse_size),
    _d("require-auth", {_SRC, _L}, "bool", False, "Refuse MAIL FROM before AUTH.", parse_bool),
    _d("allow-unencrypted-plain-auth", {_SRC}, "bool", False,
       "Allow AUTH PLAIN/LOGIN before STARTTLS.", parse_bool),
    _d("allow-mail-from", {_SRC}, "glob", (), "Envelope senders this source may use "
       "(`*@example.com`). Repeatable; none = any.", p.parse_string, origin="acctpipe",
       repeat=True),
    _d("max-smtp-in", {_SRC}, "int", None,
       "Concurrent connections from this source, all its addresses together (0 = any). "
       "Unset: at most 100 from each client address.", _unlimited_int, origin="acctpipe"),
    _d("verp-default", {_SRC}, "bool", False,
       "Give mail from this source a VERP return path (`bounce+user=domain@…`).", parse_bool),
    # -- smtp-listener block (acctpipe) -------------------------------------------------
    _d("auth-mechanisms", {_L}, "list", ("PLAIN", "LOGIN"), "SASL mechanisms offered.",
       p.parse_list, origin="acctpipe"),
    _d("require-starttls-before-auth", {_L}, "bool", True, "Offer AUTH only over TLS.",
       parse_bool, origin="acctpipe"),
    _d("tls-certificate", {_L}, "path", None,
       "PEM certificate for STARTTLS (relative: to the config file).", p.parse_string,
       origin="acctpipe"),
    _d("tls-private-key", {_L}, "path", None,
       "PEM key for STARTTLS (relative: to the config file).", p.parse_string,
       origin="acctpipe"),
    # -- smtp-user ----------------------------------------------------------------------------
    _d("password", {_U}, "secret", None, "The user's password (never printed).", p.parse_string),
    _d("source", {_U}, "name", None, "Named `<source {name}>` whose rules apply after AUTH.",
       p.parse_name),
    # -- acct-file / rejectlog-file / pickup -------------------------------------------------
    _d("records", {_A, _R}, "list", None,
       f"Record types: {','.join(RECORD_TYPES)} (acct; default d,b) — for the reject log: "
       f"{','.join(REJECT_KINDS)} (default all).", p.parse_list),
    _d("record-fields", {_A}, "fields", (), "`TYPE field,field,…` (`*` = default set).",
       p.parse_record_fields, repeat=True),
    _d("max-size", {_A, _R}, "size", None, "Rotate when the file reaches this size.", parse_size),
    _d("move-interval", {_A, _R}, "duration", None, "Rotate at this interval.", parse_duration),
    _d("move-to", {_A, _R}, "path", None,
       "Directory rotated files move to (relative: to the data directory).", p.parse_string),
    _d("delete-after", {_A, _R}, "duration", None, "Delete rotated files after this long.",
       _never),
    _d("virtual-mta", {_K}, "name", None, "Vmta or pool for picked-up mail.", p.parse_name,
       origin="acctpipe"),
    _d("scan-interval", {_K}, "duration", 5.0, "How often to rescan (watchdog also reacts).",
       parse_duration, origin="acctpipe"),
    _d("delete-after-read", {_K}, "bool", True, "Delete once spooled; `no` moves to done-dir.",
       parse_bool, origin="acctpipe"),
    _d("bad-dir", {_K}, "path", None, "Where unreadable files go (default `<dir>/bad`).",
       p.parse_string, origin="acctpipe"),
    _d("done-dir", {_K}, "path", None, "Where read files go when not deleted.", p.parse_string,
       origin="acctpipe"),
    # -- bounce-processor / feedback-loop-processor ------------------------------------------
    _d("deliver-unmatched-email", {_BP, _FB}, "bool", False,
       "Relay mail that is not a recognised bounce/report on as ordinary mail (else drop it).",
       parse_bool),
    _d("deliver-matched-email", {_BP, _FB}, "bool", False,
       "Also relay recognised bounces/reports on as ordinary mail after logging them.",
       parse_bool),
    _d("address", {_AL}, "address-pattern", (),
       "`/regex/` (searched, case-insensitive) or a literal address. Repeatable.",
       p.parse_address_pattern, repeat=True),
    # -- recognised PowerMTA directives we do not implement (warnings) -----------------------
    *(_known(n, {_G}) for n in (
        "log-file", "log-rotate", "run-as-root", "sync-msg-create", "sync-msg-update",
        "total-max-smtp-out", "smtp-port", "process-user",
        "relay-domain", "dns-server", "log-connections", "log-commands", "log-data",
        "http-redirect-to-https", "max-msg-per-connection-in",
    )),
    *(_known(n, {_D}) for n in (
        "mx-rollup", "backoff-notify", "backoff-upon-all-sources-disabled",
        "assume-delivery-upon-data-termination-timeout", "smtp-421-means-mx-unavailable",
        "smtp-553-means-invalid-mailbox", "bounce-upon-5xx-greeting",
        "bounce-upon-transfer-failure", "reuse-ssl-session", "ignore-8bitmime",
        "ignore-chunking", "retry-upon-new-mail", "deliver-local-dsn", "dk-sign",
        "dkim-identity", "dkim-algorithm", "dkim-body-canon", "dkim-headers-canon",
        "dkim-expire-after", "log-connections", "log-commands", "log-data", "log-resolution",
        "log-transfer-failures", "log-tls", "mx-connection-attempts", "idle-timeout",
        "data-termination-timeout", "rcpt-to-timeout", "mail-from-timeout",
        "use-unencrypted-plain-auth", "auth-username", "auth-password", "max-cold-virtual-mta-msg",
    )),
    *(_known(n, {_SRC}) for n in (
        "log-connections", "log-commands", "log-data", "add-received-header",
        "hide-message-source", "remove-received-headers", "remove-header", "pattern-list",
        "jobid-header", "always-allow-api-submission", "process-x-envid", "allow-starttls",
        "dkim-sign", "add-date-header", "add-message-id-header", "retain-x-job",
        "retain-x-virtual-mta",
    )),
    *(_known(n, {_BP, _FB}) for n in ("forward-unmatched-to", "forward-errors-to")),
    *(_known(n, {_A}) for n in ("world-readable", "sync", "user-string", "delete-after-days")),
)  # fmt: skip

# The sane range of every numeric value, in its unit: seconds (durations, each item
# of a retry list), bytes (sizes), events per second (rates), or a plain count.
# A value outside is a `file:line` error (see _ranges); the reference prints them.
_MILLION = 1_000_000
BOUNDS: dict[str, Bounds] = {
    "http-mgmt-port": (0, 65535),
    "max-smtp-out": (1, 10_000),
    "max-msg-per-connection": (0, _MILLION),
    "max-msg-rate": (0, _MILLION),
    "max-conn-rate": (0, 100_000),
    "max-errors-per-connection": (0, 10_000),
    "max-rcpt-per-message": (0, 100_000),
    # Sub-second retries are for tests and demos; 0 would retry in a busy loop.
    "retry-after": (0.1, 30 * DAY),
    "bounce-after": (1, YEAR),
    "connect-timeout": (0.1, 3600),
    "smtp-greeting-timeout": (0.1, 3600),
    "data-send-timeout": (0.1, DAY),
    "backoff-max-msg-rate": (0, _MILLION),
    "backoff-retry-after": (0.1, 30 * DAY),
    "backoff-to-normal-after": (0, YEAR),
    "backoff-max-msg-per-connection": (0, _MILLION),
    "backoff-min": (0, 30 * DAY),
    "backoff-max": (0.1, YEAR),
    "backoff-scale-factor": (1, 100),
    "start-rate": (0, _MILLION),
    "end-rate": (0, _MILLION),
    "period": (1, 5 * YEAR),
    "max-message-size": (1, 2 * GIB),
    "max-smtp-in": (0, 100_000),
    "total-max-smtp-in": (0, 1_000_000),
    "smtp-workers": (0, 64),
    "max-size": (1024, 1024 * GIB),
    "move-interval": (1, YEAR),
    "delete-after": (60, 10 * YEAR),
    "scan-interval": (0.01, DAY),
}
DIRECTIVES = tuple(replace(d, bounds=BOUNDS[d.name]) if d.name in BOUNDS else d for d in DIRECTIVES)

_INDEX: dict[tuple[str, str], DirectiveSpec] = {}
for _spec in DIRECTIVES:
    for _section in _spec.sections:
        for _name in (_spec.name, *_spec.aliases):
            _INDEX[(_section, _name)] = _spec


def lookup(section: str, name: str) -> DirectiveSpec | None:
    """The spec for ``name`` inside ``section`` (``global`` at top level), or None."""
    return _INDEX.get((section, name))


def names_in(section: str) -> list[str]:
    """Every directive name accepted in ``section`` (for "did you mean")."""
    return sorted({name for (sec, name) in _INDEX if sec == section})


def sections_of(name: str) -> list[str]:
    """The sections where ``name`` is accepted (to say "belongs in <domain>")."""
    return sorted({sec for (sec, n) in _INDEX if n == name})
