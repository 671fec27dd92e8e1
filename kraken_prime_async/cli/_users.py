"""``users`` commands. Each returns the process exit code (``keys``: ``_keys``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..models import Role, UserStatus
from ._args import group, leaf, values
from ._config import client_from
from ._errors import EXIT_OK
from ._output import emit

if TYPE_CHECKING:
    from ._args import Subparsers

USER_COLUMNS = ("id", "name", "status", "roles")


def register(commands: Subparsers) -> None:
    """``users {list,get,create,update,set-role}``."""
    users = group(commands, "users", "API users")
    leaf(users, "list", "list every API user", signs=True).set_defaults(run=users_list)
    get = leaf(users, "get", "show one API user", signs=True)
    get.add_argument("user_id", help="the user's id")
    get.set_defaults(run=users_get)
    create = leaf(users, "create", "create an API user", signs=True)
    create.add_argument("--name", required=True, help="display name (up to 256 characters)")
    create.add_argument("--role", required=True, choices=values(Role), help="the user's role")
    create.set_defaults(run=users_create)
    update = leaf(users, "update", "rename, enable or disable a user", signs=True)
    update.add_argument("user_id", help="the user's id")
    update.add_argument("--name", help="new display name")
    update.add_argument("--status", choices=values(UserStatus), help="Enabled or Disabled")
    update.set_defaults(run=users_update)
    role = leaf(users, "set-role", "change a user's role", signs=True)
    role.add_argument("user_id", help="the user's id")
    role.add_argument("--role", required=True, choices=values(Role), help="the new role")
    role.set_defaults(run=users_set_role)


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
