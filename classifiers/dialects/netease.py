"""NetEase mail (163.com, 126.com, yeah.net, 188.com): the Chinese "系统退信" notice.

Shape (GB2312/GBK or UTF-8, base64 or quoted-printable; the original is attached)::

    From: =?GB2312?B?zfjS18rVvP7W0NDE?= <postmaster@163.com>    ("网易邮件中心")
    Subject: =?GB2312?B?z7XNs83Led7F?=                           ("系统退信")

    您好，您发送的邮件未能成功投递。                            ("your mail could not be delivered")
    收件人：zhao.example@163.com                                ("recipient")
    退信原因：对方邮箱已满，无法接收新邮件。                    ("reason: the mailbox is full")
    错误代码：552 Requested mail action aborted: exceeded mailsize limit

Read by :func:`classifiers.dialects._labelled.read_labelled` (the reply line if any,
else the Chinese reason glossed in English).
"""

from __future__ import annotations

import re
from typing import Final

from classifiers.dialects._labelled import LabelledDialect, sender_domains

__all__ = ["DIALECT", "NetEaseDialect"]


class NetEaseDialect(LabelledDialect):
    """The netease notice (see the module docstring)."""

    name = "netease"
    sender = sender_domains(r"163\.com|126\.com|yeah\.net|188\.com|163\.net|netease\.com")
    marker = re.compile(r"退信|被退回|未能(?:成功)?(?:发送|投递|送达)")


DIALECT: Final = NetEaseDialect()
