"""The 13 Prime REST operations: argument schemas, who may call them, and what they do.

Validation follows ``additionalProperties: false``: an unknown field, a missing required field or a
value of the wrong type or enum gives ``EGeneral:Invalid arguments:<field>``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal

from kraken_prime_async.sandbox._state import (
    ASSET_KINDS,
    BATCH_STATUSES,
    ROLES,
    USER_STATUSES,
    SandboxState,
)
from kraken_prime_async.sandbox._views import (
    JSON,
    batch_view,
    created_key_view,
    listed_key_view,
    transfer_view,
    updated_key_view,
    user_view,
)

Access = Literal["owner", "read", "trade"]
Check = Callable[[Any], bool]

#: ``asset_kind`` values the live Get/List pages show (``spot``/``option``/``future``); accepted
#: and ignored because they conflict with the Create vocabulary (``docs/wire-quirks.md``).
_FILTER_ONLY_KINDS: Final = ("spot", "option", "future")
MAX_LIMIT: Final = 200
DEFAULT_LIMIT: Final = 50


@dataclass(frozen=True)
class Field:
    """One request field: a type/enum check and whether it is required."""

    check: Check
    required: bool = False


@dataclass(frozen=True)
class Context:
    """What a handler may use: the state and the current time in epoch ms."""

    state: SandboxState
    now_ms: int


Handler = Callable[[Context, Mapping[str, Any]], JSON]


@dataclass(frozen=True)
class PrimeOperation:
    """A Prime operation: access class, argument schema, handler, and whether it writes."""

    access: Access
    fields: Mapping[str, Field]
    handler: Handler
    writes: bool


def _text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _one_of(*allowed: str) -> Check:
    return lambda value: isinstance(value, str) and value in allowed


def _int_between(low: int, high: int) -> Check:
    return lambda value: type(value) is int and low <= value <= high


def _list_of(item: Check) -> Check:
    return lambda value: isinstance(value, list) and all(item(v) for v in value)


def _nullable(check: Check) -> Check:
    return lambda value: value is None or check(value)


_INT64: Final = _int_between(0, 2**63 - 1)
_ASSET_KIND_FILTER: Final = _one_of(*ASSET_KINDS, *_FILTER_ONLY_KINDS)


def validate(fields: Mapping[str, Field], params: Mapping[str, Any]) -> str | None:
    """Return the first offending field name, or ``None`` when ``params`` fit the schema."""
    for name in params:
        if name not in fields:
            return name
    for name, spec in fields.items():
        if name not in params:
            if spec.required:
                return name
        elif not spec.check(params[name]):
            return name
    return None


def _kind_filter(params: Mapping[str, Any]) -> str | None:
    kind = params.get("asset_kind")
    return kind if kind in ASSET_KINDS else None


# -- handlers ------------------------------------------------------------------------------------


def _create_user(ctx: Context, p: Mapping[str, Any]) -> JSON:
    return user_view(ctx.state.create_user(p["name"], p["role"]))


def _get_user(ctx: Context, p: Mapping[str, Any]) -> JSON:
    return {"data": user_view(ctx.state.user(p["user_id"]))}


def _list_users(ctx: Context, p: Mapping[str, Any]) -> JSON:
    return {"data": [user_view(u) for u in ctx.state.users.values()]}


def _update_user(ctx: Context, p: Mapping[str, Any]) -> JSON:
    user = ctx.state.update_user(p["user_id"], p.get("name"), p.get("status"))
    return user_view(user)


def _update_roles(ctx: Context, p: Mapping[str, Any]) -> JSON:
    return user_view(ctx.state.update_roles(p["user_id"], p["role"]))


def _create_key(ctx: Context, p: Mapping[str, Any]) -> JSON:
    ctx.state.user(p["user_id"])
    key = ctx.state.new_key("user", p["user_id"], ctx.now_ms)
    return created_key_view(ctx.state, key)


def _list_keys(ctx: Context, p: Mapping[str, Any]) -> JSON:
    keys = ctx.state.user_keys(p["user_id"])
    return {"data": [listed_key_view(ctx.state, k) for k in keys]}


def _update_key(ctx: Context, p: Mapping[str, Any]) -> JSON:
    key = ctx.state.update_key(p["user_id"], p["key_id"], p.get("whitelisted_ips"), ctx.now_ms)
    return updated_key_view(ctx.state, key)


def _delete_key(ctx: Context, p: Mapping[str, Any]) -> JSON:
    ctx.state.delete_key(p["user_id"], p["key_id"])
    return {"deleted": True}


def _create_batch(ctx: Context, p: Mapping[str, Any]) -> JSON:
    kind = p.get("asset_kind") or "currency"
    return {"batch": batch_view(ctx.state.create_batch(kind, ctx.now_ms))}


def _get_batch(ctx: Context, p: Mapping[str, Any]) -> JSON:
    return {"batch": batch_view(ctx.state.batch(p["batch_id"], _kind_filter(p)))}


def _list_batches(ctx: Context, p: Mapping[str, Any]) -> JSON:
    limit = p.get("limit", DEFAULT_LIMIT)
    offset = p.get("offset", 0)
    page, has_more = ctx.state.list_batches(
        asset_kind=_kind_filter(p),
        statuses=p.get("statuses"),
        from_ms=p.get("from"),
        until_ms=p.get("until"),
        limit=limit,
        offset=offset,
    )
    return {
        "data": [batch_view(b) for b in page],
        "pagination": {"has_more": has_more, "limit": limit, "offset": offset},
    }


def _settle(ctx: Context, p: Mapping[str, Any]) -> JSON:
    transfer, leg = ctx.state.settle(p["batch_id"], p["asset"], ctx.now_ms)
    return {"transfer": transfer_view(transfer, leg)}


_USER_ID: Final = Field(_text, required=True)
_KEY_ID: Final = Field(_text, required=True)
_BATCH_ID: Final = Field(_text, required=True)

PRIME_OPERATIONS: Final[Mapping[str, PrimeOperation]] = {
    "CreatePrimeApiUser": PrimeOperation(
        "owner",
        {"name": Field(_text, True), "role": Field(_one_of(*ROLES), True)},
        _create_user,
        writes=True,
    ),
    "GetPrimeApiUser": PrimeOperation("owner", {"user_id": _USER_ID}, _get_user, writes=False),
    "ListPrimeApiUsers": PrimeOperation("owner", {}, _list_users, writes=False),
    "UpdatePrimeApiUser": PrimeOperation(
        "owner",
        {"user_id": _USER_ID, "name": Field(_text), "status": Field(_one_of(*USER_STATUSES))},
        _update_user,
        writes=True,
    ),
    "UpdatePrimeApiUserRoles": PrimeOperation(
        "owner",
        {"user_id": _USER_ID, "role": Field(_one_of(*ROLES), True)},
        _update_roles,
        writes=True,
    ),
    "CreatePrimeApiUserKey": PrimeOperation(
        "owner", {"user_id": _USER_ID}, _create_key, writes=True
    ),
    "ListPrimeApiUserKeys": PrimeOperation(
        "owner", {"user_id": _USER_ID}, _list_keys, writes=False
    ),
    "UpdatePrimeApiUserKey": PrimeOperation(
        "owner",
        {
            "user_id": _USER_ID,
            "key_id": _KEY_ID,
            "whitelisted_ips": Field(_list_of(_text)),
        },
        _update_key,
        writes=True,
    ),
    "DeletePrimeApiUserKey": PrimeOperation(
        "owner", {"user_id": _USER_ID, "key_id": _KEY_ID}, _delete_key, writes=True
    ),
    "CreatePrimeSettlementBatch": PrimeOperation(
        "trade",
        {"asset_kind": Field(_nullable(_one_of(*ASSET_KINDS)))},
        _create_batch,
        writes=True,
    ),
    "GetPrimeSettlementBatch": PrimeOperation(
        "read",
        {"batch_id": _BATCH_ID, "asset_kind": Field(_ASSET_KIND_FILTER)},
        _get_batch,
        writes=False,
    ),
    "ListPrimeSettlementBatches": PrimeOperation(
        "read",
        {
            "asset_kind": Field(_ASSET_KIND_FILTER),
            "statuses": Field(_list_of(_one_of(*BATCH_STATUSES))),
            "from": Field(_INT64),
            "until": Field(_INT64),
            "limit": Field(_int_between(1, MAX_LIMIT)),
            "offset": Field(_INT64),
        },
        _list_batches,
        writes=False,
    ),
    "SettlePrimeSettlementBatchAsset": PrimeOperation(
        "trade",
        {"batch_id": _BATCH_ID, "asset": Field(_text, True)},
        _settle,
        writes=True,
    ),
}


def parse_amount(value: str | Decimal | int) -> Decimal:
    """A finite trade amount from ``str``/``Decimal``/``int`` (floats are refused)."""
    if isinstance(value, bool) or not isinstance(value, (str, Decimal, int)):
        raise TypeError("amount must be a str, Decimal or int, not a float")
    try:
        result = Decimal(value)
    except ArithmeticError:
        raise ValueError(f"invalid amount: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"invalid amount: {value!r}")
    return result
