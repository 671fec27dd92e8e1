"""The write journal in one process, against the sandbox: idempotency keys, secrets, outcomes,
pending writes, the audit export."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from kraken_prime_async import PrimeClient, ValidationError
from kraken_prime_async.errors import OutcomeUnknownError, SecretWithheldError
from kraken_prime_async.sandbox import PrimeSandbox
from tests._fakes import FAKE_API_KEY, FAKE_SECRET, FakeClock

pytestmark = pytest.mark.integration

CREATE_USER = "CreatePrimeApiUser"


@asynccontextmanager
async def served(
    journal: Any = None, **sandbox: Any
) -> AsyncIterator[tuple[PrimeSandbox, PrimeClient]]:
    clock = FakeClock()
    async with PrimeSandbox(
        rate_limit=False, clock=clock, api_key=FAKE_API_KEY + "J", api_secret=FAKE_SECRET, **sandbox
    ) as sb:
        client = PrimeClient(
            sb.api_key,
            sb.api_secret,
            base_url=sb.url,
            sleep=clock.sleep,
            clock=clock,
            abandon_hold=0.2,
            journal=journal,
            sole_writer=True,
            nonce_window=sandbox.get("nonce_window", 0),
        )
        async with client:
            yield sb, client


async def test_same_key_same_arguments_returns_the_recorded_user_unsent() -> None:
    async with served() as (sb, client):
        first = await client.api_users.create("Desk A", "Trader", idempotency_key="k1")
        again = await client.api_users.create("Desk A", "Trader", idempotency_key="k1")
        assert again == first
        assert len(sb.calls(CREATE_USER)) == 1
        other = await client.api_users.create("Desk A", "Trader", idempotency_key="k2")
        assert other.id != first.id  # a new key is a new write


async def test_same_key_other_arguments_is_refused_before_sending() -> None:
    async with served() as (sb, client):
        await client.api_users.create("Desk A", "Trader", idempotency_key="k1")
        sent = len(sb.requests)
        with pytest.raises(ValidationError) as caught:
            await client.api_users.create("Desk B", "Trader", idempotency_key="k1")
        assert caught.value.field == "idempotency_key"
        assert len(sb.requests) == sent  # not even the read before the write


async def test_bad_idempotency_key_names_the_field() -> None:
    async with served() as (sb, client):
        with pytest.raises(ValidationError) as caught:
            await client.settlement.create_batch(idempotency_key="  ")
        assert caught.value.field == "idempotency_key"
        assert sb.requests == []


async def test_concurrent_calls_with_one_key_send_once() -> None:
    async with served() as (sb, client):
        sb.add_trade("BTC", "1")
        batches = await asyncio.gather(
            *(client.settlement.create_batch(idempotency_key="b") for _ in range(5))
        )
        assert len({b.id for b in batches}) == 1
        assert len(sb.calls("CreatePrimeSettlementBatch")) == 1


async def test_a_repeated_key_create_withholds_the_secret(tmp_path: Path) -> None:
    async with served(tmp_path / "j.sqlite3") as (sb, client):
        user_id = sb.add_api_user("Desk K")
        created = await client.api_user_keys.create(user_id, idempotency_key="key")
        assert not created.api_secret.withheld
        assert created.api_secret.get_secret_value()
        again = await client.api_user_keys.create(user_id, idempotency_key="key")
        assert again.id == created.id and again.api_secret.withheld
        with pytest.raises(SecretWithheldError) as caught:
            again.api_secret.get_secret_value()
        assert "returned once" in str(caught.value)
        assert "withheld" in repr(again)
        assert len(sb.calls("CreatePrimeApiUserKey")) == 1


async def test_a_refused_write_frees_its_key() -> None:
    async with served() as (sb, client):
        sb.faults.add(CREATE_USER, "error", message="EGeneral:Invalid arguments")
        with pytest.raises(ValidationError.__mro__[1]):  # KrakenPrimeError
            await client.api_users.create("Desk A", "Trader", idempotency_key="k1")
        user = await client.api_users.create("Desk A", "Trader", idempotency_key="k1")
        assert user.name == "Desk A"


async def test_an_unknown_outcome_stays_pending_and_resolves_later() -> None:
    async with served() as (sb, client):
        sb.add_trade("BTC", "1")
        # The answer is lost and the read-back fails too: the outcome stays unknown.
        sb.faults.add("ListPrimeSettlementBatches", "delay_before", seconds=0)  # the read before
        sb.faults.add("CreatePrimeSettlementBatch", "drop_after")
        sb.faults.add("ListPrimeSettlementBatches", "http_500", times=None)
        with pytest.raises(OutcomeUnknownError):
            await client.settlement.create_batch(idempotency_key="b", retry=None)
        sb.faults.clear()
        (found,) = await client.journal.resolve_pending()
        assert (found.operation, found.status, found.how) == (
            "CreatePrimeSettlementBatch",
            "applied",
            "found_batch",
        )
        batch = await client.settlement.create_batch(idempotency_key="b")
        assert batch.id == found.result["id"]
        assert len(sb.calls("CreatePrimeSettlementBatch")) == 1
        assert await client.journal.resolve_pending() == ()


async def test_a_cancelled_write_is_resolved_by_the_nonce_fence(tmp_path: Path) -> None:
    async with served(tmp_path / "j.sqlite3", nonce_window=5000) as (sb, client):
        sb.faults.add(CREATE_USER, "delay_before", seconds=0.3)
        task = asyncio.ensure_future(client.api_users.create("Late", "Trader"))
        while not [e async for e in client.journal.export() if '"sent"' in e]:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        (found,) = await client.journal.resolve_pending()
        assert found.status == "not_applied"  # fenced off before it arrived
        await asyncio.sleep(0.4)  # it arrives: refused by its nonce
        assert [r.processed for r in sb.calls(CREATE_USER)] == [False]


def _files(folder: Path) -> bytes:
    """Every byte of the journal's files (the database, its WAL and shared memory)."""
    return b"".join(path.read_bytes() for path in sorted(folder.glob("j.sqlite3*")))


async def test_the_journal_never_holds_a_secret_signature_or_token(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    async with served(path) as (sb, client):
        user_id = sb.add_api_user("Desk C")
        key = await client.api_user_keys.create(user_id, idempotency_key="c")
        sb.add_trade("BTC", "1")
        await client.settlement.create_batch(idempotency_key="b")
        lines = [line async for line in client.journal.export()]
    stored = _files(tmp_path)
    exported = "".join(lines)
    for secret in (FAKE_SECRET, key.api_secret.get_secret_value(), key.api_key, sb.api_key):
        assert secret not in exported
        assert secret.encode() not in stored
    assert "API-Sign" not in exported and "Bearer" not in exported


async def test_a_file_journal_survives_the_client(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    async with served(path) as (sb, client):
        first = await client.api_users.create("Desk A", "Trader", idempotency_key="k")
        other = PrimeClient(sb.api_key, sb.api_secret, base_url=sb.url, journal=path)
        async with other:
            again = await other.api_users.create("Desk A", "Trader", idempotency_key="k")
        assert again == first
        assert len(sb.calls(CREATE_USER)) == 1


def test_journal_setting_is_checked() -> None:
    with pytest.raises(ValidationError) as caught:
        PrimeClient(FAKE_API_KEY, FAKE_SECRET, journal=42)  # type: ignore[arg-type]
    assert caught.value.field == "journal"
