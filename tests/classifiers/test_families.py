# ruff: noqa: E501 - FAMILIES is a table: one family per line reads best
"""Every system a sender meets has samples in the corpus and a reader that claims it.

FAMILIES is the list of issue 15: each family, the corpus folders holding its
samples, and what reads it — a dialect plug-in (``dialect:NAME``), an ESP reader
(``esp:NAME``), provider rules of the reply table (``rules:PREFIX`` — its replies
come inside standard DSNs) or the RFC 3464 / RFC 5965 parsers. docs/corpus.md
shows the same table; a test keeps the two together.
"""

from __future__ import annotations

import pytest

from classifiers.dialects.registry import DIALECTS
from classifiers.esp import mailgun, mandrill, postmark, sendgrid, ses, sparkpost
from classifiers.reply import default_table
from tests._paths import ROOT

MAIL = ROOT / "tests" / "data" / "mail"
DOC = ROOT / "docs" / "corpus.md"
MIN_SAMPLES = 5

FAMILIES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("Postfix", ("dsn-postfix", "postfix-nodsn", "postfix-real"), ("rfc3464", "dialect:postfix", "rules:postfix")),
    ("Sendmail V8 and V5", ("dsn-sendmail", "sendmail-v8-nodsn", "sendmail-v5", "sendmail-real"), ("rfc3464", "dialect:sendmail")),
    ("Exim 3 and 4", ("dsn-exim", "exim-nodsn", "exim-real"), ("rfc3464", "dialect:exim", "rules:exim")),
    ("qmail, netqmail, vpopmail", ("qmail",), ("dialect:qmail", "rules:qmail")),
    ("Courier", ("courier", "courier-real"), ("rfc3464",)),
    ("OpenSMTPD", ("opensmtpd", "opensmtpd-real"), ("rfc3464", "dialect:opensmtpd")),
    ("DragonFly Mail Agent", ("dma", "dma-real"), ("dialect:dma",)),
    ("Exchange 2000/2003", ("exchange2003-legacy",), ("dialect:exchange2003",)),
    ("Exchange 2007+", ("exchange-ndr", "dsn-exchange2016"), ("rfc3464", "dialect:exchange-ndr", "rules:microsoft")),
    ("Office 365 / Outlook.com", ("outlook-com", "arf-jmrp"), ("rfc3464", "dialect:exchange-ndr", "rules:microsoft", "arf")),
    ("Lotus Notes / Domino", ("lotus-domino",), ("dialect:lotus-domino", "rules:domino")),
    ("GroupWise", ("groupwise",), ("dialect:groupwise",)),
    ("MDaemon", ("mdaemon",), ("dialect:mdaemon",)),
    ("IMail", ("imail",), ("dialect:imail", "rules:imail")),
    ("Oracle / Sun Messaging Server", ("oracle-messaging",), ("rfc3464", "dialect:oracle-messaging", "rules:iplanet")),
    ("Zimbra", ("zimbra",), ("rfc3464",)),
    ("Kerio Connect", ("kerio",), ("rfc3464",)),
    ("Gmail", ("gmail",), ("rfc3464", "rules:gmail")),
    ("Google Workspace", ("google-workspace",), ("rfc3464", "rules:gmail")),
    ("Yahoo", ("yahoo", "arf-yahoo"), ("rfc3464", "dialect:yahoo", "rules:yahoo", "arf")),
    ("AOL", ("aol", "arf-aol"), ("rfc3464", "dialect:yahoo", "rules:aol", "arf")),
    ("Apple iCloud", ("apple-icloud", "apple-unsubscribe"), ("rfc3464", "rules:apple")),
    ("Comcast", ("comcast", "arf-comcast"), ("rfc3464", "rules:comcast", "arf")),
    ("Verizon", ("verizon",), ("dialect:verizon",)),
    ("Cox", ("cox",), ("rfc3464", "rules:cox")),
    ("GoDaddy", ("godaddy",), ("rfc3464",)),
    ("IONOS / 1&1", ("ionos",), ("rfc3464",)),
    ("GMX", ("gmx",), ("rfc3464", "rules:gmx")),
    ("Web.de", ("webde",), ("rfc3464", "rules:gmx")),
    ("Mail.ru", ("mailru", "arf-mailru"), ("rfc3464", "rules:mailru", "arf")),
    ("Yandex", ("yandex", "arf-yandex"), ("rfc3464", "rules:yandex", "arf")),
    ("Orange", ("orange",), ("rfc3464", "rules:orange")),
    ("Free", ("free-fr",), ("rfc3464", "rules:free")),
    ("QQ", ("qq",), ("dialect:qq", "rules:qq")),
    ("NetEase (163/126)", ("netease",), ("dialect:netease", "rules:netease")),
    ("Naver", ("naver",), ("dialect:naver",)),
    ("Daum", ("daum",), ("dialect:daum",)),
    ("docomo", ("japanese-docomo",), ("dialect:docomo",)),
    ("au / KDDI / EZweb", ("japanese-au-kddi",), ("dialect:au-kddi",)),
    ("SoftBank", ("softbank",), ("dialect:softbank",)),
    ("Amazon SES", ("amazon-ses",), ("rfc3464", "esp:amazon-ses")),
    ("Amazon WorkMail", ("amazon-workmail",), ("dialect:amazon-workmail",)),
    ("SendGrid", ("sendgrid", "sendgrid-like"), ("esp:sendgrid",)),
    ("Mailgun", ("mailgun",), ("esp:mailgun",)),
    ("Postmark", ("postmark",), ("esp:postmark",)),
    ("SparkPost", ("sparkpost",), ("esp:sparkpost",)),
    ("Mandrill", ("mandrill",), ("esp:mandrill",)),
    ("Zoho", ("zoho",), ("rfc3464",)),
    ("Barracuda", ("barracuda",), ("rfc3464", "rules:barracuda")),
    ("Proofpoint", ("proofpoint",), ("rfc3464", "rules:proofpoint")),
    ("Mimecast", ("mimecast",), ("rfc3464", "rules:mimecast")),
    ("Symantec MessageLabs", ("messagelabs",), ("rfc3464", "rules:messagelabs", "rules:symantec")),
    ("McAfee / MXLogic", ("mxlogic",), ("rfc3464",)),
    ("Trend Micro InterScan", ("trend-micro",), ("rfc3464", "rules:trendmicro")),
    ("Sophos", ("sophos",), ("rfc3464",)),
    ("Cisco IronPort", ("ironport",), ("rfc3464", "rules:ironport")),
    ("SurfControl", ("surfcontrol",), ("dialect:surfcontrol",)),
    ("m-FILTER", ("mfilter",), ("dialect:mfilter",)),
    ("Activehunter", ("activehunter",), ("dialect:activehunter",)),
    ("FML", ("fml",), ("dialect:fml",)),
    ("Mailman", ("mailman",), ("dialect:mailman",)),
    ("ezmlm", ("ezmlm",), ("dialect:qmail",)),
)  # fmt: skip

_ESP = {m.DETECTOR for m in (ses, sendgrid, mailgun, postmark, sparkpost, mandrill)}
_DIALECTS = {d.name for d in DIALECTS}
_RULE_IDS = [rule.id for rule in default_table().rules]


def _samples(folders: tuple[str, ...]) -> int:
    return sum(len(list((MAIL / f).glob("*.eml"))) for f in folders)


def _reader_exists(reader: str) -> bool:
    kind, _, name = reader.partition(":")
    if kind == "dialect":
        return name in _DIALECTS
    if kind == "esp":
        return name in _ESP
    if kind == "rules":
        return any(i == name or i.startswith(f"{name}-") for i in _RULE_IDS)
    return kind in ("rfc3464", "arf")


def markdown_table() -> str:
    """The table docs/corpus.md shows (python -m tests.classifiers.test_families prints it)."""
    lines = ["| family | corpus folders | read by |", "| --- | --- | --- |"]
    for family, folders, readers in FAMILIES:
        shown = ", ".join(f"`{r}`" for r in readers)
        lines.append(f"| {family} | {', '.join(f'`{f}/`' for f in folders)} | {shown} |")
    return "\n".join(lines)


@pytest.mark.parametrize(("family", "folders", "readers"), FAMILIES, ids=[f[0] for f in FAMILIES])
def test_every_family_has_samples_and_an_existing_reader(
    family: str, folders: tuple[str, ...], readers: tuple[str, ...]
) -> None:
    """At least MIN_SAMPLES messages in its folders; every named reader exists."""
    assert _samples(folders) >= MIN_SAMPLES, f"{family}: {_samples(folders)} samples"
    missing = [r for r in readers if not _reader_exists(r)]
    assert not missing, f"{family}: no such reader {missing}"


def test_the_documented_table_is_this_one() -> None:
    """docs/corpus.md shows FAMILIES as they are here."""
    assert markdown_table() in DOC.read_text(encoding="utf-8")


def test_the_corpus_has_700_messages_from_60_families() -> None:
    """Issue 15's floor: at least 700 messages, at least 60 families with samples."""
    assert len(list(MAIL.rglob("*.eml"))) >= 700
    assert len(FAMILIES) >= 60


if __name__ == "__main__":
    print(markdown_table())
