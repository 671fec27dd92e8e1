"""OAuth ``/oauth/fast-api-key``: create, list, update, delete, token errors, Prime signing."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.sandbox._support import START, Caller, FakeClock, running

PERMISSIONS = {
    "funds_query": True,
    "funds_add": False,
    "funds_withdraw": None,
    "funds_earn": False,
    "trades_query_open": True,
    "trades_query_closed": True,
    "trades_modify": True,
    "trades_close": True,
    "ledger_query": False,
    "export_data": False,
}


async def fast(
    owner: Caller, http_method: str, token: str | None, body: Any = None
) -> tuple[int, Any]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with owner.session.request(
        http_method, f"{owner.url}/oauth/fast-api-key", json=body, headers=headers
    ) as response:
        return response.status, await response.json()


async def test_create_list_update_delete() -> None:
    clock = FakeClock()
    async with running(clock=clock) as (sb, owner):
        token = sb.issue_token()
        status, created = await fast(
            owner,
            "POST",
            token,
            {
                "api_key_name": "bot-1",
                "ip_allowlist": ["10.0.0.0/8"],
                "nonce_window": 5,
                "permissions": PERMISSIONS,
                "query_from": 0,
                "query_to": 0,
                "valid_until": 0,
            },
        )
        assert status == 200
        result = created["result"]
        assert set(result) == {
            "secret",
            "api_key",
            "api_key_name",
            "created_time",
            "id",
            "ip_allowlist",
            "last_used",
            "modified_time",
            "nonce",
            "nonce_window",
            "oauth_client",
            "permissions",
            "purpose",
            "query_from",
            "query_to",
            "valid_until",
        }
        assert len(base64.b64decode(result["secret"], validate=True)) == 64
        assert result["api_key_name"] == "bot-1"
        assert result["nonce_window"] == 5
        assert result["permissions"] == PERMISSIONS
        assert result["purpose"] == "standard"
        assert result["created_time"] == "2023-11-14T22:13:20Z"

        status, listed = await fast(owner, "GET", token)
        assert status == 200
        [info] = listed["result"]
        assert "secret" not in info
        assert info == {k: v for k, v in result.items() if k != "secret"}

        status, updated = await fast(
            owner,
            "PUT",
            token,
            {"api_key_name": "bot-1", "new_api_key_name": "bot-2", "ip_allowlist": []},
        )
        assert (status, updated) == (200, {"result": True})
        [info] = (await fast(owner, "GET", token))[1]["result"]
        assert (info["api_key_name"], info["ip_allowlist"], info["nonce_window"]) == (
            "bot-2",
            [],
            5,
        )

        status, deleted = await fast(owner, "DELETE", token, {"api_key_name": "bot-2"})
        assert (status, deleted) == (200, {"result": True})
        assert (await fast(owner, "GET", token))[1] == {"result": []}
        methods = [r.operation for r in sb.requests]
        assert methods == [
            "CreateFastApiKey",
            "ListFastApiKeys",
            "UpdateFastApiKey",
            "ListFastApiKeys",
            "DeleteFastApiKey",
            "ListFastApiKeys",
        ]
        assert all(r.api_key is None for r in sb.requests)


async def test_created_key_signs_prime_calls_until_deleted() -> None:
    clock = FakeClock()
    async with running(clock=clock) as (sb, owner):
        token = sb.issue_token()
        _, created = await fast(owner, "POST", token, {"api_key_name": "k", "nonce_window": 5})
        key = owner.with_key(created["result"]["api_key"], created["result"]["secret"])
        assert (await key.call("ListPrimeApiUsers", nonce=100)).errors == []
        assert (await key.call("ListPrimeApiUsers", nonce=96)).errors == []
        assert (await key.call("ListPrimeApiUsers", nonce=96)).errors == ["EAPI:Invalid nonce"]
        sb.add_trade("BTC", "1")
        assert (await key.call("CreatePrimeSettlementBatch")).errors == []
        [info] = (await fast(owner, "GET", token))[1]["result"]
        assert info["nonce"] > 100
        assert info["last_used"] == int(START)

        await fast(owner, "PUT", token, {"api_key_name": "k", "nonce_window": 0})
        assert (await key.call("ListPrimeApiUsers", nonce=1)).errors == ["EAPI:Invalid nonce"]

        await fast(owner, "DELETE", token, {"api_key_name": "k"})
        assert (await key.call("ListPrimeApiUsers")).errors == ["EAPI:Invalid key"]


async def test_valid_until_expires_the_key() -> None:
    clock = FakeClock()
    async with running(clock=clock) as (sb, owner):
        token = sb.issue_token()
        body = {"api_key_name": "short", "valid_until": int(START) + 10}
        _, created = await fast(owner, "POST", token, body)
        key = owner.with_key(created["result"]["api_key"], created["result"]["secret"])
        assert (await key.call("ListPrimeApiUsers")).errors == []
        clock.advance(10)
        assert (await key.call("ListPrimeApiUsers")).errors == ["EAPI:Invalid key"]


async def test_token_errors() -> None:
    clock = FakeClock()
    async with running(clock=clock) as (sb, owner):
        invalid = {"error": ["EAuth:Invalid token"]}
        assert await fast(owner, "GET", None) == (401, invalid)
        assert await fast(owner, "GET", "made-up") == (401, invalid)
        short = sb.issue_token(expires_in=60)
        assert (await fast(owner, "GET", short))[0] == 200
        clock.advance(60)
        assert await fast(owner, "GET", short) == (401, invalid)
        revoked = sb.issue_token()
        sb.revoke_token(revoked)
        assert await fast(owner, "POST", revoked, {"api_key_name": "x"}) == (401, invalid)

        read_only = sb.issue_token(scopes=["account.fast-api-key:read"])
        assert (await fast(owner, "GET", read_only))[0] == 200
        status, body = await fast(owner, "POST", read_only, {"api_key_name": "x"})
        assert (status, body) == (403, {"error": ["EGeneral:Permission denied"]})
        assert (await fast(owner, "GET", sb.issue_token()))[1] == {"result": []}


@pytest.mark.parametrize(
    ("http_method", "body", "error"),
    [
        ("POST", {"api_key_name": "x" * 33}, "api_key_name"),
        ("POST", {"api_key_name": ""}, "api_key_name"),
        ("POST", {}, "api_key_name"),
        ("POST", {"api_key_name": "a", "color": "red"}, "color"),
        ("POST", {"api_key_name": "a", "nonce_window": -1}, "nonce_window"),
        ("POST", {"api_key_name": "a", "permissions": {"funds_teleport": True}}, "permissions"),
        ("POST", {"api_key_name": "taken"}, "duplicate api_key_name"),
        ("PUT", {"api_key_name": "nope"}, "unknown api_key_name"),
        ("PUT", {"api_key_name": "a", "new_api_key_name": 5}, "new_api_key_name"),
        ("DELETE", {"api_key_name": "nope"}, "unknown api_key_name"),
        ("DELETE", {"api_key_name": "taken", "force": True}, "force"),
    ],
)
async def test_invalid_arguments(http_method: str, body: dict[str, Any], error: str) -> None:
    async with running() as (sb, owner):
        token = sb.issue_token()
        assert (await fast(owner, "POST", token, {"api_key_name": "taken"}))[0] == 200
        status, reply = await fast(owner, http_method, token, body)
        assert (status, reply) == (400, {"error": [f"EGeneral:Invalid arguments:{error}"]})
        assert not sb.requests[-1].processed


async def test_non_object_body_and_unsupported_verb() -> None:
    async with running() as (sb, owner):
        token = sb.issue_token()
        assert await fast(owner, "POST", token, [1]) == (
            400,
            {"error": ["EGeneral:Invalid arguments"]},
        )
        async with owner.session.patch(f"{sb.url}/oauth/fast-api-key") as response:
            assert response.status == 405


async def test_faults_apply_to_fast_api() -> None:
    async with running() as (sb, owner):
        sb.faults.add("CreateFastApiKey", "http_500")
        token = sb.issue_token()
        status, body = await fast(owner, "POST", token, {"api_key_name": "x"})
        assert (status, body) == (500, {"error": ["EGeneral:Internal error"]})
        assert (await fast(owner, "GET", token))[1] == {"result": []}
