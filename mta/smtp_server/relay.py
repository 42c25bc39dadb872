"""Who may send through us: the ``<source>`` rules, decided per SMTP command (sans-IO).

PowerMTA's model: the client's address selects the most specific matching
``<source ADDR/CIDR>``; after SMTP AUTH, the user's ``source {name}`` applies
instead. Relaying needs ``always-allow-relaying`` on the source in force —
otherwise the command is refused with 550 5.7.1, never relayed (no open relay).
Every refusal carries the reply to send and the reason for the reject log.
"""

from __future__ import annotations

import fnmatch
import functools
import ipaddress
from dataclasses import dataclass

from mta.acct.rejectlog import reject_reason
from mta.config.model import Config, Source

__all__ = ["Decision", "check_connect", "check_mail_from", "check_rcpt", "check_size", "source_for"]


@dataclass(frozen=True, slots=True)
class Decision:
    """Accept, or the reply to refuse with and why (for the reject log)."""

    ok: bool
    reply: str = ""
    reason: str = ""
    source: str = ""


# A session asks for its source at connect, EHLO, MAIL and RCPT: parse each address once.
_ip_address = functools.lru_cache(maxsize=4096)(ipaddress.ip_address)


def source_for(config: Config, ip: str, auth_user: str | None = None) -> Source | None:
    """The ``<source>`` in force for a client at ``ip`` (and, once authenticated, its user)."""
    if auth_user is not None:
        user = next((u for u in config.smtp_users if u.name == auth_user), None)
        if user is not None and user.source is not None:
            named = next((s for s in config.sources if s.match == user.source), None)
            if named is not None:
                return named
    try:
        address = _ip_address(ip)
    except ValueError:
        return None
    best: Source | None = None
    for source in config.sources:
        network = source.network
        if network is None or address.version != network.version or address not in network:
            continue
        if best is None or (
            best.network is not None and network.prefixlen > best.network.prefixlen
        ):
            best = source
    return best


def _label(source: Source | None) -> str:
    return f"<source {source.match}>" if source else "no <source> matches"


def check_connect(config: Config, ip: str) -> Decision:
    """May ``ip`` talk SMTP to us at all (``smtp-service``)?"""
    source = source_for(config, ip)
    if source is not None and not source.smtp_service:
        return Decision(
            False,
            "421 4.7.0 Service not available to your address",
            reject_reason("smtp-service no", f"({_label(source)})"),
            source.match,
        )
    return Decision(True, source=source.match if source else "")


def check_mail_from(config: Config, ip: str, auth_user: str | None, sender: str) -> Decision:
    """MAIL FROM: authentication required? sender allowed for this source?"""
    source = source_for(config, ip, auth_user)
    label = _label(source)
    if source is not None and source.require_auth and auth_user is None:
        return Decision(
            False,
            "530 5.7.0 Authentication required",
            reject_reason("require-auth", f"({label})"),
            source.match,
        )
    if source is not None and source.allow_mail_from:
        low = sender.lower()
        if not any(fnmatch.fnmatchcase(low, pattern.lower()) for pattern in source.allow_mail_from):
            return Decision(
                False,
                f"550 5.7.1 Sender <{sender}> not allowed",
                reject_reason("allow-mail-from", f"({label})"),
                source.match,
            )
    return Decision(True, source=source.match if source else "")


def check_rcpt(config: Config, ip: str, auth_user: str | None, recipient: str) -> Decision:
    """RCPT TO: relaying needs ``always-allow-relaying`` on the source in force."""
    del recipient  # every recipient is a relay here: we host no mailboxes
    source = source_for(config, ip, auth_user)
    if source is None or not source.always_allow_relaying:
        who = f"user {auth_user}" if auth_user else f"{ip}"
        return Decision(
            False,
            "550 5.7.1 Relaying denied",
            reject_reason("relaying not allowed", f"for {who} ({_label(source)})"),
            source.match if source else "",
        )
    return Decision(True, source=source.match)


def check_size(config: Config, ip: str, auth_user: str | None, size: int) -> Decision:
    """SIZE / DATA: the message is within ``max-message-size`` for the source."""
    source = source_for(config, ip, auth_user)
    limit = source.max_message_size if source is not None else None
    if limit is not None and size > limit:
        return Decision(
            False,
            f"552 5.3.4 Message size exceeds the limit of {limit} bytes",
            reject_reason("max-message-size", f"({_label(source)})"),
            source.match if source else "",
        )
    return Decision(True, source=source.match if source else "")
