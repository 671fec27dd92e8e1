"""Fault injection, the request log and simulated network latency."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from kraken_prime_async.sandbox import PrimeSandbox
from tests.sandbox._support import START, Caller, FakeClock, running

CREATE = "CreatePrimeApiUser"


async def _users(owner: Caller) -> list[str]:
    data = (await owner.ok("ListPrimeApiUsers"))["data"]
    return [u["name"] for u in data]


async def _send(owner: Caller, method: str, **params: Any) -> tuple[int, str, str]:
    url, body, headers = owner.request(method, **params)
    async with owner.session.post(url, data=body, headers=headers) as response:
        return response.status, response.content_type, await response.text()


async def _wait_for_log(sb: PrimeSandbox, count: int) -> None:
    for _ in range(100):
        if len(sb.requests) >= count:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("request never logged")


async def test_http_500_is_not_processed_by_default() -> None:
    async with running() as (sb, owner):
        sb.faults.add(CREATE, "http_500")
        status, content_type, text = await _send(owner, CREATE, name="A", role="Trader")
        assert (status, content_type) == (500, "application/json")
        assert json.loads(text) == {"error": ["EGeneral:Internal error"]}
        assert await _users(owner) == []
        record = sb.calls(CREATE)[0]
        assert (record.status, record.fault, record.processed) == (500, "http_500", False)
        assert record.errors == ("EGeneral:Internal error",)
        assert record.api_key == sb.api_key
        assert record.nonce is not None


async def test_http_500_can_be_processed() -> None:
    async with running() as (sb, owner):
        sb.faults.add(CREATE, "http_500", processed=True)
        status, _, _ = await _send(owner, CREATE, name="A", role="Trader")
        assert status == 500
        assert await _users(owner) == ["A"]
        assert sb.calls(CREATE)[0].processed is True


@pytest.mark.parametrize(("kind", "code"), [("http_502_html", 502), ("http_503_html", 503)])
async def test_html_gateway_errors(kind: str, code: int) -> None:
    async with running() as (sb, owner):
        sb.faults.add(None, kind)  # type: ignore[arg-type]
        status, content_type, text = await _send(owner, CREATE, name="A", role="Trader")
        assert (status, content_type) == (code, "text/html")
        assert text.startswith("<html>")
        assert await _users(owner) == []


async def test_delay_causes_client_timeout_but_is_processed() -> None:
    async with running() as (sb, owner):
        sb.faults.add(CREATE, "delay", seconds=0.05)
        url, body, headers = owner.request(CREATE, name="Late", role="Trader")
        with pytest.raises(asyncio.TimeoutError):
            async with owner.session.post(
                url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=0.01)
            ):
                pass
        await _wait_for_log(sb, 1)
        assert sb.calls(CREATE)[0].processed is True
        assert sb.calls(CREATE)[0].fault == "delay"
        assert await _users(owner) == ["Late"]


async def test_drop_before_closes_without_processing() -> None:
    async with running() as (sb, owner):
        sb.faults.add(CREATE, "drop_before")
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await _send(owner, CREATE, name="A", role="Trader")
        assert await _users(owner) == []
        record = sb.calls(CREATE)[0]
        assert (record.status, record.processed, record.errors) == (None, False, ())


async def test_drop_after_processes_then_loses_the_answer() -> None:
    async with running() as (sb, owner):
        sb.add_trade("BTC", "1")
        batch_id = (await owner.ok("CreatePrimeSettlementBatch"))["batch"]["id"]
        sb.confirm_batch(batch_id)
        sb.faults.add("SettlePrimeSettlementBatchAsset", "drop_after")
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await _send(owner, "SettlePrimeSettlementBatchAsset", batch_id=batch_id, asset="BTC")
        leg = sb.batch(batch_id)["legs"][0]
        assert leg["status"] == "settling"
        assert leg["latest_spot_transfer"]["status"] == "pending"
        record = sb.calls("SettlePrimeSettlementBatchAsset")[0]
        assert (record.status, record.processed, record.fault) == (None, True, "drop_after")
        again = await owner.call("SettlePrimeSettlementBatchAsset", batch_id=batch_id, asset="BTC")
        assert again.errors == ["EGeneral:Invalid arguments:leg already settling"]


async def test_malformed_json_is_processed() -> None:
    async with running() as (sb, owner):
        sb.faults.add(CREATE, "malformed_json")
        status, content_type, text = await _send(owner, CREATE, name="A", role="Trader")
        assert (status, content_type) == (200, "application/json")
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)
        assert text.startswith('{"error":[]')
        assert await _users(owner) == ["A"]


async def test_error_fault_processed_or_not() -> None:
    async with running() as (sb, owner):
        sb.faults.add(CREATE, "error", message="EService:Unavailable")
        sb.faults.add(CREATE, "error", message="EService:Deadline elapsed", processed=True)
        first = await owner.call(CREATE, name="A", role="Trader")
        assert first.errors == ["EService:Unavailable"]
        assert await _users(owner) == []
        second = await owner.call(CREATE, name="B", role="Trader")
        assert second.errors == ["EService:Deadline elapsed"]
        assert await _users(owner) == ["B"]
        assert [r.processed for r in sb.calls(CREATE)] == [False, True]


async def test_throttled_uses_sandbox_clock() -> None:
    clock = FakeClock()
    async with running(clock=clock) as (sb, owner):
        sb.faults.add(None, "throttled", seconds=5)
        reply = await owner.call("ListPrimeApiUsers")
        assert reply.errors == [f"EService: Throttled: {int(START) + 5}"]
        assert sb.requests[0].fault == "throttled"


async def test_fault_matching_order_and_counts() -> None:
    async with running() as (sb, owner):
        settle = sb.faults.add("SettlePrimeSettlementBatchAsset", "http_500")
        sb.faults.add(None, "error", message="EService:Busy", times=2)
        sb.faults.add("ListPrimeApiUsers", "http_500")
        assert len(sb.faults) == 3
        assert (await owner.call("ListPrimeApiUsers")).errors == ["EService:Busy"]
        assert sb.faults.pending[1].times == 1
        assert (await owner.call("GetPrimeApiUser", user_id="X")).errors == ["EService:Busy"]
        assert (await _send(owner, "ListPrimeApiUsers"))[0] == 500
        assert sb.faults.pending == [settle]
        assert (await owner.call("ListPrimeApiUsers")).errors == []

        sb.faults.clear()
        sb.faults.add("ListPrimeApiUsers", "error", message="EService:Unavailable", times=None)
        for _ in range(3):
            assert (await owner.call("ListPrimeApiUsers")).errors == ["EService:Unavailable"]
        assert len(sb.faults) == 1
        sb.faults.clear()
        assert [r.fault for r in sb.calls("ListPrimeApiUsers")][-1] == "error"


def test_fault_arguments_are_checked() -> None:
    sb = PrimeSandbox()
    with pytest.raises(ValueError, match="operation"):
        sb.faults.add("CreatePrimeUser", "http_500")
    with pytest.raises(ValueError, match="kind"):
        sb.faults.add(None, "http_418")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seconds"):
        sb.faults.add(None, "delay")
    with pytest.raises(ValueError, match="message"):
        sb.faults.add(None, "error")
    with pytest.raises(ValueError, match="times"):
        sb.faults.add(None, "http_500", times=0)
    with pytest.raises(ValueError, match="processed"):
        sb.faults.add(None, "drop_after", processed=False)
    assert len(sb.faults) == 0


async def test_latency_reorders_concurrent_requests() -> None:
    async with running(latency=(0.0, 0.02), seed=7) as (sb, owner):
        prepared = [owner.request("ListPrimeApiUsers") for _ in range(12)]
        sent_nonces = [json.loads(body)["nonce"] for _, body, _ in prepared]

        async def post(url: str, body: bytes, headers: dict[str, str]) -> list[str]:
            async with owner.session.post(url, data=body, headers=headers) as response:
                errors: list[str] = (await response.json())["error"]
                return errors

        results = await asyncio.gather(*(post(*p) for p in prepared))
        processed_nonces = [r.nonce or 0 for r in sb.requests]
        assert sorted(processed_nonces) == sent_nonces
        assert processed_nonces != sent_nonces
        assert ["EAPI:Invalid nonce"] in results
        assert [] in results


async def test_latency_with_nonce_window_accepts_everything() -> None:
    async with running(latency=(0.0, 0.02), seed=7, nonce_window=1000) as (sb, owner):
        replies = await asyncio.gather(*(owner.call("ListPrimeApiUsers") for _ in range(12)))
        assert all(r.errors == [] for r in replies)
        nonces = [r.nonce or 0 for r in sb.requests]
        assert nonces != sorted(nonces)


async def test_request_log_records_metadata() -> None:
    clock = FakeClock()
    async with running(clock=clock) as (sb, owner):
        await owner.call("ListPrimeApiUsers", nonce=5)
        clock.advance(1)
        await owner.call("ListPrimeApiUsers", nonce=5)
        first, second = sb.requests
        assert (first.seq, first.operation, first.nonce, first.status) == (
            0,
            "ListPrimeApiUsers",
            5,
            200,
        )
        assert first.ok
        assert first.processed
        assert first.timestamp == START
        assert second.errors == ("EAPI:Invalid nonce",)
        assert not second.ok
        assert second.timestamp == START + 1
        assert sb.calls("GetPrimeApiUser") == []
        sb.clear_requests()
        assert sb.requests == []


@pytest.mark.parametrize("kind", ["delay_before", "delay"])
async def test_delay_before_checks_the_nonce_after_the_wait(kind: str) -> None:
    async with running() as (sb, owner):
        sb.faults.add("ListPrimeApiUsers", kind, seconds=0.3)  # type: ignore[arg-type]
        late = asyncio.ensure_future(owner.call("ListPrimeApiUsers", nonce=10))
        await asyncio.sleep(0.02)
        prompt = await owner.call("ListPrimeApiUsers", nonce=11)
        assert prompt.errors == []
        assert (await late).errors == ["EAPI:Invalid nonce"]  # overtaken on its way in
        assert [(r.nonce, r.fault) for r in sb.requests] == [(11, None), (10, kind)]


async def test_delay_after_processes_at_once_and_answers_late() -> None:
    async with running() as (sb, owner):
        sb.faults.delay_after("CreatePrimeApiUser", 0.3)
        slow = asyncio.ensure_future(owner.call(CREATE, nonce=10, name="A", role="Trader"))
        await _wait_for_log(sb, 1)
        assert not slow.done()
        assert await _users(owner) == ["A"]  # the state changed before the answer came
        assert (await slow).errors == []
        first = sb.requests[0]
        assert (first.nonce, first.fault, first.changed) == (10, "delay_after", True)


def test_named_fault_helpers_queue_the_same_faults_as_add() -> None:
    faults = PrimeSandbox().faults
    queued = [
        faults.http_500(CREATE, processed=True),
        faults.gateway_html(None, 503),
        faults.delay_before(CREATE, 0.5),
        faults.delay_after(CREATE, 0.5, times=None),
        faults.drop_before(),
        faults.drop_after(CREATE, times=2),
        faults.malformed_json(CREATE),
        faults.error(CREATE, "EService:Unavailable"),
        faults.throttled(CREATE, 3),
    ]
    assert [(f.kind, f.operation, f.times, f.processed) for f in queued] == [
        ("http_500", CREATE, 1, True),
        ("http_503_html", None, 1, False),
        ("delay_before", CREATE, 1, True),
        ("delay_after", CREATE, None, True),
        ("drop_before", None, 1, False),
        ("drop_after", CREATE, 2, True),
        ("malformed_json", CREATE, 1, True),
        ("error", CREATE, 1, False),
        ("throttled", CREATE, 1, False),
    ]
    assert queued[2].delay_before == 0.5 and queued[2].delay_after == 0
    assert queued[3].delay_after == 0.5 and queued[3].delay_before == 0
    assert faults.pending == queued
