"""Events, request ids and log records of real calls against the sandbox."""

from __future__ import annotations

import logging

import pytest

from kraken_prime_async import PrimeClient, events, last_request_id
from kraken_prime_async.sandbox import PrimeSandbox
from tests._fakes import FakeClock
from tests.integration._env import sandbox_and_client

pytestmark = pytest.mark.integration


def _of(seen: list[events.Event], request_id: str) -> list[str]:
    return [event.name for event in seen if event.request_id == request_id]


async def test_the_events_of_a_call_with_one_retry_in_order_with_one_request_id(
    captured_logs: pytest.LogCaptureFixture,
) -> None:
    seen: list[events.Event] = []
    async with sandbox_and_client(client_kwargs={"on_event": seen.append}) as (sb, client, clock):
        sb.faults.add("ListPrimeApiUsers", "http_503_html")
        assert await client.api_users.list() == []
    assert [event.name for event in seen] == [
        "call_started",
        "attempt_finished",
        "retry_scheduled",
        "attempt_finished",
        "call_finished",
    ]
    request_id = seen[0].request_id
    assert len(request_id) == 32 and int(request_id, 16) >= 0
    assert {event.request_id for event in seen} == {request_id}
    assert {event.operation for event in seen} == {"ListPrimeApiUsers"}
    started, failed, retry, succeeded, finished = seen
    assert isinstance(started, events.CallStarted) and started.idempotent
    assert isinstance(failed, events.AttemptFinished)
    assert (failed.attempt, failed.status, failed.error) == (1, 503, "HTTP 503")
    assert isinstance(retry, events.RetryScheduled)
    assert (retry.attempt, retry.reason) == (1, "HTTP 503") and retry.delay == clock.sleeps[0]
    assert isinstance(succeeded, events.AttemptFinished)
    assert (succeeded.attempt, succeeded.status, succeeded.error) == (2, 200, None)
    assert succeeded.latency > 0
    assert isinstance(finished, events.CallFinished)
    assert (finished.ok, finished.error, finished.attempts) == (True, None, 2)
    assert finished.duration >= succeeded.latency
    assert [e.timestamp for e in seen] == sorted(e.timestamp for e in seen)  # the fake clock
    # every record the call logged carries its id; the id of a call that succeeded is readable
    records = [r for r in captured_logs.records if r.name == "kraken_prime_async"]
    assert records and {r.request_id for r in records} == {request_id}  # type: ignore[attr-defined]
    assert last_request_id() == request_id


async def test_the_events_of_a_lost_answer_write_in_order_with_one_request_id(
    captured_logs: pytest.LogCaptureFixture,
) -> None:
    seen: list[events.Event] = []
    async with sandbox_and_client(client_kwargs={"on_event": seen.append}) as (sb, client, _):
        sb.add_trade("BTC", "2")
        batch = await client.settlement.create_batch()
        sb.confirm_batch(batch.id)
        sb.faults.add("SettlePrimeSettlementBatchAsset", "drop_after")
        seen.clear()
        captured_logs.clear()
        transfer = await client.settlement.settle_asset(batch.id, "BTC")
        assert transfer.id  # read back from the batch: it was settled once
        assert len(sb.calls("SettlePrimeSettlementBatchAsset")) == 1
    write = seen[0]
    assert isinstance(write, events.CallStarted)
    assert write.operation == "SettlePrimeSettlementBatchAsset" and not write.idempotent
    assert _of(seen, write.request_id) == [
        "call_started",
        "attempt_finished",
        "request_abandoned",
        "outcome_unknown",
        "call_finished",
        "reconciled",
    ]
    mine = [event for event in seen if event.request_id == write.request_id]
    attempt, abandoned, unknown, finished, reconciled = mine[1:]
    assert isinstance(attempt, events.AttemptFinished) and attempt.error == "APIConnectionError"
    assert isinstance(abandoned, events.RequestAbandoned)
    assert (abandoned.reason, abandoned.idempotent) == ("connection_lost", False)
    assert isinstance(unknown, events.OutcomeUnknown)
    assert (unknown.attempts, unknown.error) == (1, "APIConnectionError")
    assert isinstance(finished, events.CallFinished)
    assert (finished.ok, finished.error) == (False, "OutcomeUnknownError")
    assert isinstance(reconciled, events.Reconciled)
    assert (reconciled.resolved, reconciled.how) == (True, "leg_started")
    # the read-back is made of calls of their own, between the write's end and its reconciliation
    reads = {e.request_id for e in seen if e.operation == "GetPrimeSettlementBatch"}
    assert reads and write.request_id not in reads
    assert (
        seen.index(finished)
        < min(i for i, e in enumerate(seen) if e.request_id in reads)
        < seen.index(reconciled)
    )
    assert last_request_id() == write.request_id  # the write's id, not the read-back's
    write_records = [r for r in captured_logs.records if r.request_id == write.request_id]  # type: ignore[attr-defined]
    messages = [r.getMessage() for r in write_records]
    assert any("abandoned after sending (connection_lost)" in m for m in messages)
    assert any("answer lost; resolved by reading back (leg_started)" in m for m in messages)


async def test_a_write_proven_not_applied_is_sent_again_under_the_same_request_id() -> None:
    seen: list[events.Event] = []
    async with sandbox_and_client(client_kwargs={"on_event": seen.append}) as (sb, client, _):
        sb.add_trade("BTC", "2")
        batch = await client.settlement.create_batch()
        sb.confirm_batch(batch.id)
        sb.faults.add("SettlePrimeSettlementBatchAsset", "drop_before")  # never applied
        seen.clear()
        transfer = await client.settlement.settle_asset(batch.id, "BTC")
        assert transfer.id and len(sb.calls("SettlePrimeSettlementBatchAsset")) == 2
    write = seen[0]
    names = _of(seen, write.request_id)
    assert names[:6] == [
        "call_started",
        "attempt_finished",
        "request_abandoned",
        "outcome_unknown",
        "call_finished",
        "reconciled",
    ]
    assert names[6:] == ["call_started", "attempt_finished", "call_finished"]  # sent again
    mine = [event for event in seen if event.request_id == write.request_id]
    reconciled, resent, finished = mine[5], mine[7], mine[8]
    assert isinstance(reconciled, events.Reconciled)
    assert (reconciled.resolved, reconciled.how) == (True, "not_applied")
    assert isinstance(resent, events.AttemptFinished) and resent.attempt == 2
    assert isinstance(finished, events.CallFinished) and finished.ok
    assert last_request_id() == write.request_id


async def test_a_read_that_times_out_reports_the_abandoned_request_and_the_retry() -> None:
    seen: list[events.Event] = []
    kwargs = {"on_event": seen.append, "timeout": 0.05}
    async with sandbox_and_client(client_kwargs=kwargs) as (sb, client, _):
        sb.faults.add("ListPrimeApiUsers", "delay", seconds=0.3)
        assert await client.api_users.list() == []
    assert [e.name for e in seen] == [
        "call_started",
        "attempt_finished",
        "request_abandoned",
        "retry_scheduled",
        "attempt_finished",
        "call_finished",
    ]
    abandoned = seen[2]
    assert isinstance(abandoned, events.RequestAbandoned) and abandoned.reason == "timeout"


async def test_the_fast_api_client_reports_its_calls_too() -> None:
    from kraken_prime_async import FastApiKeyClient

    seen: list[events.Event] = []
    clock = FakeClock()
    async with (
        PrimeSandbox(rate_limit=False, clock=clock) as sb,
        FastApiKeyClient(sb.issue_token(), sb.url, on_event=seen.append, clock=clock) as oauth,
    ):
        assert await oauth.fast_api_keys.list() == []
    assert [e.name for e in seen] == ["call_started", "attempt_finished", "call_finished"]
    assert {e.operation for e in seen} == {"ListFastApiKeys"}


async def test_a_client_without_listeners_makes_no_request_id_until_asked() -> None:
    clock = FakeClock()
    async with (
        PrimeSandbox(rate_limit=False, clock=clock) as sb,
        PrimeClient(sb.api_key, sb.api_secret, base_url=sb.url, clock=clock) as client,
    ):
        assert client._pipeline.observer is None
        await client.api_users.list()
        from kraken_prime_async._observability import context as _observe

        call = _observe._current.get()
        assert call is not None and call.done
        assert call._request_id is None  # type: ignore[union-attr]  # made on first use only
        request_id = last_request_id()
        assert request_id is not None and last_request_id() == request_id


async def test_settle_batch_logs_its_confirmation_polling(
    captured_logs: pytest.LogCaptureFixture,
) -> None:
    async with sandbox_and_client() as (sb, client, _):
        sb.add_trade("BTC", "2")
        batch = await client.settlement.create_batch()
        report = await client.settlement.settle_batch(
            batch.id, wait_for_confirmation=5, poll_interval=2
        )
    assert not report.confirmed
    polls = [r for r in captured_logs.records if "not confirmed yet" in r.getMessage()]
    assert len(polls) == 3 and all(r.levelno == logging.INFO for r in polls)
    assert any("still not confirmed" in r.getMessage() for r in captured_logs.records)
