"""Whatever a malformed body holds, the answer is 422 and nothing is written."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acctpipe.esp import EspSettings
from tests.acctpipe.esp.conftest import Api


def _not_a_document(body: bytes) -> bool:
    try:
        return not isinstance(json.loads(body), (dict, list))
    except (ValueError, RecursionError):
        return True


_NOT_JSON = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=100).map(lambda t: ("{" + t).encode("utf-8")),
    st.text(max_size=100).map(lambda t: ("[" + t + ",]").encode("utf-8")),
    st.integers().map(lambda n: str(n).encode()),
    st.just(b"[" * 100_000),
).filter(_not_a_document)


@pytest.mark.slow
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=_NOT_JSON,
    provider=st.sampled_from(["sns", "sendgrid", "mailgun", "postmark", "sparkpost"]),
)
def test_malformed_bodies_are_422_and_write_nothing(
    api: Api, esp_settings: EspSettings, write_key: str, body: bytes, provider: str
) -> None:
    """Bytes that are not a JSON object or array: 422 problem+json, no accounting row."""
    if api.app is None:
        api.start(esp_settings)

    async def post() -> int:
        async with api.client(write_key) as client:
            response = await client.post(f"/v1/esp/{provider}", content=body)
            return response.status_code

    assert asyncio.run(post()) == 422
    path = esp_settings.directory / f"{esp_settings.prefix}.csv"
    assert not path.exists() or path.stat().st_size == 0
