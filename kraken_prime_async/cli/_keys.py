"""``keys`` commands: list, create, update, delete, rotate and audit. Each returns the exit code.

A new key's secret goes where ``--secret-file`` / ``--print-secret`` say (``SecretDelivery``):
the file is created (mode 0600, never over an existing file) before anything changes at Kraken,
removed again if no key came of it, and still written when a stopped rotation left its new key
live (``KeyRotationError.new_key``).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Final

from ..errors import KeyRotationError, ValidationError
from ..models import CreatedApiKey
from ._args import group, leaf, secret_options
from ._config import client_from
from ._console import out, plural, say
from ._errors import EXIT_INCOMPLETE, EXIT_OK, EXIT_REFUSED
from ._journal import journal_options, journal_store
from ._output import emit, emit_json
from ._secret_file import SecretDelivery

if TYPE_CHECKING:
    from ._args import Subparsers

#: A user's keys (the user is on the command line, so no user id column).
KEY_COLUMNS: Final = ("id", "api_key", "permissions", "whitelisted_ips", "updated_at")
#: Long cells wrapped within their column on a narrow terminal.
KEY_WRAP: Final = ("permissions", "whitelisted_ips")
FINDING_COLUMNS: Final = ("severity", "code", "user_id", "key_id", "message")
_DAY: Final = 86400.0


def register(commands: Subparsers) -> None:
    """``keys {list,create,update,delete,rotate,audit}``."""
    keys = group(commands, "keys", "API keys of a user")
    listing = leaf(keys, "list", "list a user's keys (never their secrets)", signs=True)
    listing.add_argument("user_id", help="the user's id")
    listing.set_defaults(run=keys_list)
    create = leaf(
        keys,
        "create",
        "create a key; its secret is returned once: give --secret-file or --print-secret",
        signs=True,
        parents=[secret_options()],
    )
    create.add_argument("user_id", help="the user's id")
    create.set_defaults(run=keys_create)
    update = leaf(keys, "update", "set a key's IP allow-list", signs=True)
    update.add_argument("user_id", help="the user's id")
    update.add_argument("key_id", help="the key's id")
    update.add_argument("--ip", action="append", help="address or CIDR; repeat for several")
    update.add_argument("--clear-ips", action="store_true", help="send an empty allow-list")
    update.set_defaults(run=keys_update)
    delete = leaf(keys, "delete", "delete a key (revoked at once)", signs=True)
    delete.add_argument("user_id", help="the user's id")
    delete.add_argument("key_id", help="the key's id")
    delete.set_defaults(run=keys_delete)
    _register_rotate(keys)
    found = "report risky keys (exit code 4 when anything is found)"
    audit = leaf(keys, "audit", found, signs=True)
    audit.add_argument("user_ids", nargs="*", metavar="USER_ID", help="(default: every user)")
    audit.add_argument(
        "--stale-days", type=float, metavar="DAYS", help="report keys not updated for this long"
    )
    audit.add_argument(
        "--updated-at-unit", choices=("s", "ms"), help="unit of updated_at (with --stale-days)"
    )
    journal_options(audit, required=False, why="; also report keys its lost creates may have made")
    audit.set_defaults(run=keys_audit)


def _register_rotate(keys: Subparsers) -> None:
    rotate = leaf(
        keys,
        "rotate",
        "replace a key: create a new one, verify it, then delete the old one; give "
        "--secret-file or --print-secret",
        signs=True,
        parents=[secret_options()],
    )
    rotate.add_argument("user_id", help="the user's id")
    rotate.add_argument("key_id", help="the key to replace")
    rotate.add_argument(
        "--ip", action="append", help="new key's allow-list; repeat for several (default: copied)"
    )
    rotate.add_argument(
        "--no-verify", action="store_true", help="skip the signed test read with the new key"
    )
    rotate.set_defaults(run=keys_rotate)


async def keys_list(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        keys = await client.api_user_keys.list(args.user_id)
    emit(keys, KEY_COLUMNS, as_json=args.json, wrap=KEY_WRAP, times=("updated_at",))
    return EXIT_OK


async def keys_create(args: argparse.Namespace) -> int:
    delivery = SecretDelivery(args.secret_file, args.print_secret)
    client = client_from(args)
    with delivery:
        async with client:
            key = await client.api_user_keys.create(args.user_id)
        note = delivery.keep(key.api_secret)
    show_created_key(key, delivery, as_json=args.json)
    say(note)
    return EXIT_OK


def show_created_key(key: CreatedApiKey, delivery: SecretDelivery, *, as_json: bool) -> None:
    """The new key; its secret only with ``--print-secret``."""
    if as_json:
        emit_json(delivery.as_json(key, "api_secret"))
        return
    emit(key, KEY_COLUMNS[:-1], as_json=False, wrap=KEY_WRAP, times=("updated_at",))
    if delivery.print_secret:
        # A plain write: the one value the user asked to see, never through a log or a table.
        sys.stdout.write(f"api_secret: {key.api_secret.get_secret_value()}\n")
        sys.stdout.flush()


async def keys_update(args: argparse.Namespace) -> int:
    ips = [] if args.clear_ips else args.ip
    if ips is None:
        raise ValidationError("--ip", "give --ip at least once, or --clear-ips")
    async with client_from(args) as client:
        key = await client.api_user_keys.update(args.user_id, args.key_id, whitelisted_ips=ips)
    emit(key, KEY_COLUMNS, as_json=args.json, wrap=KEY_WRAP, times=("updated_at",))
    return EXIT_OK


async def keys_delete(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        deleted = await client.api_user_keys.delete(args.user_id, args.key_id)
    if args.json:
        emit_json({"deleted": deleted})
    else:
        out().print("deleted" if deleted else "not deleted")
    return EXIT_OK if deleted else EXIT_REFUSED


async def keys_rotate(args: argparse.Namespace) -> int:
    """``keys rotate USER_ID KEY_ID``: create, verify, copy the allow-list, delete the old key."""
    delivery = SecretDelivery(args.secret_file, args.print_secret)
    client = client_from(args)
    notes: list[str] = []

    def hand_over(new: CreatedApiKey) -> None:
        # Before the old key is deleted: the secret file holds the new key's secret first.
        notes.append(delivery.keep(new.api_secret))

    with delivery:
        try:
            async with client:
                key = await client.api_user_keys.rotate(
                    args.user_id,
                    args.key_id,
                    whitelisted_ips=args.ip,
                    verify=not args.no_verify,
                    on_new_key=hand_over,
                )
        except KeyRotationError as exc:
            if exc.new_key is not None:  # live, maybe the only key now: keep its secret
                _keep_stranded(exc.new_key, delivery, notes[0] if notes else None)
            raise
        note = notes[0]
    show_created_key(key, delivery, as_json=args.json)
    say(note)
    say(f"key {args.key_id} was deleted; switch services to key {key.id}")
    return EXIT_OK


def _keep_stranded(key: CreatedApiKey, delivery: SecretDelivery, kept: str | None) -> None:
    """A stopped rotation's live new key: its secret is kept as asked (``kept``: the note of
    the hand-over that already wrote it), then the error is told."""
    note = kept if kept is not None else delivery.keep(key.api_secret)
    if delivery.print_secret:
        sys.stdout.write(f"api_secret: {key.api_secret.get_secret_value()}\n")
        sys.stdout.flush()
    say(note)
    say(f"the new key {key.id} is live: keep it or delete it")


async def keys_audit(args: argparse.Namespace) -> int:
    """``keys audit [USER_ID ...] [--journal PATH | --redis URL]``: exit 0 when clean, 4 with
    findings. With a service's journal, the keys its lost creates may have made are reported
    too (``unattributed_key``)."""
    if args.stale_days is not None and args.updated_at_unit is None:
        raise ValidationError("--updated-at-unit", "needed with --stale-days (s or ms)")
    stale_after = None if args.stale_days is None else args.stale_days * _DAY
    store = journal_store(args)  # a service's journal: its lost creates' unattributed keys
    try:
        async with client_from(args, journal=store) as client:
            report = await client.api_user_keys.audit(
                args.user_ids or None,
                stale_after=stale_after,
                updated_at_unit=args.updated_at_unit,
            )
    finally:
        if store is not None:
            await store.close()
    if args.json:
        emit_json(report)
    else:
        emit(list(report.findings), FINDING_COLUMNS, as_json=False, wrap=("message",))
    keys, users = plural(report.keys_checked, "key"), plural(report.users_checked, "user")
    say(f"{plural(len(report.findings), 'finding')}; {keys} of {users} checked")
    return EXIT_OK if report.clean else EXIT_INCOMPLETE
