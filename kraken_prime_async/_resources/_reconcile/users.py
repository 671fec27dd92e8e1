"""The lost-answer rules of API users and their keys; see ``_reconcile``.

Both creates are identified by a diff: the users (or the user's keys) read before sending, against
those read back behind the nonce fence (``read_back()``).
"""

from __future__ import annotations

import builtins
from typing import NoReturn, Protocol

from ...errors import KrakenPrimeError
from ...models import ApiKey, ApiUser
from .base import LostAnswer, Resend, Rule, logger, read_back


class UserLister(Protocol):
    """The read of ``client.api_users`` the user rule uses."""

    async def list(self) -> builtins.list[ApiUser]: ...


class UserKeys(Protocol):
    """The read and the delete of ``client.api_user_keys`` the key rule uses."""

    async def list(self, user_id: str) -> builtins.list[ApiKey]: ...

    async def delete(self, user_id: str, key_id: str) -> bool: ...


class NewUser(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...


class OfUser(Protocol):
    @property
    def user_id(self) -> str: ...


# --- API users and their keys ----------------------------------------------------------------


async def _user_ids(reader: UserLister, request: NewUser) -> frozenset[str]:
    return frozenset(user.id for user in await reader.list())


async def _created_user(reader: UserLister, lost: LostAnswer[NewUser]) -> ApiUser | Resend:
    """The one new user of the name and role, if it is proven this call's; none (or only other
    creates') → resend; else raise with the candidates."""
    name, role = lost.request.name, lost.request.role
    before = lost.before if isinstance(lost.before, frozenset) else frozenset()
    users = await read_back(lost, "the API users", reader.list)
    new = {u.id: u for u in users if u.id not in before and u.name == name and role in u.roles}
    found = await lost.attribute(new)
    if not found.remaining:
        return Resend("the users read back after the fence show no new user of the name of its own")
    if len(found.remaining) > 1:
        raise lost.unknown(
            f"{lost.operation}: the answer was lost and {len(found.remaining)} new users named "
            f"{name!r} appeared meanwhile (ids {', '.join(found.remaining)}; another client "
            "created users of that name): one of them may be this call's. Check them before "
            "trying again.",
            candidates=found.remaining,
        ) from lost.error
    if found.mine is None:
        raise lost.unattributed(f"a new user named {name!r}", found.remaining) from lost.error
    logger.warning("%s: answer lost; found the user created by it", lost.operation)
    return new[found.mine]


async def _key_ids(reader: UserKeys, request: OfUser) -> frozenset[str]:
    return frozenset(key.id for key in await reader.list(request.user_id))


async def _created_key(reader: UserKeys, lost: LostAnswer[OfUser]) -> Resend:
    """No new key of its own → resend; one, proven this call's → its secret is lost: delete it,
    then resend; else raise with the candidates (nothing is deleted without proof)."""
    user_id = lost.request.user_id
    before = lost.before if isinstance(lost.before, frozenset) else frozenset()
    keys = await read_back(lost, "the user's keys", lambda: reader.list(user_id))
    found = await lost.attribute(key.id for key in keys if key.id not in before)
    if not found.remaining:
        return Resend("the keys read back after the fence show no new key of its own")
    if len(found.remaining) > 1:
        raise lost.unknown(
            f"{lost.operation}: the answer was lost and {len(found.remaining)} new keys of the "
            f"user appeared meanwhile (ids {', '.join(found.remaining)}; another client created "
            "keys for this user): one of them may be this call's key, whose secret is lost. "
            "Delete the ones you do not know before trying again.",
            candidates=found.remaining,
        ) from lost.error
    if found.mine is None:
        raise lost.unattributed("a new key of the user", found.remaining) from lost.error
    orphan = found.mine
    try:
        await reader.delete(user_id, orphan)
    except KrakenPrimeError as exc:
        if not await _still_listed(reader, user_id, orphan):  # a re-sent delete, refused
            return Resend("its key was created but the secret was lost; the key was deleted")
        raise lost.unknown(
            f"{lost.operation}: the answer was lost; the key was created (id {orphan}) but its "
            f"secret was not received, and deleting it failed ({type(exc).__name__}). Delete "
            f"it (api_user_keys.delete({user_id!r}, {orphan!r})) before trying again.",
            orphan_key_id=orphan,
        ) from lost.error
    return Resend("its key was created but the secret was lost; the key was deleted")


async def _still_listed(reader: UserKeys, user_id: str, key_id: str) -> bool:
    """Whether ``key_id`` is still among the user's keys (``True`` if they cannot be read)."""
    try:
        return key_id in {key.id for key in await reader.list(user_id)}
    except KrakenPrimeError:
        return True


def _made(_request: object, result: object) -> str | None:
    """The id of the user or key a create returned."""
    made = getattr(result, "id", None)
    return made if isinstance(made, str) else None


CREATE_USER: Rule[UserLister, NewUser, ApiUser] = Rule(
    _created_user, _user_ids, how="found_user", scope=lambda _request: "api_users", made=_made
)
CREATE_KEY: Rule[UserKeys, OfUser, NoReturn] = Rule(
    _created_key, _key_ids, scope=lambda request: f"keys:{request.user_id}", made=_made
)
