"""The built-in ISP profiles, and profiles read from TOML files.

TOML format (every key optional except ``name``; ``base`` starts from a built-in)::

    name = "my-isp"
    base = "gmail"                  # inherit everything, then override
    hostname = "mx.my-isp.test"
    banner_delay = 0.5              # seconds
    max_connections_per_ip = 3
    message_rate = "10/s"           # PowerMTA rate syntax: 30/s, 2000/h, 100/5m
    message_burst = 10
    connection_rate = "5/s"
    unknown_users = ["bob@example.test", "ghost"]
    unknown_patterns = ["unknown*"]
    full_patterns = ["full*"]
    blocked_networks = ["127.0.0.9", "127.0.1.0/24"]
    block_stage = "connect"         # or "rcpt"
    greylist_delay = 2.0
    drop_after_commands = 3
    drop_probability = 0.5
    seed = 42

    [replies]
    message_rate = "421 4.7.0 [TSS04] Messages from {ip} temporarily deferred"

    [rcpt_replies]                  # local-part glob = reply, at RCPT TO
    "policy*" = "550 5.7.1 <{rcpt}>: Recipient address rejected: Access denied"

    [data_replies]                  # local-part glob = reply, at the end of DATA
    "content*" = "554 5.7.1 Message rejected: content policy violation"
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from acctpipe.sim.profile import IspProfile, Replies
from mta.config.values import parse_rate
from mta.errors import ConfigError, InvalidRuleError

__all__ = ["BUILTIN_PROFILES", "load_profile", "profile_from_toml"]

_GMAIL = Replies(
    banner="ESMTP sim-gsmtp",
    accepted="250 2.0.0 OK  {timestamp} {queue_id} - gsmtp",
    too_many_connections="421 4.7.0 Try again later, closing connection. - gsmtp",
    connection_rate="421 4.7.0 Try again later, closing connection. - gsmtp",
    message_rate=(
        "450 4.7.28 [{ip}] Our system has detected an unusual rate of unsolicited mail "
        "originating from your IP address. To protect our users from spam, mail sent from "
        "your IP address has been temporarily rate limited. - gsmtp"
    ),
    unknown_user=(
        "550 5.1.1 The email account that you tried to reach does not exist. Please try "
        "double-checking the recipient's email address for typos or unnecessary spaces. "
        "https://support.google.com/mail/?p=NoSuchUser - gsmtp"
    ),
    mailbox_full=(
        "452 4.2.2 The recipient's inbox is out of storage space. Please direct the recipient "
        "to https://support.google.com/mail/?p=OverQuotaTemp - gsmtp"
    ),
    blocked=(
        "554 5.7.1 [{ip}] Messages from this IP address are blocked (listed on a "
        "blocklist). - gsmtp"
    ),
)
_OUTLOOK = Replies(
    banner="Microsoft ESMTP MAIL Service ready",
    accepted="250 2.6.0 <{queue_id}@{hostname}> [InternalId={queue_id}] Queued mail for delivery",
    too_many_connections=(
        "421 4.7.0 Too many connections from {ip}, try again later (S3114) [{hostname}]"
    ),
    connection_rate="451 4.7.500 Server busy. Please try again later from [{ip}]. (S77719)",
    message_rate=(
        "421 4.7.0 RP-001 ({hostname}) Unfortunately, some messages from {ip} weren't sent. "
        "Please try again. We have limits for how many messages can be sent per hour and per day."
    ),
    unknown_user="550 5.1.1 Requested action not taken: mailbox unavailable",
    mailbox_full="452 4.2.2 Mailbox full",
    blocked=(
        "550 5.7.1 Unfortunately, messages from [{ip}] weren't sent. Please contact your "
        "Internet service provider since part of their network is on our block list (S3150)."
    ),
)
_YAHOO = Replies(
    banner="ESMTP ready",
    accepted="250 ok dirdel {queue_id}",
    too_many_connections="421 4.7.0 [TSS03] Too many concurrent connections from {ip}",
    connection_rate="421 4.7.0 [TSS03] Too many connections from {ip}",
    message_rate=(
        "421 4.7.0 [TSS04] Messages from {ip} temporarily deferred due to unexpected volume "
        "or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes"
    ),
    unknown_user="550 5.1.1 <{rcpt}> delivery error: dd This user doesn't have a yahoo.com account",
    mailbox_full="452 4.2.2 <{rcpt}> Mailbox full",
    blocked=(
        "553 5.7.1 [BL21] Connections will not be accepted from {ip}, because the ip is in "
        "Spamhaus's list; see https://postmaster.yahooinc.com/error-codes"
    ),
)

BUILTIN_PROFILES: Final[Mapping[str, IspProfile]] = {
    p.name: p
    for p in (
        IspProfile("default"),
        IspProfile(
            "gmail",
            hostname="mx.gmail.sim.test",
            replies=_GMAIL,
            max_connections_per_ip=10,
            message_rate=parse_rate("50/s"),
        ),
        IspProfile(
            "outlook",
            hostname="mx.outlook.sim.test",
            replies=_OUTLOOK,
            max_connections_per_ip=5,
            connection_rate=parse_rate("10/s"),
            message_rate=parse_rate("20/s"),
            block_stage="rcpt",
        ),
        IspProfile(
            "yahoo",
            hostname="mx.yahoo.sim.test",
            replies=_YAHOO,
            max_connections_per_ip=5,
            message_rate=parse_rate("30/s"),
        ),
        IspProfile(
            "blocker", hostname="mx.blocker.sim.test", blocked_networks=("0.0.0.0/0", "::/0")
        ),
        IspProfile("greylister", hostname="mx.greylist.sim.test", greylist_delay=5.0),
        IspProfile("slow", hostname="mx.slow.sim.test", banner_delay=3.0, data_delay=1.0),
        IspProfile(
            "flaky", hostname="mx.flaky.sim.test", drop_after_commands=2, drop_probability=0.3
        ),
    )
}

_RATES = ("message_rate", "connection_rate")
_SETS = ("unknown_users",)
_TUPLES = ("unknown_patterns", "full_patterns", "blocked_networks")
_SCALARS: Final[dict[str, tuple[type, ...]]] = {
    "name": (str,),
    "hostname": (str,),
    "block_stage": (str,),
    "starttls": (bool,),
    "banner_delay": (int, float),
    "data_delay": (int, float),
    "greylist_delay": (int, float),
    "drop_probability": (int, float),
    "max_connections_per_ip": (int,),
    "connection_burst": (int,),
    "message_burst": (int,),
    "drop_after_commands": (int,),
    "seed": (int,),
    "max_message_size": (int,),
}


def load_profile(name_or_path: str) -> IspProfile:
    """A built-in profile by name, else the TOML file at that path.

    Raises :class:`~mta.errors.ConfigError` (naming the file) for an unknown name,
    an unreadable file or an invalid profile.
    """
    if name_or_path in BUILTIN_PROFILES:
        return BUILTIN_PROFILES[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        known = ", ".join(sorted(BUILTIN_PROFILES))
        raise ConfigError(f"no built-in profile or file {name_or_path!r} (built-in: {known})")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read profile: {exc}", path=path) from exc
    return profile_from_toml(text, source=str(path))


def profile_from_toml(text: str, *, source: str = "<profile>") -> IspProfile:
    """Build a profile from TOML text (format in this module's docstring)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", path=source) from exc
    try:
        return _build(data)
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc), path=source, section="profile") from exc


def _build(data: dict[str, Any]) -> IspProfile:
    data = dict(data)
    base_name = data.pop("base", "default")
    if base_name not in BUILTIN_PROFILES:
        raise InvalidRuleError(f"base: unknown built-in profile {base_name!r}")
    base = BUILTIN_PROFILES[base_name]
    if "name" not in data:
        raise InvalidRuleError("name: required")
    replies = data.pop("replies", {})
    if not isinstance(replies, dict):
        raise InvalidRuleError("replies: expected a table")
    known_replies = {f.name for f in dataclasses.fields(Replies)}
    if unknown := sorted(set(replies) - known_replies):
        raise InvalidRuleError(f"replies: unknown key(s) {', '.join(unknown)}")
    if bad := sorted(k for k, v in replies.items() if not isinstance(v, str)):
        raise InvalidRuleError(f"replies: expected text for {', '.join(bad)}")
    changes: dict[str, Any] = {"replies": dataclasses.replace(base.replies, **replies)}
    for key in ("rcpt_replies", "data_replies"):
        if key in data:
            table = data.pop(key)
            if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
                raise InvalidRuleError(f'{key}: expected a table of pattern = "reply"')
            changes[key] = tuple((str(k), v) for k, v in table.items())
    for key, value in data.items():
        if key in _RATES:
            changes[key] = parse_rate(str(value))
        elif key in _SETS:
            changes[key] = frozenset(str(v).lower() for v in value)
        elif key in _TUPLES:
            changes[key] = tuple(str(v) for v in value)
        elif key in _SCALARS:
            if isinstance(value, bool) and bool not in _SCALARS[key]:
                raise InvalidRuleError(f"{key}: expected a number, got {value!r}")
            if not isinstance(value, _SCALARS[key]):
                raise InvalidRuleError(
                    f"{key}: expected {_SCALARS[key][0].__name__}, got {value!r}"
                )
            changes[key] = value
        else:
            raise InvalidRuleError(f"unknown key {key!r}")
    if changes.get("block_stage", "connect") not in ("connect", "rcpt"):
        raise InvalidRuleError("block_stage: expected 'connect' or 'rcpt'")
    return dataclasses.replace(base, **changes)
