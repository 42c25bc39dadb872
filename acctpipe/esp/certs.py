"""Where SNS signing certificates come from: allowed hosts, or certificates pinned locally.

Two trust roots, either or both configured (:class:`~acctpipe.esp.settings.EspSettings`):

* **Pinned certificates** (a PEM file or a directory of ``*.pem``/``*.crt``): a
  message verified by one of them is authentic; nothing is fetched.
* **Allowed hosts**: the ``SigningCertURL`` is fetched when its host matches a
  pattern, where ``*`` stands for exactly one DNS label — ``sns.*.amazonaws.com``
  takes ``sns.eu-west-1.amazonaws.com`` but not ``sns.bucket.s3.amazonaws.com``
  (an S3 bucket anyone can create). HTTPS is required, except from a loopback
  address (tests and a local mirror). No redirects; at most 64 KiB; cached per URL.
"""

from __future__ import annotations

import asyncio
import fnmatch
import ipaddress
from collections import OrderedDict
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import httpx
from cryptography import x509

from acctpipe.esp._reject import RejectedError
from mta.errors import BadFormatError

__all__ = ["CertificateSource", "host_allowed", "load_pinned"]

_MAX_CERT_BYTES: Final = 64 * 1024
_CACHE: Final = 64


def host_allowed(host: str, patterns: tuple[str, ...]) -> bool:
    """Whether ``host`` matches a pattern label by label (``*`` is one whole label or part)."""
    labels = host.lower().rstrip(".").split(".")
    for pattern in patterns:
        wanted = pattern.lower().rstrip(".").split(".")
        if len(wanted) == len(labels) and all(
            fnmatch.fnmatchcase(label, want) for label, want in zip(labels, wanted, strict=True)
        ):
            return True
    return False


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_pinned(path: Path | None) -> tuple[x509.Certificate, ...]:
    """The certificates in a PEM file, or in every ``*.pem``/``*.crt`` of a directory."""
    if path is None:
        return ()
    files = (
        sorted(p for p in path.iterdir() if p.suffix in (".pem", ".crt"))
        if path.is_dir()
        else [path]
    )
    found: list[x509.Certificate] = []
    for file in files:
        try:
            found.extend(x509.load_pem_x509_certificates(file.read_bytes()))
        except (OSError, ValueError) as exc:
            raise BadFormatError(
                f"{file}: no SNS signing certificate could be read ({exc})"
            ) from exc
    return tuple(found)


class CertificateSource:
    """Certificates for SigningCertURLs from the allowed hosts, fetched once each.

    ``client`` is the HTTP client used (injectable; by default one made here
    without redirects, with ``timeout``). A fetch that fails is not cached.
    """

    def __init__(
        self,
        hosts: tuple[str, ...],
        *,
        timeout: float = 5.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.hosts = hosts
        self._client = client or httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._cache: OrderedDict[str, x509.Certificate] = OrderedDict()
        self._lock = asyncio.Lock()

    def check_url(self, url: str) -> None:
        """Raise 403 unless ``url`` is HTTPS (or loopback HTTP) on an allowed host."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if not host or not host_allowed(host, self.hosts):
            raise RejectedError(403, f"SigningCertURL host {host!r} is not an allowed SNS host")
        if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(host)):
            raise RejectedError(403, "SigningCertURL must be https")

    async def get(self, url: str) -> x509.Certificate:
        """The certificate at ``url`` (allowed host checked first), or 403."""
        self.check_url(url)
        if (cert := self._cache.get(url)) is not None:
            return cert
        async with self._lock:
            if (cert := self._cache.get(url)) is not None:
                return cert
            try:
                response = await self._client.get(url)
            except httpx.HTTPError as exc:
                raise RejectedError(
                    403, f"cannot fetch the SNS signing certificate: {type(exc).__name__}"
                ) from exc
            if response.status_code != 200 or len(response.content) > _MAX_CERT_BYTES:
                raise RejectedError(
                    403, f"cannot fetch the SNS signing certificate: HTTP {response.status_code}"
                )
            try:
                cert = x509.load_pem_x509_certificate(response.content)
            except ValueError as exc:
                raise RejectedError(403, "the SigningCertURL holds no PEM certificate") from exc
            self._cache[url] = cert
            while len(self._cache) > _CACHE:
                self._cache.popitem(last=False)
            return cert

    async def get_url(self, url: str) -> int:
        """GET ``url`` (an SNS SubscribeURL, host checked like a certificate's); the status."""
        self.check_url(url)
        response = await self._client.get(url)
        return response.status_code

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
