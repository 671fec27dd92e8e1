"""``users`` and ``keys`` commands. Each returns the process exit code."""

from __future__ import annotations

import argparse
import sys

from ..errors import ValidationError
from ..models import CreatedApiKey
from ._config import client_from
from ._console import out, say
from ._errors import EXIT_OK, EXIT_REFUSED
from ._output import emit, emit_json, to_builtins
from ._secret_file import SecretDelivery

USER_COLUMNS = ("id", "name", "status", "roles")
#: A user's keys (the user is on the command line, so no user id column).
KEY_COLUMNS = ("id", "api_key", "permissions", "whitelisted_ips", "updated_at")
#: Long cells shortened first on a narrow terminal (``--json`` has them in full).
KEY_SQUEEZE = ("permissions", "whitelisted_ips")


async def users_list(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        emit(await client.api_users.list(), USER_COLUMNS, as_json=args.json)
    return EXIT_OK


async def users_get(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        emit(await client.api_users.get(args.user_id), USER_COLUMNS, as_json=args.json)
    return EXIT_OK


async def users_create(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        user = await client.api_users.create(name=args.name, role=args.role)
    emit(user, USER_COLUMNS, as_json=args.json)
    return EXIT_OK


async def users_update(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        user = await client.api_users.update(args.user_id, name=args.name, status=args.status)
    emit(user, USER_COLUMNS, as_json=args.json)
    return EXIT_OK


async def users_set_role(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        user = await client.api_users.update_roles(args.user_id, role=args.role)
    emit(user, USER_COLUMNS, as_json=args.json)
    return EXIT_OK


async def keys_list(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        keys = await client.api_user_keys.list(args.user_id)
    emit(keys, KEY_COLUMNS, as_json=args.json, squeeze=KEY_SQUEEZE)
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
        data = to_builtins(key, reveal_secrets=delivery.print_secret)
        if not delivery.print_secret:
            data.pop("api_secret", None)
        if delivery.file is not None:
            data["secret_file"] = str(delivery.file.path)
        emit_json(data)
        return
    emit(key, KEY_COLUMNS[:-1], as_json=False, squeeze=KEY_SQUEEZE)
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
    emit(key, KEY_COLUMNS, as_json=args.json, squeeze=KEY_SQUEEZE)
    return EXIT_OK


async def keys_delete(args: argparse.Namespace) -> int:
    async with client_from(args) as client:
        deleted = await client.api_user_keys.delete(args.user_id, args.key_id)
    if args.json:
        emit_json({"deleted": deleted})
    else:
        out().print("deleted" if deleted else "not deleted")
    return EXIT_OK if deleted else EXIT_REFUSED
