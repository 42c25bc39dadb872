"""Native-language notices that label their fields: Chinese, Korean and Japanese providers.

QQ, NetEase, Naver, Daum and SoftBank return mail with a short notice in their own
language that names each recipient and the reason on labelled lines, for example
(QQ, in GB18030/GBK or UTF-8)::

    很抱歉您发送的邮件被退回，以下是该邮件的相关信息：     ("your mail was returned; details:")
    收 件 人：li.example@qq.com                            ("recipient:")
    退信原因                                               ("reason for the return")
    收件人邮箱地址不存在，请检查地址是否正确。             ("the address does not exist")
    （550 Mailbox not found）

or (Naver, Korean)::

    받는 사람 : kim.example@naver.com                  ("recipient :")
    실패 사유 : 받는 사람의 메일 주소가 존재하지 않습니다.
                                          ("failure reason : the address does not exist")
    서버 응답 : 550 5.1.1 Recipient address rejected   ("server response :")

:func:`read_labelled` reads such a notice: each recipient label starts a block, the
block's SMTP reply (a line with a 4xx/5xx code) is the diagnostic, and without one the
reason text is the diagnostic with an English gloss appended in brackets, so the
English reply rules decide the class. A reason given once for all recipients (before
the first recipient label or after the last block) is shared. The glosses below are
fixed phrases as these systems print them, with a literal translation in the
comment, most specific first.
"""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from classifiers.dialects import Finding
from classifiers.dialects._common import (
    ADDRESS,
    has_report_part,
    header_text,
    lines_before,
    notification_text,
    squash,
)
from classifiers.dialects._japanese import gloss as japanese_gloss
from classifiers.dialects._returned import RETURNED_HEADER

__all__ = ["GLOSSES", "LabelledDialect", "gloss", "read_labelled", "sender_domains"]

GLOSSES: Final[tuple[tuple[str, str], ...]] = (
    # Chinese (QQ, NetEase)
    ("域名不存在", "domain does not exist"),  # "the domain does not exist"
    ("收件人邮箱地址不存在", "user unknown"),  # "the recipient's mailbox address does not exist"
    ("收件人不存在", "user unknown"),  # "the recipient does not exist"
    ("用户不存在", "user unknown"),  # "the user does not exist"
    ("邮箱不存在", "user unknown"),  # "the mailbox does not exist"
    ("地址不存在", "user unknown"),  # "the address does not exist"
    ("已被冻结", "account disabled"),  # "has been frozen"
    ("已停用", "account disabled"),  # "has been deactivated"
    ("已注销", "account disabled"),  # "has been closed"
    ("邮箱已满", "mailbox full"),  # "the mailbox is full"
    ("空间已满", "mailbox full"),  # "the space is full"
    ("空间不足", "mailbox full"),  # "not enough space"
    ("垃圾邮件", "rejected as spam"),  # "spam"
    ("投递超时", "delivery timed out"),  # "delivery timed out"
    ("连接超时", "connection timed out"),  # "connection timed out"
    ("无法连接", "connection timed out"),  # "cannot connect"
    # Korean (Naver, Daum/Kakao)
    ("도메인이 존재하지 않", "domain does not exist"),  # "the domain does not exist"
    ("존재하지 않는", "user unknown"),  # "(an address) that does not exist"
    ("존재하지 않습니다", "user unknown"),  # "does not exist"
    ("휴면", "account disabled"),  # "dormant (account)"
    ("정지된", "account disabled"),  # "suspended"
    ("용량이 초과", "mailbox full"),  # "the capacity is exceeded"
    ("용량 초과", "mailbox full"),  # "capacity exceeded"
    ("가득 찼습니다", "mailbox full"),  # "is full"
    ("스팸", "rejected as spam"),  # "spam"
    ("시간이 초과", "delivery timed out"),  # "the time was exceeded"
)

_RECIPIENT: Final = re.compile(
    r"^\s*(?:收\s*件\s*人|收信人|받는\s*사람|받는이|수신자|宛\s*先|送信先)\s*[:：]\s*(.*)$"
)
_REASON: Final = re.compile(
    r"^\s*(?:退信原因|失败原因|错误原因|原因|실패\s*사유|반송\s*사유|사유|理\s*由|エラー内容)"
    r"\s*[:：]?\s*(.*)$"
)
_REPLY: Final = re.compile(r"(?<![\d.])([45][0-5]\d)(?=[ \t-]|$)")
_ADDRESS: Final = re.compile(ADDRESS)
_END: Final = re.compile(
    rf"{RETURNED_HEADER.pattern}|^\s*-{{2,}}.*(?:原始|原邮件|원본|元の|Original)", re.IGNORECASE
)
_MAX_REASON_LINES: Final = 3


def gloss(text: str) -> str:
    """The English gloss of the first known Chinese, Korean or Japanese phrase, or ``""``."""
    for phrase, english in GLOSSES:
        if phrase in text:
            return english
    return japanese_gloss(text)


def read_labelled(body: str) -> list[Finding]:
    """The recipients of a labelled native-language notice with their diagnostics."""
    lines = lines_before(body, _END)
    blocks: list[tuple[list[str], list[str]]] = []
    shared: list[str] = []
    pending = False  # a recipient label whose addresses are on the next line
    for line in lines:
        m = _RECIPIENT.match(line)
        if m is not None:
            addresses = [a.group(0).strip(".") for a in _ADDRESS.finditer(m.group(1))]
            blocks.append((addresses, []))
            pending = not addresses
            continue
        if pending and line.strip():
            blocks[-1][0].extend(a.group(0).strip(".") for a in _ADDRESS.finditer(line))
            pending = False
            continue
        (blocks[-1][1] if blocks else shared).append(line)
    common = _diagnostic(shared)
    out: dict[str, Finding] = {}
    for addresses, own in blocks:
        diag = _diagnostic(own) or common
        for address in addresses:
            out.setdefault(address.lower(), Finding(address, diag))
    if len(blocks) > 1 and not any(_diagnostic(own) for _, own in blocks[:-1]):
        # One reason after the list of recipients: it is everyone's.
        last = _diagnostic(blocks[-1][1]) or common
        out = {k: Finding(f.address, last) for k, f in out.items()}
    return list(out.values())


def _diagnostic(lines: list[str]) -> str:
    """The SMTP reply in ``lines`` (glossed), else the labelled reason with its gloss."""
    reason = _reason(lines)
    english = gloss(reason or "\n".join(lines))
    for line in lines:
        if (m := _REPLY.search(line)) is not None:
            reply = line[m.start() :].strip().rstrip("）)").strip()
            return f"{reply} [{english}]" if english else reply
    if not reason:
        return f"[{english}]" if english else ""
    return f"{reason} [{english}]" if english else reason


def _reason(lines: list[str]) -> str:
    for i, line in enumerate(lines):
        m = _REASON.match(line)
        if m is None:
            continue
        parts = [m.group(1)]
        for nxt in lines[i + 1 : i + 1 + _MAX_REASON_LINES]:
            if not nxt.strip() or _REASON.match(nxt):
                if parts[-1].strip():
                    break
                continue
            parts.append(nxt)
        return squash(parts)
    return ""


class LabelledDialect:
    """A provider's labelled native-language notice, told by its sender's domain and a
    sentence of its own. The plug-ins ``qq``, ``netease``, ``naver``, ``daum`` and
    ``softbank`` subclass it and set the three class attributes."""

    name: str = ""
    sender: re.Pattern[str] = re.compile(r"(?!)")  # "@…provider domain" in From
    marker: re.Pattern[str] = re.compile(r"(?!)")  # a sentence every notice carries

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The failed recipients of the provider's notice, else ``None``."""
        if has_report_part(msg) or not self.sender.search(header_text(msg, "From")):
            return None
        body = notification_text(msg, text)
        if not self.marker.search(body):
            return None
        return read_labelled(body) or None


def sender_domains(domains: str) -> re.Pattern[str]:
    """A pattern for an address at one of ``domains`` (a regex alternation) or a subdomain."""
    return re.compile(rf"@(?:[\w-]+\.)*(?:{domains})\b", re.IGNORECASE)
