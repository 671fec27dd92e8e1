"""``FastApiKeyClient`` on a scripted transport and on a hostile loopback server: the wire format,
result checks, token refresh corner cases, and the bearer token never leaking."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from kraken_prime_async import (
    AuthenticationError,
    ClientState,
    ClientStateError,
    FastApiKeyClient,
    FastApiKeyPermissions,
    InvalidArgumentsError,
    OutcomeUnknownError,
    RawResponse,
    ResponseValidationError,
    RetryPolicy,
    ValidationError,
)
from tests._fakes import FakeClock, ScriptedTransport, html, kraken_error, timed_out

#: A recognisable fake bearer token: tests assert it never shows up anywhere.
FAKE_TOKEN = "FAKE-BEARER-TOKEN-never-show-me-0123456789"
NEW_TOKEN = "FAKE-REFRESHED-TOKEN-never-show-me-too-42"

INFO = {
    "api_key": "KRAPUBLIC",
    "api_key_name": "bot",
    "created_time": "2023-11-14T22:13:20Z",
    "id": "abc_def,-",
    "ip_allowlist": ["10.0.0.0/8"],
    "last_used": 1700000000,
    "modified_time": "2023-11-14T22:13:20Z",
    "nonce": 0,
    "nonce_window": 5,
    "oauth_client": "client",
    "permissions": {"funds_query": True, "some_future_flag": True},
    "purpose": "standard",
    "query_from": 0,
    "query_to": 0,
    "valid_until": 0,
    "an_unknown_extra": {"nested": [1, 2]},
}


def result(value: Any, status: int = 200) -> RawResponse:
    """An OAuth answer: ``{"result": ...}`` without an ``error`` key, as the spec shows."""
    return RawResponse(status, json.dumps({"result": value}).encode())


def oauth_client(
    transport: ScriptedTransport, token: str | None = FAKE_TOKEN, **kwargs: Any
) -> tuple[FastApiKeyClient, FakeClock]:
    clock = FakeClock()
    client = FastApiKeyClient(
        token,
        "https://oauth.test",
        transport=transport,
        sleep=clock.sleep,
        clock=clock,
        **kwargs,
    )
    return client, clock


async def test_verbs_paths_headers_and_bodies(transport: ScriptedTransport) -> None:
    transport.queue(
        result([]),  # the names before the create (docs/guarantees.md)
        result({**INFO, "secret": "c2VjcmV0"}),
        result([INFO]),
        result(True),
        result(True),
    )
    oauth, _ = oauth_client(transport)
    async with oauth:
        created = await oauth.fast_api_keys.create(
            "bot", permissions={"funds_query": True}, nonce_window=5
        )
        await oauth.fast_api_keys.list()
        await oauth.fast_api_keys.update("bot", new_api_key_name="bot2", ip_allowlist=["::1"])
        await oauth.fast_api_keys.delete("bot2")
    assert created.secret.get_secret_value() == "c2VjcmV0"
    assert transport.requests[0].operation == "ListFastApiKeys"
    sent = transport.requests[1:]
    assert [r.http_method for r in sent] == ["POST", "GET", "PUT", "DELETE"]
    assert {str(r.url) for r in sent} == {"https://oauth.test/oauth/fast-api-key"}
    assert [r.operation for r in sent] == [
        "CreateFastApiKey",
        "ListFastApiKeys",
        "UpdateFastApiKey",
        "DeleteFastApiKey",
    ]
    for request in sent:
        assert request.headers["Authorization"] == f"Bearer {FAKE_TOKEN}"
        assert "API-Sign" not in request.headers and "API-Key" not in request.headers
    assert sent[1].body is None and "Content-Type" not in sent[1].headers  # GET: no body
    assert sent[0].headers["Content-Type"] == "application/json"
    flags = dict.fromkeys(FastApiKeyPermissions.__struct_fields__)
    assert sent[0].json == {
        "api_key_name": "bot",
        "nonce_window": 5,
        "permissions": {**flags, "funds_query": True},
    }  # no nonce
    assert sent[2].json == {
        "api_key_name": "bot",
        "new_api_key_name": "bot2",
        "ip_allowlist": ["::1"],
    }
    assert sent[3].body == b'{"api_key_name":"bot2"}'


async def test_results_tolerate_missing_and_unknown_fields(transport: ScriptedTransport) -> None:
    transport.queue(result([INFO, {"api_key_name": "bare"}, {}]))
    oauth, _ = oauth_client(transport)
    full, bare, empty = await oauth.fast_api_keys.list()
    await oauth.close()
    assert full.permissions == FastApiKeyPermissions(funds_query=True)
    assert full.last_used == 1700000000 and full.ip_allowlist == ("10.0.0.0/8",)
    assert bare.api_key_name == "bare" and bare.permissions is None and bare.nonce is None
    assert empty.api_key_name is None


async def test_create_answered_without_a_secret_deletes_the_key_and_creates_it_again(
    transport: ScriptedTransport,
) -> None:
    transport.queue(
        result([]), result(INFO), result([INFO]), result(True), result({**INFO, "secret": "c2Vj"})
    )
    oauth, _ = oauth_client(transport, sole_writer=True)  # the lone new key is its own
    created = await oauth.fast_api_keys.create("bot")
    assert created.secret.get_secret_value() == "c2Vj"
    assert [r.http_method for r in transport.requests] == ["GET", "POST", "GET", "DELETE", "POST"]
    await oauth.close()


async def test_create_answered_without_a_secret_names_the_key_it_could_not_delete(
    transport: ScriptedTransport,
) -> None:
    transport.queue(result([]), result(INFO), result([INFO]), result(False))
    oauth, _ = oauth_client(transport, sole_writer=True)  # the lone new key is its own
    with pytest.raises(OutcomeUnknownError, match="secret was not received") as info:
        await oauth.fast_api_keys.create("bot", retry=RetryPolicy.disabled())
    assert info.value.orphan_key_id == INFO["api_key_name"]
    assert isinstance(info.value.__cause__, OutcomeUnknownError)
    assert isinstance(info.value.__cause__.__cause__, ResponseValidationError)
    await oauth.close()


@pytest.mark.parametrize("answer", [False, None, "ok", 1, {}, []])
async def test_update_and_delete_check_that_kraken_said_true(
    transport: ScriptedTransport, answer: Any
) -> None:
    transport.queue(result(answer), result(answer))
    oauth, _ = oauth_client(transport)
    with pytest.raises(ResponseValidationError, match="expected the result true"):
        await oauth.fast_api_keys.update("bot", nonce_window=1)
    with pytest.raises(ResponseValidationError, match="expected the result true"):
        await oauth.fast_api_keys.delete("bot")
    assert len(transport.requests) == 2  # neither retried nor read back
    await oauth.close()


async def test_a_bare_403_is_an_authentication_error_and_never_refreshes(
    transport: ScriptedTransport,
) -> None:
    calls = 0

    async def provider() -> str:
        nonlocal calls
        calls += 1
        return NEW_TOKEN

    transport.queue(html(403, "Forbidden"))
    oauth, _ = oauth_client(transport, token_provider=provider)
    with pytest.raises(AuthenticationError) as info:
        await oauth.fast_api_keys.list()
    assert info.value.status == 403 and calls == 0 and len(transport.requests) == 1
    await oauth.close()


async def test_a_bare_401_refreshes_once_and_a_second_401_raises(
    transport: ScriptedTransport,
) -> None:
    tokens = iter([NEW_TOKEN, "never-used"])

    async def provider() -> str:
        return next(tokens)

    transport.queue(html(401, "Unauthorized"), kraken_error("EAuth:Invalid token", status=401))
    oauth, _ = oauth_client(transport, token_provider=provider)
    with pytest.raises(AuthenticationError):
        await oauth.fast_api_keys.list()
    auth = [r.headers["Authorization"] for r in transport.requests]
    assert auth == [f"Bearer {FAKE_TOKEN}", f"Bearer {NEW_TOKEN}"]
    assert oauth.stats.token_refreshes == 1
    await oauth.close()


async def test_refresh_is_outside_the_retry_count(transport: ScriptedTransport) -> None:
    async def provider() -> str:
        return NEW_TOKEN

    transport.queue(
        html(502), kraken_error("EAuth:Invalid token", status=401), result([]), html(502)
    )
    oauth, clock = oauth_client(
        transport, token_provider=provider, retry=RetryPolicy(max_attempts=2)
    )
    assert await oauth.fast_api_keys.list() == []  # 502, then 401 + refresh + 200 in attempt 2
    assert len(clock.sleeps) == 1
    await oauth.close()


@pytest.mark.parametrize("bad", ["", "has space", None, 42, "line\nbreak"])
async def test_an_unusable_token_from_the_provider_is_refused(
    transport: ScriptedTransport, bad: Any
) -> None:
    async def provider() -> Any:
        return bad

    oauth, _ = oauth_client(transport, token=None, token_provider=provider)
    with pytest.raises(ValidationError) as info:
        await oauth.fast_api_keys.list()
    assert info.value.field == "token_provider()"
    assert transport.requests == []
    await oauth.close()


async def test_a_failing_provider_propagates_chained_to_the_401(
    transport: ScriptedTransport,
) -> None:
    async def provider() -> str:
        raise RuntimeError("refresh endpoint down")

    transport.queue(kraken_error("EAuth:Invalid token", status=401))
    oauth, _ = oauth_client(transport, token_provider=provider)
    with pytest.raises(RuntimeError, match="refresh endpoint down") as info:
        await oauth.fast_api_keys.list()
    assert isinstance(info.value.__context__, AuthenticationError)
    await oauth.close()


async def test_invalid_arguments_are_not_retried(transport: ScriptedTransport) -> None:
    transport.queue(kraken_error("EGeneral:Invalid arguments:api_key_name", status=400))
    oauth, _ = oauth_client(transport)
    with pytest.raises(InvalidArgumentsError):
        await oauth.fast_api_keys.create("bot")
    assert len(transport.requests) == 1
    await oauth.close()


async def test_a_lost_create_is_sent_again_only_after_the_read_back_shows_no_key(
    transport: ScriptedTransport,
) -> None:
    transport.queue(
        result([]), timed_out("CreateFastApiKey"), result([]), result({**INFO, "secret": "c2Vj"})
    )
    oauth, _ = oauth_client(transport)
    assert (await oauth.fast_api_keys.create("bot")).secret.get_secret_value() == "c2Vj"
    assert [r.http_method for r in transport.requests] == ["GET", "POST", "GET", "POST"]
    await oauth.close()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "access_token"),
        ({"access_token": ""}, "access_token"),
        ({"access_token": "two words"}, "access_token"),
        ({"access_token": 123}, "access_token"),
        ({"access_token": "t", "token_provider": "not callable"}, "token_provider"),
        ({"access_token": "t", "base_url": "api.kraken.com"}, "base_url"),
    ],
)
def test_construction_is_checked(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        FastApiKeyClient(**kwargs)
    assert info.value.field == field


async def test_lifecycle_mirrors_prime_client(transport: ScriptedTransport) -> None:
    transport.queue(result([]))
    oauth, _ = oauth_client(transport)
    assert oauth.state is ClientState.UNOPENED
    assert await oauth.fast_api_keys.list() == []
    assert oauth.state.value == "open"
    await oauth.close()
    await oauth.close()
    assert oauth.state.value == "closed" and transport.closed
    with pytest.raises(ClientStateError):
        await oauth.fast_api_keys.list()
    with pytest.raises(ClientStateError):
        await oauth.__aenter__()


# -- the token never leaks -------------------------------------------------------------------------


@asynccontextmanager
async def echo_server() -> AsyncIterator[str]:
    """A hostile server that echoes the Authorization header back in every kind of error."""

    async def handler(request: web.Request) -> web.StreamResponse:
        echoed = request.headers.get("Authorization", "")
        if request.method == "GET":
            return web.json_response({"error": [f"EAuth:Invalid token:{echoed}"]}, status=401)
        if request.method == "DELETE":
            return web.Response(status=418, text=f"<html>you sent {echoed}</html>")
        if request.method == "PUT":
            return web.json_response({"error": [f"EGeneral:Invalid arguments:{echoed}"]})
        return web.json_response({"error": [f"EService:Unavailable:{echoed}"]}, status=503)

    app = web.Application()
    app.router.add_route("*", "/oauth/fast-api-key", handler)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def _chain(exc: BaseException) -> list[str]:
    texts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None:
        texts += [str(seen), repr(seen), *map(str, getattr(seen, "errors", ()))]
        texts += [str(value) for value in vars(seen).values()]
        seen = seen.__cause__ or seen.__context__
    return texts


async def test_the_token_never_shows_even_when_the_server_echoes_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()

    async def provider() -> str:
        return NEW_TOKEN

    visible: list[str] = []
    with caplog.at_level(logging.DEBUG, logger="kraken_prime_async"):
        async with echo_server() as url:
            oauth = FastApiKeyClient(
                FAKE_TOKEN, url, token_provider=provider, sleep=clock.sleep, clock=clock
            )
            async with oauth:
                visible += [repr(oauth), str(oauth.stats), repr(oauth.fast_api_keys)]
                for call in (
                    oauth.fast_api_keys.list(),
                    oauth.fast_api_keys.delete("bot"),
                    oauth.fast_api_keys.update("bot", nonce_window=1),
                    oauth.fast_api_keys.create("bot"),
                ):
                    with pytest.raises(Exception) as info:  # noqa: PT011 - any error, inspected
                        await call
                    visible += _chain(info.value)
                visible += [repr(oauth), repr(oauth._pipeline._auth)]
    visible += [record.getMessage() for record in caplog.records]
    assert any("<redacted>" in text for text in visible)
    for text in visible:
        assert FAKE_TOKEN not in text and NEW_TOKEN not in text, text[:200]
        assert FAKE_TOKEN[:20] not in text


async def test_a_caller_session_is_never_closed() -> None:
    async with echo_server() as url, aiohttp.ClientSession() as session:
        async with FastApiKeyClient(FAKE_TOKEN, url, session=session) as oauth:
            with pytest.raises(AuthenticationError):
                await oauth.fast_api_keys.list()
        assert not session.closed


async def test_the_owned_session_does_not_resend_by_itself() -> None:
    async with echo_server() as url:
        oauth = FastApiKeyClient(FAKE_TOKEN, url)
        with pytest.raises(AuthenticationError):
            await oauth.fast_api_keys.list()
        session = oauth._transport._session  # type: ignore[attr-defined]
        assert getattr(session, "_retry_connection", False) is False
        await oauth.close()
