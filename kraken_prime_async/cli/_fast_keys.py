"""``fast-keys {create,list,update,delete}``: Kraken Connect OAuth Fast API keys, by name."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from ..errors import ValidationError
from ..models import FastApiKeyInfo
from ._config import oauth_client_from
from ._console import out, print_table, say
from ._output import emit_json, to_builtins
from ._secret_file import SecretDelivery

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
        print_table(_fast_key_rows(keys), FAST_KEY_COLUMNS)
    return 0


async def fast_keys_create(args: argparse.Namespace) -> int:
    fields = _fast_key_fields(args)
    delivery = SecretDelivery(args.secret_file, args.print_secret)
    oauth = oauth_client_from(args)
    with delivery:
        async with oauth:
            key = await oauth.fast_api_keys.create(args.api_key_name, **fields)
        note = delivery.keep(key.secret)
    if args.json:
        emit_json(delivery.as_json(key, "secret"))
    else:
        print_table(_fast_key_rows([key]), FAST_KEY_COLUMNS)
        if delivery.print_secret:
            sys.stdout.write(f"secret: {key.secret.get_secret_value()}\n")
            sys.stdout.flush()
    say(note)
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
        out().print("updated")
    return 0


async def fast_keys_delete(args: argparse.Namespace) -> int:
    async with oauth_client_from(args) as oauth:
        done = await oauth.fast_api_keys.delete(args.api_key_name)
    if args.json:
        emit_json({"deleted": done})
    else:
        out().print("deleted")
    return 0
