"""Credentials in URLs are never shown: one function for every URL we display or log.

A webhook URL (or an MTA management URL) may carry a user name and password
(``https://user:pass@crm.example/hooks``) that the receiver needs. We keep them
to make the request, and show the URL everywhere else — CLI output, API
responses, stored error texts, logs — with its userinfo replaced by ``***``.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["redact_url", "split_userinfo"]

# RFC 3986 §3.1-3.2: scheme ":" "//" [ userinfo "@" ] host …; userinfo holds no "/",
# "?", "#" or "@" (an "@" in a password must be percent-encoded). Lenient: any text
# between "//" and the last "@" before the path counts, so a raw "@" leaks nothing;
# only ASCII white space ends a URL (a password may hold any other character).
_USERINFO: Final = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s]*@", re.ASCII)


def redact_url(text: str) -> str:
    """``text`` with the userinfo of every URL in it replaced by ``***``.

    >>> redact_url("https://crm:s3cret@crm.example/hooks?a=b")
    'https://***@crm.example/hooks?a=b'
    >>> redact_url("no answer from http://u:p@127.0.0.1:9/hook: refused")
    'no answer from http://***@127.0.0.1:9/hook: refused'
    """
    return _USERINFO.sub(r"\g<scheme>***@", text)


def split_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """``url`` without its userinfo, and the (user, password) it held, percent-decoded.

    Requests go to the bare URL with the pair as HTTP Basic credentials, so no
    client library can log or echo the password as part of the URL.

    >>> split_userinfo("https://crm:p%40ss@crm.example/hooks")
    ('https://crm.example/hooks', ('crm', 'p@ss'))
    """
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return url, None
    user, _, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=host)), (unquote(user), unquote(password))
