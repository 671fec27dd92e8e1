"""The ``kraken-prime`` argument parser: every command, option and help text.

The global options (``--json``, ``--base-url``, ``--timeout``, ``--rate-limit``, ``-v``) are
accepted anywhere on the line, before or after the command. Parse errors raise
:class:`UsageError` instead of exiting, so ``main`` reports them like any other error (as JSON
under ``--json``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Final, NoReturn

from .._constants import DEFAULT_TIMEOUT
from .._resources.fast_api_keys import PERMISSION_NAMES
from .._version import __version__
from ..models import AssetKind, BatchStatus, Role, UserStatus
from . import _batches, _commands, _doctor, _fast_keys, _journal, _keys, _sandbox
from ._config import (
    ENV_BASE_URL,
    ENV_KEY,
    ENV_OAUTH_TOKEN,
    ENV_RATE_LIMIT,
    ENV_SECRET,
    ENV_SECRET_FILE,
    RATE_LIMIT_CHOICES,
)
from ._demo import BOOK, demo
from ._errors import UsageError

EPILOG = f"""\
environment:
  {ENV_KEY}, {ENV_SECRET}  the key and its secret
  {ENV_SECRET_FILE}   a file holding the secret instead
  {ENV_BASE_URL}     API base URL (--base-url)
  {ENV_RATE_LIMIT}   rate-limit tier (--rate-limit)
  {ENV_OAUTH_TOKEN}        fast-keys: OAuth access token (--token)

exit codes:
  0    ok
  1    Kraken refused, or did not answer
  2    bad input or setup (the message names the option or variable)
  3    outcome unknown: read the state before trying again
  4    settlement incomplete, a doctor check failed, or keys audit found something
  130  interrupted

`kraken-prime COMMAND --help` describes each command.
"""

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[Any]


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Help with each option's default, when it has one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        shown = not (default is None or default is False or default in (argparse.SUPPRESS, []))
        if shown and action.option_strings and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that raises :class:`UsageError` instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


#: The global options' values when they are not given (they may be given anywhere on the line,
#: so their parsers leave them unset and :func:`apply_defaults` fills them in).
GLOBAL_DEFAULTS: Final[dict[str, Any]] = {
    "json": False,
    "base_url": None,
    "timeout": DEFAULT_TIMEOUT,
    "rate_limit": None,
    "verbose": 0,
}


def _global_options() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common = parser.add_argument_group("global options (before or after the command)")
    common.add_argument(
        "--json",
        action="store_true",
        help="print results as JSON (errors as JSON on stderr)",
    )
    common.add_argument(
        "--base-url", metavar="URL", help=f"API base URL (default: ${ENV_BASE_URL} or Kraken's)"
    )
    common.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help=f"budget of each attempt (default: {DEFAULT_TIMEOUT:g})",
    )
    common.add_argument(
        "--rate-limit",
        choices=RATE_LIMIT_CHOICES,
        help=f"client-side pacing: your account's tier, auto or off (default: ${ENV_RATE_LIMIT} "
        "or auto)",
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="count",
        help="log the SDK's calls (-vv: debug; default: warnings only)",
    )
    return parser


def apply_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """Fill in the global options that were not given."""
    for name, value in GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, value)
    return args


_COMMON = _global_options()


def _leaf(group: Subparsers, name: str, help: str, **kwargs: Any) -> argparse.ArgumentParser:
    """A command: help text, the defaults formatter and the global options."""
    parents = [_COMMON, *kwargs.pop("parents", [])]
    parser: argparse.ArgumentParser = group.add_parser(
        name,
        help=help,
        description=help[:1].upper() + help[1:] + ".",
        parents=parents,
        formatter_class=_Formatter,
        **kwargs,
    )
    return parser


def _group(groups: Subparsers, name: str, help: str) -> Subparsers:
    parser = groups.add_parser(
        name, help=help, description=help, parents=[_COMMON], formatter_class=_Formatter
    )
    actions: Subparsers = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    return actions


def _values(enum: type[Role] | type[UserStatus] | type[AssetKind] | type[BatchStatus]) -> list[str]:
    return [member.value for member in enum]


def build_parser() -> argparse.ArgumentParser:
    """Every command with its arguments; ``args.run`` is the command to run."""
    parser = Parser(
        prog="kraken-prime",
        description="Kraken Prime REST from the command line: users, keys, settlement.",
        epilog=EPILOG,
        parents=[_COMMON],
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"kraken-prime {__version__}")
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    _add_users(groups)
    _add_keys(groups)
    _add_batches(groups)
    _add_settle(groups)
    _add_fast_keys(groups)
    doctor = _leaf(groups, "doctor", "check the setup: URL, clock, credentials, permissions")
    doctor.set_defaults(run=_doctor.doctor)
    _add_sandbox(groups)
    _journal.register(_group(groups, "journal", "the write journal: audit export"), _leaf)
    run_demo = _leaf(groups, "demo", "run the main job against the embedded sandbox")
    run_demo.add_argument("--legs", type=int, default=12, help=f"legs to settle (1-{len(BOOK)})")
    run_demo.add_argument("--concurrency", type=int, default=4, help="legs settled at once")
    run_demo.set_defaults(run=demo)
    return parser


def _add_users(groups: Subparsers) -> None:
    users = _group(groups, "users", "API users")
    _leaf(users, "list", "list every API user").set_defaults(run=_commands.users_list)
    get = _leaf(users, "get", "show one API user")
    get.add_argument("user_id", help="the user's id")
    get.set_defaults(run=_commands.users_get)
    create = _leaf(users, "create", "create an API user")
    create.add_argument("--name", required=True, help="display name (up to 256 characters)")
    create.add_argument("--role", required=True, choices=_values(Role), help="the user's role")
    create.set_defaults(run=_commands.users_create)
    update = _leaf(users, "update", "rename, enable or disable a user")
    update.add_argument("user_id", help="the user's id")
    update.add_argument("--name", help="new display name")
    update.add_argument("--status", choices=_values(UserStatus), help="Enabled or Disabled")
    update.set_defaults(run=_commands.users_update)
    role = _leaf(users, "set-role", "change a user's role")
    role.add_argument("user_id", help="the user's id")
    role.add_argument("--role", required=True, choices=_values(Role), help="the new role")
    role.set_defaults(run=_commands.users_set_role)


def _secret_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--secret-file",
        metavar="PATH",
        help="write the new secret to PATH, created with mode 0600 (never overwritten)",
    )
    options.add_argument(
        "--print-secret",
        action="store_true",
        help="print the new secret on stdout (and in --json output)",
    )
    return options


def _add_keys(groups: Subparsers) -> None:
    keys = _group(groups, "keys", "API keys of a user")
    listing = _leaf(keys, "list", "list a user's keys (never their secrets)")
    listing.add_argument("user_id", help="the user's id")
    listing.set_defaults(run=_keys.keys_list)
    create = _leaf(
        keys,
        "create",
        "create a key; its secret is returned once: give --secret-file or --print-secret",
        parents=[_secret_options()],
    )
    create.add_argument("user_id", help="the user's id")
    create.set_defaults(run=_keys.keys_create)
    update = _leaf(keys, "update", "set a key's IP allow-list")
    update.add_argument("user_id", help="the user's id")
    update.add_argument("key_id", help="the key's id")
    update.add_argument("--ip", action="append", help="address or CIDR; repeat for several")
    update.add_argument("--clear-ips", action="store_true", help="send an empty allow-list")
    update.set_defaults(run=_keys.keys_update)
    delete = _leaf(keys, "delete", "delete a key (revoked at once)")
    delete.add_argument("user_id", help="the user's id")
    delete.add_argument("key_id", help="the key's id")
    delete.set_defaults(run=_keys.keys_delete)
    rotate = _leaf(
        keys,
        "rotate",
        "replace a key: create a new one, verify it, then delete the old one; give "
        "--secret-file or --print-secret",
        parents=[_secret_options()],
    )
    rotate.add_argument("user_id", help="the user's id")
    rotate.add_argument("key_id", help="the key to replace")
    rotate.add_argument(
        "--ip", action="append", help="new key's allow-list; repeat for several (default: copied)"
    )
    rotate.add_argument(
        "--no-verify", action="store_true", help="skip the signed test read with the new key"
    )
    rotate.set_defaults(run=_keys.keys_rotate)
    audit = _leaf(keys, "audit", "report risky keys (exit code 4 when anything is found)")
    audit.add_argument("user_ids", nargs="*", metavar="USER_ID", help="(default: every user)")
    audit.add_argument(
        "--stale-days", type=float, metavar="DAYS", help="report keys not updated for this long"
    )
    audit.add_argument(
        "--updated-at-unit", choices=("s", "ms"), help="unit of updated_at (with --stale-days)"
    )
    audit.set_defaults(run=_keys.keys_audit)


def _add_batches(groups: Subparsers) -> None:
    batches = _group(groups, "batches", "settlement batches")
    listing = _leaf(batches, "list", "list batches, newest first, one line each")
    listing.add_argument(
        "--status", action="append", choices=_values(BatchStatus), help="filter; repeat for several"
    )
    listing.add_argument("--limit", type=int, help="batches per page (1-200)")
    listing.add_argument("--offset", type=int, help="batches to skip")
    listing.set_defaults(run=_batches.batches_list)
    get = _leaf(batches, "get", "show a batch and its legs")
    get.add_argument("batch_id", help="the batch's id")
    get.set_defaults(run=_batches.batches_get)
    create = _leaf(batches, "create", "snapshot the unsettled trades into a batch")
    create.add_argument(
        "--asset-kind", choices=_values(AssetKind), help="positions to include (Kraken: currency)"
    )
    create.set_defaults(run=_batches.batches_create)


def _add_settle(groups: Subparsers) -> None:
    settle = _leaf(groups, "settle", "settle every eligible leg of a batch (safe to re-run)")
    settle.add_argument("batch_id", help="the batch's id")
    settle.add_argument("--asset", help="settle only this asset's leg")
    settle.add_argument("--concurrency", type=int, default=4, help="legs settled at once")
    settle.add_argument(
        "--wait-confirmation",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for Kraken to confirm the batch",
    )
    settle.set_defaults(run=_batches.settle)


def _add_fast_keys(groups: Subparsers) -> None:
    """``fast-keys {create,list,update,delete}``: OAuth Fast API keys, addressed by name."""
    token = argparse.ArgumentParser(add_help=False)
    token.add_argument(
        "--token",
        metavar="TOKEN",
        help=f"OAuth access token; --token=TOKEN or --token TOKEN (prefer ${ENV_OAUTH_TOKEN}: "
        "argv is visible to ps)",
    )
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

    fast = _group(groups, "fast-keys", "Fast API keys (Kraken Connect OAuth)")
    _leaf(fast, "list", "list the Fast API keys", parents=[token]).set_defaults(
        run=_fast_keys.fast_keys_list
    )
    create = _leaf(
        fast,
        "create",
        "create a key; its secret is returned once: give --secret-file or --print-secret",
        parents=[token, settings, _secret_options()],
    )
    create.add_argument("api_key_name", help="the new key's name (up to 32 characters)")
    create.set_defaults(run=_fast_keys.fast_keys_create)
    update = _leaf(fast, "update", "change or rename a key", parents=[token, settings])
    update.add_argument("api_key_name", help="the key's name")
    update.add_argument("--new-name", help="rename the key")
    update.add_argument("--clear-ips", action="store_true", help="send an empty allow-list")
    update.set_defaults(run=_fast_keys.fast_keys_update)
    delete = _leaf(fast, "delete", "delete (revoke) a key", parents=[token])
    delete.add_argument("api_key_name", help="the key's name")
    delete.set_defaults(run=_fast_keys.fast_keys_delete)


def _add_sandbox(groups: Subparsers) -> None:
    """``sandbox``: its options and handler live in ``_sandbox`` (``configure`` sets ``run``)."""
    _sandbox.configure(_leaf(groups, "sandbox", "serve the embedded sandbox until Ctrl-C"))
