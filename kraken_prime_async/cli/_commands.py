"""``users`` commands. Each returns the process exit code (``keys``: ``_keys``)."""

from __future__ import annotations

import argparse

from ._config import client_from
from ._errors import EXIT_OK
from ._output import emit

USER_COLUMNS = ("id", "name", "status", "roles")


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
