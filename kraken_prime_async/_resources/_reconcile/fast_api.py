"""The lost-answer rules of the Fast API keys (Kraken Connect OAuth); see ``_reconcile``.

OAuth requests carry no nonce, so a lost request cannot be fenced off: a late first request may
still arrive after the read-back. What keeps these writes exact is that a key's name is unique
per account: a late ``create`` cannot make a second key of the name (it is refused as a
duplicate), a late ``delete`` or rename of a name that no longer exists is refused.
"""

from __future__ import annotations

import builtins
from typing import NoReturn, Protocol

from msgspec import UnsetType

from ...errors import InvalidArgumentsError, KrakenPrimeError, PermissionDeniedError
from ...models import FastApiKeyInfo
from .base import LostAnswer, Resend, Rule, logger, read_back


class KeyLister(Protocol):
    """The read and the delete of ``oauth.fast_api_keys`` the Fast API rules use."""

    async def list(self) -> builtins.list[FastApiKeyInfo]: ...

    async def delete(self, api_key_name: str) -> bool: ...


class KeyName(Protocol):
    @property
    def api_key_name(self) -> str: ...


class KeyRename(KeyName, Protocol):
    @property
    def new_api_key_name(self) -> str | UnsetType: ...


async def _names(reader: KeyLister) -> set[str]:
    return {key.api_key_name for key in await reader.list() if key.api_key_name is not None}


async def _key_names(reader: KeyLister) -> set[str] | None:
    """The names of the account's keys, or ``None`` if they cannot be read."""
    try:
        return await _names(reader)
    except KrakenPrimeError:
        return None


async def _names_before(reader: KeyLister, request: KeyName) -> frozenset[str] | None:
    """The names before sending; ``None`` if the token may not read them (a write-only token
    still creates keys, but a lost answer then stays unknown)."""
    try:
        return frozenset(await _names(reader))
    except PermissionDeniedError:
        return None


async def _created_key(reader: KeyLister, lost: LostAnswer[KeyName]) -> Resend:
    """The name new since before and proven this call's → its secret is lost: delete it, then
    resend; absent (or another visible create's) → resend; else raise with the name."""
    name = lost.request.api_key_name
    if not isinstance(lost.before, frozenset):
        raise lost.unknown(
            f"{lost.operation}: the answer was lost and the keys could not be read back (the "
            f"token may not list them): list them before trying again; if {name!r} exists, its "
            "secret was not received: delete it and create it again."
        ) from lost.error
    before = lost.before
    if name in before:
        return Resend(f"a key named {name!r} existed before the call, so it did not create one")
    names = await read_back(lost, "the Fast API keys", lambda: _names(reader))
    found = await lost.attribute({name} & names)
    if not found.remaining:
        return Resend(f"the keys read back show no key named {name!r} of its own")
    if found.mine is None:
        raise lost.unattributed(f"a new key named {name!r}", found.remaining) from lost.error
    return await _delete_secretless(reader, lost, "created")


async def _delete_secretless(reader: KeyLister, lost: LostAnswer[KeyName], how: str) -> Resend:
    """Delete the key the lost request made (its secret was never received)."""
    name = lost.request.api_key_name
    try:
        await reader.delete(name)
    except KrakenPrimeError as exc:
        raise lost.unknown(
            f"{lost.operation}: the answer was lost; the request {how} the key {name!r} but its "
            f"secret was not received, and deleting it failed ({type(exc).__name__}). Delete it "
            f"(fast_api_keys.delete({name!r})) before trying again.",
            orphan_key_id=name,
        ) from lost.error
    return Resend(f"the request {how} the key {name!r} but its secret was lost; it was deleted")


async def _refused_as_duplicate(
    reader: KeyLister, lost: LostAnswer[KeyName], exc: KrakenPrimeError
) -> Resend | None:
    """The create sent again was refused as a duplicate of a name absent before the call: the
    lost request arrived late (after the read-back) and made the key, whose secret is lost,
    unless another create made it. Proven this call's: delete it and create again; made by a
    create the client can see: the refusal stands; else raise with the name."""
    name = lost.request.api_key_name
    duplicate = isinstance(exc, InvalidArgumentsError) and "duplicate" in str(exc)
    if not duplicate or not isinstance(lost.before, frozenset) or name in lost.before:
        return None
    found = await lost.attribute({name})
    if not found.remaining:
        return None
    if found.mine is None:
        raise lost.unattributed(f"a new key named {name!r}", found.remaining) from exc
    return await _delete_secretless(reader, lost, "arrived late and created")


async def _renamed_key(reader: KeyLister, lost: LostAnswer[KeyRename]) -> bool:
    """``True`` if the new name is listed and the old one is not, else raise."""
    name, new_name = lost.request.api_key_name, lost.request.new_api_key_name
    keys = await _key_names(reader)
    if keys is not None and new_name in keys and name not in keys:
        logger.warning("%s: answer lost; the read-back shows the rename", lost.operation)
        return True
    detail = (
        "the keys could not be read back"
        if keys is None
        else f"the read-back does not show {name!r} renamed to {new_name!r}"
    )
    raise lost.unknown(
        f"{lost.operation}: the answer was lost and {detail}; list the keys before trying again."
    ) from lost.error


async def _deleted_key(reader: KeyLister, lost: LostAnswer[KeyName]) -> bool:
    """``True`` if the name is no longer listed, else raise."""
    name = lost.request.api_key_name
    keys = await _key_names(reader)
    if keys is not None and name not in keys:
        logger.warning("%s: answer lost; the read-back shows it deleted", lost.operation)
        return True
    detail = (
        "the keys could not be read back"
        if keys is None
        else f"a key named {name!r} still exists (the delete did not take effect, or not "
        "yet); delete it again if it should go"
    )
    raise lost.unknown(f"{lost.operation}: the answer was lost and {detail}.") from lost.error


FAST_API_CREATE: Rule[KeyLister, KeyName, NoReturn] = Rule(
    _created_key,
    _names_before,
    _refused_as_duplicate,
    scope=lambda request: f"fast_api:{request.api_key_name}",
    made=lambda request, _result: request.api_key_name,
)
FAST_API_RENAME: Rule[KeyLister, KeyRename, bool] = Rule(_renamed_key, how="rename_shown")
FAST_API_DELETE: Rule[KeyLister, KeyName, bool] = Rule(_deleted_key, how="delete_shown")
