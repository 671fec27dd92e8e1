"""No secret, signature or API key in any log record, repr or exception text."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web

from kraken_prime_async import PrimeClient, RetryPolicy
from kraken_prime_async import errors as e
from tests._fakes import FAKE_SECRET, FakeClock, unique_key
from tests._loopback import loopback

NEW_KEY_SECRET = "TkVXLUtFWS1TRUNSRVQtc2hvd24tb25jZQ=="


def _texts(records: list[logging.LogRecord]) -> list[str]:
    out = []
    for record in records:
        out.append(record.getMessage())
        out.append(repr(record.args))
        if record.exc_info and record.exc_info[1] is not None:
            out.append(repr(record.exc_info[1]))
    return out


def _chain(exc: BaseException | None) -> list[str]:
    texts = []
    while exc is not None:
        texts += [str(exc), repr(exc), repr(getattr(exc, "__dict__", {}))]
        exc = exc.__cause__ or exc.__context__
    return texts


async def test_a_failing_and_retrying_call_leaks_nothing(
    captured_logs: pytest.LogCaptureFixture,
) -> None:
    api_key = unique_key()
    signatures: list[str] = []
    script = ["proxy-echo"] * 3 + ["keys", "nonce", "unavailable", "created"]

    async def handler(request: web.Request) -> web.Response:
        signatures.append(request.headers["API-Sign"])
        step = script.pop(0)
        if step == "proxy-echo":  # a hostile proxy page that echoes the request headers
            echoed = f"<html>{request.headers['API-Key']} {request.headers['API-Sign']}</html>"
            return web.Response(status=502, text=echoed, content_type="text/html")
        if step == "keys":  # the user's keys, read before the create
            return web.json_response({"error": [], "result": {"data": []}})
        if step == "nonce":
            return web.json_response({"error": ["EAPI:Invalid nonce"], "result": {}})
        if step == "unavailable":  # a definite rejection, so the write may be retried
            return web.json_response({"error": ["EService:Unavailable"]}, status=500)
        return web.json_response(
            {
                "error": [],
                "result": {
                    "id": "K1",
                    "api_key": "KRANEW",
                    "api_secret": NEW_KEY_SECRET,
                    "user_id": "U1",
                },
            }
        )

    clock = FakeClock()
    async with loopback(handler) as url:
        client = PrimeClient(api_key, FAKE_SECRET, base_url=url, sleep=clock.sleep)
        async with client:
            # A read that fails after retries, then a key creation that succeeds after retries.
            with pytest.raises(e.ServiceUnavailableError) as failed:
                await client.api_users.list(retry=RetryPolicy(max_attempts=3))
            created = await client.api_user_keys.create("U1")
    assert created.api_secret.get_secret_value() == NEW_KEY_SECRET
    assert len(signatures) == 7 and captured_logs.records

    forbidden = [FAKE_SECRET, api_key, NEW_KEY_SECRET, *signatures]
    visible = [
        *_texts(captured_logs.records),
        *_chain(failed.value),
        repr(client),
        str(client.stats),
        repr(created),
        str(created),
        repr(client.api_users),
        repr(client._pipeline._auth),
    ]
    for text in visible:
        for value in forbidden:
            assert value not in text, f"leaked into: {text[:120]}"
    assert "<redacted>" in str(failed.value)  # the echoed headers were scrubbed


async def test_an_outcome_unknown_error_carries_no_credentials() -> None:
    api_key = unique_key()

    reads = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal reads
        if request.path.endswith("/ListPrimeApiUserKeys") and not reads:
            reads += 1  # the keys before the create; every later answer is a bare 504
            return web.json_response({"error": [], "result": {"data": []}})
        return web.Response(status=504, text=f"timeout for {request.headers['API-Sign']}")

    async with (
        loopback(handler) as url,
        PrimeClient(api_key, FAKE_SECRET, base_url=url, retry=RetryPolicy.disabled()) as client,
    ):
        with pytest.raises(e.OutcomeUnknownError) as info:
            await client.api_user_keys.create("U1")
    for text in _chain(info.value):
        assert api_key not in text and FAKE_SECRET not in text
        assert "API-Sign" not in text
    assert info.value.arguments == {"user_id": "U1"}
