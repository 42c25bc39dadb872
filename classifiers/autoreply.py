"""Auto-replies (RFC 3834): vacation and out-of-office answers are never bounces.

Signals, strongest first: ``Auto-Submitted: auto-replied`` (RFC 3834 §5), the
de-facto ``X-Autoreply`` / ``X-Autorespond`` / ``X-Autoresponse`` headers,
``Precedence: auto_reply``, Exchange's ``X-Auto-Response-Suppress`` together
with an auto-reply subject, and finally the subject alone in the languages our
users' recipients write in. ``Auto-Submitted: auto-generated`` alone is not
enough: bounces and DSNs carry it too, so the DSN check runs first.
"""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from classifiers._gate import may_contain
from classifiers._mime import decode_header_value

__all__ = ["autoreply_reason"]

_SUBJECT = re.compile(
    r"^\s*(?:"
    r"auto(?:matic)?[ -]?(?:reply|response|answer)|autoreply|auto:|out of (?:the )?office|"
    r"away from (?:my|the) (?:desk|office)|on vacation|vacation (?:reply|notice|message)|"
    r"abwesenheitsnotiz|automatische antwort|abwesend|"  # de
    r"r[ée]ponse automatique|absence|absent du bureau|"  # fr
    r"respuesta autom[áa]tica|fuera de la oficina|ausente|"  # es
    r"risposta automatica|fuori sede|fuori ufficio|assente|"  # it
    r"automatisch antwoord|afwezig|niet aanwezig|"  # nl
    r"resposta autom[áa]tica|fora do escrit[óo]rio|"  # pt
    r"автоответ|автоматический ответ|нет на месте|в отпуске|"  # ru
    r"自動応答|自動返信|不在|外出中|"  # ja
    r"自动回复|休假|自動回覆|自動回复|"  # zh (simplified, traditional)
    r"자동\s?응답|자동\s?회신|부재중|"  # ko
    r"autosvar|automatisk svar|frav[æa]r|"  # da, no, sv
    r"automaattinen vastaus|"  # fi
    r"automatick[áa] odpov[ěe][dď]|mimo kancel[áa][řr]|"  # cs
    r"automatyczna odpowied[źz]|"  # pl
    r"automatikus v[áa]lasz|"  # hu
    r"otomatik yan[\u0131i]t|"  # tr
    r"r[ăa]spuns automat|"  # ro
    r"αυτόματη απάντηση|"  # el
    r"автовідповідь|"  # uk
    r"תשובה אוטומטית|"  # he
    r"رد تلقائي|"  # ar
    r"tr[ảa] l[ờo]i t[ựu] đ[ộo]ng|"  # vi
    r"balasan otomatis"  # id
    r")",
    re.IGNORECASE,
)


# A challenge-response system asks the sender to prove it is a person; it may carry
# Auto-Submitted, but it is a request, not an out-of-office (kind ``unknown``).
_CHALLENGE = re.compile(
    r"confirm (?:that )?you are (?:a )?(?:human|real|person)|"
    r"verify (?:that )?you are (?:a )?(?:real|live|human)|requires? (?:your )?verification|"
    r"verification (?:needed|required|request)|sender verification|challenge[- ]response",
    re.IGNORECASE,
)
_CHALLENGE_SCAN = 2000  # the request is stated at the top
# Every _CHALLENGE match contains one of these (the gate before its scan).
_CHALLENGE_WORDS: Final = ("confirm", "verif", "challenge")


def autoreply_reason(msg: Message) -> str:
    """Why ``msg`` is an auto-reply, or ``""`` when it is not one (nor a challenge)."""
    reason = _signal(msg)
    if reason and _is_challenge(msg):
        return ""
    return reason


def _is_challenge(msg: Message) -> bool:
    """Whether ``msg`` is a challenge-response request (subject or the top of its text)."""
    if _CHALLENGE.search(decode_header_value(msg.get("Subject", ""))):
        return True
    for part in msg.walk():
        if part.get_content_maintype() != "text":
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            return False
        try:
            text = payload[:_CHALLENGE_SCAN].decode(
                part.get_content_charset("utf-8") or "utf-8", "replace"
            )
        except LookupError:
            text = payload[:_CHALLENGE_SCAN].decode("latin-1")
        return may_contain(text, _CHALLENGE_WORDS) and _CHALLENGE.search(text) is not None
    return False


def _signal(msg: Message) -> str:
    """The strongest auto-reply signal of ``msg``, or ``""``."""
    auto = decode_header_value(msg.get("Auto-Submitted", "")).strip().lower()
    if auto.startswith("auto-replied"):
        return "Auto-Submitted: auto-replied (RFC 3834)"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponse"):
        if msg.get(name) is not None:
            return f"{name} header"
    precedence = decode_header_value(msg.get("Precedence", "")).strip().lower()
    if precedence == "auto_reply":
        return "Precedence: auto_reply"
    subject = decode_header_value(msg.get("Subject", ""))
    if _SUBJECT.search(subject):
        if msg.get("X-Auto-Response-Suppress") is not None:
            return "auto-reply subject with X-Auto-Response-Suppress (Exchange)"
        return f"auto-reply subject: {subject.strip()[:60]!r}"
    return ""
