"""Tag "API User Keys": create, list, update (IP allow-list), delete; rotate and audit (their
workflows live in ``key_rotation`` and ``key_audit``)."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from .. import _validation as check
from .._endpoint import Data, Endpoint, same
from .._pipeline import Pipeline
from .._retry import RetryLike
from ..models import ApiKey, CreatedApiKey, KeyAudit
from ._base import Request, Resource, TimeoutLike
from ._reconcile import users as _reconcile
from .api_users import ApiUsers
from .key_audit import audit_keys
from .key_rotation import SiblingFactory, rotate_key


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

    __slots__ = ("_sibling",)

    def __init__(self, pipeline: Pipeline, sibling: SiblingFactory | None = None) -> None:
        super().__init__(pipeline)
        self._sibling = sibling

    async def create(
        self,
        user_id: str,
        *,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
    ) -> CreatedApiKey:
        """Create a key for ``user_id``.

        The returned ``api_secret`` (a :class:`~kraken_prime_async.models.SecretStr`) is shown
        only in this answer. Not idempotent, so never re-sent blindly: the user's keys are
        listed before sending (one extra call per create), and if the answer is lost they are
        read back once the lost request is fenced off by the nonce. No new key: the create is
        sent again (within ``max_attempts``). A new key, whose secret was lost: it is deleted,
        then created again, so the caller ends with one key whose secret it holds. If that
        delete fails, :class:`~kraken_prime_async.errors.OutcomeUnknownError` names the key in
        ``orphan_key_id``. See ``docs/guarantees.md``, "Exactly-once writes".
        """
        request = UserId(user_id=check.identifier("user_id", user_id))
        return await self._write(
            CREATE, request, reconcile=_reconcile.CREATE_KEY, timeout=timeout, retry=retry
        )

    async def list(
        self,
        user_id: str,
        *,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
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
        retry: RetryLike | None = None,
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
        retry: RetryLike | None = None,
    ) -> bool:
        """Revoke a key at once; returns Kraken's ``deleted`` flag."""
        request = KeyRef(
            user_id=check.identifier("user_id", user_id), key_id=check.identifier("key_id", key_id)
        )
        return await self._call(DELETE, request, timeout=timeout, retry=retry)

    async def rotate(
        self,
        user_id: str,
        key_id: str,
        *,
        whitelisted_ips: Iterable[str] | None = None,
        verify: bool = True,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
    ) -> CreatedApiKey:
        """Replace a key with a new one: create, verify, set the allow-list, delete the old one.

        Parameters
        ----------
        user_id, key_id : str
            The user and the key to replace.
        whitelisted_ips : iterable of str, optional
            The new key's IP allow-list; by default the old key's is copied.
        verify : bool, default True
            Prove the new key works (a signed read made with it) before the old one is
            deleted.
        timeout, retry
            Apply to every request of the rotation.

        Returns
        -------
        CreatedApiKey
            The new key with its secret (shown only now) and its allow-list.

        Raises
        ------
        KeyRotationError
            The rotation stopped; its attributes say which keys exist now (the old key is kept
            unless the error says it may be gone, and then ``.new_key`` holds the new one).

        Notes
        -----
        Both keys are valid from the new key's creation until the old key's delete is
        accepted: a few round trips (about five requests of this client, or longer when a lost
        answer is resolved). Services still signing with the old key keep working until then,
        and fail with ``AuthenticationError`` after it: give them the new key first, or rotate
        with ``verify=True`` and switch them on return. Lost answers are resolved by listing
        the user's keys, so do not run two rotations or key creations for one user at once
        (a key created meanwhile by someone else would be taken for an orphan and deleted).
        """
        return await rotate_key(
            self,
            self._sibling,
            user_id,
            key_id,
            whitelisted_ips=whitelisted_ips,
            verify=verify,
            timeout=timeout,
            retry=retry,
        )

    async def audit(
        self,
        user_ids: Iterable[str] | None = None,
        *,
        stale_after: float | None = None,
        updated_at_unit: str | None = None,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
    ) -> KeyAudit:
        """Check every key of ``user_ids`` (default: every user) and report findings.

        Reads only (``ListPrimeApiUsers`` or ``GetPrimeApiUser``, ``ListPrimeApiUserKeys``).
        See :class:`~kraken_prime_async.models.KeyFinding` for the codes and thresholds.
        ``stale`` findings need ``stale_after`` (seconds) and ``updated_at_unit`` (``"s"`` or
        ``"ms"``): Kraken does not document the unit of a key's ``updated_at``.
        """
        return await audit_keys(
            ApiUsers(self._pipeline),
            self.list,
            user_ids,
            clock=self._pipeline.clock,
            stale_after=stale_after,
            updated_at_unit=updated_at_unit,
            timeout=timeout,
            retry=retry,
        )
