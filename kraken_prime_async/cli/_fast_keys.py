"""``fast-keys {create,list,update,delete}``: Kraken Connect OAuth Fast API keys, by name."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .._resources.fast_api_keys import PERMISSION_NAMES
from ..errors import ValidationError
from ..models import FastApiKeyInfo
from ._args import group, leaf, secret_options
from ._config import ENV_OAUTH_TOKEN, oauth_client_from
from ._console import out, print_table, say
from ._output import emit_json, iso_time, to_builtins
from ._secret_file import SecretDelivery

if TYPE_CHECKING:
    from ._args import Subparsers

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

#: Unix seconds (``0``: none), shown as ISO-8601 UTC.
FAST_KEY_TIMES = ("query_from", "query_to", "valid_until", "last_used")
#: Lists wrapped within their column.
FAST_KEY_WRAP = ("ip_allowlist", "allowed")


def _settings_options() -> argparse.ArgumentParser:
    """A key's settings, for ``create`` and ``update``."""
    settings = argparse.ArgumentParser(add_help=False)
    settings.add_argument("--ip", action="append", help="address or CIDR; repeat for several")
    settings.add_argument(
        "--nonce-window", type=int, help="in nonce units (ms for PrimeClient's nonces)"
    )
    names = ", ".join(PERMISSION_NAMES)
    settings.add_argument(
        "--allow",
        action="append",
        choices=PERMISSION_NAMES,
        metavar="PERM",
        help=f"grant a permission; repeat for several. PERM is one of: {names}",
    )
    settings.add_argument(
        "--deny",
        action="append",
        choices=PERMISSION_NAMES,
        metavar="PERM",
        help="refuse a permission (same names as --allow); repeat for several",
    )
    for flag, what in (
        ("--query-from", "earliest time queries may reach"),
        ("--query-to", "latest time queries may reach"),
        ("--valid-until", "when the key expires"),
    ):
        settings.add_argument(
            flag, metavar="TIME", help=f"{what}: Unix seconds (0: none) or ISO 8601 with offset"
        )
    return settings


def register(commands: Subparsers) -> None:
    """``fast-keys {create,list,update,delete}``: OAuth Fast API keys, addressed by name."""
    token = argparse.ArgumentParser(add_help=False)
    token.add_argument(
        "--token",
        metavar="TOKEN",
        help=f"OAuth access token; --token=TOKEN or --token TOKEN (prefer ${ENV_OAUTH_TOKEN}: "
        "argv is visible to ps)",
    )
    settings = _settings_options()
    fast = group(commands, "fast-keys", "Fast API keys (Kraken Connect OAuth)")
    leaf(fast, "list", "list the Fast API keys", parents=[token]).set_defaults(run=fast_keys_list)
    create = leaf(
        fast,
        "create",
        "create a key; its secret is returned once: give --secret-file or --print-secret",
        parents=[token, settings, secret_options()],
    )
    create.add_argument("api_key_name", help="the new key's name (up to 32 characters)")
    create.set_defaults(run=fast_keys_create)
    update = leaf(fast, "update", "change or rename a key", parents=[token, settings])
    update.add_argument("api_key_name", help="the key's name")
    update.add_argument("--new-name", help="rename the key")
    update.add_argument("--clear-ips", action="store_true", help="send an empty allow-list")
    update.set_defaults(run=fast_keys_update)
    delete = leaf(fast, "delete", "delete (revoke) a key", parents=[token])
    delete.add_argument("api_key_name", help="the key's name")
    delete.set_defaults(run=fast_keys_delete)


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
        row.update({name: iso_time(row.get(name)) for name in FAST_KEY_TIMES})
        rows.append(row)
    return rows


async def fast_keys_list(args: argparse.Namespace) -> int:
    async with oauth_client_from(args) as oauth:
        keys = await oauth.fast_api_keys.list()
    if args.json:
        emit_json(keys)
    else:
        print_table(_fast_key_rows(keys), FAST_KEY_COLUMNS, wrap=FAST_KEY_WRAP)
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
        print_table(_fast_key_rows([key]), FAST_KEY_COLUMNS, wrap=FAST_KEY_WRAP)
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
