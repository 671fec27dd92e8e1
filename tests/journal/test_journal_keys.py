"""Keys through the journal: a rotation's hand-over and its stages; Fast API key creates under
an idempotency key (the secret withheld on a repeat)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kraken_prime_async import (
    CreatedApiKey,
    FastApiKeyClient,
    KeyRotationError,
    PrimeClient,
    SecretWithheldError,
    ValidationError,
)
from kraken_prime_async.sandbox import PrimeSandbox
from tests._fakes import FakeClock

pytestmark = pytest.mark.integration


async def test_a_journaled_rotation_needs_a_hand_over(tmp_path: Path) -> None:
    async with PrimeSandbox(rate_limit=False) as sb:
        user_id = sb.add_api_user("Desk R")
        old = sb.add_api_key(user_id)
        client = PrimeClient(sb.api_key, sb.api_secret, base_url=sb.url, journal=tmp_path / "j")
        async with client:
            with pytest.raises(ValidationError) as caught:
                await client.api_user_keys.rotate(user_id, old.key_id)
            assert caught.value.field == "on_new_key"
            assert sb.calls("CreatePrimeApiUserKey") == []
            handed: list[CreatedApiKey] = []

            async def keep(new: CreatedApiKey) -> None:
                assert old.key_id in {k.id for k in await client.api_user_keys.list(user_id)}
                handed.append(new)

            new = await client.api_user_keys.rotate(user_id, old.key_id, on_new_key=keep)
            assert [k.id for k in handed] == [new.id]
            lines = [line async for line in client.journal.export()]
            stages = [
                s
                for s in ("created", "delivered", "deleting_old")
                if f'"how":"{s}"' in "".join(lines)
            ]
            assert stages == ["created", "delivered", "deleting_old"]
            assert '"how":"replaced"' in lines[-1]
            assert await client.journal.resolve_pending() == ()


async def test_a_hand_over_that_raises_rolls_back() -> None:
    async with PrimeSandbox(rate_limit=False) as sb:
        user_id = sb.add_api_user("Desk R")
        old = sb.add_api_key(user_id)
        async with PrimeClient(sb.api_key, sb.api_secret, base_url=sb.url) as client:

            def refuse(new: CreatedApiKey) -> None:
                raise OSError("disk full")

            with pytest.raises(KeyRotationError) as caught:
                await client.api_user_keys.rotate(user_id, old.key_id, on_new_key=refuse)
            assert caught.value.stage == "deliver"
            assert [k.id for k in await client.api_user_keys.list(user_id)] == [old.key_id]
            lines = [line async for line in client.journal.export()]
            assert "RotateApiUserKey" in lines[0]
            assert '"status":"not_applied"' in lines[-1]  # rolled back: the old key unchanged
            assert await client.journal.resolve_pending() == ()


async def test_fast_api_key_create_under_an_idempotency_key(tmp_path: Path) -> None:
    clock = FakeClock()
    async with PrimeSandbox(rate_limit=False, clock=clock) as sb:
        oauth = FastApiKeyClient(
            sb.issue_token(), base_url=sb.url, journal=tmp_path / "j.sqlite3", sleep=clock.sleep
        )
        async with oauth:
            created = await oauth.fast_api_keys.create("bot-1", idempotency_key="f1")
            again = await oauth.fast_api_keys.create("bot-1", idempotency_key="f1")
            with pytest.raises(ValidationError):
                await oauth.fast_api_keys.create("bot-2", idempotency_key="f1")
        assert created.secret.get_secret_value() and not created.secret.withheld
        assert again.api_key_name == "bot-1" and again.secret.withheld
        with pytest.raises(SecretWithheldError):
            again.secret.get_secret_value()
        assert len(sb.calls("CreateFastApiKey")) == 1
        exported = (tmp_path / "j.sqlite3").read_bytes()
        assert created.secret.get_secret_value().encode() not in exported
