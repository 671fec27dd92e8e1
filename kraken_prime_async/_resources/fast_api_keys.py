"""Tag "Fast API" (Kraken Connect OAuth): create, list, update, delete Fast API keys.

All four operations share the path ``/oauth/fast-api-key`` and differ by HTTP verb; keys are
addressed by name (``api_key_name``, unique per account). Auth is a bearer token (see
[`FastApiKeyClient`][kraken_prime_async.FastApiKeyClient]).

After an answer is lost:

* ``create`` is never re-sent blindly. The key names are listed before sending (one extra call
  per create) and read back after a lost answer: the name new since then means the key was
  created but its secret is lost, so it is deleted and created again; the name absent (or there
  before the call) means it was not created, so it is sent again (within ``max_attempts``).
  OAuth has no nonce to fence a late first request off, but names are unique: a late request
  cannot make a second key, and one that lands before the second create makes that create fail
  as a duplicate, which is recognised (the key is deleted and created again). See
  ``docs/guarantees.md``, "Exactly-once writes".
* ``update`` without a rename sets values, so it is retried like a read. A rename is not re-sent
  (a re-sent rename would fail with "unknown api_key_name" after the first one worked); the
  keys are read back instead: the new name present and the old one gone means it worked.
* ``delete`` is not re-sent either (the name could meanwhile belong to a new key); the keys are
  read back: the name gone means it worked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from msgspec import UNSET, UnsetType

from .. import _validation as check
from .._constants import FAST_API_KEY_PATH, MAX_FAST_API_KEY_NAME_LENGTH
from .._endpoint import Endpoint, same
from .._retry import RetryLike
from ..errors import ResponseValidationError, ValidationError
from ..models import CreatedFastApiKey, FastApiKeyInfo, FastApiKeyPermissions
from ._base import Request, Resource, TimeoutLike
from ._reconcile import fast_api as _reconcile

#: The ten permission flags (Kraken's ``permissions`` object).
PERMISSION_NAMES: Final = tuple(FastApiKeyPermissions.__struct_fields__)

#: ``permissions=`` accepts the Struct or a mapping of flag names to ``bool | None``.
PermissionsLike = FastApiKeyPermissions | Mapping[str, bool | None]
#: Timestamps: Unix seconds (0 = none) or an aware datetime.
Timestamp = int | datetime


class _Parameters(Request, frozen=True):
    """``APIKeyParameters`` (Create)."""

    api_key_name: str
    ip_allowlist: list[str] | UnsetType = UNSET
    nonce_window: int | UnsetType = UNSET
    permissions: FastApiKeyPermissions | UnsetType = UNSET
    query_from: int | UnsetType = UNSET
    query_to: int | UnsetType = UNSET
    valid_until: int | UnsetType = UNSET


class _Update(_Parameters, frozen=True):
    """``{new_api_key_name?} + APIKeyParameters`` (Update: the spec's ``allOf``)."""

    new_api_key_name: str | UnsetType = UNSET


class _Name(Request, frozen=True):
    api_key_name: str


def _require_true(operation: str) -> Any:
    def unwrap(result: Any) -> bool:
        if result is not True:
            raise ResponseValidationError(
                f"{operation}: expected the result true, "
                f"got {type(result).__name__} {_short(result)}",
                operation=operation,
            )
        return True

    return unwrap


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _endpoint(
    operation: str, http_method: str, wire_type: Any, unwrap: Any, *, idempotent: bool
) -> Endpoint[Any, Any]:
    return Endpoint(
        operation,
        wire_type,
        unwrap,
        idempotent=idempotent,
        http_method=http_method,
        path=FAST_API_KEY_PATH,
    )


CREATE: Endpoint[CreatedFastApiKey, CreatedFastApiKey] = _endpoint(
    "CreateFastApiKey", "POST", CreatedFastApiKey, same, idempotent=False
)
LIST: Endpoint[list[FastApiKeyInfo], list[FastApiKeyInfo]] = _endpoint(
    "ListFastApiKeys", "GET", list[FastApiKeyInfo], same, idempotent=True
)
# Setting values twice has one effect; renaming twice does not (see the module docstring).
UPDATE: Endpoint[Any, bool] = _endpoint(
    "UpdateFastApiKey", "PUT", Any, _require_true("UpdateFastApiKey"), idempotent=True
)
RENAME: Endpoint[Any, bool] = _endpoint(
    "UpdateFastApiKey", "PUT", Any, _require_true("UpdateFastApiKey"), idempotent=False
)
DELETE: Endpoint[Any, bool] = _endpoint(
    "DeleteFastApiKey", "DELETE", Any, _require_true("DeleteFastApiKey"), idempotent=False
)


def _key_name(field: str, value: object) -> str:
    return check.name(field, value, max_length=MAX_FAST_API_KEY_NAME_LENGTH)


def _permissions(value: object) -> FastApiKeyPermissions:
    if isinstance(value, FastApiKeyPermissions):
        return value
    if not isinstance(value, Mapping):
        raise ValidationError(
            "permissions", "must be a FastApiKeyPermissions or a mapping of flag names to bool"
        )
    flags: dict[str, bool | None] = {}
    for name, flag in value.items():
        if name not in PERMISSION_NAMES:
            raise ValidationError(
                f"permissions[{name!r}]",
                f"unknown permission; known: {', '.join(PERMISSION_NAMES)}",
            )
        if flag is not None and not isinstance(flag, bool):
            raise ValidationError(
                f"permissions[{name!r}]", f"must be a bool or None, got {type(flag).__name__}"
            )
        flags[name] = flag
    return FastApiKeyPermissions(**flags)


class _Fields:
    """The optional ``APIKeyParameters`` fields, checked."""

    __slots__ = (
        "ip_allowlist",
        "nonce_window",
        "permissions",
        "query_from",
        "query_to",
        "valid_until",
    )

    def __init__(
        self,
        ip_allowlist: Iterable[str] | None,
        nonce_window: int | None,
        permissions: PermissionsLike | None,
        query_from: Timestamp | None,
        query_to: Timestamp | None,
        valid_until: Timestamp | None,
    ) -> None:
        self.ip_allowlist: list[str] | UnsetType = (
            UNSET if ip_allowlist is None else check.ip_list("ip_allowlist", ip_allowlist)
        )
        self.nonce_window: int | UnsetType = (
            UNSET
            if nonce_window is None
            else check.integer("nonce_window", nonce_window, minimum=0)
        )
        self.permissions: FastApiKeyPermissions | UnsetType = (
            UNSET if permissions is None else _permissions(permissions)
        )
        self.query_from = _timestamp("query_from", query_from)
        self.query_to = _timestamp("query_to", query_to)
        self.valid_until = _timestamp("valid_until", valid_until)
        start, end = self.query_from, self.query_to
        if isinstance(start, int) and isinstance(end, int) and start and end and start > end:
            raise ValidationError("query_from", "must not be after query_to")

    def given(self) -> bool:
        return any(getattr(self, name) is not UNSET for name in self.__slots__)

    def as_kwargs(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def _timestamp(field: str, value: Timestamp | None) -> int | UnsetType:
    return UNSET if value is None else check.epoch_seconds(field, value)


class FastApiKeys(Resource):
    """``oauth.fast_api_keys``: the account's Fast API keys (Kraken Connect OAuth).

    Every method ends with ``timeout=`` and ``retry=``, as on ``PrimeClient``. Times
    (``query_from``, ``query_to``, ``valid_until``) are Unix seconds, 0 meaning "no restriction"
    / "never expires", or timezone-aware datetimes (naive datetimes are refused).
    """

    __slots__ = ()

    async def create(
        self,
        api_key_name: str,
        *,
        permissions: PermissionsLike | None = None,
        ip_allowlist: Iterable[str] | None = None,
        nonce_window: int | None = None,
        query_from: Timestamp | None = None,
        query_to: Timestamp | None = None,
        valid_until: Timestamp | None = None,
        idempotency_key: str | None = None,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
    ) -> CreatedFastApiKey:
        """Create a Fast API key (``POST /oauth/fast-api-key``, scope
        ``account.fast-api-key:write``).

        Parameters
        ----------
        api_key_name : str
            Unique name, 1-32 characters; the key's handle for update and delete.
        permissions : FastApiKeyPermissions or Mapping[str, bool | None], optional
            What the key may do; unknown names are refused.
        ip_allowlist : Iterable[str], optional
            IPv4/IPv6 addresses or CIDR networks (host bits clear).
        nonce_window : int, optional
            Nonce window (``>= 0``) in the nonce units the key's client will send: with a default
            (millisecond) ``PrimeClient``, 5000 lets requests arrive up to 5 s out of order.
        query_from, query_to, valid_until : int or datetime, optional
            Unix seconds (0: none) or aware datetimes.
        idempotency_key : str, optional
            With the same key and arguments a later call (after a restart too, with a file or
            Redis ``journal``) returns the recorded key without sending; its ``secret`` is then
            withheld (``secret.withheld``; the journal never stores it). Other arguments raise
            ``ValidationError``.

        Returns
        -------
        CreatedFastApiKey
            With the masked ``secret``, returned only this once; sign with it through
            ``PrimeClient.from_fast_api_key(created)``.

        Raises
        ------
        OutcomeUnknownError
            The answer was lost and could not be settled (see the module docstring): the keys
            could not be read back (a token without the read scope cannot list them), or the
            key created by the lost request could not be deleted (its name is in
            ``orphan_key_id``).
        """
        name = _key_name("api_key_name", api_key_name)
        fields = _Fields(ip_allowlist, nonce_window, permissions, query_from, query_to, valid_until)
        request = _Parameters(api_key_name=name, **fields.as_kwargs())
        return await self._write(
            CREATE,
            request,
            reconcile=_reconcile.FAST_API_CREATE,
            timeout=timeout,
            retry=retry,
            idempotency_key=idempotency_key,
        )

    async def list(
        self,
        *,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
    ) -> list[FastApiKeyInfo]:
        """Every Fast API key of the account, without secrets (``GET``, scope
        ``account.fast-api-key:read``)."""
        return await self._call(LIST, None, timeout=timeout, retry=retry)

    async def update(
        self,
        api_key_name: str,
        *,
        new_api_key_name: str | None = None,
        permissions: PermissionsLike | None = None,
        ip_allowlist: Iterable[str] | None = None,
        nonce_window: int | None = None,
        query_from: Timestamp | None = None,
        query_to: Timestamp | None = None,
        valid_until: Timestamp | None = None,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
    ) -> bool:
        """Change the key named ``api_key_name`` (``PUT``, scope ``account.fast-api-key:write``).

        Only the fields given are sent; give at least one. ``new_api_key_name`` renames the key.
        Arguments as in ``create()``.

        Returns
        -------
        bool
            ``True`` (Kraken's answer is checked: anything else raises
            [`ResponseValidationError`][kraken_prime_async.ResponseValidationError]).

        Notes
        -----
        Without a rename the update is retried after a lost answer (setting values twice has one
        effect). A rename is never re-sent (the second request would fail with "unknown
        api_key_name"): the keys are read back, and if the new name exists and the old one does
        not, the rename worked and ``True`` is returned; otherwise
        [`OutcomeUnknownError`][kraken_prime_async.OutcomeUnknownError] is raised.
        """
        name = _key_name("api_key_name", api_key_name)
        new_name = (
            UNSET if new_api_key_name is None else _key_name("new_api_key_name", new_api_key_name)
        )
        fields = _Fields(ip_allowlist, nonce_window, permissions, query_from, query_to, valid_until)
        if new_name is UNSET and not fields.given():
            raise ValidationError(
                "new_api_key_name", "give at least one field to change (a new name or a setting)"
            )
        request = _Update(api_key_name=name, new_api_key_name=new_name, **fields.as_kwargs())
        if isinstance(new_name, UnsetType) or new_name == name:
            return await self._call(UPDATE, request, timeout=timeout, retry=retry)
        return await self._write(
            RENAME, request, reconcile=_reconcile.FAST_API_RENAME, timeout=timeout, retry=retry
        )

    async def delete(
        self,
        api_key_name: str,
        *,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
    ) -> bool:
        """Delete (revoke at once) the key named ``api_key_name`` (``DELETE``, scope
        ``account.fast-api-key:write``).

        Returns
        -------
        bool
            ``True`` (Kraken's answer is checked). An unknown name raises
            [`InvalidArgumentsError`][kraken_prime_async.InvalidArgumentsError] (``EGeneral:Invalid
            arguments:unknown api_key_name``
            in the sandbox).

        Notes
        -----
        Never re-sent after a lost answer (meanwhile the name could belong to a new key). The
        keys are read back instead: if the name is gone the delete worked and ``True`` is
        returned; otherwise [`OutcomeUnknownError`][kraken_prime_async.OutcomeUnknownError] is
        raised.
        """
        name = _key_name("api_key_name", api_key_name)
        request = _Name(api_key_name=name)
        return await self._write(
            DELETE, request, reconcile=_reconcile.FAST_API_DELETE, timeout=timeout, retry=retry
        )
