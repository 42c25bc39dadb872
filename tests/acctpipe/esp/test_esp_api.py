"""POST /v1/esp/{provider}: ESP notifications become rb/f rows the tailer ingests, once each."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from acctpipe.esp import EspSettings
from acctpipe.esp.certs import host_allowed
from acctpipe.eventstore import Store
from acctpipe.ingest import Loader
from tests.acctpipe.esp import samples
from tests.acctpipe.esp._signing import (
    CERT_PEM,
    TOPIC,
    CertServer,
    mailgun_signature,
    sendgrid_headers,
    sendgrid_public_key,
    sns_envelope,
)
from tests.acctpipe.esp.conftest import Api


def _rows(settings: EspSettings) -> list[str]:
    path = settings.directory / f"{settings.prefix}.csv"
    return path.read_text(encoding="utf-8").splitlines()[1:] if path.exists() else []


def _ingest(settings: EspSettings, tmp_path: Path) -> list[tuple[object, ...]]:
    store = Store.open(tmp_path / "events.duckdb")
    try:
        Loader(store).load(settings.directory / f"{settings.prefix}.csv")
        return store.conn.execute(
            "SELECT type, rcpt, bounce_class, fault, feedback_type, format, extra"
            " FROM events ORDER BY rcpt"
        ).fetchall()
    finally:
        store.close()


@pytest.mark.slow
async def test_sns_bounce_and_complaint_become_rb_and_f_events_once(
    api: Api, esp_settings: EspSettings, served: CertServer, write_key: str, tmp_path: Path
) -> None:
    """Signed SNS notifications (v1 and v2) are written as rb/f rows, fsynced before 200;
    a retry of the same MessageId writes nothing; the tailer's loader ingests them classed."""
    api.start(esp_settings)
    bounce = sns_envelope(samples.SES_BOUNCE, f"{served.url}/cert.pem", message_id="m-1")
    complaint = sns_envelope(
        samples.SES_COMPLAINT, f"{served.url}/cert.pem", message_id="m-2", version="2"
    )
    async with api.client(write_key) as client:
        first = await client.post("/v1/esp/sns", content=json.dumps(bounce))
        assert first.status_code == 200, first.text
        assert first.json() == {
            "events": 1, "records": 1, "duplicates": 0, "ignored": 0, "message": ""
        }  # fmt: skip
        assert (await client.post("/v1/esp/ses", content=json.dumps(complaint))).json()[
            "records"
        ] == 1
        again = await client.post("/v1/esp/sns", content=json.dumps(bounce))
        assert again.json()["duplicates"] == 1
    assert len(_rows(esp_settings)) == 2
    assert served.hits == {"/cert.pem": 1}  # fetched once, then cached
    events = _ingest(esp_settings, tmp_path)
    assert [e[:6] for e in events] == [
        ("f", "angry@example.org", None, None, "abuse", "amazon-ses"),
        ("rb", "gone@example.net", "hard", "recipient", None, None),
    ]
    assert json.loads(str(events[1][6]))["header_X-Esp-Id"] == "sns:m-1"


async def test_forged_stale_foreign_and_off_topic_sns_messages_are_refused(
    api: Api, esp_settings: EspSettings, served: CertServer, write_key: str
) -> None:
    """403 for a changed Message, a certificate host not allowed (never fetched), a
    message older than the window, and a topic outside the allow-list; nothing written."""
    api.start(esp_settings, sns_topics=(TOPIC,), sns_max_age=600)
    url = f"{served.url}/cert.pem"
    tampered = sns_envelope(samples.SES_BOUNCE, url)
    tampered["Message"] = tampered["Message"].replace("gone@", "other@")
    foreign = sns_envelope(samples.SES_BOUNCE, "https://sns.eu-west-1.evil.example/cert.pem")
    stale = sns_envelope(samples.SES_BOUNCE, url, timestamp=datetime.now(UTC) - timedelta(hours=1))
    off_topic = sns_envelope(samples.SES_BOUNCE, url, topic="arn:aws:sns:eu-west-1:1:other")
    async with api.client(write_key) as client:
        for doc, why in (
            (tampered, "signature"),
            (foreign, "not an allowed SNS host"),
            (stale, "older than 600"),
            (off_topic, "not an allowed topic"),
        ):
            response = await client.post("/v1/esp/sns", content=json.dumps(doc))
            assert response.status_code == 403, why
            assert response.headers["content-type"] == "application/problem+json"
            assert why in response.json()["detail"]
    assert _rows(esp_settings) == []


@pytest.mark.slow
async def test_a_pinned_certificate_verifies_without_any_fetch(
    api: Api, esp_settings: EspSettings, write_key: str, tmp_path: Path
) -> None:
    """With the signing certificate pinned locally, no host needs allowing or fetching."""
    pinned = tmp_path / "trusted"
    pinned.mkdir()
    (pinned / "sns.pem").write_bytes(CERT_PEM)
    api.start(esp_settings, sns_cert_hosts=(), sns_certs=pinned)
    doc = sns_envelope(
        samples.SES_BOUNCE, "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-x.pem"
    )
    async with api.client(write_key) as client:
        response = await client.post("/v1/esp/sns", content=json.dumps(doc))
    assert response.status_code == 200, response.text
    assert len(_rows(esp_settings)) == 1


@pytest.mark.slow
async def test_subscription_is_recorded_for_the_operator_or_confirmed(
    api: Api, esp_settings: EspSettings, served: CertServer, write_key: str
) -> None:
    """A SubscriptionConfirmation is written to sns-subscriptions.jsonl (default), or its
    SubscribeURL fetched (sns_confirm); an UnsubscribeConfirmation writes nothing."""
    url = f"{served.url}/cert.pem"
    confirm_url = f"{served.url}/confirm?Action=ConfirmSubscription&Token=t0k"
    extra = {"SubscribeURL": confirm_url, "Token": "t0k"}
    doc = sns_envelope(
        "You have chosen to subscribe …", url, kind="SubscriptionConfirmation", extra=extra
    )
    intake = api.start(esp_settings)
    async with api.client(write_key) as client:
        response = await client.post("/v1/esp/sns", content=json.dumps(doc))
        assert response.status_code == 200, response.text
    recorded = (esp_settings.directory / "sns-subscriptions.jsonl").read_text().splitlines()
    assert json.loads(recorded[0])["SubscribeURL"] == confirm_url
    assert "/confirm" not in served.hits
    await intake.aclose()
    api.start(esp_settings, sns_confirm=True)
    unsubscribed = sns_envelope("gone", url, kind="UnsubscribeConfirmation", extra=extra)
    async with api.client(write_key) as client:
        assert (await client.post("/v1/esp/sns", content=json.dumps(doc))).status_code == 200
        assert (await client.post("/v1/esp/sns", content=json.dumps(unsubscribed))).json()[
            "message"
        ] == "unsubscribed"
    assert served.hits["/confirm"] == 1
    assert _rows(esp_settings) == []


@pytest.mark.slow
async def test_the_key_comes_as_basic_auth_and_is_never_logged(
    api: Api,
    esp_settings: EspSettings,
    served: CertServer,
    write_key: str,
    read_key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No key: 401 challenging for Basic (SNS answers the challenge); a read key: 403;
    the write key as the basic-auth password: 200 — and the key is in no log line."""
    api.start(esp_settings)
    body = json.dumps(sns_envelope(samples.SES_BOUNCE, f"{served.url}/cert.pem"))
    caplog.set_level(logging.DEBUG)
    async with api.client() as client:
        denied = await client.post("/v1/esp/sns", content=body)
    assert denied.status_code == 401
    assert denied.headers["www-authenticate"].startswith("Basic")
    async with api.client(read_key) as client:
        assert (await client.post("/v1/esp/sns", content=body)).status_code == 403
    async with api.client(write_key) as client:
        assert (await client.post("/v1/esp/sns", content=body)).status_code == 200
    assert write_key not in caplog.text
    assert read_key not in caplog.text


@pytest.mark.slow
async def test_sendgrid_batches_are_verified_by_ecdsa(
    api: Api, esp_settings: EspSettings, write_key: str, tmp_path: Path
) -> None:
    """A signed SendGrid batch: the bounce and the spam report are written, the delivery
    ignored; a bad or missing signature is 403."""
    api.start(esp_settings, sendgrid_public_key=sendgrid_public_key())
    body = json.dumps(samples.SENDGRID_BATCH).encode()
    stamp = str(int(time.time()))
    async with api.client(write_key) as client:
        good = await client.post(
            "/v1/esp/sendgrid", content=body, headers=sendgrid_headers(body, stamp)
        )
        assert good.json() == {
            "events": 3,
            "records": 2,
            "duplicates": 0,
            "ignored": 1,
            "message": "",
        }
        forged = sendgrid_headers(body + b" ", stamp)
        assert (
            await client.post("/v1/esp/sendgrid", content=body, headers=forged)
        ).status_code == 403
        assert (await client.post("/v1/esp/sendgrid", content=body)).status_code == 403
    events = _ingest(esp_settings, tmp_path)
    assert [e[:3] for e in events] == [
        ("f", "fed-up@example.com", None),
        ("rb", "nobody@example.com", "hard"),
    ]


@pytest.mark.slow
async def test_mailgun_events_are_verified_by_hmac(
    api: Api, esp_settings: EspSettings, write_key: str
) -> None:
    """A Mailgun event with the HMAC of its timestamp and token is written; a wrong key's
    signature, or an old timestamp, is 403."""
    api.start(esp_settings, mailgun_signing_key="key-s3cret")
    now = str(int(time.time()))
    good = {
        "signature": mailgun_signature("key-s3cret", now, "tok1"),
        "event-data": samples.MAILGUN_FAILED,
    }
    wrong = {
        "signature": mailgun_signature("key-other", now, "tok2"),
        "event-data": samples.MAILGUN_FAILED,
    }
    old = str(int(time.time()) - 3600)
    stale = {
        "signature": mailgun_signature("key-s3cret", old, "tok3"),
        "event-data": samples.MAILGUN_FAILED,
    }
    async with api.client(write_key) as client:
        assert (await client.post("/v1/esp/mailgun", json=good)).json()["records"] == 1
        assert (await client.post("/v1/esp/mailgun", json=wrong)).status_code == 403
        assert (await client.post("/v1/esp/mailgun", json=stale)).status_code == 403
    assert len(_rows(esp_settings)) == 1


@pytest.mark.slow
async def test_postmark_and_sparkpost_need_only_the_key(
    api: Api, esp_settings: EspSettings, write_key: str, tmp_path: Path
) -> None:
    """Postmark and SparkPost sign nothing: the key (basic auth) admits them."""
    api.start(esp_settings)
    async with api.client(write_key) as client:
        assert (await client.post("/v1/esp/postmark", json=samples.POSTMARK_BOUNCE)).json()[
            "records"
        ] == 1
        assert (await client.post("/v1/esp/sparkpost", json=samples.SPARKPOST_BATCH)).json()[
            "records"
        ] == 2
    events = _ingest(esp_settings, tmp_path)
    assert [e[:3] for e in events] == [
        ("rb", "absent@example.com", "hard"),
        ("f", "cross@example.com", None),
        ("rb", "void@example.com", "hard"),
    ]


@pytest.mark.slow
async def test_large_bodies_and_batches_are_refused_with_413(
    api: Api, esp_settings: EspSettings, write_key: str
) -> None:
    """A body over max_bytes, or a batch over max_events, is 413 and writes nothing."""
    api.start(esp_settings, max_bytes=4096, max_events=2)
    async with api.client(write_key) as client:
        big = await client.post("/v1/esp/postmark", content=b"[" + b"{}," * 3000 + b"{}]")
        assert big.status_code == 413
        many = await client.post("/v1/esp/sparkpost", json=samples.SPARKPOST_BATCH * 2)
        assert many.status_code == 413
        assert "at most 2" in many.json()["detail"]
    assert _rows(esp_settings) == []


@pytest.mark.slow
async def test_the_dedupe_window_survives_a_restart(
    api: Api, esp_settings: EspSettings, write_key: str
) -> None:
    """Ids are read back from the ESP files at start: a retry after a restart is a duplicate."""
    intake = api.start(esp_settings)
    async with api.client(write_key) as client:
        await client.post("/v1/esp/postmark", json=samples.POSTMARK_BOUNCE)
    await intake.aclose()
    api.start(esp_settings)
    async with api.client(write_key) as client:
        again = await client.post("/v1/esp/postmark", json=samples.POSTMARK_BOUNCE)
    assert again.json()["duplicates"] == 1
    assert len(_rows(esp_settings)) == 1


def test_a_wildcard_stands_for_one_dns_label() -> None:
    """sns.*.amazonaws.com takes a region, not an S3 bucket host under amazonaws.com."""
    patterns = ("sns.*.amazonaws.com",)
    assert host_allowed("sns.eu-west-1.amazonaws.com", patterns)
    assert host_allowed("SNS.us-east-1.amazonaws.com.", patterns)
    assert not host_allowed("sns.bucket.s3.amazonaws.com", patterns)
    assert not host_allowed("sns.eu-west-1.amazonaws.com.evil.example", patterns)


@pytest.mark.slow
async def test_a_refused_write_is_503_and_its_retry_is_written_once(
    api: Api, esp_settings: EspSettings, write_key: str
) -> None:
    """When the file cannot be written the post is 503 (the provider retries); the rows
    stay held and reach the file with the next flush, and the retry adds no second row."""
    api.start(esp_settings)
    blocker = esp_settings.directory / f"{esp_settings.prefix}.csv"
    blocker.mkdir()  # the live file's name taken by a directory: open() fails
    async with api.client(write_key) as client:
        refused = await client.post("/v1/esp/postmark", json=samples.POSTMARK_BOUNCE)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "5"
        blocker.rmdir()
        retried = await client.post("/v1/esp/postmark", json=samples.POSTMARK_BOUNCE)
        assert retried.json()["duplicates"] == 1
        other = dict(samples.POSTMARK_BOUNCE, ID=1, Email="next@example.com")
        assert (await client.post("/v1/esp/postmark", json=other)).json()["records"] == 1
    assert [row.split(",")[0] for row in _rows(esp_settings)] == ["rb", "rb"]


def test_an_unreadable_pinned_certificate_is_one_line_naming_the_file(tmp_path: Path) -> None:
    """--esp-sns-certs naming a missing or non-PEM file fails at start, saying which file."""
    from acctpipe.esp.certs import load_pinned

    (tmp_path / "junk.pem").write_text("not a certificate")
    for path in (tmp_path / "missing.pem", tmp_path / "junk.pem"):
        with pytest.raises(ValueError, match=str(path)):
            load_pinned(path)
