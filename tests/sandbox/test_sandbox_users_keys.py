"""API Users and API User Keys endpoints: shapes, state, revocation, permissions."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.sandbox._support import running, user_caller


async def test_user_lifecycle_and_shapes() -> None:
    async with running() as (_sb, owner):
        created = await owner.ok("CreatePrimeApiUser", name="Desk A", role="Trader")
        assert set(created) == {"id", "name", "status", "roles"}
        assert created["status"] == "Enabled"
        assert created["roles"] == ["Trader"]
        assert len(created["id"]) == 13
        user_id = created["id"]

        got = await owner.ok("GetPrimeApiUser", user_id=user_id)
        assert got == {"data": created}

        listed = await owner.ok("ListPrimeApiUsers")
        assert listed == {"data": [created]}

        renamed = await owner.ok("UpdatePrimeApiUser", user_id=user_id, name="Desk B")
        assert renamed["name"] == "Desk B"
        disabled = await owner.ok("UpdatePrimeApiUser", user_id=user_id, status="Disabled")
        assert disabled == {
            "id": user_id,
            "name": "Desk B",
            "status": "Disabled",
            "roles": ["Trader"],
        }

        viewer = await owner.ok("UpdatePrimeApiUserRoles", user_id=user_id, role="Viewer")
        assert viewer["roles"] == ["Viewer"]


async def test_unknown_user_id() -> None:
    async with running() as (_sb, owner):
        reply = await owner.call("GetPrimeApiUser", user_id="NOPE")
        assert reply.status == 200
        assert reply.errors == ["EGeneral:Invalid arguments:unknown user_id"]
        assert reply.body["result"] == {}  # a 200 envelope always has one (docs/reference)


async def test_key_lifecycle_and_shapes() -> None:
    async with running() as (_sb, owner):
        user = await owner.ok("CreatePrimeApiUser", name="Desk", role="Trader")
        created = await owner.ok("CreatePrimeApiUserKey", user_id=user["id"])
        assert set(created) == {
            "id",
            "api_key",
            "api_secret",
            "user_id",
            "permissions",
            "whitelisted_ips",
        }
        assert len(base64.b64decode(created["api_secret"], validate=True)) == 64
        assert created["user_id"] == user["id"]
        assert created["whitelisted_ips"] == []

        listed = await owner.ok("ListPrimeApiUserKeys", user_id=user["id"])
        [item] = listed["data"]
        assert set(item) == {"id", "key", "user_id", "updated_at", "permissions", "whitelisted_ips"}
        assert item["key"] == created["api_key"]
        assert "api_secret" not in item

        updated = await owner.ok(
            "UpdatePrimeApiUserKey",
            user_id=user["id"],
            key_id=created["id"],
            whitelisted_ips=["10.0.0.1", "192.168.1.0/24"],
        )
        assert set(updated) == {
            "id",
            "api_key",
            "user_id",
            "permissions",
            "whitelisted_ips",
            "updated_at",
        }
        assert updated["whitelisted_ips"] == ["10.0.0.1", "192.168.1.0/24"]

        deleted = await owner.ok("DeletePrimeApiUserKey", user_id=user["id"], key_id=created["id"])
        assert deleted == {"deleted": True}
        assert await owner.ok("ListPrimeApiUserKeys", user_id=user["id"]) == {"data": []}

        again = await owner.call("DeletePrimeApiUserKey", user_id=user["id"], key_id=created["id"])
        assert again.errors == ["EGeneral:Invalid arguments:unknown key_id"]


async def test_deleted_key_is_rejected_immediately() -> None:
    async with running() as (_sb, owner):
        trader, user_id, key_id = await user_caller(owner, "Trader")
        assert (await trader.call("ListPrimeSettlementBatches")).errors == []
        await owner.ok("DeletePrimeApiUserKey", user_id=user_id, key_id=key_id)
        reply = await trader.call("ListPrimeSettlementBatches")
        assert reply.errors == ["EAPI:Invalid key"]


async def test_disabled_user_key_is_rejected_and_reenabled() -> None:
    async with running() as (_sb, owner):
        trader, user_id, _ = await user_caller(owner, "Trader")
        await owner.ok("UpdatePrimeApiUser", user_id=user_id, status="Disabled")
        assert (await trader.call("ListPrimeSettlementBatches")).errors == ["EAPI:Invalid key"]
        await owner.ok("UpdatePrimeApiUser", user_id=user_id, status="Enabled")
        assert (await trader.call("ListPrimeSettlementBatches")).errors == []


@pytest.mark.parametrize("role", ["Trader", "Viewer"])
async def test_user_keys_cannot_manage_users_or_keys(role: str) -> None:
    async with running() as (_sb, owner):
        caller, user_id, key_id = await user_caller(owner, role)
        cases: list[tuple[str, dict[str, Any]]] = [
            ("ListPrimeApiUsers", {}),
            ("CreatePrimeApiUser", {"name": "x", "role": "Trader"}),
            ("CreatePrimeApiUserKey", {"user_id": user_id}),
            ("DeletePrimeApiUserKey", {"user_id": user_id, "key_id": key_id}),
        ]
        for method, params in cases:
            reply = await caller.call(method, **params)
            assert reply.errors == ["EGeneral:Permission denied"], method
        assert len((await owner.ok("ListPrimeApiUserKeys", user_id=user_id))["data"]) == 1


async def test_helpers_create_users_and_keys() -> None:
    async with running() as (sb, owner):
        user_id = sb.add_api_user("Direct", role="Viewer")
        creds = sb.add_api_key(user_id)
        listed = await owner.ok("ListPrimeApiUserKeys", user_id=user_id)
        assert [k["key"] for k in listed["data"]] == [creds.api_key]
        viewer = owner.with_key(creds.api_key, creds.api_secret)
        assert (await viewer.call("ListPrimeSettlementBatches")).errors == []
        with pytest.raises(ValueError, match="role"):
            sb.add_api_user("x", role="Admin")
        with pytest.raises(ValueError, match="user_id"):
            sb.add_api_key("NOPE")
