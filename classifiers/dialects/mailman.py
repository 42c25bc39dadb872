"""Mailman's notice that a post to a list was refused (the list is the failed recipient).

Shape (Mailman 2.1 and 3 share the wording; text/plain, no original attached)::

    From: members-owner@lists.example.net
    Subject: Request to mailing list Members rejected
    X-BeenThere: members@lists.example.net
    List-Post: <mailto:members@lists.example.net>

    Your request to the Members mailing list

        Posting of your message titled "Spring offers"

    has been rejected by the list moderator.  The moderator gave the
    following reason for rejecting your request:

    "Non-members are not allowed to post messages to this list."

    Any questions or comments should be directed to the list administrator
    at:

        members-owner@lists.example.net

Two automatic refusals (no moderator involved) are read too, with the notice's
own sentence as the diagnostic. Mailman 2.1's rejection of a non-member post::

    Subject: Request to mailing list Members rejected

    You are not allowed to post to this mailing list, and your message has
    been automatically rejected.  If you think that your messages are
    being rejected in error, contact the mailing list owner at
    members-owner@lists.example.net.

and Mailman 3's bounce of a post::

    Your message to the team mailing-list was rejected for the following
    reasons:

    The message is not from a list member

The list's posting address is the recipient: the list name when it is an address
(Mailman 3), else ``List-Post``, ``X-BeenThere``, the administrator's address
without its ``-owner``/``-admin`` suffix, or the notice's sender without it. The
diagnostic is "rejected by the list moderator: <the quoted reason>", or "rejected
by the list: <the notice's reason>" for the automatic refusals.
Hold notices ("awaits moderator approval") are not refusals and are left alone.
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
    notification_text,
    squash,
)

__all__ = ["DIALECT", "MailmanDialect"]

_REFUSED: Final = re.compile(
    r"Your request to the\s+(?P<list>\S+(?:\s+\S+)*?)\s+mailing\s+list\s+(?P<request>.*?)"
    r"\s+has been rejected by the list moderator\.?(?P<rest>.*)",
    re.IGNORECASE | re.DOTALL,
)
_AUTO_REJECTED: Final = re.compile(
    r"(?P<reason>You are not allowed to post to this mailing list),?\s+and your message has\s+"
    r"been automatically rejected",
    re.IGNORECASE,
)
_MM3_REJECTED: Final = re.compile(
    r"Your message to the\s+(?P<list>\S+)\s+mailing-list\s+was\s+rejected\s+for\s+the\s+"
    r"following\s+reasons:\s*(?P<reason>.*?)(?:\n\s*\n|The original message|$)",
    re.IGNORECASE | re.DOTALL,
)
_REASON: Final = re.compile(r'rejecting your request:\s*"(?P<reason>.*?)"', re.DOTALL)
_ADMIN: Final = re.compile(
    rf"directed to the list administrator\s+at:\s*<?(?P<admin>{ADDRESS})>?", re.IGNORECASE
)
_OWNER: Final = re.compile(r"-(?:owner|admin|bounces)(?=@)", re.IGNORECASE)
_ADDRESS: Final = re.compile(ADDRESS)
# Mailman sends as the list's owner or bounces address and stamps its own headers; a
# person forwarding the notice does neither.
_LIST_SENDER: Final = re.compile(r"-(?:owner|admin|bounces|request)@|mailman", re.IGNORECASE)


class MailmanDialect:
    """Mailman's refusal of a post (see the module docstring)."""

    name = "mailman"

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The refused list address of a Mailman refusal notice, else ``None``."""
        if has_report_part(msg) or not _from_list(msg):
            return None
        notice = notification_text(msg, text)
        m = _REFUSED.search(notice)
        if m is None:
            return _automatic_refusal(msg, notice)
        address = _list_address(msg, m.group("list"), m.group("rest"))
        if not address:
            return None
        reason = _REASON.search(m.group("rest"))
        # The moderator's reason is free text; the fixed phrase before it is what the
        # rule table knows ("mailing-list-refused").
        why = squash([reason.group("reason")]) if reason else ""
        return [Finding(address, f"rejected by the list moderator: {why}".rstrip(": "))]


def _automatic_refusal(msg: Message, notice: str) -> list[Finding] | None:
    """Mailman 2's automatic non-member rejection or Mailman 3's rejection, else ``None``."""
    if (auto := _AUTO_REJECTED.search(notice)) is not None:
        listname, reason = "", auto.group("reason")
    elif (mm3 := _MM3_REJECTED.search(notice)) is not None:
        listname, reason = mm3.group("list"), mm3.group("reason")
    else:
        return None
    address = _list_address(msg, listname, notice)
    if not address:
        return None
    return [Finding(address, f"rejected by the list: {squash([reason])}".rstrip(": "))]


def _from_list(msg: Message) -> bool:
    if "X-Mailman-Version" in msg or "X-List-Administrivia" in msg:
        return True
    return bool(_LIST_SENDER.search(header_text(msg, "From")))


def _list_address(msg: Message, listname: str, rest: str) -> str:
    if (m := _ADDRESS.fullmatch(listname.strip())) is not None:
        return m.group(0)
    for name in ("List-Post", "X-BeenThere"):
        if (m := _ADDRESS.search(header_text(msg, name).replace("mailto:", " "))) is not None:
            return m.group(0).strip("<>")
    if (admin := _ADMIN.search(rest)) is not None and _OWNER.search(admin.group("admin")):
        return _OWNER.sub("", admin.group("admin"))
    sender = _ADDRESS.search(header_text(msg, "From"))
    if sender is not None and _OWNER.search(sender.group(0)):
        return _OWNER.sub("", sender.group(0))
    return ""


DIALECT: Final = MailmanDialect()
