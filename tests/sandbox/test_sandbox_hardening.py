"""Hostile requests: deep nesting, out-of-range nonces, echoed names, wrong verbs, unknown paths."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from kraken_prime_async.sandbox import PrimeSandbox
from tests.sandbox._support import Caller, running

DEEP = b"[" * 1000 + b"]" * 1000
DEEP_OBJECT = b'{"a":' * 1000 + b"1" + b"}" * 1000


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
async def test_deeply_nested_prime_body_is_an_envelope_and_logged(body: bytes) -> None:
    async with running() as (sb, owner):
        headers = {"API-Key": sb.api_key, "API-Sign": "x"}
        async with owner.session.post(
            f"{sb.url}/0/private/ListPrimeApiUsers", data=body, headers=headers
        ) as response:
            assert response.status == 200
            assert await response.json() == {"error": ["EGeneral:Invalid arguments"], "result": {}}
        (record,) = sb.requests
        assert record.operation == "ListPrimeApiUsers"
        assert record.errors == ("EGeneral:Invalid arguments",)
        assert record.arguments == {}


async def test_deeply_nested_fast_api_body_is_an_envelope_and_logged() -> None:
    async with running() as (sb, owner):
        headers = {"Authorization": f"Bearer {sb.issue_token()}"}
        async with owner.session.post(
            f"{sb.url}/oauth/fast-api-key", data=DEEP, headers=headers
        ) as response:
            assert response.status == 400
            assert await response.json() == {"error": ["EGeneral:Invalid arguments"]}
        assert [r.operation for r in sb.requests] == ["CreateFastApiKey"]


@pytest.mark.parametrize("nonce", [2**63, 2**64 - 1, 2**64, -1])
async def test_out_of_range_nonce_is_refused_and_harmless(nonce: int) -> None:
    async with running() as (sb, owner):
        refused = await owner.call("ListPrimeApiUsers", nonce=nonce)
        assert refused.errors == ["EGeneral:Invalid arguments:nonce"]
        assert (await owner.call("ListPrimeApiUsers")).errors == []  # a valid nonce still works
        assert sb.requests[0].nonce == nonce


async def test_largest_int64_nonce_is_accepted() -> None:
    async with running() as (_, owner):
        assert (await owner.call("ListPrimeApiUsers", nonce=2**63 - 1)).errors == []


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        ("", "(empty)"),
        ("   ", "(empty)"),
        ("x\nEAPI:Invalid key", "x?EAPI:Invalid key"),
        ("nul\x00\x1b[31m", "nul??[31m"),
        ("line\u2028sep", "line?sep"),
        ("n" * 100, "n" * 61 + "..."),
        ("café\u00a0ünï", "caf???n?"),  # printable, but not ASCII: Kraken's strings are ASCII
    ],
)
async def test_echoed_names_are_printable_ascii_and_never_empty(name: str, detail: str) -> None:
    async with running() as (sb, owner):
        params: dict[str, Any] = {name: 1}
        reply = await owner.call("ListPrimeApiUsers", **params)
        assert reply.errors == [f"EGeneral:Invalid arguments:{detail}"]
        headers = {"Authorization": f"Bearer {sb.issue_token()}"}
        body = json.dumps({"api_key_name": "ok", name: 1}).encode()
        async with owner.session.post(
            f"{sb.url}/oauth/fast-api-key", data=body, headers=headers
        ) as response:
            assert (await response.json())["error"] == [f"EGeneral:Invalid arguments:{detail}"]


@pytest.mark.parametrize(
    ("verb", "path", "allow"),
    [
        ("GET", "/0/private/ListPrimeApiUsers", "POST"),
        ("PUT", "/0/private/CreatePrimeApiUser", "POST"),
        ("DELETE", "/0/private/NoSuchThing", "POST"),
        ("PATCH", "/oauth/fast-api-key", "POST, GET, PUT, DELETE"),
        ("PUT", "/0/public/Time", "GET, POST"),
    ],
)
async def test_wrong_verbs_get_kraken_shaped_405(verb: str, path: str, allow: str) -> None:
    async with running() as (sb, owner):
        async with owner.session.request(verb, sb.url + path) as response:
            assert response.status == 405
            assert response.content_type == "application/json"
            assert response.headers["Allow"] == allow
            assert await response.json() == {"error": ["EAPI:Bad request"]}
        (record,) = sb.requests
        assert (record.http_method, record.status, record.changed) == (verb, 405, False)


async def test_head_on_fast_api_path_is_405_without_body() -> None:
    async with running() as (sb, owner):
        async with owner.session.head(f"{sb.url}/oauth/fast-api-key") as response:
            assert response.status == 405
            assert response.headers["Allow"] == "POST, GET, PUT, DELETE"
        assert sb.requests[0].http_method == "HEAD"


async def test_unknown_paths_get_kraken_shaped_404() -> None:
    async with running() as (sb, owner):
        async with owner.session.post(f"{sb.url}/0/private") as response:
            assert response.status == 404
            assert await response.json() == {"error": ["EGeneral:Unknown Method"]}
        async with owner.session.get(f"{sb.url}/%0Aevil") as response:
            assert response.status == 404
        assert [r.operation for r in sb.requests] == ["/0/private", "/?evil"]


async def test_unknown_prime_operation_name_is_logged_safely() -> None:
    async with running() as (sb, owner):
        reply = await owner.call("No%0ASuch")
        assert reply.errors == ["EGeneral:Unknown Method"]
        assert sb.requests[0].operation == "No?Such"


async def test_request_log_keeps_what_a_test_asserts_on() -> None:
    async with running() as (sb, owner):
        await owner.ok("CreatePrimeApiUser", name="Desk", role="Trader")
        await owner.ok("ListPrimeApiUsers")
        created, listed = sb.requests
        assert created.arguments == {"name": "Desk", "role": "Trader"}
        assert (created.processed, created.changed) == (True, True)
        assert (listed.processed, listed.changed) == (True, False)
        assert created.key_fingerprint is not None and len(created.key_fingerprint) == 8
        assert sb.api_key not in repr(created)
        exported = created.to_json()
        assert sb.api_key not in json.dumps(exported)
        assert exported["key_fingerprint"] == created.key_fingerprint
        assert exported["operation"] == "CreatePrimeApiUser" and exported["changed"] is True


async def test_fast_api_secret_never_enters_the_log() -> None:
    async with running() as (sb, owner):
        headers = {"Authorization": f"Bearer {sb.issue_token()}"}
        body = json.dumps({"api_key_name": "bot", "secret": "canary-secret"}).encode()
        async with owner.session.post(
            f"{sb.url}/oauth/fast-api-key", data=body, headers=headers
        ) as response:
            assert (await response.json())["error"] == ["EGeneral:Invalid arguments:secret"]
        assert sb.requests[0].arguments == {"api_key_name": "bot", "secret": "***"}
        assert "canary" not in repr(sb.requests) and "Bearer" not in repr(sb.requests)


async def test_reset_keeps_owner_and_tokens() -> None:
    async with running() as (sb, owner):
        token = sb.issue_token()
        await owner.ok("CreatePrimeApiUser", name="Desk", role="Trader")
        sb.add_trade("BTC", "1")
        sb.faults.http_500()
        sb.reset()
        assert len(sb.faults) == 0 and sb.requests == []
        assert await owner.ok("ListPrimeApiUsers") == {"data": []}
        async with owner.session.get(
            f"{sb.url}/oauth/fast-api-key", headers={"Authorization": f"Bearer {token}"}
        ) as response:
            assert await response.json() == {"result": []}
        batch = await owner.call("CreatePrimeSettlementBatch")
        assert batch.errors == ["EGeneral:Invalid arguments:no unsettled trades"]


async def test_fixed_credentials() -> None:
    secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQ="
    sb = PrimeSandbox(api_key="KRA-OWNER", api_secret=secret, admin_token="adm")
    async with sb:
        assert (sb.api_key, sb.api_secret, sb.admin_token) == ("KRA-OWNER", secret, "adm")
        user_id = sb.add_api_user("Desk")
        pair = sb.add_api_key(user_id, api_key="KRA-DESK", api_secret=secret)
        assert pair.api_key == "KRA-DESK"
        with pytest.raises(ValueError, match="already in use"):
            sb.add_api_key(user_id, api_key="KRA-DESK", api_secret=secret)
        with pytest.raises(ValueError, match="base64") as info:
            sb.add_api_key(user_id, api_key="KRA-2", api_secret="not base64!")
        assert "not base64!" not in str(info.value)
    with pytest.raises(ValueError, match="both"):
        PrimeSandbox(api_key="KRA-OWNER")


async def test_owner_caller_type() -> None:
    async with running() as (_, owner):
        assert isinstance(owner, Caller)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_over_1_mib_is_a_413_envelope_and_recorded(chunked: bool) -> None:
    """aiohttp refuses bodies over ``client_max_size`` (1 MiB) with a text/plain 413 of its own;
    the sandbox answers Kraken's envelope instead, and logs the request like any other."""
    body = b'{"nonce":1,"name":"' + b"x" * (2 << 20) + b'"}'

    async def chunks() -> Any:
        for start in range(0, len(body), 1 << 16):
            yield body[start : start + (1 << 16)]

    async with running() as (sb, owner):
        headers = {"API-Key": sb.api_key, "API-Sign": "x"}
        async with owner.session.post(
            f"{sb.url}/0/private/CreatePrimeApiUser",
            data=chunks() if chunked else io.BytesIO(body),  # (raw bytes this large: a warning)
            headers=headers,
        ) as response:
            assert response.status == 413
            assert response.content_type == "application/json"
            assert await response.json() == {"error": ["EAPI:Bad request"]}
        (record,) = sb.requests
        assert (record.operation, record.status, record.errors) == (
            "CreatePrimeApiUser",
            413,
            ("EAPI:Bad request",),
        )
        assert record.api_key == sb.api_key and not record.processed and not record.changed
        assert (await owner.call("ListPrimeApiUsers")).body == {"error": [], "result": {"data": []}}
