"""``api_user_keys.rotate`` against the sandbox: every step's answer lost, failed verification,
refused deletes, concurrent use of the old key, cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from kraken_prime_async import (
    AuthenticationError,
    CreatedApiKey,
    KeyRotationError,
    OutcomeUnknownError,
    PrimeClient,
    RetryPolicy,
    ValidationError,
)
from kraken_prime_async._constants import DEFAULT_MAX_ATTEMPTS
from kraken_prime_async.sandbox import PrimeSandbox, SandboxCredentials
from tests._fakes import FakeClock
from tests.integration._env import sandbox_and_client

pytestmark = pytest.mark.integration

OLD_IPS = ["203.0.113.7", "198.51.100.0/28"]


@dataclass
class Setup:
    sb: PrimeSandbox
    client: PrimeClient
    clock: FakeClock
    user_id: str
    old: SandboxCredentials


@asynccontextmanager
async def rotation_setup(role: str = "Trader", *, sole_writer: bool = True) -> AsyncIterator[Setup]:
    # sole_writer: the exact resolution of a lost create (a key nobody holds is deleted)
    async with sandbox_and_client(client_kwargs={"sole_writer": sole_writer}) as (
        sb,
        client,
        clock,
    ):
        user_id = sb.add_api_user("Desk A", role)
        old = sb.add_api_key(user_id)
        await client.api_user_keys.update(user_id, old.key_id, whitelisted_ips=OLD_IPS)
        sb.clear_requests()
        yield Setup(sb, client, clock, user_id, old)


async def _works(setup: Setup, api_key: str, api_secret: str) -> bool:
    async with PrimeClient(
        api_key, api_secret, base_url=setup.sb.url, sleep=setup.clock.sleep, clock=setup.clock
    ) as other:
        try:
            await other.settlement.list_batches(limit=1)
        except AuthenticationError:
            return False
        return True


async def _assert_rotated(setup: Setup, new: CreatedApiKey) -> None:
    """Exactly one live key, the new one, whose secret the caller holds; the old one is gone."""
    listed = await setup.client.api_user_keys.list(setup.user_id)
    assert [key.id for key in listed] == [new.id]
    assert new.id != setup.old.key_id
    assert await _works(setup, new.api_key, new.api_secret.get_secret_value())
    assert not await _works(setup, setup.old.api_key, setup.old.api_secret)
    assert list(listed[0].whitelisted_ips) == OLD_IPS == list(new.whitelisted_ips)


def _proven_before_old_deleted(sb: PrimeSandbox, new: CreatedApiKey) -> None:
    """The new key made a successful signed read before any key delete took effect."""
    log = sb.requests
    proof = next(r.seq for r in log if r.api_key == new.api_key and r.processed)
    deletes = [r.seq for r in log if r.operation == "DeletePrimeApiUserKey" and r.processed]
    assert deletes and proof < deletes[-1]


async def test_rotate_replaces_the_key_and_copies_the_allow_list() -> None:
    async with rotation_setup() as setup:
        new = await setup.client.api_user_keys.rotate(setup.user_id, setup.old.key_id)
        assert isinstance(new, CreatedApiKey) and new.user_id == setup.user_id
        await _assert_rotated(setup, new)
        _proven_before_old_deleted(setup.sb, new)
        methods = [r.operation for r in setup.sb.requests[:7]]
        assert methods == [
            "ListPrimeApiUserKeys",
            "ListPrimeApiUserKeys",  # the create's read before (docs/guarantees.md)
            "CreatePrimeApiUserKey",
            "ListPrimeSettlementBatches",  # with the new key
            "UpdatePrimeApiUserKey",
            "DeletePrimeApiUserKey",
            "ListPrimeApiUserKeys",  # _assert_rotated
        ]


async def test_rotate_with_new_allow_list_and_a_viewer() -> None:
    async with rotation_setup(role="Viewer") as setup:
        new = await setup.client.api_user_keys.rotate(
            setup.user_id, setup.old.key_id, whitelisted_ips=["192.0.2.1"]
        )
        assert new.whitelisted_ips == ("192.0.2.1",)
        listed = await setup.client.api_user_keys.list(setup.user_id)
        assert [(k.id, k.whitelisted_ips) for k in listed] == [(new.id, ("192.0.2.1",))]


@pytest.mark.parametrize(
    "method",
    [
        "ListPrimeApiUserKeys",
        "CreatePrimeApiUserKey",
        "ListPrimeSettlementBatches",
        "UpdatePrimeApiUserKey",
        "DeletePrimeApiUserKey",
    ],
)
@pytest.mark.parametrize("kind", ["drop_before", "drop_after"])
async def test_each_steps_answer_lost(method: str, kind: str) -> None:
    async with rotation_setup() as setup:
        setup.sb.faults.add(method, kind)  # type: ignore[arg-type]
        new = await setup.client.api_user_keys.rotate(setup.user_id, setup.old.key_id)
        assert not setup.sb.faults.pending  # the fault was hit
        await _assert_rotated(setup, new)
        _proven_before_old_deleted(setup.sb, new)
        created = [r for r in setup.sb.calls("CreatePrimeApiUserKey") if r.processed]
        # a create whose answer was lost made a key nobody holds: it was found and deleted
        assert len(created) == (
            2 if (method, kind) == ("CreatePrimeApiUserKey", "drop_after") else 1
        )


async def test_every_create_answer_lost_leaves_the_old_key_and_no_orphan() -> None:
    async with rotation_setup() as setup:
        setup.sb.faults.add("CreatePrimeApiUserKey", "drop_after", times=None)
        with pytest.raises(KeyRotationError) as info:
            await setup.client.api_user_keys.rotate(setup.user_id, setup.old.key_id)
        setup.sb.faults.clear()
        assert info.value.stage == "create" and info.value.new_key is None
        assert info.value.live_key_ids == (setup.old.key_id,) and info.value.old_key_live
        listed = await setup.client.api_user_keys.list(setup.user_id)
        assert [k.id for k in listed] == [setup.old.key_id]
        made = [r for r in setup.sb.calls("CreatePrimeApiUserKey") if r.processed]
        assert len(made) == DEFAULT_MAX_ATTEMPTS  # each found by the read-back and deleted


async def test_by_default_a_lost_create_that_took_effect_stops_the_rotation() -> None:
    async with rotation_setup(sole_writer=False) as setup:
        setup.sb.faults.add("CreatePrimeApiUserKey", "drop_after")
        with pytest.raises(KeyRotationError) as info:
            await setup.client.api_user_keys.rotate(setup.user_id, setup.old.key_id)
        assert info.value.stage == "create" and info.value.old_key_live
        cause = info.value.__cause__
        assert isinstance(cause, OutcomeUnknownError) and len(cause.candidates) == 1
        assert info.value.unknown_key_ids == cause.candidates  # reported with the rotation
        listed = {k.id for k in await setup.client.api_user_keys.list(setup.user_id)}
        assert listed == {setup.old.key_id, cause.candidates[0]}  # reported, not deleted
        assert setup.sb.calls("DeletePrimeApiUserKey") == []


async def test_a_failed_first_read_is_a_rotation_error_at_stage_list() -> None:
    # issue 23: rotate raised a bare APIConnectionError when its first read failed
    async with rotation_setup() as setup:
        setup.sb.faults.add("ListPrimeApiUserKeys", "drop_before", times=None)
        with pytest.raises(KeyRotationError) as info:
            await setup.client.api_user_keys.rotate(setup.user_id, setup.old.key_id)
        setup.sb.faults.clear()
        assert info.value.stage == "list" and info.value.old_key_live
        assert "nothing was changed" in str(info.value)
        assert setup.sb.calls("CreatePrimeApiUserKey") == []


async def test_failed_verification_deletes_the_new_key_and_keeps_the_old() -> None:
    async with rotation_setup() as setup:
        setup.sb.faults.add(
            "ListPrimeSettlementBatches", "error", message="EAPI:Invalid key", times=3
        )
        setup.sb.faults.add("DeletePrimeApiUserKey", "drop_after")  # and the rollback's answer lost
        with pytest.raises(KeyRotationError, match="new key was deleted") as info:
            await setup.client.api_user_keys.rotate(setup.user_id, setup.old.key_id)
        exc = info.value
        assert exc.stage == "verify" and exc.new_key is None
        assert exc.live_key_ids == (setup.old.key_id,) and exc.old_key_live is True
        assert isinstance(exc.__cause__, AuthenticationError)
        listed = await setup.client.api_user_keys.list(setup.user_id)
        assert [k.id for k in listed] == [setup.old.key_id]
        assert await _works(setup, setup.old.api_key, setup.old.api_secret)
        assert setup.clock.sleeps.count(1.0) >= 2  # "Invalid key" retried for a fresh key


async def test_verification_can_be_skipped() -> None:
    async with rotation_setup() as setup:
        new = await setup.client.api_user_keys.rotate(setup.user_id, setup.old.key_id, verify=False)
        assert not setup.sb.calls("ListPrimeSettlementBatches")
        await _assert_rotated(setup, new)


async def test_refused_delete_of_the_old_key_rolls_back() -> None:
    async with rotation_setup() as setup:
        setup.sb.faults.add("DeletePrimeApiUserKey", "error", message="EGeneral:Permission denied")
        with pytest.raises(KeyRotationError) as info:
            await setup.client.api_user_keys.rotate(setup.user_id, setup.old.key_id)
        assert info.value.stage == "delete_old" and info.value.new_key is None
        listed = await setup.client.api_user_keys.list(setup.user_id)
        assert [k.id for k in listed] == [setup.old.key_id]


async def test_unknown_outcome_of_the_old_keys_delete_hands_over_the_new_key() -> None:
    async with rotation_setup() as setup:
        sb = setup.sb
        sb.faults.add("ListPrimeApiUserKeys", "delay", seconds=0)  # the first list is fine
        sb.faults.add("ListPrimeApiUserKeys", "delay", seconds=0)  # so is the create's
        sb.faults.add("DeletePrimeApiUserKey", "drop_after")
        sb.faults.add("ListPrimeApiUserKeys", "http_500", times=None)  # no read-back possible
        with pytest.raises(KeyRotationError) as info:
            await setup.client.api_user_keys.rotate(
                setup.user_id, setup.old.key_id, retry=RetryPolicy(max_attempts=1)
            )
        sb.faults.clear()
        exc = info.value
        assert exc.stage == "delete_old" and exc.old_key_live is None
        assert exc.unknown_key_ids == (setup.old.key_id,)
        new = exc.new_key
        assert new is not None and exc.live_key_ids == (new.id,)
        assert new.api_key not in repr(vars(exc)) and new.api_key not in str(exc)
        assert await _works(setup, new.api_key, new.api_secret.get_secret_value())
        listed = await setup.client.api_user_keys.list(setup.user_id)
        assert [k.id for k in listed] == [new.id]


async def test_calls_on_the_old_key_work_until_it_is_deleted() -> None:
    async with rotation_setup() as setup:
        sb = setup.sb
        outcomes: list[str] = []
        first_ok = asyncio.Event()

        async def service() -> None:
            async with PrimeClient(
                setup.old.api_key, setup.old.api_secret, base_url=sb.url, sleep=setup.clock.sleep
            ) as old_client:
                while True:
                    try:
                        await old_client.settlement.list_batches(limit=1)
                    except AuthenticationError:
                        outcomes.append("refused")
                        return
                    outcomes.append("ok")
                    first_ok.set()

        task = asyncio.create_task(service())
        await asyncio.wait_for(first_ok.wait(), 10)
        new = await setup.client.api_user_keys.rotate(setup.user_id, setup.old.key_id)
        await asyncio.wait_for(task, 10)
        assert outcomes[-1] == "refused" and outcomes.count("refused") == 1
        old_calls = [r for r in sb.requests if r.api_key == setup.old.api_key]
        delete_seq = max(r.seq for r in sb.calls("DeletePrimeApiUserKey") if r.processed)
        during = [r for r in old_calls if r.seq < delete_seq]
        assert len(during) >= 3 and all(r.processed for r in during)
        assert all(not r.processed for r in old_calls if r.seq > delete_seq)
        await _assert_rotated(setup, new)


async def test_cancelled_during_verification_deletes_the_new_key() -> None:
    async with rotation_setup() as setup:
        setup.sb.faults.add("ListPrimeSettlementBatches", "delay", seconds=5)
        task = asyncio.create_task(
            setup.client.api_user_keys.rotate(setup.user_id, setup.old.key_id)
        )
        for _ in range(500):  # until the verifying read is held by the sandbox
            if setup.sb.calls("CreatePrimeApiUserKey"):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert setup.sb.calls("CreatePrimeApiUserKey") and not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        setup.sb.faults.clear()
        listed = await setup.client.api_user_keys.list(setup.user_id)
        assert [k.id for k in listed] == [setup.old.key_id]


async def test_unknown_key_and_bad_arguments() -> None:
    async with rotation_setup() as setup:
        with pytest.raises(KeyRotationError, match="no such key") as info:
            await setup.client.api_user_keys.rotate(setup.user_id, "NOSUCHKEY")
        assert info.value.stage == "start"
        setup.sb.clear_requests()
        for kwargs, field in [
            ({"whitelisted_ips": ["300.1.1.1"]}, "whitelisted_ips[0]"),
            ({"whitelisted_ips": "10.0.0.1"}, "whitelisted_ips"),
            ({"verify": "yes"}, "verify"),
            ({"retry": 1}, "retry"),
            ({"timeout": float("nan")}, "timeout"),
        ]:
            with pytest.raises(ValidationError) as bad:
                await setup.client.api_user_keys.rotate(
                    setup.user_id,
                    setup.old.key_id,
                    **kwargs,  # type: ignore[arg-type]
                )
            assert bad.value.field == field
        with pytest.raises(ValidationError):
            await setup.client.api_user_keys.rotate(setup.user_id, " ")
        assert setup.sb.requests == []


async def test_a_permission_refusal_still_proves_the_new_key() -> None:
    async with rotation_setup() as setup:
        setup.sb.faults.add(
            "ListPrimeSettlementBatches", "error", message="EGeneral:Permission denied"
        )
        new = await setup.client.api_user_keys.rotate(setup.user_id, setup.old.key_id)
        await _assert_rotated(setup, new)


async def test_a_lost_create_is_read_back_behind_the_nonce_fence_without_waiting() -> None:
    async with sandbox_and_client(
        client_kwargs={"nonce_window": 5000, "sole_writer": True}, nonce_window=5000
    ) as (
        sb,
        client,
        clock,
    ):
        user_id = sb.add_api_user("Desk A", "Viewer")
        old = sb.add_api_key(user_id)
        sb.faults.add("CreatePrimeApiUserKey", "drop_after")
        new = await client.api_user_keys.rotate(user_id, old.key_id)
        assert 5.0 not in clock.sleeps  # fenced by the read-back's nonce, not by waiting
        assert [k.id for k in await client.api_user_keys.list(user_id)] == [new.id]


async def test_the_rotation_error_holds_no_credential_in_sight() -> None:
    async with rotation_setup() as setup:
        setup.sb.faults.add(
            "DeletePrimeApiUserKey", "error", message="EGeneral:Permission denied", times=2
        )
        with pytest.raises(KeyRotationError) as info:
            await setup.client.api_user_keys.rotate(setup.user_id, setup.old.key_id)
        exc = info.value
        new = exc.new_key
        assert new is not None and exc.stage == "delete_old"
        assert set(exc.live_key_ids) == {setup.old.key_id, new.id} and exc.old_key_live
        shown = f"{exc} {exc!r} {vars(exc)!r}"
        assert new.api_key not in shown
        assert new.api_secret.get_secret_value() not in shown
        assert setup.old.api_secret not in shown


async def test_a_refused_create_changes_nothing() -> None:
    async with rotation_setup() as setup:
        setup.sb.faults.add(
            "CreatePrimeApiUserKey", "error", message="EGeneral:Invalid arguments:user_id"
        )
        with pytest.raises(KeyRotationError, match="InvalidArgumentsError") as info:
            await setup.client.api_user_keys.rotate(setup.user_id, setup.old.key_id)
        assert info.value.stage == "create" and info.value.live_key_ids == (setup.old.key_id,)
        listed = await setup.client.api_user_keys.list(setup.user_id)
        assert [k.id for k in listed] == [setup.old.key_id]


async def test_a_create_arriving_after_the_read_back_is_fenced_off() -> None:
    async with rotation_setup() as setup:
        sb = setup.sb
        sb.faults.add("CreatePrimeApiUserKey", "delay", seconds=0.5)  # held before processing
        new = await setup.client.api_user_keys.rotate(setup.user_id, setup.old.key_id, timeout=0.2)
        await asyncio.sleep(0.5)  # let the late create reach the sandbox's nonce check
        creates = sb.calls("CreatePrimeApiUserKey")
        if len(creates) == 1:  # watched to its end: its answer (with the secret) is the key
            assert creates[0].processed
        elif sum(r.processed for r in creates) == 1:  # arrived after the read-back: fenced off
            late = next(r for r in creates if not r.processed)
            assert late.errors == ("EAPI:Invalid nonce",)
        # else (a client that holds the key while a request may still arrive): the read-back
        # saw the late key and deleted it; either way exactly one key is left
        await _assert_rotated(setup, new)


async def test_rotation_logs_hold_no_credential(captured_logs: pytest.LogCaptureFixture) -> None:
    async with rotation_setup() as setup:
        setup.sb.faults.add("CreatePrimeApiUserKey", "drop_after")
        setup.sb.faults.add("DeletePrimeApiUserKey", "drop_after")
        new = await setup.client.api_user_keys.rotate(setup.user_id, setup.old.key_id)
        text = "\n".join(record.getMessage() for record in captured_logs.records)
        assert new.id in text  # the steps are logged, by key id
        for credential in (
            new.api_key,
            new.api_secret.get_secret_value(),
            setup.old.api_key,
            setup.old.api_secret,
            setup.sb.api_secret,
        ):
            assert credential not in text
