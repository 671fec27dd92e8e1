"""JSON shapes of the sandbox's objects, exactly as Kraken Prime REST returns them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kraken_prime_async.sandbox._state import (
    BatchRecord,
    LegRecord,
    SandboxKey,
    SandboxState,
    TransferRecord,
    UserRecord,
)

JSON = dict[str, Any]

_PERMISSIONS: dict[str, list[str]] = {
    "Trader": [
        "Orders and trades - Query open orders & trades",
        "Orders and trades - Create & modify orders",
    ],
    "Viewer": ["Orders and trades - Query open orders & trades"],
}


def amount(value: Decimal) -> str:
    """A decimal as Kraken's plain decimal string (never an exponent)."""
    return format(value, "f")


def user_view(user: UserRecord) -> JSON:
    """``ApiUserInfo``."""
    return {"id": user.id, "name": user.name, "status": user.status, "roles": list(user.roles)}


def _permissions(state: SandboxState, key: SandboxKey) -> list[str]:
    if key.user_id is None:
        return [*_PERMISSIONS["Trader"]]
    perms: list[str] = []
    for role in state.users[key.user_id].roles:
        perms.extend(p for p in _PERMISSIONS.get(role, []) if p not in perms)
    return perms


def created_key_view(state: SandboxState, key: SandboxKey) -> JSON:
    """``CreatePrimeApiUserKey`` result (the only place the secret appears)."""
    return {
        "id": key.id,
        "api_key": key.api_key,
        "api_secret": key.api_secret,
        "user_id": key.user_id,
        "permissions": _permissions(state, key),
        "whitelisted_ips": list(key.whitelisted_ips),
    }


def listed_key_view(state: SandboxState, key: SandboxKey) -> JSON:
    """``ListPrimeApiUserKeys`` item (public key under ``key``)."""
    return {
        "id": key.id,
        "key": key.api_key,
        "user_id": key.user_id,
        "updated_at": key.updated_at,
        "permissions": _permissions(state, key),
        "whitelisted_ips": list(key.whitelisted_ips),
    }


def updated_key_view(state: SandboxState, key: SandboxKey) -> JSON:
    """``UpdatePrimeApiUserKey`` result (public key under ``api_key``)."""
    return {
        "id": key.id,
        "api_key": key.api_key,
        "user_id": key.user_id,
        "permissions": _permissions(state, key),
        "whitelisted_ips": list(key.whitelisted_ips),
        "updated_at": key.updated_at,
    }


def transfer_ref_view(transfer: TransferRecord | None) -> JSON:
    """A leg's ``latest_spot_transfer``: ``{}`` until the leg is settled."""
    if transfer is None:
        return {}
    return {
        "id": transfer.id,
        "status": transfer.status,
        "amount": amount(transfer.amount),
        "asset": transfer.asset,
    }


def leg_view(leg: LegRecord) -> JSON:
    """One batch leg."""
    return {
        "status": leg.status,
        "asset": leg.asset,
        "amount": amount(leg.amount),
        "direction": "incoming" if leg.amount > 0 else "outgoing",
        "can_settle": leg.can_settle,
        "settled_at": leg.settled_at,
        "latest_spot_transfer": transfer_ref_view(leg.transfer),
    }


def batch_view(batch: BatchRecord) -> JSON:
    """A batch with its legs and trade ids."""
    return {
        "id": batch.id,
        "attributes": {
            "status": batch.status,
            "confirmed": batch.confirmed,
            "created_at": batch.created_at,
            "updated_at": batch.updated_at,
            "trade_count": len(batch.trade_ids),
            "asset_kind": batch.asset_kind,
        },
        "legs": [leg_view(leg) for leg in batch.legs],
        "trade_ids": list(batch.trade_ids),
    }


def transfer_view(transfer: TransferRecord, leg: LegRecord) -> JSON:
    """``SettlePrimeSettlementBatchAsset`` result's ``transfer``."""
    return {
        "id": transfer.id,
        "attributes": {
            "transfer_status": transfer.status,
            "transfer_amount": amount(transfer.amount),
            "transfer_asset": transfer.asset,
        },
        "relationships": {"leg": leg_view(leg)},
    }
