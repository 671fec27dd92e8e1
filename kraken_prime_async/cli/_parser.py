"""The ``kraken-prime`` argument parser."""

from __future__ import annotations

import argparse

from .._constants import DEFAULT_TIMEOUT
from .._resources.fast_api_keys import PERMISSION_NAMES
from ..models import AssetKind, BatchStatus, Role, UserStatus
from . import _commands as cmd
from . import _keys_lifecycle, _sandbox

EPILOG = (
    "Credentials come from KRAKEN_PRIME_API_KEY and KRAKEN_PRIME_API_SECRET "
    "(fast-keys: an OAuth token from KRAKEN_OAUTH_TOKEN or --token). "
    "Exit codes: 0 ok, 1 Kraken refused or no answer, 2 bad input, 3 outcome unknown "
    "(check the state before retrying), 4 settlement incomplete, 130 interrupted."
)


def _values(enum: type[Role] | type[UserStatus] | type[AssetKind] | type[BatchStatus]) -> list[str]:
    return [member.value for member in enum]


def build_parser() -> argparse.ArgumentParser:
    """Every command with its arguments; ``args.run`` is the coroutine to run."""
    parser = argparse.ArgumentParser(
        prog="kraken-prime", description="Kraken Prime REST from the command line.", epilog=EPILOG
    )
    parser.add_argument("--base-url", help="default: $KRAKEN_PRIME_BASE_URL or api.kraken.com")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per attempt"
    )
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")

    users = groups.add_parser("users", help="API users").add_subparsers(
        dest="action", required=True
    )
    users.add_parser("list").set_defaults(run=cmd.users_list)
    get = users.add_parser("get")
    get.add_argument("user_id")
    get.set_defaults(run=cmd.users_get)
    create = users.add_parser("create")
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=_values(Role))
    create.set_defaults(run=cmd.users_create)
    update = users.add_parser("update")
    update.add_argument("user_id")
    update.add_argument("--name")
    update.add_argument("--status", choices=_values(UserStatus))
    update.set_defaults(run=cmd.users_update)
    role = users.add_parser("set-role")
    role.add_argument("user_id")
    role.add_argument("--role", required=True, choices=_values(Role))
    role.set_defaults(run=cmd.users_set_role)

    keys = groups.add_parser("keys", help="API keys of a user").add_subparsers(
        dest="action", required=True
    )
    for name, run in (("list", cmd.keys_list), ("create", cmd.keys_create)):
        sub = keys.add_parser(name)
        sub.add_argument("user_id")
        sub.set_defaults(run=run)
    key_update = keys.add_parser("update", help="set the key's IP allow-list")
    key_update.add_argument("user_id")
    key_update.add_argument("key_id")
    key_update.add_argument("--ip", action="append", help="address or CIDR; repeat for several")
    key_update.add_argument("--clear-ips", action="store_true", help="send an empty allow-list")
    key_update.set_defaults(run=cmd.keys_update)
    delete = keys.add_parser("delete")
    delete.add_argument("user_id")
    delete.add_argument("key_id")
    delete.set_defaults(run=cmd.keys_delete)
    _keys_lifecycle.configure(keys)  # keys rotate, keys audit

    batches = groups.add_parser("batches", help="settlement batches").add_subparsers(
        dest="action", required=True
    )
    listing = batches.add_parser("list")
    listing.add_argument("--status", action="append", choices=_values(BatchStatus))
    listing.add_argument("--limit", type=int)
    listing.add_argument("--offset", type=int)
    listing.set_defaults(run=cmd.batches_list)
    batch_get = batches.add_parser("get")
    batch_get.add_argument("batch_id")
    batch_get.set_defaults(run=cmd.batches_get)
    batch_create = batches.add_parser("create", help="snapshot unsettled trades into a batch")
    batch_create.add_argument("--asset-kind", choices=_values(AssetKind))
    batch_create.set_defaults(run=cmd.batches_create)

    settle = groups.add_parser("settle", help="settle every eligible leg (safe to re-run)")
    settle.add_argument("batch_id")
    settle.add_argument("--asset", help="settle only this leg")
    settle.add_argument("--concurrency", type=int, default=4)
    settle.add_argument("--wait-confirmation", type=float, default=0.0, metavar="SECONDS")
    settle.set_defaults(run=cmd.settle)

    _add_fast_keys(groups)

    _sandbox.configure(groups.add_parser("sandbox", help="serve the embedded sandbox"))

    demo = groups.add_parser("demo", help="run the main job against the embedded sandbox")
    demo.add_argument("--legs", type=int, default=12)
    demo.add_argument("--concurrency", type=int, default=4)
    demo.set_defaults(run=cmd.demo)
    return parser


def _add_fast_keys(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``fast-keys {create,list,update,delete}``: OAuth Fast API keys, addressed by name."""
    token = argparse.ArgumentParser(add_help=False)
    token.add_argument(
        "--token", help="OAuth access token (prefer $KRAKEN_OAUTH_TOKEN: argv is visible to ps)"
    )
    settings = argparse.ArgumentParser(add_help=False)
    settings.add_argument("--ip", action="append", help="address or CIDR; repeat for several")
    settings.add_argument("--nonce-window", type=int, help="in nonce units (ms for PrimeClient)")
    settings.add_argument("--allow", action="append", choices=PERMISSION_NAMES, metavar="PERM")
    settings.add_argument("--deny", action="append", choices=PERMISSION_NAMES, metavar="PERM")
    for flag in ("--query-from", "--query-to", "--valid-until"):
        settings.add_argument(flag, metavar="TIME", help="Unix seconds (0: none) or ISO 8601")

    fast = groups.add_parser(
        "fast-keys", help="Fast API keys (Kraken Connect OAuth)"
    ).add_subparsers(dest="action", required=True)
    fast.add_parser("list", parents=[token]).set_defaults(run=cmd.fast_keys_list)
    create = fast.add_parser(
        "create", parents=[token, settings], help="create a key (its secret is printed once)"
    )
    create.add_argument("api_key_name")
    create.set_defaults(run=cmd.fast_keys_create)
    update = fast.add_parser("update", parents=[token, settings], help="change or rename a key")
    update.add_argument("api_key_name")
    update.add_argument("--new-name", help="rename the key")
    update.add_argument("--clear-ips", action="store_true", help="send an empty allow-list")
    update.set_defaults(run=cmd.fast_keys_update)
    delete = fast.add_parser("delete", parents=[token], help="delete (revoke) a key")
    delete.add_argument("api_key_name")
    delete.set_defaults(run=cmd.fast_keys_delete)
