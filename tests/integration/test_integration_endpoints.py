"""Every endpoint against the sandbox over loopback HTTP, with real state."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kraken_prime_async import (
    AuthenticationError,
    InvalidArgumentsError,
    PermissionDeniedError,
    PrimeClient,
    Role,
    UserStatus,
)
from tests.integration._env import sandbox_and_client

pytestmark = pytest.mark.integration


async def test_api_users_lifecycle() -> None:
    async with sandbox_and_client() as (_, client, _clock):
        created = await client.api_users.create(name="Desk A", role=Role.TRADER)
        assert (created.name, created.status, created.roles) == ("Desk A", "Enabled", ("Trader",))
        assert await client.api_users.get(created.id) == created
        assert created in await client.api_users.list()
        renamed = await client.api_users.update(created.id, name="Desk B")
        assert renamed.name == "Desk B"
        viewer = await client.api_users.update_roles(created.id, role="Viewer")
        assert viewer.roles == ("Viewer",)
        disabled = await client.api_users.update(created.id, status=UserStatus.DISABLED)
        assert disabled.status == "Disabled"
        with pytest.raises(InvalidArgumentsError) as info:
            await client.api_users.get("NOSUCHUSER")
        assert info.value.errors == ("EGeneral:Invalid arguments:unknown user_id",)


async def test_api_user_keys_lifecycle_and_immediate_revocation() -> None:
    async with sandbox_and_client() as (sb, client, _clock):
        user = await client.api_users.create("Desk A", "Trader")
        key = await client.api_user_keys.create(user.id)
        assert key.user_id == user.id and key.api_key
        secret = key.api_secret.get_secret_value()

        # The new key works at once.
        async with PrimeClient(key.api_key, secret, base_url=sb.url) as trader:
            assert (await trader.settlement.list_batches()).data == ()

            listed = await client.api_user_keys.list(user.id)
            assert [k.id for k in listed] == [key.id]
            assert listed[0].api_key == key.api_key  # `key` on the wire

            updated = await client.api_user_keys.update(
                user.id, key.id, whitelisted_ips=["10.0.0.0/8", "2001:db8::1"]
            )
            assert updated.whitelisted_ips == ("10.0.0.0/8", "2001:db8::1")

            assert await client.api_user_keys.delete(user.id, key.id) is True
            assert await client.api_user_keys.list(user.id) == []
            with pytest.raises(AuthenticationError) as info:
                await trader.settlement.list_batches()
            assert info.value.errors == ("EAPI:Invalid key",)
            assert trader.stats.attempts == 2  # not retried


async def test_a_disabled_users_key_is_refused() -> None:
    async with sandbox_and_client() as (sb, client, _clock):
        user = await client.api_users.create("Desk A", "Trader")
        key = await client.api_user_keys.create(user.id)
        await client.api_users.update(user.id, status="Disabled")
        async with PrimeClient(
            key.api_key, key.api_secret.get_secret_value(), base_url=sb.url
        ) as c:
            with pytest.raises(AuthenticationError):
                await c.settlement.list_batches()


async def test_settlement_lifecycle() -> None:
    async with sandbox_and_client() as (sb, client, _clock):
        trades = [
            sb.add_trade("BTC", "1.5"),
            sb.add_trade("BTC", "-0.25"),
            sb.add_trade("USD", "-50000"),
        ]
        batch = await client.settlement.create_batch("currency")
        assert set(batch.trade_ids or ()) == set(trades)
        assert batch.attributes.status == "unsettled" and batch.attributes.confirmed is False
        btc = batch.leg("BTC")
        assert btc is not None and btc.amount == Decimal("1.25")

        fetched = await client.settlement.get_batch(batch.id)
        assert fetched.id == batch.id and fetched.trade_ids is not None

        page = await client.settlement.list_batches(statuses=["unsettled"], limit=10)
        assert [b.id for b in page.data] == [batch.id] and not page.pagination.has_more

        with pytest.raises(InvalidArgumentsError, match="batch not confirmed"):
            await client.settlement.settle_asset(batch.id, "BTC")
        sb.confirm_batch(batch.id)
        transfer = await client.settlement.settle_asset(batch.id, "BTC")
        assert transfer.attributes.transfer_status == "pending"
        assert transfer.attributes.transfer_amount == Decimal("1.25")
        with pytest.raises(InvalidArgumentsError, match="already"):
            await client.settlement.settle_asset(batch.id, "BTC")

        after = await client.settlement.get_batch(batch.id)
        assert after.attributes.status == "partially_settled"


async def test_iter_batches_walks_every_page() -> None:
    async with sandbox_and_client() as (sb, client, _clock):
        ids = []
        for kind_round in range(5):
            sb.add_trade("BTC", str(kind_round + 1))
            batch = await client.settlement.create_batch()
            sb.confirm_batch(batch.id)
            await client.settlement.settle_asset(batch.id, "BTC")
            sb.complete_transfers(batch.id)
            ids.append(batch.id)
        seen = [b.id async for b in client.settlement.iter_batches(page_size=2)]
        assert sorted(seen) == sorted(ids) and len(seen) == 5


async def test_a_viewer_cannot_create_or_settle() -> None:
    async with sandbox_and_client() as (sb, client, _clock):
        viewer = await client.api_users.create("Watcher", "Viewer")
        key = await client.api_user_keys.create(viewer.id)
        sb.add_trade("BTC", "1")
        async with PrimeClient(
            key.api_key, key.api_secret.get_secret_value(), base_url=sb.url
        ) as c:
            assert (await c.settlement.list_batches()).data == ()
            with pytest.raises(PermissionDeniedError):
                await c.settlement.create_batch()
            assert c.stats.attempts == 3  # the list, the read before the create, the create


async def test_a_wrong_secret_is_refused_as_an_invalid_signature() -> None:
    async with sandbox_and_client() as (sb, _client, _clock):
        other_secret = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
        async with PrimeClient(
            sb.api_key + "", other_secret, base_url=sb.url, nonce_unit="ms"
        ) as c:
            with pytest.raises(AuthenticationError) as info:
                await c.api_users.list()
        assert info.value.errors == ("EAPI:Invalid signature",)
