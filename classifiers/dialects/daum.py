"""Daum / Kakao mail (daum.net, hanmail.net, kakao.com): the Korean returned-mail notice.

Shape (UTF-8 quoted-printable or EUC-KR; the original follows)::

    From: Mail Delivery System <MAILER-DAEMON@hanmail.net>
    Subject: =?EUC-KR?B?…?=                    ("메일이 반송되었습니다": the mail was returned)

    보내신 메일이 아래의 사유로 반송되었습니다.   ("your mail was returned for this reason")
    받는사람: park.example@hanmail.net            ("recipient")
    반송 사유: 수신자의 메일함 용량이 초과되었습니다.   ("reason: the mailbox capacity is exceeded")

Read by :func:`classifiers.dialects._labelled.read_labelled` (a quoted server reply if
any, else the Korean reason glossed in English).
"""

from __future__ import annotations

import re
from typing import Final

from classifiers.dialects._labelled import LabelledDialect, sender_domains

__all__ = ["DIALECT", "DaumDialect"]


class DaumDialect(LabelledDialect):
    """The daum notice (see the module docstring)."""

    name = "daum"
    sender = sender_domains(r"daum\.net|hanmail\.net|kakao\.com|kakaocorp\.com")
    marker = re.compile(r"반송|발송\s*실패|전달되지\s*못")


DIALECT: Final = DaumDialect()
