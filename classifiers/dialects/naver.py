"""Naver Mail (naver.com, Naver Works): the Korean "메일 발송 실패" notice.

Shape (UTF-8 or EUC-KR text/plain or text/html; the original follows)::

    From: MAILER-DAEMON@naver.com
    Subject: =?UTF-8?B?…?=                     ("[메일 발송 실패]": mail sending failed)

    메일이 정상적으로 발송되지 못했습니다.     ("the mail could not be sent")
    받는 사람 : kim.example@naver.com           ("recipient")
    실패 사유 : 받는 사람의 메일 주소가 존재하지 않습니다.   ("reason: the address does not exist")
    서버 응답 : 550 5.1.1 Recipient address rejected: User unknown   ("server response")

Read by :func:`classifiers.dialects._labelled.read_labelled` (the server's reply if
given, else the Korean reason glossed in English).
"""

from __future__ import annotations

import re
from typing import Final

from classifiers.dialects._labelled import LabelledDialect, sender_domains

__all__ = ["DIALECT", "NaverDialect"]


class NaverDialect(LabelledDialect):
    """The naver notice (see the module docstring)."""

    name = "naver"
    sender = sender_domains(r"naver\.com|navercorp\.com|worksmobile\.com")
    marker = re.compile(r"발송\s*실패|발송되지\s*못|전달되지\s*못|반송")


DIALECT: Final = NaverDialect()
