"""Tag "API Users": create, get, list, update, update roles."""

from __future__ import annotations

from msgspec import UNSET, UnsetType

from .. import _validation as check
from .._constants import MAX_USER_NAME_LENGTH
from .._endpoint import Data, Endpoint, data, same
from .._retry import RetryLike
from ..errors import ValidationError
from ..models import ApiUser, Role, RoleName, UserStatus, UserStatusName
from ._base import Request, Resource, TimeoutLike
from ._reconcile import users as _reconcile


class CreateUser(Request, frozen=True):
    name: str
    role: str


class UserId(Request, frozen=True):
    user_id: str


class UpdateUser(Request, frozen=True):
    user_id: str
    name: str | UnsetType = UNSET
    status: str | UnsetType = UNSET


class UpdateRoles(Request, frozen=True):
    user_id: str
    role: str


CREATE: Endpoint[ApiUser, ApiUser] = Endpoint("CreatePrimeApiUser", ApiUser, same, idempotent=False)
GET: Endpoint[Data[ApiUser], ApiUser] = Endpoint(
    "GetPrimeApiUser", Data[ApiUser], data, idempotent=True
)
LIST: Endpoint[Data[list[ApiUser]], list[ApiUser]] = Endpoint(
    "ListPrimeApiUsers", Data[list[ApiUser]], data, idempotent=True
)
UPDATE: Endpoint[ApiUser, ApiUser] = Endpoint("UpdatePrimeApiUser", ApiUser, same, idempotent=True)
UPDATE_ROLES: Endpoint[ApiUser, ApiUser] = Endpoint(
    "UpdatePrimeApiUserRoles", ApiUser, same, idempotent=True
)


class ApiUsers(Resource):
    """``client.api_users``: Prime API users (there is no delete; disable a user instead)."""

    __slots__ = ()

    async def create(
        self,
        name: str,
        role: Role | RoleName,
        *,
        idempotency_key: str | None = None,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
    ) -> ApiUser:
        """Create an API user with ``role`` (``"Trader"`` or ``"Viewer"``).

        Not idempotent, so never re-sent blindly: the users are listed before sending (one
        extra call per create), and if the answer is lost they are read back once the lost
        request is fenced off by the nonce. A new user of the name and role is returned; none
        means the create did not happen and it is sent again (within ``max_attempts``);
        otherwise [`OutcomeUnknownError`][kraken_prime_async.errors.OutcomeUnknownError] says what
        is known.
        See ``docs/guarantees.md``, "Exactly-once writes".

        ``idempotency_key``: with the same key and the same arguments, a later call (in this
        process or, with a file or Redis ``journal``, after a restart) returns the recorded
        result without sending; a pending one is settled first. Other arguments raise
        ``ValidationError``. See "Running settlement
        unattended".
        """
        request = CreateUser(
            name=check.name("name", name, max_length=MAX_USER_NAME_LENGTH),
            role=check.choice("role", role, Role),
        )
        return await self._write(
            CREATE,
            request,
            reconcile=_reconcile.CREATE_USER,
            timeout=timeout,
            retry=retry,
            idempotency_key=idempotency_key,
        )

    async def get(
        self,
        user_id: str,
        *,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
    ) -> ApiUser:
        """Fetch one API user."""
        request = UserId(user_id=check.identifier("user_id", user_id))
        return await self._call(GET, request, timeout=timeout, retry=retry)

    async def list(
        self,
        *,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
    ) -> list[ApiUser]:
        """Every API user of the account."""
        return await self._call(LIST, None, timeout=timeout, retry=retry)

    async def update(
        self,
        user_id: str,
        *,
        name: str | None = None,
        status: UserStatus | UserStatusName | None = None,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
    ) -> ApiUser:
        """Rename a user and/or set its ``status`` (``"Enabled"``/``"Disabled"``)."""
        if name is None and status is None:
            raise ValidationError("name", "give name, status or both")
        request = UpdateUser(
            user_id=check.identifier("user_id", user_id),
            name=UNSET
            if name is None
            else check.name("name", name, max_length=MAX_USER_NAME_LENGTH),
            status=UNSET if status is None else check.choice("status", status, UserStatus),
        )
        return await self._call(UPDATE, request, timeout=timeout, retry=retry)

    async def update_roles(
        self,
        user_id: str,
        *,
        role: Role | RoleName,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
    ) -> ApiUser:
        """Set the user's role (the API takes one ``role`` and answers with ``roles``)."""
        request = UpdateRoles(
            user_id=check.identifier("user_id", user_id), role=check.choice("role", role, Role)
        )
        return await self._call(UPDATE_ROLES, request, timeout=timeout, retry=retry)
