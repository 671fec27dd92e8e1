"""No credential in what an error tracker captures.

Error trackers (Sentry captures local variables by default) render an exception's traceback with
the locals of every frame, and walk ``__cause__``/``__context__``. For every error class a call
or a constructor raises, this renders the exception with the standard library's renderer and
``capture_locals=True``, walks the whole chain's attributes, and looks for canary credentials:
the API key, the secret (base64 and raw), every signature sent, and the bearer token.

Calls go over real loopback HTTP through aiohttp (a scripted server that answers whatever the
test asks for), so the SDK's real transport frames and aiohttp's real exceptions are on the
traceback.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from kraken_prime_async import FastApiKeyClient, PrimeClient, RetryPolicy
from kraken_prime_async import errors as e
from kraken_prime_async._transports.base import CauseSummary
from tests._loopback import closed_port

RAW_SECRET = b"CANARY-RAW-SECRET-BYTES-0123456789abcdef-zz"
SECRET = base64.b64encode(RAW_SECRET).decode()
TOKEN = "CANARYBEARERTOKEN0123456789abcdefghijklmnop"
_keys = iter(range(10_000))


def canary_key() -> str:
    """A fresh canary API key (each client gets its own process-wide nonce source)."""
    return f"CANARYAPIKEY{next(_keys):04d}xxxxxxxxxxxxxxxxxxxxxxxx"


Action = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Server:
    """Answers each request with the next scripted action; records the signatures it saw."""

    def __init__(self) -> None:
        self.actions: list[Action] = []
        self.signatures: list[str] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        signature = request.headers.get("API-Sign")
        if signature:
            self.signatures.append(signature)
        await request.read()
        action = self.actions.pop(0) if self.actions else _answer(200, {"error": [], "result": []})
        return await action(request)


def _answer(status: int, payload: Any, *, echo_headers: bool = False) -> Action:
    async def action(request: web.Request) -> web.StreamResponse:
        body = payload
        if echo_headers:  # a hostile proxy quoting the request back
            body = "headers: " + " ".join(f"{k}={v}" for k, v in request.headers.items())
        if isinstance(body, str):
            return web.Response(status=status, text=body)
        return web.json_response(body, status=status)

    return action


def _stall(seconds: float) -> Action:
    async def action(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return web.json_response({"error": [], "result": []})

    return action


async def _drop(request: web.Request) -> web.StreamResponse:
    assert request.transport is not None
    request.transport.close()
    return web.Response()


@asynccontextmanager
async def scripted() -> AsyncIterator[tuple[Server, str]]:
    server = Server()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield server, f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def sdk_frames_text(exc: BaseException) -> list[str]:
    """The locals of every ``kraken_prime_async`` frame on the traceback of ``exc`` and of every
    exception chained to it, rendered by the standard library with ``capture_locals=True``
    (what an error tracker captures), plus the formatted exception itself."""
    texts = []
    pending = [traceback.TracebackException.from_exception(exc, capture_locals=True)]
    seen: set[int] = set()
    while pending:
        summary = pending.pop()
        if id(summary) in seen:
            continue
        seen.add(id(summary))
        texts.append("".join(summary.format_exception_only()))
        for frame in summary.stack:
            if f"{os.sep}kraken_prime_async{os.sep}" in frame.filename:
                texts.append(f"{frame.filename}:{frame.lineno} {frame.locals!r}")
        pending += [s for s in (summary.__cause__, summary.__context__) if s is not None]
    return texts


def assert_no_canary(exc: BaseException, key: str, signatures: Sequence[str] = ()) -> None:
    """The SDK's frames (with locals) and every attribute along the chain are clean."""
    texts = sdk_frames_text(exc)
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        texts += [str(current), repr(current), repr(getattr(current, "__dict__", {}))]
        texts += [repr(arg) for arg in current.args]
        pending += [current.__cause__, current.__context__]
    canaries = {
        "api key": key,
        "secret": SECRET,
        "raw secret": repr(RAW_SECRET)[2:-1],
        "raw secret hex": RAW_SECRET.hex(),
        "bearer token": TOKEN,
        **{f"signature {i}": sig for i, sig in enumerate(signatures)},
        **{f"signature {i} (first 16)": sig[:16] for i, sig in enumerate(signatures)},
    }
    for text in texts:
        for name, value in canaries.items():
            assert value not in text, f"{name} leaked into {type(exc).__name__}:\n{text[:3000]}"


async def raised(call: Awaitable[Any]) -> BaseException:
    try:
        await call
    except Exception as exc:
        return exc
    raise AssertionError("the call did not raise")


# --- constructors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"base_url": "ftp://example"}, "base_url"),
        ({"timeout": -1}, "timeout"),
        ({"nonce_window": -1}, "nonce_window"),
        ({"secret": "not base64!!"}, "api_secret"),
        ({"key": "CANARYAPIKEY with space"}, "api_key"),
        ({"key": "CANARYAPIKEYxxxxxxxxxxxxxxxxxxxx\n"}, "api_key"),
    ],
)
def test_prime_constructor_errors_capture_no_credential(kwargs: dict[str, Any], field: str) -> None:
    key = kwargs.pop("key", canary_key())
    secret = kwargs.pop("secret", SECRET)
    with pytest.raises(e.ValidationError) as info:
        PrimeClient(key, secret, **kwargs)
    assert info.value.field == field
    assert_no_canary(info.value, key.strip())


@pytest.mark.parametrize(
    ("token", "kwargs", "field"),
    [
        (TOKEN, {"base_url": "ftp://example"}, "base_url"),
        (TOKEN + " trailing", {}, "access_token"),
        (TOKEN, {"timeout": float("nan")}, "timeout"),
    ],
)
def test_oauth_constructor_errors_capture_no_token(
    token: str, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(e.ValidationError) as info:
        FastApiKeyClient(token, **kwargs)
    assert info.value.field == field
    assert_no_canary(info.value, canary_key())


# --- every error class of a call, over real HTTP ------------------------------------------------

API_ERRORS: list[tuple[str, type[e.KrakenPrimeError], Action]] = [
    ("invalid key", e.AuthenticationError, _answer(200, {"error": ["EAPI:Invalid key"]})),
    (
        "permission",
        e.PermissionDeniedError,
        _answer(200, {"error": ["EGeneral:Permission denied"]}),
    ),
    ("nonce", e.InvalidNonceError, _answer(200, {"error": ["EAPI:Invalid nonce"]})),
    ("rate limit", e.RateLimitError, _answer(200, {"error": ["EAPI:Rate limit exceeded"]})),
    ("lockout", e.TemporaryLockoutError, _answer(200, {"error": ["EGeneral:Temporary lockout"]})),
    (
        "arguments",
        e.InvalidArgumentsError,
        _answer(200, {"error": ["EGeneral:Invalid arguments:user_id"]}),
    ),
    ("unavailable", e.ServiceUnavailableError, _answer(200, {"error": ["EService:Unavailable"]})),
    ("internal", e.InternalServerError, _answer(500, {"error": ["EGeneral:Internal error"]})),
    ("other", e.APIError, _answer(200, {"error": ["EFoo:Bar"]})),
    ("html 502 echoing headers", e.ServiceUnavailableError, _answer(502, "", echo_headers=True)),
    ("html 400 echoing headers", e.APIError, _answer(400, "", echo_headers=True)),
    ("not json", e.ResponseValidationError, _answer(200, "<html>oops</html>")),
    ("wrong shape", e.ResponseValidationError, _answer(200, {"error": [], "result": 5})),
]


@pytest.mark.integration
@pytest.mark.parametrize(("label", "cls", "action"), API_ERRORS, ids=[a[0] for a in API_ERRORS])
async def test_api_errors_capture_no_credential(
    label: str, cls: type[e.KrakenPrimeError], action: Action
) -> None:
    key = canary_key()
    async with scripted() as (server, url):
        server.actions.append(action)
        async with PrimeClient(key, SECRET, base_url=url, retry=RetryPolicy.disabled()) as client:
            exc = await raised(client.api_users.list())
    assert type(exc) is cls
    assert_no_canary(exc, key, server.signatures)


@pytest.mark.integration
async def test_deadline_elapsed_on_a_write_is_outcome_unknown_and_clean() -> None:
    key = canary_key()
    async with scripted() as (server, url):
        server.actions.append(_answer(200, {"error": ["EService:Deadline elapsed"]}))
        async with PrimeClient(key, SECRET, base_url=url, retry=RetryPolicy.disabled()) as client:
            exc = await raised(client.api_user_keys.delete("U1", "K1"))
    assert isinstance(exc, (e.OutcomeUnknownError, e.DeadlineElapsedError))
    assert_no_canary(exc, key, server.signatures)


@pytest.mark.integration
async def test_a_timeout_captures_no_credential() -> None:
    key = canary_key()
    async with scripted() as (server, url):
        server.actions.append(_stall(1.0))
        async with PrimeClient(
            key, SECRET, base_url=url, retry=RetryPolicy.disabled(), timeout=0.05
        ) as client:
            exc = await raised(client.api_users.list())
    assert isinstance(exc, e.APITimeoutError)
    assert_no_canary(exc, key, server.signatures)


@pytest.mark.integration
async def test_a_dropped_connection_captures_no_credential() -> None:
    key = canary_key()
    async with scripted() as (server, url):
        server.actions.append(_drop)
        async with PrimeClient(key, SECRET, base_url=url, retry=RetryPolicy.disabled()) as client:
            exc = await raised(client.api_users.list())
    assert type(exc) is e.APIConnectionError
    assert_no_canary(exc, key, server.signatures)


@pytest.mark.integration
async def test_a_refused_connection_captures_no_credential() -> None:
    key = canary_key()
    url = f"http://127.0.0.1:{closed_port()}"
    async with PrimeClient(key, SECRET, base_url=url, retry=RetryPolicy.disabled()) as client:
        exc = await raised(client.api_users.list())
    assert type(exc) is e.APIConnectionError
    assert_no_canary(exc, key)


@pytest.mark.integration
async def test_a_lost_write_captures_no_credential() -> None:
    key = canary_key()
    async with scripted() as (server, url):
        # the write's answer is dropped; every read-back after it fails too
        server.actions += [_drop] + [_answer(503, "down")] * 10
        async with PrimeClient(key, SECRET, base_url=url, retry=RetryPolicy.disabled()) as client:
            exc = await raised(client.settlement.settle_asset("B1", "BTC"))
    assert isinstance(exc, e.OutcomeUnknownError)
    assert_no_canary(exc, key, server.signatures)


async def test_a_closed_client_captures_no_credential() -> None:
    key = canary_key()
    client = PrimeClient(key, SECRET, base_url="http://127.0.0.1:9")
    await client.close()
    exc = await raised(client.api_users.list())
    assert isinstance(exc, e.ClientStateError)
    assert_no_canary(exc, key)


async def test_a_bad_argument_captures_no_credential() -> None:
    key = canary_key()
    async with PrimeClient(key, SECRET, base_url="http://127.0.0.1:9") as client:
        exc = await raised(client.api_users.get("has space"))
    assert isinstance(exc, e.ValidationError)
    assert_no_canary(exc, key)


async def test_a_fleet_store_failure_captures_no_credential(tmp_path: Any) -> None:
    from kraken_prime_async import FileLockFleet

    key = canary_key()
    directory = tmp_path / "fleet"
    fleet = FileLockFleet(directory)
    client = PrimeClient(key, SECRET, base_url="http://127.0.0.1:9", fleet=fleet)
    shutil.rmtree(directory)
    directory.write_text("")  # the fleet's directory is gone: its lock files cannot be opened
    async with client:
        exc = await raised(client.api_users.list())
    assert isinstance(exc, e.CoordinationError)
    assert_no_canary(exc, key)


# --- bearer token -------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize(
    "action",
    [
        _answer(401, {"error": ["EAuth:Invalid token"]}),
        _answer(403, {"error": ["EGeneral:Permission denied"]}),
        _answer(502, "", echo_headers=True),
        _stall(1.0),
        _drop,
    ],
    ids=["401", "403", "502 echoing headers", "timeout", "dropped"],
)
async def test_oauth_errors_capture_no_token(action: Action) -> None:
    async with scripted() as (server, url):
        server.actions.append(action)
        async with FastApiKeyClient(TOKEN, url, retry=RetryPolicy.disabled(), timeout=0.2) as oauth:
            exc = await raised(oauth.fast_api_keys.list())
    assert isinstance(exc, e.KrakenPrimeError)
    assert_no_canary(exc, canary_key())


@pytest.mark.integration
async def test_a_token_provider_returning_a_bad_token_captures_no_token() -> None:
    async def provider() -> str:
        return TOKEN + "\n"

    async with (
        scripted() as (_, url),
        FastApiKeyClient(None, url, token_provider=provider) as oauth,
    ):
        exc = await raised(oauth.fast_api_keys.list())
    assert isinstance(exc, e.ValidationError)
    assert_no_canary(exc, canary_key())


@pytest.mark.integration
async def test_chained_aiohttp_errors_keep_type_and_message_but_not_the_request() -> None:
    """The transport's exception is chained from a summary of aiohttp's (type and message), not
    from aiohttp's exception, which holds the request and its headers."""
    async with scripted() as (server, url):
        server.actions.append(_drop)
        async with PrimeClient(
            canary_key(), SECRET, base_url=url, retry=RetryPolicy.disabled()
        ) as client:
            exc = await raised(client.api_users.list())
    cause = exc.__cause__
    assert isinstance(cause, CauseSummary) and exc.__suppress_context__
    assert cause.type_name.startswith("aiohttp.") and cause.type_name in str(cause)
    assert not isinstance(cause, aiohttp.ClientError) and cause.__traceback__ is None


def test_results_show_public_keys_as_fingerprints_only() -> None:
    """A result held in a frame (key rotation holds the new key) shows no API key."""
    from kraken_prime_async import SecretStr
    from kraken_prime_async.models import ApiKey, CreatedApiKey, CreatedFastApiKey, FastApiKeyInfo

    key = canary_key()
    results = [
        CreatedApiKey(id="K1", api_key=key, api_secret=SecretStr(SECRET), user_id="U1"),
        ApiKey(id="K1", api_key=key),
        FastApiKeyInfo(api_key=key, api_key_name="desk"),
        CreatedFastApiKey(api_key=key, secret=SecretStr(SECRET)),
    ]
    for result in results:
        assert key not in repr(result) and SECRET not in repr(result)
        assert "api_key=<sha256:" in repr(result)
    assert results[1] == ApiKey(id="K1", api_key=key)  # equality still sees the key
