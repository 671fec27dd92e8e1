"""Tag "API User Keys": create, list, update (IP allow-list), delete; rotate and audit (their
workflows live in ``key_rotation`` and ``key_audit``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from .. import _validation as check
from .._endpoint import Data, Endpoint, same
from .._journal.base import Intent, Status
from .._keys.gate import KeyGate, NoGate
from .._pipeline import Pipeline
from .._retry import RetryLike
from ..models import ApiKey, CreatedApiKey, KeyAudit
from ._base import Request, Resource, TimeoutLike
from ._reconcile import users as _reconcile
from .api_users import ApiUsers
from .key_audit import UpdatedAtUnit, audit_keys
from .key_rotation import SiblingFactory, resolve_rotation, rotate_key
from .key_rotation_journal import NewKeyCallback


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
        idempotency_key: str | None = None,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
    ) -> CreatedApiKey:
        """Create a key for ``user_id``.

        The returned ``api_secret`` (a [`SecretStr`][kraken_prime_async.models.SecretStr]) is shown
        only in this answer. Not idempotent, so never re-sent blindly: the user's keys are
        listed before sending (one extra call per create), and if the answer is lost they are
        read back once the lost request is fenced off by the nonce. No new key: the create is
        sent again (within ``max_attempts``). A new key, whose secret was lost: it is deleted,
        then created again, so the caller ends with one key whose secret it holds. If that
        delete fails, [`OutcomeUnknownError`][kraken_prime_async.errors.OutcomeUnknownError] names
        the key in
        ``orphan_key_id``. See ``docs/guarantees.md``, "Exactly-once writes".

        ``idempotency_key``: with the same key and the same arguments, a later call (in this
        process or, with a file or Redis ``journal``, after a restart) returns the recorded
        result without sending; a pending one is settled first. Other arguments raise
        ``ValidationError``. See "Running settlement
        unattended". The journal never
        stores a secret: the key a repeated call returns has ``api_secret.withheld`` true, and
        reading that secret raises ``SecretWithheldError``.
        """
        request = UserId(user_id=check.identifier("user_id", user_id))
        return await self._write(
            CREATE,
            request,
            reconcile=_reconcile.CREATE_KEY,
            timeout=timeout,
            retry=retry,
            idempotency_key=idempotency_key,
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
        on_new_key: NewKeyCallback | None = None,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
    ) -> CreatedApiKey:
        """Replace a key with a new one: create, verify, set the allow-list, hand the new key
        over, delete the old one.

        Parameters
        ----------
        user_id, key_id : str
            The user and the key to replace.
        whitelisted_ips : iterable of str, optional
            The new key's IP allow-list; by default the old key's is copied.
        verify : bool, default True
            Prove the new key works (a signed read made with it) before the old one is
            deleted.
        on_new_key : callable, optional
            ``on_new_key(new)`` (may be async): store the new key and its secret durably. It is
            called after verification and before the old key is deleted; if it raises, the new
            key is deleted and the old one kept. Required with a file or Redis ``journal``:
            each stage is then recorded, and after a crash ``client.journal.resolve_pending()``
            finishes a rotation whose new key was delivered and deletes an undelivered one.
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
        with ``verify=True`` and switch them on return. A lost create is resolved by listing
        the user's keys: a new key is taken as the rotation's own only on proof (creates this
        client or its fleet registered, or ``sole_writer=True``); otherwise the rotation stops
        with the unattributed ids in ``unknown_key_ids`` and deletes nothing.
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
            on_new_key=on_new_key,
            journal=self._pipeline.journal,
            sleep=self._pipeline.sleep,
            fence_seconds=_window_seconds(self._pipeline.gate),
        )

    async def resolve_rotation(self, intent: Intent) -> tuple[Status, Any, str]:
        """The journal's resolver of a rotation a dead process left pending
        (``key_rotation_journal``)."""
        return await resolve_rotation(
            self,
            self._pipeline.journal,
            intent,
            sleep=self._pipeline.sleep,
            fence_seconds=_window_seconds(self._pipeline.gate),
        )

    async def audit(
        self,
        user_ids: Iterable[str] | None = None,
        *,
        stale_after: float | None = None,
        updated_at_unit: UpdatedAtUnit | None = None,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
    ) -> KeyAudit:
        """Check every key of ``user_ids`` (default: every user) and report findings.

        Reads only (``ListPrimeApiUsers`` or ``GetPrimeApiUser``, ``ListPrimeApiUserKeys``, and
        the client's journal). See [`KeyFinding`][kraken_prime_async.models.KeyFinding] for the
        codes and thresholds. ``stale`` findings need ``stale_after`` (seconds) and
        ``updated_at_unit`` (``"s"`` or ``"ms"``): Kraken does not document the unit of a key's
        ``updated_at``. ``unattributed_key`` findings come from the client's journal: a
        ``create`` whose answer was lost and that ended in ``OutcomeUnknownError`` with
        ``candidates`` stays pending there, and each candidate still listed is reported (with a
        file or Redis ``journal``, after a restart too; the default in-memory journal knows only
        this process's).

        Raises
        ------
        JournalError
            The client's journal could not be read (nothing was sent).
        """
        return await audit_keys(
            ApiUsers(self._pipeline),
            self.list,
            user_ids,
            clock=self._pipeline.clock,
            journal=self._pipeline.journal,
            stale_after=stale_after,
            updated_at_unit=updated_at_unit,
            timeout=timeout,
            retry=retry,
        )


def _window_seconds(gate: KeyGate | NoGate) -> float:
    """The calling key's nonce window in seconds (0 without a key gate)."""
    return gate.window_seconds if isinstance(gate, KeyGate) else 0.0
