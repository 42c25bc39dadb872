"""QQ Mail and Tencent Exmail (qq.com, foxmail.com): the Chinese "系统退信" notice.

Shape (text/plain or text/html, GB18030/GBK or UTF-8, often base64; the original follows)::

    From: =?gb18030?B?z7XNs83Led7F?= <PostMaster@qq.com>       ("系统退信": system return)
    Subject: =?gb18030?B?…?=                                     ("退信": returned mail)

    此邮件是由QQ邮箱系统自动发出的退信，请勿回复。
    很抱歉您发送的邮件被退回，以下是该邮件的相关信息：      ("your mail was returned:")
    主　　题：Your October offers                               ("subject")
    收 件 人：li.example@qq.com                                 ("recipient")
    退信原因                                                    ("reason for the return")
    收件人邮箱地址不存在，请检查地址是否正确。                 ("the address does not exist")
    （550 Mailbox not found）

Read by :func:`classifiers.dialects._labelled.read_labelled`: the reply in brackets is
the diagnostic when there is one, otherwise the Chinese reason glossed in English.
"""

from __future__ import annotations

import re
from typing import Final

from classifiers.dialects._labelled import LabelledDialect, sender_domains

__all__ = ["DIALECT", "QQDialect"]


class QQDialect(LabelledDialect):
    """The qq notice (see the module docstring)."""

    name = "qq"
    sender = sender_domains(r"qq\.com|foxmail\.com")
    marker = re.compile(r"退信|被退回|未能(?:成功)?(?:发送|投递|送达)")


DIALECT: Final = QQDialect()
