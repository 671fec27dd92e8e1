"""Signing, nonces, argument validation, the call counter and temporary lockouts."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.sandbox._support import FakeClock, Reply, running

OTHER_SECRET = base64.b64encode(b"x" * 64).decode()


async def test_wrong_secret_is_an_invalid_signature() -> None:
    async with running() as (sb, owner):
        reply = await owner.call("ListPrimeApiUsers", secret=OTHER_SECRET)
        assert reply == Reply(200, {"error": ["EAPI:Invalid signature"], "result": {}})
        [record] = sb.requests
        assert record.errors == ("EAPI:Invalid signature",)
        assert record.api_key == sb.api_key
        assert not record.processed


async def test_body_changed_after_signing_is_rejected() -> None:
    async with running() as (_sb, owner):
        url, body, headers = owner.request("CreatePrimeApiUser", name="A", role="Viewer")
        tampered = body.replace(b'"Viewer"', b'"Trader"')
        async with owner.session.post(url, data=tampered, headers=headers) as response:
            assert (await response.json())["error"] == ["EAPI:Invalid signature"]
        assert (await owner.ok("ListPrimeApiUsers"))["data"] == []


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, "EAPI:Invalid key"),
        ({"API-Key": "KRA-UNKNOWN"}, "EAPI:Invalid key"),
        ({"API-Key": "<owner>"}, "EAPI:Invalid signature"),
        ({"API-Key": "<owner>", "API-Sign": "not base64!"}, "EAPI:Invalid signature"),
    ],
)
async def test_missing_or_bad_headers(headers: dict[str, str], error: str) -> None:
    async with running() as (sb, owner):
        sent = {k: sb.api_key if v == "<owner>" else v for k, v in headers.items()}
        url = f"{sb.url}/0/private/ListPrimeApiUsers"
        async with owner.session.post(url, data=b'{"nonce":1}', headers=sent) as response:
            assert response.status == 200
            assert await response.json() == {"error": [error], "result": {}}


async def test_replayed_and_lower_nonces_are_rejected() -> None:
    async with running() as (_sb, owner):
        assert (await owner.call("ListPrimeApiUsers", nonce=100)).errors == []
        assert (await owner.call("ListPrimeApiUsers", nonce=100)).errors == ["EAPI:Invalid nonce"]
        assert (await owner.call("ListPrimeApiUsers", nonce=99)).errors == ["EAPI:Invalid nonce"]
        assert (await owner.call("ListPrimeApiUsers", nonce=101)).errors == []


async def test_nonce_window_accepts_lower_unseen_nonces_only() -> None:
    async with running() as (sb, owner):
        sb.set_nonce_window(sb.api_key, 10)
        assert (await owner.call("ListPrimeApiUsers", nonce=100)).errors == []
        assert (await owner.call("ListPrimeApiUsers", nonce=95)).errors == []
        assert (await owner.call("ListPrimeApiUsers", nonce=95)).errors == ["EAPI:Invalid nonce"]
        assert (await owner.call("ListPrimeApiUsers", nonce=100)).errors == ["EAPI:Invalid nonce"]
        assert (await owner.call("ListPrimeApiUsers", nonce=90)).errors == []
        assert (await owner.call("ListPrimeApiUsers", nonce=89)).errors == ["EAPI:Invalid nonce"]
        with pytest.raises(ValueError, match="api_key"):
            sb.set_nonce_window("KRA-UNKNOWN", 5)


async def test_constructor_nonce_window_applies_to_every_key() -> None:
    async with running(nonce_window=5) as (_sb, owner):
        user = await owner.ok("CreatePrimeApiUser", name="A", role="Trader", nonce=50)
        assert (await owner.call("ListPrimeApiUsers", nonce=46)).errors == []
        key = await owner.ok("CreatePrimeApiUserKey", user_id=user["id"])
        trader = owner.with_key(key["api_key"], key["api_secret"])
        assert (await trader.call("ListPrimeSettlementBatches", nonce=10)).errors == []
        assert (await trader.call("ListPrimeSettlementBatches", nonce=6)).errors == []


@pytest.mark.parametrize(
    ("method", "params", "error"),
    [
        ("CreatePrimeApiUser", {"name": "A", "role": "Trader", "otp": "1"}, "otp"),
        ("CreatePrimeApiUser", {"name": "A"}, "role"),
        ("CreatePrimeApiUser", {"name": "A", "role": "Admin"}, "role"),
        ("CreatePrimeApiUser", {"name": 7, "role": "Trader"}, "name"),
        ("UpdatePrimeApiUser", {"user_id": "X", "status": "Paused"}, "status"),
        (
            "UpdatePrimeApiUserKey",
            {"user_id": "X", "key_id": "Y", "whitelisted_ips": "1"},
            "whitelisted_ips",
        ),
        ("GetPrimeSettlementBatch", {}, "batch_id"),
        ("CreatePrimeSettlementBatch", {"asset_kind": "spot"}, "asset_kind"),
    ],
)
async def test_invalid_arguments_name_the_field(
    method: str, params: dict[str, Any], error: str
) -> None:
    async with running() as (sb, owner):
        reply = await owner.call(method, **params)
        assert reply.errors == [f"EGeneral:Invalid arguments:{error}"]
        assert sb.requests[-1].processed is False


async def test_unknown_method_and_malformed_bodies() -> None:
    async with running() as (sb, owner):
        assert (await owner.call("AddOrder")).errors == ["EGeneral:Unknown Method"]
        url = f"{sb.url}/0/private/ListPrimeApiUsers"
        for body, error in [
            (b"[1, 2]", "EGeneral:Invalid arguments"),
            (b"not json", "EGeneral:Invalid arguments"),
            (b'{"nonce": "5"}', "EGeneral:Invalid arguments:nonce"),
            (b"{}", "EGeneral:Invalid arguments:nonce"),
        ]:
            headers = {"API-Key": sb.api_key, "API-Sign": "x"}
            async with owner.session.post(url, data=body, headers=headers) as response:
                assert (await response.json())["error"] == [error], body


async def test_call_counter_rejects_bursts_and_recovers_after_decay() -> None:
    clock = FakeClock()
    async with running(clock=clock) as (sb, owner):  # intermediate: max 20, -0.5/s
        for _ in range(20):
            assert (await owner.call("ListPrimeApiUsers")).errors == []
        reply = await owner.call("ListPrimeApiUsers")
        assert reply.errors == ["EAPI:Rate limit exceeded"]
        assert sb.call_counter(sb.api_key) == 21
        clock.advance(2)  # 21 - 1 = 20; one more call makes 21: still rejected
        assert (await owner.call("ListPrimeApiUsers")).errors == ["EAPI:Rate limit exceeded"]
        clock.advance(4)  # 21 - 2 = 19
        assert (await owner.call("ListPrimeApiUsers")).errors == []
        assert sb.call_counter(sb.api_key) == 20
        assert sb.call_counter("KRA-UNUSED") == 0


async def test_starter_tier_and_failed_calls_count() -> None:
    clock = FakeClock()
    async with running(clock=clock, tier="starter") as (_sb, owner):
        for _ in range(15):
            reply = await owner.call("GetPrimeApiUser", user_id="NOPE")
            assert reply.errors == ["EGeneral:Invalid arguments:unknown user_id"]
        assert (await owner.call("ListPrimeApiUsers")).errors == ["EAPI:Rate limit exceeded"]


async def test_rate_limit_can_be_turned_off() -> None:
    async with running(rate_limit=False) as (_sb, owner):
        for _ in range(30):
            assert (await owner.call("ListPrimeApiUsers")).errors == []


async def test_lockout_after_sequential_failures() -> None:
    clock = FakeClock()
    options = {"clock": clock, "lockout_after": 3, "lockout_seconds": 900.0}
    async with running(**options) as (sb, owner):
        other_id = sb.add_api_user("Other")
        other_creds = sb.add_api_key(other_id)
        other = owner.with_key(other_creds.api_key, other_creds.api_secret)

        assert (await owner.call("ListPrimeApiUsers")).errors == []
        await owner.call("ListPrimeApiUsers", secret=OTHER_SECRET)
        clock.advance(3600)  # no time window: failures in a row count however far apart
        await owner.call("ListPrimeApiUsers", secret=OTHER_SECRET)
        assert (await owner.call("ListPrimeApiUsers", nonce=1)).errors == ["EAPI:Invalid nonce"]
        assert (await owner.call("ListPrimeApiUsers")).errors == ["EGeneral:Temporary lockout"]
        assert (await other.call("ListPrimeSettlementBatches")).errors == []
        clock.advance(900)  # the refused request above started the 900 s again
        assert (await owner.call("ListPrimeApiUsers")).errors == []


async def test_fourteen_failures_a_success_and_a_failure_do_not_lock() -> None:
    """Kraken counts *sequential* failures: a success in between starts the count again."""
    async with running(clock=FakeClock()) as (sb, owner):  # lockout_after=15, the default
        for _ in range(14):
            await owner.call("ListPrimeApiUsers", secret=OTHER_SECRET)
        assert (await owner.call("ListPrimeApiUsers")).errors == []
        assert (await owner.call("ListPrimeApiUsers", secret=OTHER_SECRET)).errors == [
            "EAPI:Invalid signature"
        ]
        assert (await owner.call("ListPrimeApiUsers")).errors == []
        assert sb.requests[-1].errors == ()


async def test_a_retry_during_a_lockout_extends_it() -> None:
    """Kraken's errors guide: during a lockout "each retry resets the timer"."""
    clock = FakeClock()
    async with running(clock=clock, lockout_after=2, lockout_seconds=900.0) as (_sb, owner):
        for _ in range(2):
            await owner.call("ListPrimeApiUsers", secret=OTHER_SECRET)
        clock.advance(600)
        assert (await owner.call("ListPrimeApiUsers")).errors == ["EGeneral:Temporary lockout"]
        clock.advance(600)  # 1200 s after the lockout began, 600 s after the retry
        assert (await owner.call("ListPrimeApiUsers")).errors == ["EGeneral:Temporary lockout"]
        clock.advance(899.5)
        assert (await owner.call("ListPrimeApiUsers")).errors == ["EGeneral:Temporary lockout"]
        clock.advance(900)  # quiet for the whole lockout: it ends
        assert (await owner.call("ListPrimeApiUsers")).errors == []


async def test_unknown_key_failures_lock_that_key_string() -> None:
    async with running(lockout_after=2) as (sb, owner):
        ghost = owner.with_key("KRA-GHOST", sb.api_secret)
        assert (await ghost.call("ListPrimeApiUsers")).errors == ["EAPI:Invalid key"]
        assert (await ghost.call("ListPrimeApiUsers")).errors == ["EAPI:Invalid key"]
        assert (await ghost.call("ListPrimeApiUsers")).errors == ["EGeneral:Temporary lockout"]
        assert (await owner.call("ListPrimeApiUsers")).errors == []
