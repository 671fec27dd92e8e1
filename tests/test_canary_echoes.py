"""A server that echoes the request's credentials back (a debugging proxy, a hostile server):
raw, JSON-escaped (``\\/``) or percent-encoded (upper- and lower-case hex), in the ``error``
array of a JSON answer, in a JSON answer's body beside an error, or in a non-JSON error page.
No canary credential (API key, secret, every signature sent, bearer token), in any of those
spellings, is in an SDK frame's locals, an exception's attributes or its text.

Over real loopback HTTP (the scripted server of ``test_canary_frames``).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Sequence

import pytest
from aiohttp import web

from kraken_prime_async import FastApiKeyClient, PrimeClient, RetryPolicy
from kraken_prime_async import errors as e
from kraken_prime_async._secret import spellings
from tests.test_canary_frames import (
    RAW_SECRET,
    SECRET,
    TOKEN,
    Action,
    assert_no_canary,
    canary_key,
    raised,
    scripted,
    sdk_frames_text,
)

pytestmark = pytest.mark.integration

ENCODINGS: dict[str, Callable[[str], str]] = {
    "raw": lambda value: value,
    "percent upper": lambda value: urllib.parse.quote(value, safe=""),
    "percent lower": lambda value: re.sub(
        "%[0-9A-F]{2}", lambda m: m.group(0).lower(), urllib.parse.quote(value, safe="")
    ),
}


def _quoted(request: web.Request, encode: Callable[[str], str]) -> str:
    """The request's credential headers, as a proxy quoting them back would."""
    names = ("API-Key", "API-Sign", "Authorization")
    return " ".join(f"{n}={encode(request.headers[n])}" for n in names if n in request.headers)


def _json(payload: object, *, escape_slashes: bool) -> str:
    text = json.dumps(payload)
    return text.replace("/", "\\/") if escape_slashes else text


def echo(where: str, encoding: str, *, escape_slashes: bool = False) -> Action:
    encode = ENCODINGS[encoding]

    async def action(request: web.Request) -> web.StreamResponse:
        quoted = _quoted(request, encode)
        if where == "error array":
            body = _json(
                {"error": [f"EGeneral:Invalid arguments: {quoted}"]}, escape_slashes=escape_slashes
            )
            return web.Response(status=200, text=body, content_type="application/json")
        if where == "body beside an error":
            payload = {"error": ["EAPI:Invalid key"], "result": {"echo": quoted}}
            body = _json(payload, escape_slashes=escape_slashes)
            return web.Response(status=200, text=body, content_type="application/json")
        text = quoted.replace("/", "\\/") if escape_slashes else quoted
        return web.Response(status=502, text=f"<html>bad gateway; request: {text}</html>")

    return action


CASES = [
    (where, encoding, escaped)
    for where in ("error array", "body beside an error", "error page")
    for encoding in ENCODINGS
    for escaped in (False, True)
    if not (escaped and encoding != "raw")
]


def assert_no_spelling(exc: BaseException, key: str, signatures: Sequence[str]) -> None:
    """Every spelling of every canary is absent from frames, attributes and text."""
    assert_no_canary(exc, key, signatures)
    texts = sdk_frames_text(exc)
    current: BaseException | None = exc
    while current is not None:
        texts += [str(current), repr(current), repr(vars(current))]
        current = current.__cause__ or current.__context__
    values = [key, SECRET, RAW_SECRET.decode(), TOKEN, *signatures]
    for text in texts:
        for value in values:
            for spelling in spellings(value):
                assert spelling not in text, f"{spelling!r} leaked:\n{text[:2000]}"


@pytest.mark.parametrize(("where", "encoding", "escaped"), CASES)
async def test_a_prime_call_keeps_no_echoed_credential(
    where: str, encoding: str, escaped: bool
) -> None:
    key = canary_key()
    async with scripted() as (server, url):
        server.actions.append(echo(where, encoding, escape_slashes=escaped))
        async with PrimeClient(key, SECRET, base_url=url, retry=RetryPolicy.disabled()) as client:
            exc = await raised(client.api_users.list())
    assert isinstance(exc, e.KrakenPrimeError)
    assert server.signatures  # the signature went out and came back
    assert_no_spelling(exc, key, server.signatures)


@pytest.mark.parametrize(("where", "encoding", "escaped"), CASES)
async def test_an_oauth_call_keeps_no_echoed_token(
    where: str, encoding: str, escaped: bool
) -> None:
    async with scripted() as (server, url):
        server.actions.append(echo(where, encoding, escape_slashes=escaped))
        async with FastApiKeyClient(TOKEN, url, retry=RetryPolicy.disabled()) as oauth:
            exc = await raised(oauth.fast_api_keys.list())
    assert isinstance(exc, e.KrakenPrimeError)
    assert_no_spelling(exc, canary_key(), ())


def test_every_spelling_is_redacted() -> None:
    from kraken_prime_async._secret import redact

    value = "ab/c+d=="
    for spelling in spellings(value):
        assert redact(f"x {spelling} y", value) == "x <redacted> y"
