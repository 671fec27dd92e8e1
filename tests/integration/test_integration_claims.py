"""Claim only what is proven: a create whose answer was lost while another writer created in the
same scope, against the sandbox over loopback.

Another writer lands between the lost create's read-before-write and its read-back (inside the
lost create's send, so the order is fixed). A writer the client cannot see (the sandbox's admin,
standing in for another service on the account) leaves the lost create unable to tell whose the
new object is: it raises with ``candidates`` and deletes nothing. A writer in the same process
is registered before it sends, so its object is set aside and the lost create ends exactly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest
from yarl import URL

from kraken_prime_async import OutcomeUnknownError, PrimeClient, RawResponse, RequestTimeout
from kraken_prime_async._transports.aiohttp import AiohttpTransport
from kraken_prime_async.events import Event, Reconciled
from kraken_prime_async.sandbox import PrimeSandbox
from tests._fakes import FakeClock

pytestmark = pytest.mark.integration

WINDOW = 5000  # the other writer's create goes out while the lost one holds a slot


class Meanwhile:
    """A real transport that, the first time ``operation`` is sent, runs ``before`` (another
    writer's create) to its end, then sends the request."""

    def __init__(self) -> None:
        self.inner = AiohttpTransport()
        self.before: dict[str, Callable[[], Awaitable[object]]] = {}

    async def request(
        self,
        url: URL,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: RequestTimeout,
        *,
        operation: str,
        http_method: str = "POST",
    ) -> RawResponse:
        hook = self.before.pop(operation, None)
        if hook is not None:
            await hook()
        return await self.inner.request(
            url, body, headers, timeout, operation=operation, http_method=http_method
        )

    async def close(self) -> None:
        await self.inner.close()


@asynccontextmanager
async def two_writers(
    *, sole_writer: bool = False, base_url: Callable[[str], str] = lambda url: url, **options: Any
) -> AsyncIterator[tuple[PrimeSandbox, PrimeClient, PrimeClient, Meanwhile, list[Event]]]:
    """The sandbox, client A (its transport lets another create land meanwhile), client B of
    the same key in the same process, and A's events."""
    clock = FakeClock()
    events: list[Event] = []
    transport = Meanwhile()
    async with PrimeSandbox(rate_limit=False, clock=clock, nonce_window=WINDOW) as sb:
        a = PrimeClient(
            sb.api_key,
            sb.api_secret,
            base_url=sb.url,
            transport=transport,
            nonce_window=WINDOW,
            timeout=0.5,
            sleep=clock.sleep,
            clock=clock,
            sole_writer=sole_writer,
            on_event=events.append,
            **options.get("a", {}),
        )
        b = PrimeClient(
            sb.api_key,
            sb.api_secret,
            base_url=base_url(sb.url),
            nonce_window=WINDOW,
            sleep=clock.sleep,
            clock=clock,
            **options.get("b", {}),
        )
        async with a, b:
            yield sb, a, b, transport, events


async def processed(sb: PrimeSandbox, operation: str) -> None:
    """Wait (real time, bounded) until the sandbox has processed an ``operation`` request."""
    for _ in range(1000):
        if any(record.processed for record in sb.calls(operation)):
            return
        await asyncio.sleep(0.005)  # the sandbox's log has no event to wait on
    raise AssertionError(f"no {operation} request was processed")


async def works(sb: PrimeSandbox, api_key: str, api_secret: str) -> bool:
    async with PrimeClient(api_key, api_secret, base_url=sb.url) as own:
        await own.settlement.list_batches()
    return True


# -- a writer the client cannot see --------------------------------------------------------------


async def test_another_services_key_made_meanwhile_stays_live_and_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with two_writers() as (sb, a, _b, transport, events):
        user_id = sb.add_api_user("Bot", "Viewer")
        theirs = []

        async def another_service() -> None:
            theirs.append(sb.add_api_key(user_id))

        transport.before["CreatePrimeApiUserKey"] = another_service
        sb.faults.add("CreatePrimeApiUserKey", "drop_before")  # A's create never lands
        with pytest.raises(OutcomeUnknownError) as info:
            await a.api_user_keys.create(user_id)
        assert info.value.candidates == (theirs[0].key_id,)
        assert sb.calls("DeletePrimeApiUserKey") == []
        assert [k.id for k in await a.api_user_keys.list(user_id)] == [theirs[0].key_id]
        assert await works(sb, theirs[0].api_key, theirs[0].api_secret)  # B's key is live
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any(theirs[0].key_id in r.getMessage() for r in warned)
    reconciled = [e for e in events if isinstance(e, Reconciled)]
    assert reconciled[-1].resolved is False and reconciled[-1].candidates == (theirs[0].key_id,)
    assert a.stats.outcome_unknown == 1 and a.stats.resolved_lost_answers == 0


async def test_another_services_user_made_meanwhile_is_never_returned_as_its_own() -> None:
    async with two_writers() as (sb, a, _b, transport, _events):
        theirs: list[str] = []

        async def another_service() -> None:
            theirs.append(sb.add_api_user("Desk", "Trader"))

        transport.before["CreatePrimeApiUser"] = another_service
        sb.faults.add("CreatePrimeApiUser", "drop_before")
        with pytest.raises(OutcomeUnknownError) as info:
            await a.api_users.create("Desk", "Trader")
        assert info.value.candidates == tuple(theirs)
        assert [u.id for u in await a.api_users.list()] == theirs


async def test_another_services_batch_made_meanwhile_is_never_returned_as_its_own() -> None:
    async with two_writers() as (sb, a, _b, transport, _events):
        sb.add_trade("ETH", "3")
        # another service: a client of another process (another base URL: not registered here)
        other = PrimeClient(
            sb.api_key,
            sb.api_secret,
            base_url=sb.url.replace("127.0.0.1", "localhost"),
            nonce_window=WINDOW,
        )
        theirs = []

        async def another_service() -> None:
            theirs.append((await other.settlement.create_batch()).id)
            sb.faults.add("CreatePrimeSettlementBatch", "drop_before")  # then A's is lost

        transport.before["CreatePrimeSettlementBatch"] = another_service
        async with other:
            with pytest.raises(OutcomeUnknownError) as info:
                await a.settlement.create_batch()
        assert info.value.candidates == tuple(theirs)


async def test_with_sole_writer_a_lone_new_key_is_its_own_and_replaced() -> None:
    async with two_writers(sole_writer=True) as (sb, a, _b, _transport, _events):
        user_id = sb.add_api_user("Bot", "Viewer")
        sb.faults.add("CreatePrimeApiUserKey", "drop_after")
        created = await a.api_user_keys.create(user_id)
        assert [k.id for k in await a.api_user_keys.list(user_id)] == [created.id]
        assert len(sb.calls("DeletePrimeApiUserKey")) == 1
        assert a.stats.resolved_lost_answers == 1 and a.stats.outcome_unknown == 0


# -- a writer in the same process ------------------------------------------------------------------


@pytest.mark.parametrize("sole_writer", [False, True])
async def test_a_create_of_the_process_made_meanwhile_is_set_aside(sole_writer: bool) -> None:
    async with two_writers(sole_writer=sole_writer) as (sb, a, b, transport, _events):
        user_id = sb.add_api_user("Bot", "Viewer")
        theirs = []

        async def b_creates() -> None:
            theirs.append(await b.api_user_keys.create(user_id))
            sb.faults.add("CreatePrimeApiUserKey", "drop_before")  # then A's is lost

        transport.before["CreatePrimeApiUserKey"] = b_creates
        mine = await a.api_user_keys.create(user_id)  # not applied: proven, sent again
        keys = {k.id for k in await a.api_user_keys.list(user_id)}
        assert keys == {mine.id, theirs[0].id} and sb.calls("DeletePrimeApiUserKey") == []
        assert await works(sb, mine.api_key, mine.api_secret.get_secret_value())
        assert await works(sb, theirs[0].api_key, theirs[0].api_secret.get_secret_value())


async def test_with_sole_writer_both_creates_of_the_process_end_exactly() -> None:
    async with two_writers(sole_writer=True) as (sb, a, b, transport, _events):
        theirs = []

        async def b_creates() -> None:
            theirs.append(await b.api_users.create("Desk", "Trader"))
            sb.faults.add("CreatePrimeApiUser", "drop_after")  # A's lands; its answer is lost

        transport.before["CreatePrimeApiUser"] = b_creates
        mine = await a.api_users.create("Desk", "Trader")
        assert mine.id != theirs[0].id
        assert {u.id for u in await a.api_users.list()} == {mine.id, theirs[0].id}
        assert len(sb.calls("CreatePrimeApiUser")) == 2  # nothing sent again


async def test_with_sole_writer_a_create_still_under_way_is_waited_for_not_deleted() -> None:
    # B's key exists when A reads back, but B's answer is still on its way: A waits for it
    # instead of taking B's key for its own orphan (and deleting it)
    async with two_writers(sole_writer=True) as (sb, a, b, transport, _events):
        user_id = sb.add_api_user("Bot", "Viewer")
        op = "CreatePrimeApiUserKey"
        b_task: list[asyncio.Task[Any]] = []

        async def b_creates() -> None:
            sb.faults.add(op, "delay_after", seconds=0.3)  # B's answer comes late
            b_task.append(asyncio.ensure_future(b.api_user_keys.create(user_id)))
            await processed(sb, op)
            sb.faults.add(op, "drop_after")  # A's lands; its answer is lost

        transport.before[op] = b_creates
        mine = await a.api_user_keys.create(user_id)
        theirs = await b_task[0]
        keys = {k.id for k in await a.api_user_keys.list(user_id)}
        assert keys == {mine.id, theirs.id}
        assert len(sb.calls("DeletePrimeApiUserKey")) == 1  # A's own orphan only
        assert await works(sb, theirs.api_key, theirs.api_secret.get_secret_value())
