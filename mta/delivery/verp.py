"""VERP return paths: the recipient, recoverable from where the bounce is sent.

``bounce+alice=example.com@bounces.sender.example`` carries ``alice@example.com``:
the recipient's local part and domain joined by ``=``, after a ``+`` in the
bounce mailbox. A domain never contains ``=``, so decoding splits on the *last*
one; the local part may contain ``+`` or ``=``. ``classifiers`` decodes the same
form (it cannot import this module) and a test holds the two together.
"""

from __future__ import annotations

from mta.errors import InvalidValueError

__all__ = ["decode_verp", "encode_verp"]


def encode_verp(bounce_mailbox: str, recipient: str) -> str:
    """``bounce@b.example`` + ``alice@example.com`` → ``bounce+alice=example.com@b.example``."""
    prefix, sep, bounce_domain = bounce_mailbox.rpartition("@")
    local, at, domain = recipient.rpartition("@")
    if not (sep and at and prefix and local and domain and bounce_domain):
        raise InvalidValueError(f"cannot VERP-encode {recipient!r} into {bounce_mailbox!r}")
    if "+" in prefix:
        raise InvalidValueError(f"the bounce mailbox {bounce_mailbox!r} must not contain '+'")
    return f"{prefix}+{local}={domain.lower()}@{bounce_domain}"


def decode_verp(address: str) -> str:
    """The recipient a VERP return path carries, or ``""`` when it is not one."""
    local_part, at, _bounce_domain = address.strip().strip("<>").rpartition("@")
    prefix, plus, encoded = local_part.partition("+")
    if not (at and plus and prefix and "=" in encoded):
        return ""
    local, _, domain = encoded.rpartition("=")
    if not local or "." not in domain:
        return ""
    return f"{local}@{domain.lower()}"
