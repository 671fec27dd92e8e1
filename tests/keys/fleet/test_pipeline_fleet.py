"""How the call pipeline uses a fleet: slot before nonce, answers kept when the store fails."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Hashable
from pathlib import Path

import pytest

from kraken_prime_async import (
    CoordinationError,
    FileLockFleet,
    RateLimitError,
    RetryPolicy,
)
from kraken_prime_async._keys.fleet._file import FileLockGate
from kraken_prime_async._keys.nonces import LocalNonceSource, NonceUnit
from kraken_prime_async._keys.pacing import RateCounter, RateLimit

from ..._fakes import USER, ScriptedTransport, kraken_error, make_client, ok


class RecordingFleet:
    """A fleet that records the order of its steps and can fail on demand."""

    def __init__(self, directory: Path) -> None:
        self.inner = FileLockFleet(directory)
        self.events: list[str] = []
        self.fail_release = False
        self.fail_acquire = False
        self.source = LocalNonceSource()
        self.refusals: list[float | None] = []

    def nonce_source(self, api_key: str, unit: NonceUnit) -> RecordingFleet:
        return self

    async def next_nonce(self) -> int:
        self.events.append("nonce")
        return await self.source.next_nonce()

    def gate(self, api_key: str, *, window_seconds: float, max_in_flight: int) -> RecordingFleet:
        self._gate: FileLockGate = self.inner.gate(
            api_key, window_seconds=window_seconds, max_in_flight=max_in_flight
        )
        return self

    async def acquire(self, lease_seconds: float) -> Hashable:
        if self.fail_acquire:
            raise CoordinationError("store unreachable; nothing was sent", store="test")
        self.events.append(f"slot lease={lease_seconds:g}")
        return await self._gate.acquire(lease_seconds)

    async def release(self, token: Hashable, hold_seconds: float = 0.0) -> None:
        self.events.append("release")
        await self._gate.release(token)
        if self.fail_release:
            raise CoordinationError("store unreachable", store="test")

    def counter(
        self, api_key: str, limits: RateLimit | None, *, auto: bool, clock: Callable[[], float]
    ) -> RateCounter:
        fleet = self

        class Counter:
            active = False

            async def acquire(
                self, cost: float, sleep: Callable[[float], Awaitable[None]]
            ) -> float:
                fleet.events.append("counter")
                return 0.0

            async def refused(self, retry_at: float | None, cost: float) -> None:
                fleet.refusals.append(retry_at)

        return Counter()


async def test_slot_then_counter_then_nonce_and_the_slot_is_freed(tmp_path: Path) -> None:
    fleet = RecordingFleet(tmp_path)
    transport = ScriptedTransport().queue(ok({"data": [USER]}))
    client, _ = make_client(transport, fleet=fleet, timeout=12)
    await client.api_users.list()
    assert fleet.events == ["slot lease=17", "counter", "nonce", "release"]


async def test_an_answer_is_kept_when_the_slot_cannot_be_freed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fleet = RecordingFleet(tmp_path)
    fleet.fail_release = True
    transport = ScriptedTransport().queue(ok({"data": [USER]}))
    client, _ = make_client(transport, fleet=fleet)
    with caplog.at_level(logging.WARNING, logger="kraken_prime_async"):
        users = await client.api_users.list()
    assert users[0].id == USER["id"]
    assert "could not free the fleet slot" in caplog.text


async def test_a_store_failure_before_sending_sends_nothing_and_is_not_retried(
    tmp_path: Path,
) -> None:
    fleet = RecordingFleet(tmp_path)
    fleet.fail_acquire = True
    transport = ScriptedTransport()
    client, _ = make_client(transport, fleet=fleet)
    with pytest.raises(CoordinationError, match="nothing was sent"):
        await client.api_users.create(name="Desk A", role="Trader")
    assert transport.requests == []
    assert client.stats.attempts == 0


async def test_a_refusal_is_told_to_the_fleet_counter(tmp_path: Path) -> None:
    fleet = RecordingFleet(tmp_path)
    transport = ScriptedTransport().queue(kraken_error("EService: Throttled: 1700000042"))
    client, _ = make_client(transport, fleet=fleet, retry=RetryPolicy.disabled())
    with pytest.raises(RateLimitError):
        await client.api_users.list()
    assert fleet.refusals == [1700000042.0]


async def test_a_long_wait_on_a_fleets_learnt_tier_says_why_as_in_one_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    transport = ScriptedTransport().queue(
        kraken_error("EAPI:Rate limit exceeded"), ok({"data": []})
    )
    client, _ = make_client(transport, fleet=FileLockFleet(tmp_path))
    with caplog.at_level(logging.WARNING, logger="kraken_prime_async"):
        await client.api_users.list()  # one call explains no tier: starter, (16 + 1 - 14.5) / 0.33
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "waited 7.6 s in total" in warnings[0]
    assert "rate_limit='auto' paces the key as the starter tier since Kraken refused" in warnings[0]
    await client.close()
