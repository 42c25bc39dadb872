"""Mailbox providers' own notices: the labelled native-language readers (QQ, NetEase,
Naver, Daum, SoftBank), Verizon's gateway without a number, and the generic reader's
Gmail "DNS Error:" line.

Each inline sample is a minimal message in the provider's layout, written for these tests.
"""

from __future__ import annotations

import pytest

from classifiers import classify_message
from classifiers._mime import body_text, parse_bytes
from classifiers.dialects import Finding
from classifiers.dialects._labelled import gloss, read_labelled
from classifiers.dialects.registry import DIALECTS


def _notice(sender: str, body: str, charset: str = "utf-8") -> bytes:
    head = (
        f"From: {sender}\nTo: bounces@bounces.sender.example\nSubject: returned\n"
        f"MIME-Version: 1.0\nContent-Type: text/plain; charset={charset}\n"
        "Content-Transfer-Encoding: 8bit\n\n"
    )
    return head.encode() + body.encode(charset)


def _claims(data: bytes) -> tuple[str, list[Finding]] | None:
    msg = parse_bytes(data)
    text = body_text(msg)
    for dialect in DIALECTS:
        found = dialect.detect(msg, text)
        if found:
            return dialect.name, found
    return None


QQ = (
    "此邮件是由QQ邮箱系统自动发出的退信。\n"
    "收 件 人：li.example@qq.com\n退信原因\n收件人邮箱地址不存在。\n"
)
NETEASE = "您发送的邮件未能成功投递。\n收件人：zhao.example@163.com\n退信原因：对方邮箱已满。\n"
NAVER = (
    "메일이 정상적으로 발송되지 못했습니다.\n받는 사람 : kim.example@naver.com\n"
    "실패 사유 : 받는 사람의 메일 주소가 존재하지 않습니다.\n"
    "서버 응답 : 550 5.1.1 Recipient address rejected: User unknown\n"
)
DAUM = (
    "보내신 메일이 반송되었습니다.\n"
    "받는사람: park.example@hanmail.net\n반송 사유: 휴면 계정입니다.\n"
)
SOFTBANK = (
    "このメールは、以下の宛先に配信できませんでした。\n宛先: <ken@softbank.ne.jp>\n理由: 受信拒否\n"
)


@pytest.mark.parametrize(
    ("sender", "body", "charset", "name", "address", "cls"),
    [
        ("PostMaster@qq.com", QQ, "gb18030", "qq", "li.example@qq.com", "hard"),
        ("postmaster@163.com", NETEASE, "gbk", "netease", "zhao.example@163.com", "soft"),
        ("MAILER-DAEMON@naver.com", NAVER, "euc-kr", "naver", "kim.example@naver.com", "hard"),
        ("MAILER-DAEMON@hanmail.net", DAUM, "utf-8", "daum", "park.example@hanmail.net", "hard"),
        (
            "Postmaster@softbank.ne.jp",
            SOFTBANK,
            "shift_jis",
            "softbank",
            "ken@softbank.ne.jp",
            "spam",
        ),
    ],
)
def test_each_provider_notice_is_read_by_its_plug_in(
    sender: str, body: str, charset: str, name: str, address: str, cls: str
) -> None:
    """The provider's plug-in claims its notice; the native reason decides the class."""
    data = _notice(sender, body, charset)
    claimed = _claims(data)
    assert claimed is not None
    assert claimed[0] == name
    assert [f.address for f in claimed[1]] == [address]
    report = classify_message(data)
    assert [(r.address, r.cls) for r in report.recipients] == [(address, cls)]


def test_a_provider_plug_in_ignores_another_senders_notice() -> None:
    """The same Chinese text from an unrelated sender is not QQ's (the generic reader's)."""
    claimed = _claims(_notice("MAILER-DAEMON@mx.example.com", QQ, "utf-8"))
    assert claimed is None or claimed[0] not in {"qq", "netease"}


def test_the_bracketed_reply_is_the_diagnostic_with_the_gloss_appended() -> None:
    """A reply code line wins over the reason text; the reason's gloss is kept beside it."""
    notice = "收件人：a@qq.com\n退信原因\n邮箱空间已满\n（552 Mailbox quota exceeded）\n"
    found = read_labelled(notice)
    assert found == [Finding("a@qq.com", "552 Mailbox quota exceeded [mailbox full]")]


def test_one_reason_after_several_recipients_is_shared() -> None:
    """Recipients listed one per label, then one reason: every recipient gets it."""
    found = read_labelled("받는사람: a@daum.net\n받는사람: b@kakao.com\n반송 사유: 스팸 차단\n")
    assert [(f.address, f.diag) for f in found] == [
        ("a@daum.net", "스팸 차단 [rejected as spam]"),
        ("b@kakao.com", "스팸 차단 [rejected as spam]"),
    ]


def test_a_reason_line_starting_with_the_recipient_word_is_not_a_recipient_label() -> None:
    """'收件人邮箱地址不存在' (no colon) is a reason, not a new recipient."""
    found = read_labelled("收 件 人：a@qq.com\n退信原因\n收件人邮箱地址不存在\n")
    assert found == [Finding("a@qq.com", "收件人邮箱地址不存在 [user unknown]")]


def test_glosses_cover_chinese_korean_and_fall_back_to_japanese() -> None:
    """Each language's phrase maps to the English the reply rules know."""
    assert gloss("对方邮箱已满") == "mailbox full"
    assert gloss("계정이 휴면 상태") == "account disabled"
    assert gloss("宛先不明") == "user unknown"
    assert gloss("nothing known") == ""


def test_verizon_notice_without_a_number_takes_the_originals_to() -> None:
    """'Error: 554 … spam content' names no number: the returned original's To: does."""
    data = (
        b"From: post_master@vtext.com\nTo: bounces@bounces.sender.example\n"
        b"Subject: Undeliverable Message\n\nMessage could not be delivered to mobile.\n"
        b"Error: 554 5.7.1 Message blocked due to spam content\n\nOriginal message:\n\n"
        b"From: news@sender.example\nTo: <5551230099@vtext.com>\nSubject: hi\n\nhello\n"
    )
    report = classify_message(data)
    assert [(r.address, r.cls) for r in report.recipients] == [("5551230099@vtext.com", "spam")]


def test_gmail_old_dns_error_is_the_diagnostic() -> None:
    """Gmail's old text gives 'DNS Error: … Domain name not found' and no SMTP code."""
    data = (
        b"From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n"
        b"To: bounces@bounces.sender.example\nX-Failed-Recipients: ann@gone.example\n"
        b"Subject: Delivery Status Notification (Failure)\n\n"
        b"Delivery to the following recipient failed permanently:\n\n     ann@gone.example\n\n"
        b"Technical details of permanent failure:\n"
        b"DNS Error: Address resolution of gone.example. failed: Domain name not found\n"
    )
    report = classify_message(data)
    assert [(r.address, r.cls, r.category) for r in report.recipients] == [
        ("ann@gone.example", "hard", "bad-domain")
    ]


def test_docomo_refusal_after_data_is_every_recipients_reply() -> None:
    """No reason line and no reply after RCPT To: the transcript's last error decides."""
    data = (
        "From: Mail Delivery Subsystem <MAILER-DAEMON@mfsmax.docomo.ne.jp>\n"
        "To: bounces@bounces.sender.example\nSubject: Returned mail\n"
        "Content-Type: text/plain; charset=utf-8\n\n"
        "配信できなかったアドレス:\n<yu@docomo.ne.jp>\n\n"
        "   ----- Transcript of session follows -----\n"
        ">>> DATA\n<<< 552 Mailbox full yu@docomo.ne.jp\n"
    ).encode()
    report = classify_message(data)
    assert [(r.address, r.cls, r.category) for r in report.recipients] == [
        ("yu@docomo.ne.jp", "soft", "quota-issues")
    ]
