"""Activehunter (a Japanese mail filter appliance): sendmail V8's layout, its own header.

Shape (text/plain, the returned original inline after the transcript)::

    From: Mail Delivery Subsystem <MAILER-DAEMON@ah.mail.example.jp>
    Subject: Returned mail: User unknown
    X-AHMAILID: 0000071843-20240702182011-0001

      ----- The following addresses had permanent fatal errors -----

    <aki@example.jp>

      ----- Transcript of session follows -----
    550 5.1.1 <aki@example.jp>... User Unknown

The ``X-AHMAILID`` header names the product; the body is read as sendmail's (see
:mod:`classifiers.dialects.sendmail`), so this plug-in only gives those reports
their own name.
"""

from __future__ import annotations

from email.message import Message
from typing import Final

from classifiers.dialects import Finding
from classifiers.dialects._common import has_report_part, notification_text
from classifiers.dialects.sendmail import sendmail_findings

__all__ = ["DIALECT", "ActivehunterDialect"]


class ActivehunterDialect:
    """Activehunter's returned-mail reports (see the module docstring)."""

    name = "activehunter"

    def detect(self, msg: Message, text: str) -> list[Finding] | None:
        """The failed recipients of an Activehunter report, else ``None``."""
        if msg.get("X-AHMAILID") is None or has_report_part(msg):
            return None
        return sendmail_findings(notification_text(msg, text))


DIALECT: Final = ActivehunterDialect()
