"""A message's last steps before the wire, and its first after acceptance (sans-IO).

On acceptance, :func:`stamp` adds the identity headers returned mail is traced
back with — ``X-Acctpipe-Id`` (the spool id), ``X-Acctpipe-Rcpt`` (when the copy
has one recipient) and ``X-Job`` — plus ``Message-ID`` and ``Date`` when the
submitter left them out (RFC 5322 requires Date; receivers penalise mail
without a Message-ID). Before sending, :class:`Signer` adds the DKIM signature
for the vmta's keys and :func:`return_path` applies VERP when asked for.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path

from mta.config.model import Config, DomainKey
from mta.delivery.headers import get_header, header_names, prepend_headers
from mta.delivery.signing import SigningKey, choose_key, load_key, sign
from mta.delivery.verp import encode_verp

__all__ = ["DEFAULT_VMTA", "Signer", "return_path", "stamp"]

DEFAULT_VMTA = "default"  # the queue label of mail sent with top-level settings only


def stamp(
    raw: bytes,
    *,
    spool_id: str,
    recipients: Sequence[str],
    job_id: str | None,
    host_name: str,
    now: datetime,
) -> bytes:
    """``raw`` with our identity headers on top (and Message-ID/Date when missing)."""
    pairs = [("X-Acctpipe-Id", spool_id)]
    if len(recipients) == 1:
        pairs.append(("X-Acctpipe-Rcpt", recipients[0]))
    if job_id:
        pairs.append(("X-Job", job_id))
    present = header_names(raw)  # one pass over the header block, for both checks
    if "message-id" not in present:
        pairs.append(("Message-ID", f"<{spool_id}.{secrets.token_hex(4)}@{host_name}>"))
    if "date" not in present:
        pairs.append(("Date", format_datetime(now)))
    return prepend_headers(raw, pairs)


def return_path(sender: str, recipients: Sequence[str], *, verp: bool) -> str:
    """The envelope sender to use: VERP-encoded for a single recipient when asked."""
    if not verp or len(recipients) != 1 or not sender:
        return sender
    try:
        return encode_verp(sender, recipients[0])
    except ValueError:
        return sender  # a sender VERP cannot carry (e.g. it already has '+'): send as is


class Signer:
    """DKIM keys per vmta (its own ``domain-key`` lines, then the global ones)."""

    def __init__(self, keys: Mapping[str, Sequence[SigningKey]], fallback: Sequence[SigningKey]):
        self._keys = keys
        self._fallback = fallback

    @classmethod
    def from_config(cls, config: Config, base: Path | None = None) -> Signer:
        """Load every key file the config names (a missing or bad file is a ConfigError)."""

        def load(items: Iterable[DomainKey]) -> list[SigningKey]:
            return [load_key(k, base) for k in items]

        glob = load(config.domain_keys)
        per_vmta = {name: load(v.domain_keys) + glob for name, v in config.virtual_mtas.items()}
        return cls(per_vmta, glob)

    def sign(self, raw: bytes, vmta: str) -> bytes:
        """``raw`` signed with the key for its From domain, or unchanged when there is none."""
        keys = self._keys.get(vmta, self._fallback)
        if not keys:
            return raw
        from_header = get_header(raw, "from") or ""
        key = choose_key(keys, from_header)
        if key is None:
            return raw
        domain = from_header.rpartition("@")[2].strip(" >").lower()
        return sign(raw, key, domain or None)
