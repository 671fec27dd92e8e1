"""A poisoned key fails fast: however many calls a service makes, at most
``NONCE_REFUSAL_LIMIT`` (5) invalid-nonce refusals at Kraken per key per minute (issue 12,
section 6).

Another client on the same sandbox key sends nanosecond nonces; every millisecond nonce of the
service's client is refused from then on.
"""

from __future__ import annotations

import asyncio

import pytest

from kraken_prime_async import InvalidNonceError, LocalNonceSource, PrimeClient
from kraken_prime_async._constants import (
    DEFAULT_MAX_IN_FLIGHT,
    NONCE_REFUSAL_LIMIT,
    NONCE_REFUSAL_PERIOD,
)
from kraken_prime_async._keys.refusals import NonceRefusals
from kraken_prime_async.sandbox import PrimeSandbox
from tests._fakes import FakeClock

pytestmark = pytest.mark.integration

CALLS = 60


def _refused(sb: PrimeSandbox) -> int:
    return sum(r.errors.count("EAPI:Invalid nonce") for r in sb.requests)


async def _many_calls(client: PrimeClient, calls: int) -> list[InvalidNonceError]:
    errors = []
    for _ in range(calls):
        with pytest.raises(InvalidNonceError) as info:
            await client.api_users.list()
        errors.append(info.value)
    return errors


async def test_a_poisoned_key_gets_at_most_five_refusals_a_minute() -> None:
    clock = FakeClock()
    async with PrimeSandbox(rate_limit=False) as sb:
        service = PrimeClient(
            sb.api_key, sb.api_secret, base_url=sb.url, clock=clock, sleep=clock.sleep
        )
        poisoner = PrimeClient(
            sb.api_key, sb.api_secret, base_url=sb.url, nonce_source=LocalNonceSource("ns")
        )
        async with service, poisoner:
            await service.api_users.list()
            await poisoner.api_users.list()  # the key's nonce is now in nanoseconds

            errors = await _many_calls(service, CALLS)
            assert _refused(sb) == NONCE_REFUSAL_LIMIT
            resting = errors[-1]
            assert resting.retryable is False and resting.cooldown_until is not None
            text = str(resting)
            for hint in ("nonce unit", "nonce_unit=", "nonce_window=", "rotate the key"):
                assert hint in text
            assert sb.api_key not in text and sb.api_secret not in text
            assert service.stats.nonce_rejections == NONCE_REFUSAL_LIMIT
            assert service.stats.nonce_cooldowns >= CALLS - 2

            clock.now += NONCE_REFUSAL_PERIOD  # a minute later: probes again, rests again
            await _many_calls(service, CALLS)
            assert _refused(sb) == 2 * NONCE_REFUSAL_LIMIT
            errors_seen = [e for r in sb.requests for e in r.errors]
            assert "EGeneral:Temporary lockout" not in errors_seen


async def test_with_a_window_only_the_first_burst_can_exceed_the_limit() -> None:
    # Requests already out when the first refusal comes (up to max_in_flight) may each be
    # refused; from then on refusals plus requests out stay below the limit.
    clock = FakeClock()
    async with PrimeSandbox(rate_limit=False, nonce_window=5000) as sb:
        service = PrimeClient(
            sb.api_key,
            sb.api_secret,
            base_url=sb.url,
            nonce_window=5000,
            clock=clock,
            sleep=clock.sleep,
        )
        poisoner = PrimeClient(
            sb.api_key,
            sb.api_secret,
            base_url=sb.url,
            nonce_window=5000,
            nonce_source=LocalNonceSource("ns"),
        )
        async with service, poisoner:
            await service.api_users.list()
            await poisoner.api_users.list()
            for _ in range(2):
                results = await asyncio.gather(
                    *(service.api_users.list() for _ in range(CALLS)), return_exceptions=True
                )
                assert all(isinstance(r, InvalidNonceError) for r in results)
                assert _refused(sb) <= DEFAULT_MAX_IN_FLIGHT  # the first burst, then nothing


def test_the_refusal_window_slides() -> None:
    now = [0.0]
    refusals = NonceRefusals(lambda: now[0], limit=2, period=60)
    refusals.record()
    refusals.check("op")
    now[0] = 30
    refusals.record()
    with pytest.raises(InvalidNonceError) as info:
        refusals.check("op")
    assert info.value.cooldown_until == 60
    now[0] = 60.5  # the first refusal is a minute old: one probe may go
    refusals.check("op")
    assert refusals.recent() == 1
