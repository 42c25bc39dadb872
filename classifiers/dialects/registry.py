"""The ordered list of dialect plug-ins (most specific first).

Plug-ins keyed on a vendor header or a single sender (MDaemon's ``X-MDDSN-Message``,
GroupWise's ``X-Mailer``, docomo's host, Yahoo's opening sentence) come before the
ones keyed on boilerplate that other software borrowed (qmail's block format,
Postfix's and Exim's openings). Every plug-in refuses a message that carries a
standard report part, so the order only matters among non-standard bounces.
``generic`` reads any vendor's human text ("addr: 550 …", "Remote host said:",
X-Failed-Recipients, quoted transcripts), so it must stay last: a vendor plug-in
knows its own layout better.
"""

from __future__ import annotations

from classifiers.dialects import (
    Dialect,
    au_kddi,
    docomo,
    exchange_legacy,
    exchange_ndr,
    exim,
    generic,
    groupwise,
    imail,
    lotus,
    mailman,
    mdaemon,
    postfix,
    qmail,
    sun_messaging,
    surfcontrol,
    yahoo,
)

__all__ = ["DIALECTS"]

DIALECTS: tuple[Dialect, ...] = (
    mdaemon.DIALECT,
    groupwise.DIALECT,
    lotus.DIALECT,
    exchange_legacy.DIALECT,
    exchange_ndr.DIALECT,
    docomo.DIALECT,
    au_kddi.DIALECT,
    imail.DIALECT,
    surfcontrol.DIALECT,
    sun_messaging.DIALECT,
    mailman.DIALECT,
    yahoo.DIALECT,
    qmail.DIALECT,
    postfix.DIALECT,
    exim.DIALECT,
    generic.DIALECT,  # always last: any vendor's human text, before flufl.bounce
)
