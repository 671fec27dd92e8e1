"""A key create whose answer is lost while another service creates a key for the same user.

The create lands (``drop_after``) but its answer never arrives; meanwhile the sandbox's admin
(another service on the account, a writer the client cannot see) creates a key for the user.
With ``sole_writer=False`` (the default) the read-back finds two new keys it cannot attribute:
``OutcomeUnknownError`` with both as ``candidates``, one of them the lost create's own key,
whose secret nobody received. Nothing waits for real: the client and the sandbox share one
fake clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, NamedTuple

import pytest

from kraken_prime_async import Journal, OutcomeUnknownError, PrimeClient
from kraken_prime_async._journal.base import Intent
from kraken_prime_async.sandbox import PrimeSandbox
from tests._fakes import FakeClock
from tests.integration.test_integration_claims import WINDOW, Meanwhile

CREATE_KEY = "CreatePrimeApiUserKey"


class LostKey(NamedTuple):
    """What a lost create left: its candidates, its own key (whose secret was lost) and the
    other service's key."""

    candidates: tuple[str, ...]
    own: str
    theirs: str
    request_id: str


class Account(NamedTuple):
    """A sandbox and its clock (the clients of a test share both)."""

    sandbox: PrimeSandbox
    clock: FakeClock

    def client(self, journal: Any = None, **options: Any) -> tuple[PrimeClient, Meanwhile]:
        """A client of the account's key (``sole_writer=False`` unless ``options`` say) and its
        transport."""
        transport = Meanwhile()
        sb, clock = self.sandbox, self.clock
        client = PrimeClient(
            sb.api_key,
            sb.api_secret,
            base_url=sb.url,
            transport=transport,
            nonce_window=WINDOW,
            timeout=0.5,
            sleep=clock.sleep,
            clock=clock,
            journal=journal,
            **options,
        )
        return client, transport


@asynccontextmanager
async def account() -> AsyncIterator[Account]:
    clock = FakeClock()
    async with PrimeSandbox(rate_limit=False, clock=clock, nonce_window=WINDOW) as sb:
        yield Account(sb, clock)


async def lose_a_key_create(
    sb: PrimeSandbox, client: PrimeClient, transport: Meanwhile, user_id: str
) -> LostKey:
    """``client.api_user_keys.create(user_id)`` lands, its answer is lost, and another service
    created a key for the user meanwhile."""
    theirs = []

    async def another_service() -> None:
        theirs.append(sb.add_api_key(user_id).key_id)
        sb.faults.add(CREATE_KEY, "drop_after")  # the create lands; its answer is lost

    transport.before[CREATE_KEY] = another_service
    with pytest.raises(OutcomeUnknownError) as info:
        await client.api_user_keys.create(user_id)
    candidates = info.value.candidates
    assert len(candidates) == 2 and theirs[0] in candidates
    (own,) = set(candidates) - set(theirs)
    return LostKey(candidates, own, theirs[0], info.value.request_id or "")


async def pending(journal: Journal) -> list[Intent]:
    """The journal's pending writes of its key, once the background outcomes have landed."""
    await journal.flush()
    return await journal.store.pending(journal.key)
