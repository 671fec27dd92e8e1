"""Tag "API User Keys": create, list, update (IP allow-list), delete."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from .. import _validation as check
from .._endpoint import Data, Endpoint, same
from .._retry import RetryPolicy
from ..models import ApiKey, CreatedApiKey
from ._base import Request, Resource, TimeoutLike


class UserId(Request, frozen=True):
    user_id: str


class UpdateKey(Request, frozen=True):
    user_id: str
    key_id: str
    whitelisted_ips: list[str]


class KeyRef(Request, frozen=True):
    user_id: str
    key_id: str


class _ListedKey(msgspec.Struct, frozen=True, gc=False):
    """A ``ListPrimeApiUserKeys`` item: the public key is called ``key`` there."""

    id: str
    user_id: str | None = None
    key: str | None = None
    permissions: tuple[str, ...] = ()
    whitelisted_ips: tuple[str, ...] = ()
    updated_at: int | None = None


class _Deleted(msgspec.Struct, frozen=True, gc=False):
    deleted: bool


def _listed(result: Data[list[_ListedKey]]) -> list[ApiKey]:
    return [
        ApiKey(
            id=item.id,
            user_id=item.user_id,
            api_key=item.key,
            permissions=item.permissions,
            whitelisted_ips=item.whitelisted_ips,
            updated_at=item.updated_at,
        )
        for item in result.data
    ]


def _deleted(result: _Deleted) -> bool:
    return result.deleted


CREATE: Endpoint[CreatedApiKey, CreatedApiKey] = Endpoint(
    "CreatePrimeApiUserKey", CreatedApiKey, same, idempotent=False
)
LIST = Endpoint("ListPrimeApiUserKeys", Data[list[_ListedKey]], _listed, idempotent=True)
UPDATE: Endpoint[ApiKey, ApiKey] = Endpoint("UpdatePrimeApiUserKey", ApiKey, same, idempotent=True)
# Deleting twice cannot delete twice; a retry after a lost answer may get an (undocumented) error.
DELETE = Endpoint("DeletePrimeApiUserKey", _Deleted, _deleted, idempotent=True)


class ApiUserKeys(Resource):
    """``client.api_user_keys``: keys of Prime API users."""

    __slots__ = ()

    async def create(
        self,
        user_id: str,
        *,
        timeout: TimeoutLike | None = None,
        retry: RetryPolicy | None = None,
    ) -> CreatedApiKey:
        """Create a key for ``user_id``.

        The returned ``api_secret`` (a :class:`~kraken_prime_async.models.SecretStr`) is shown
        only in this answer. Not idempotent: a lost answer raises
        :class:`~kraken_prime_async.errors.OutcomeUnknownError` (list the user's keys and delete
        the one you do not know, then create again).
        """
        request = UserId(user_id=check.identifier("user_id", user_id))
        return await self._call(CREATE, request, timeout=timeout, retry=retry)

    async def list(
        self,
        user_id: str,
        *,
        timeout: TimeoutLike | None = None,
        retry: RetryPolicy | None = None,
    ) -> list[ApiKey]:
        """The user's keys, without secrets."""
        request = UserId(user_id=check.identifier("user_id", user_id))
        return await self._call(LIST, request, timeout=timeout, retry=retry)

    async def update(
        self,
        user_id: str,
        key_id: str,
        *,
        whitelisted_ips: Iterable[str],
        timeout: TimeoutLike | None = None,
        retry: RetryPolicy | None = None,
    ) -> ApiKey:
        """Set the key's IP allow-list (addresses or CIDR networks).

        Kraken does not document whether the list replaces or merges, nor whether ``[]`` clears
        it; it most likely replaces.
        """
        request = UpdateKey(
            user_id=check.identifier("user_id", user_id),
            key_id=check.identifier("key_id", key_id),
            whitelisted_ips=check.ip_list("whitelisted_ips", whitelisted_ips),
        )
        return await self._call(UPDATE, request, timeout=timeout, retry=retry)

    async def delete(
        self,
        user_id: str,
        key_id: str,
        *,
        timeout: TimeoutLike | None = None,
        retry: RetryPolicy | None = None,
    ) -> bool:
        """Revoke a key at once; returns Kraken's ``deleted`` flag."""
        request = KeyRef(
            user_id=check.identifier("user_id", user_id), key_id=check.identifier("key_id", key_id)
        )
        return await self._call(DELETE, request, timeout=timeout, retry=retry)
