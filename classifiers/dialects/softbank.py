"""SoftBank (softbank.ne.jp, i.softbank.jp): the Japanese returned-mail notice.

Shape (ISO-2022-JP or Shift_JIS text/plain; the original's header follows)::

    From: Postmaster@softbank.ne.jp
    Subject: =?ISO-2022-JP?B?…?=                 ("メール配信エラー": mail delivery error)

    このメールは、以下の宛先に配信できませんでした。   ("could not be delivered to:")
    宛先: <kenta.example@softbank.ne.jp>           ("destination")
    理由: 宛先不明 (550 Unknown user)              ("reason: destination unknown")

Read by :func:`classifiers.dialects._labelled.read_labelled` (the reply in brackets if
any, else the Japanese reason glossed by :mod:`classifiers.dialects._japanese`).
"""

from __future__ import annotations

import re
from typing import Final

from classifiers.dialects._labelled import LabelledDialect, sender_domains

__all__ = ["DIALECT", "SoftBankDialect"]


class SoftBankDialect(LabelledDialect):
    """The softbank notice (see the module docstring)."""

    name = "softbank"
    sender = sender_domains(r"softbank\.ne\.jp|softbank\.jp|disney\.ne\.jp")
    marker = re.compile(r"配信できません|届きませんでした|送信できませんでした|配信に失敗")


DIALECT: Final = SoftBankDialect()
