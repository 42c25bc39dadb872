"""The ordered list of dialect plug-ins (most specific first).

Plug-ins keyed on a vendor header or a single sender (MDaemon's ``X-MDDSN-Message``,
GroupWise's ``X-Mailer``, docomo's host, Yahoo's opening sentence) come before the
ones keyed on boilerplate that other software borrowed (qmail's block format,
Postfix's and Exim's openings). Activehunter (``X-AHMAILID``) and docomo write
sendmail's layout, so the generic sendmail plug-in comes last, after them. Every
plug-in refuses a message that carries a standard report part, so the order only
matters among non-standard bounces.
"""

from __future__ import annotations

from classifiers.dialects import (
    Dialect,
    activehunter,
    au_kddi,
    dma,
    docomo,
    exchange_legacy,
    exim,
    fml,
    groupwise,
    lotus,
    mdaemon,
    mfilter,
    opensmtpd,
    postfix,
    qmail,
    sendmail,
    verizon,
    workmail,
    yahoo,
)

__all__ = ["DIALECTS"]

DIALECTS: tuple[Dialect, ...] = (
    mdaemon.DIALECT,
    activehunter.DIALECT,
    fml.DIALECT,
    groupwise.DIALECT,
    dma.DIALECT,
    workmail.DIALECT,
    mfilter.DIALECT,
    verizon.DIALECT,
    opensmtpd.DIALECT,
    lotus.DIALECT,
    exchange_legacy.DIALECT,
    docomo.DIALECT,
    au_kddi.DIALECT,
    yahoo.DIALECT,
    qmail.DIALECT,
    postfix.DIALECT,
    exim.DIALECT,
    sendmail.DIALECT,
)
