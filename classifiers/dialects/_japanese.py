"""Fixed Japanese phrases of bounces (mobile carriers, Domino), glossed in English for the rules.

The reply rule table is written in English. NTT docomo and au (KDDI) usually quote
an English SMTP reply ("550 Unknown user"), but some of their notices give the
reason only in Japanese. Each entry below is a phrase as the carriers print it,
with a literal translation in the comment, and the English wording the rule table
already knows. More specific phrases come first; the generic opening sentences
("…配信できませんでした" — "could not be delivered") are deliberately absent, as
they say nothing about why.
"""

from __future__ import annotations

from typing import Final

__all__ = ["GLOSSES", "gloss", "with_gloss"]

GLOSSES: Final[tuple[tuple[str, str], ...]] = (
    ("ドメインが存在しません", "domain does not exist"),  # "the domain does not exist"
    ("存在しないメールアドレス", "address does not exist"),  # "a mail address that does not exist"
    ("アドレスは存在しません", "address does not exist"),  # "the address does not exist"
    ("宛先不明", "user unknown"),  # "destination unknown"
    ("受信拒否", "rejected by the recipient's reception settings"),  # "reception refused"
    ("容量超過", "mailbox full"),  # "capacity exceeded"
    ("容量オーバー", "mailbox full"),  # "capacity over"
    ("メールボックスがいっぱい", "mailbox full"),  # "the mailbox is full"
    # Lotus Domino's Japanese router reasons: "not listed / not registered in the directory"
    ("ディレクトリにリストされていません", "not listed in Domino Directory"),
    ("ディレクトリに登録されていません", "not listed in Domino Directory"),
)


def gloss(text: str) -> str:
    """The English gloss of the first known phrase in ``text``, ``""`` when none is there."""
    for phrase, english in GLOSSES:
        if phrase in text:
            return english
    return ""


def with_gloss(diag: str) -> str:
    """``diag`` with the gloss of a Japanese phrase in it appended in brackets.

    The original text stays first, so a leading reply code is still read as one.
    """
    english = gloss(diag)
    return f"{diag} [{english}]" if english else diag
