"""The ordered list of dialect plug-ins (most specific first).

Plug-ins keyed on a vendor header or a single sender (MDaemon's ``X-MDDSN-Message``,
GroupWise's ``X-Mailer``, docomo's host, Yahoo's opening sentence, the labelled native-language
notices of SoftBank, QQ, NetEase, Naver and Daum keyed on their sender's domain) come before the
ones keyed on boilerplate that other software borrowed (qmail's block format,
Postfix's and Exim's openings). Activehunter (``X-AHMAILID``) and docomo write
sendmail's layout, so the sendmail plug-in comes after them and after every other
vendor plug-in. Every plug-in refuses a message that carries a standard report part,
so the order only matters among non-standard bounces. ``generic`` reads any vendor's
human text ("addr: 550 …", "Remote host said:", X-Failed-Recipients, quoted
transcripts), so it must stay last: a vendor plug-in knows its own layout better.
"""

from __future__ import annotations

from classifiers.dialects import (
    Dialect,
    activehunter,
    au_kddi,
    daum,
    dma,
    docomo,
    exchange_legacy,
    exchange_ndr,
    exim,
    fml,
    generic,
    groupwise,
    imail,
    lotus,
    mailman,
    mdaemon,
    mfilter,
    naver,
    netease,
    opensmtpd,
    postfix,
    qmail,
    qq,
    sendmail,
    softbank,
    sun_messaging,
    surfcontrol,
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
    exchange_ndr.DIALECT,
    docomo.DIALECT,
    au_kddi.DIALECT,
    softbank.DIALECT,
    qq.DIALECT,
    netease.DIALECT,
    naver.DIALECT,
    daum.DIALECT,
    imail.DIALECT,
    surfcontrol.DIALECT,
    sun_messaging.DIALECT,
    mailman.DIALECT,
    yahoo.DIALECT,
    qmail.DIALECT,
    postfix.DIALECT,
    exim.DIALECT,
    sendmail.DIALECT,
    generic.DIALECT,  # always last: any vendor's human text, before flufl.bounce
)
