"""One coroutine per CLI command. Each returns the process exit code."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from .._client import PrimeClient
from .._constants import DEFAULT_BASE_URL
from .._oauth_client import FastApiKeyClient
from ..errors import ValidationError
from ..models import FastApiKeyInfo
from ._output import emit, emit_json, emit_table, to_builtins
from ._progress import ProgressBar

Command = Callable[[argparse.Namespace], Awaitable[int]]

ENV_KEY = "KRAKEN_PRIME_API_KEY"
ENV_SECRET = "KRAKEN_PRIME_API_SECRET"  # noqa: S105 - the variable's name, not a secret
ENV_BASE_URL = "KRAKEN_PRIME_BASE_URL"
ENV_OAUTH_TOKEN = "KRAKEN_OAUTH_TOKEN"  # noqa: S105 - the variable's name, not a token

USER_COLUMNS = ("id", "name", "status", "roles")
KEY_COLUMNS = ("id", "api_key", "user_id", "permissions", "whitelisted_ips", "updated_at")
BATCH_COLUMNS = ("id", "status", "confirmed", "asset_kind", "trade_count", "created_at", "legs")
LEG_COLUMNS = ("asset", "amount", "direction", "status", "can_settle", "settled_at")
FAST_KEY_COLUMNS = (
    "api_key_name",
    "api_key",
    "nonce_window",
    "ip_allowlist",
    "allowed",
    "query_from",
    "query_to",
    "valid_until",
    "last_used",
)


def client_from(args: argparse.Namespace) -> PrimeClient:
    """A client from the environment's credentials and the global options."""
    key, secret = os.environ.get(ENV_KEY), os.environ.get(ENV_SECRET)
    if not key or not secret:
        raise ValidationError(ENV_KEY, f"set {ENV_KEY} and {ENV_SECRET} in the environment")
    base_url = args.base_url or os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL
    return PrimeClient(key, secret, base_url=base_url, timeout=args.timeout)


async def users_list(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        emit(await client.api_users.list(), USER_COLUMNS, as_json=args.json)
    return 0


async def users_get(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        emit(await client.api_users.get(args.user_id), USER_COLUMNS, as_json=args.json)
    return 0


async def users_create(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        user = await client.api_users.create(name=args.name, role=args.role)
        emit(user, USER_COLUMNS, as_json=args.json)
    return 0


async def users_update(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        user = await client.api_users.update(args.user_id, name=args.name, status=args.status)
        emit(user, USER_COLUMNS, as_json=args.json)
    return 0


async def users_set_role(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        user = await client.api_users.update_roles(args.user_id, role=args.role)
        emit(user, USER_COLUMNS, as_json=args.json)
    return 0


async def keys_list(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        emit(await client.api_user_keys.list(args.user_id), KEY_COLUMNS, as_json=args.json)
    return 0


async def keys_create(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        key = await client.api_user_keys.create(args.user_id)
    notice = "the api_secret is shown once, now, and cannot be retrieved again: store it safely"
    if args.json:
        emit_json(key, reveal_secrets=True)
    else:
        emit(key, ("id", "api_key", "user_id", "permissions", "whitelisted_ips"), as_json=False)
        print(f"api_secret: {key.api_secret.get_secret_value()}")
    print(f"note: {notice}", file=sys.stderr)
    return 0


async def keys_update(args: argparse.Namespace) -> int:
    ips = [] if args.clear_ips else args.ip
    if ips is None:
        raise ValidationError("--ip", "give --ip at least once, or --clear-ips")
    async with client_from(args) as client:
        key = await client.api_user_keys.update(args.user_id, args.key_id, whitelisted_ips=ips)
        emit(key, KEY_COLUMNS, as_json=args.json)
    return 0


async def keys_delete(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        deleted = await client.api_user_keys.delete(args.user_id, args.key_id)
    if args.json:
        emit_json({"deleted": deleted})
    else:
        print("deleted" if deleted else "not deleted")
    return 0 if deleted else 1


async def batches_list(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        page = await client.settlement.list_batches(
            statuses=args.status, limit=args.limit, offset=args.offset
        )
    if args.json:
        emit_json(page)
    else:
        emit(list(page.data), BATCH_COLUMNS, as_json=False)
        if page.pagination.has_more:
            print("(more: use --offset)", file=sys.stderr)
    return 0


async def batches_get(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        batch = await client.settlement.get_batch(args.batch_id)
    if args.json:
        emit_json(batch)
    else:
        emit(batch, BATCH_COLUMNS, as_json=False)
        print()
        emit_table(to_builtins(list(batch.legs)), LEG_COLUMNS)
    return 0


async def batches_create(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        batch = await client.settlement.create_batch(args.asset_kind)
        emit(batch, BATCH_COLUMNS, as_json=args.json)
    return 0


async def settle(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        if args.asset:
            transfer = await client.settlement.settle_asset(args.batch_id, args.asset)
            emit(
                transfer,
                ("id", "transfer_status", "transfer_amount", "transfer_asset"),
                as_json=args.json,
            )
            return 0
        report = await client.settlement.settle_batch(
            args.batch_id,
            concurrency=args.concurrency,
            wait_for_confirmation=args.wait_confirmation,
            on_progress=None if args.json else ProgressBar(),
        )
    if args.json:
        emit_json(
            {
                "batch_id": report.batch_id,
                "complete": report.complete,
                "legs": [
                    {"asset": leg.asset, "result": leg.result, "reason": leg.reason}
                    for leg in report.legs
                ],
            }
        )
    else:
        rows = [
            {"asset": leg.asset, "result": leg.result, "reason": leg.reason} for leg in report.legs
        ]
        emit_table(rows, ("asset", "result", "reason"))
    return 0 if report.complete else 4


async def demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    return await run_demo(legs=args.legs, concurrency=args.concurrency, as_json=args.json)


def oauth_client_from(args: argparse.Namespace) -> FastApiKeyClient:
    """An OAuth client from ``--token`` (or ``$KRAKEN_OAUTH_TOKEN``) and the global options."""
    token = args.token or os.environ.get(ENV_OAUTH_TOKEN)
    if not token:
        raise ValidationError(
            "--token", f"give --token or set {ENV_OAUTH_TOKEN} in the environment"
        )
    base_url = args.base_url or os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL
    return FastApiKeyClient(token, base_url, timeout=args.timeout)


def _timestamp(flag: str, text: str | None) -> int | datetime | None:
    """Unix seconds, or an ISO 8601 time with its UTC offset (``Z`` allowed)."""
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    try:
        return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise ValidationError(flag, "must be Unix seconds or an ISO 8601 time") from None


def _fast_key_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The optional key settings given on the command line (absent ones are not sent)."""
    allow, deny = args.allow or [], args.deny or []
    both = sorted(set(allow) & set(deny))
    if both:
        raise ValidationError("--allow", f"both allowed and denied: {', '.join(both)}")
    permissions = {**dict.fromkeys(deny, False), **dict.fromkeys(allow, True)}
    ips = [] if getattr(args, "clear_ips", False) else args.ip
    return {
        "ip_allowlist": ips,
        "nonce_window": args.nonce_window,
        "permissions": permissions or None,
        "query_from": _timestamp("--query-from", args.query_from),
        "query_to": _timestamp("--query-to", args.query_to),
        "valid_until": _timestamp("--valid-until", args.valid_until),
    }


def _fast_key_rows(keys: list[FastApiKeyInfo]) -> list[dict[str, Any]]:
    rows = []
    for key in keys:
        row = to_builtins(key)
        flags = row.pop("permissions", None) or {}
        row["allowed"] = [name for name, on in flags.items() if on]
        rows.append(row)
    return rows


async def fast_keys_list(args: argparse.Namespace) -> int:
    async with oauth_client_from(args) as oauth:
        keys = await oauth.fast_api_keys.list()
    if args.json:
        emit_json(keys)
    else:
        emit_table(_fast_key_rows(keys), FAST_KEY_COLUMNS)
    return 0


async def fast_keys_create(args: argparse.Namespace) -> int:
    fields = _fast_key_fields(args)
    async with oauth_client_from(args) as oauth:
        key = await oauth.fast_api_keys.create(args.api_key_name, **fields)
    notice = "the secret is shown once, now, and cannot be retrieved again: store it safely"
    if args.json:
        emit_json(key, reveal_secrets=True)
    else:
        emit_table(_fast_key_rows([key]), FAST_KEY_COLUMNS)
        print(f"secret: {key.secret.get_secret_value()}")
    print(f"note: {notice}", file=sys.stderr)
    return 0


async def fast_keys_update(args: argparse.Namespace) -> int:
    fields = _fast_key_fields(args)
    async with oauth_client_from(args) as oauth:
        done = await oauth.fast_api_keys.update(
            args.api_key_name, new_api_key_name=args.new_name, **fields
        )
    if args.json:
        emit_json({"updated": done})
    else:
        print("updated")
    return 0


async def fast_keys_delete(args: argparse.Namespace) -> int:
    async with oauth_client_from(args) as oauth:
        done = await oauth.fast_api_keys.delete(args.api_key_name)
    if args.json:
        emit_json({"deleted": done})
    else:
        print("deleted")
    return 0
