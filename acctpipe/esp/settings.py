"""What ESP notifications posted to the API need: where records go, limits, trust roots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["DEFAULT_SNS_CERT_HOSTS", "EspSettings"]

DEFAULT_SNS_CERT_HOSTS: Final = ("sns.*.amazonaws.com",)
"""Where SNS signing certificates may come from: ``*`` is one DNS label (a region)."""


@dataclass(frozen=True, slots=True)
class EspSettings:
    """``POST /v1/esp/{provider}``: the accounting directory, limits and what is trusted.

    ``directory`` receives ``PREFIX.csv`` (rotated to ``PREFIX-YYYY-MM-DD-HHMMSS.csv``);
    it must be one the tailer follows. The SNS trust roots are
    ``sns_cert_hosts`` (a signing certificate is fetched over HTTPS from a host
    matching one of these patterns; plain HTTP only from a loopback address)
    and ``sns_certs`` (a PEM file or a directory of them: certificates trusted
    as they are, fetched from nowhere). ``sns_topics``, when not empty, lists
    the only TopicArns accepted. Webhook keys: a configured key makes its
    provider's signature mandatory.
    """

    directory: Path
    prefix: str = "esp-acct"
    max_bytes: int = 32 << 20  # a request body over this is refused (413)
    max_events: int = 100_000  # events in one request; more is refused (413)
    max_size: int = 64 << 20  # the live file rotates at this size
    dedupe_window: int = 200_000  # notification ids remembered (also across restarts)
    sns_cert_hosts: tuple[str, ...] = DEFAULT_SNS_CERT_HOSTS
    sns_certs: Path | None = None
    sns_topics: tuple[str, ...] = ()
    sns_max_age: float = 3600.0  # seconds a signed SNS message stays acceptable
    sns_confirm: bool = False  # GET the SubscribeURL ourselves (else: record it for the operator)
    sendgrid_public_key: str | None = None  # base64 DER or PEM (the Event Webhook's key)
    mailgun_signing_key: str | None = None  # the HTTP webhook signing key
    webhook_max_age: float = 900.0  # seconds a signed Mailgun/SendGrid timestamp stays good
    cert_timeout: float = 5.0  # seconds to fetch a signing certificate
