"""Every exception the SDK raises, in one place.

::

    KrakenPrimeError                      base of everything below
    ├── ValidationError (ValueError)      bad input, caught before anything is sent
    ├── ClientStateError (RuntimeError)   client used before opening / after closing
    ├── APIError                          Kraken answered "no" (``.errors`` holds its raw strings)
    │   ├── AuthenticationError           EAPI:Invalid key / signature, EAuth:*, ESession:*
    │   ├── PermissionDeniedError         EGeneral:Permission denied, EAccount:Invalid permissions
    │   ├── InvalidNonceError             EAPI:Invalid nonce
    │   ├── RateLimitError                EAPI:Rate limit exceeded, EService: Throttled, HTTP 429
    │   │   └── TemporaryLockoutError     EGeneral:Temporary lockout (never retried)
    │   ├── InvalidArgumentsError         EGeneral:Invalid arguments, EAPI:Bad request, ...
    │   ├── ServiceUnavailableError       EService:Unavailable / Busy, HTTP 502/503/504
    │   │   └── DeadlineElapsedError      EService:Deadline elapsed (the action may have happened)
    │   └── InternalServerError           EGeneral:Internal error, HTTP 500 and other 5xx
    ├── APIConnectionError                no answer: connect failure, reset, dropped connection
    │   └── APITimeoutError               no answer in time
    ├── OutcomeUnknownError               a write whose effect could not be established
    ├── KeyRotationError                  a key rotation did not complete (``.live_key_ids``)
    ├── CoordinationError                 a fleet's shared store (Redis, lock file) failed; not sent
    │   └── JournalError                  the write journal could not record an intent; not sent
    ├── SecretWithheldError               a replayed key create: its secret went to the first call
    └── ResponseValidationError           the answer did not have the expected shape

Retryability is a property of the exception (``.retryable``); the retry policy reads it. Every
exception also has a ``category``, a stable string for dashboards, alerts and outer retry loops
(it never changes for a class; new classes reuse a category where one fits):

=====================  ==========================================================================
``"client"``           the caller's side, nothing sent: a bad argument, a closed client
``"auth"``             the credential or its permissions were refused
``"nonce"``            ``EAPI:Invalid nonce`` (or a key resting after repeated ones)
``"rate_limit"``       the key's call counter, a ``Throttled`` hold, a lockout, or a deadline that
                       a wait for them would cross
``"invalid_request"``  Kraken refused the arguments or a business rule
``"exchange"``         Kraken (or a proxy in front of it) failed, was unavailable, or said an
                       unclassified "no"
``"network"``          no answer: connection refused, reset, dropped, timed out
``"response"``         the answer was unreadable or of an unexpected shape
``"outcome_unknown"``  a write whose effect could not be established
``"coordination"``     a fleet's shared store failed (nothing sent)
``"key_rotation"``     a key rotation stopped part-way
``"sdk"``              the base class only (never raised as such)
=====================  ==========================================================================

No exception message ever contains a secret, a signature, a bearer token or an API key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import CreatedApiKey

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "ClientStateError",
    "CoordinationError",
    "DeadlineElapsedError",
    "InternalServerError",
    "InvalidArgumentsError",
    "InvalidNonceError",
    "JournalError",
    "KeyRotationError",
    "KrakenPrimeError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseValidationError",
    "SecretWithheldError",
    "ServiceUnavailableError",
    "TemporaryLockoutError",
    "ValidationError",
]


class KrakenPrimeError(Exception):
    """Base class of every exception raised by ``kraken_prime_async``."""

    #: Whether a fresh attempt (new nonce, new signature) may succeed.
    retryable: bool = False
    #: What kind of failure this is: a stable string (see the module's table).
    category: str = "sdk"
    #: The API operation the error belongs to (``None`` when it is not tied to one).
    operation: str | None = None
    _request_id: str | None = None

    @property
    def request_id(self) -> str | None:
        """The id of the call that raised this error (32 hex characters), or ``None``.

        The same id is on the call's events, log records and spans (see
        ``docs/observability.md``, "Request ids"). Every error a call raises carries that call's
        id; an error chained from another SDK error (``raise ... from exc``) carries that error's
        id unless it was given its own. ``None`` for an error raised where no call had started
        (an argument rejected before anything was built, a client constructed with a bad
        setting).
        """
        request_id = self._request_id
        if request_id is None:
            cause = self.__cause__
            if cause is None and not self.__suppress_context__:
                cause = self.__context__
            if isinstance(cause, KrakenPrimeError):
                return cause.request_id
        return request_id

    @request_id.setter
    def request_id(self, value: str | None) -> None:
        self._request_id = value

    @property
    def method(self) -> str | None:
        """Former name of ``operation``, kept for compatibility."""
        return self.operation


class ValidationError(KrakenPrimeError, ValueError):
    """An argument was rejected before any request was sent.

    Attributes
    ----------
    field : str
        The argument's name, as in the method signature (wire name for request fields).
    reason : str
        What is wrong with it (the message without the field's name).
    """

    category = "client"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.reason = message
        super().__init__(f"{field}: {message}")


class ClientStateError(KrakenPrimeError, RuntimeError):
    """The client was used in a state that does not allow it (for example after ``close()``)."""

    category = "client"


class APIError(KrakenPrimeError):
    """Kraken rejected the request.

    Attributes
    ----------
    errors : tuple of str
        The raw ``error`` strings from the response, unchanged.
    status : int or None
        The HTTP status of the response.
    operation : str or None
        The API operation, e.g. ``"CreatePrimeApiUser"``.
    """

    category = "exchange"

    def __init__(
        self,
        message: str,
        *,
        errors: Sequence[str] = (),
        status: int | None = None,
        operation: str | None = None,
    ) -> None:
        self.errors = tuple(errors)
        self.status = status
        self.operation = operation
        super().__init__(message)

    @property
    def code(self) -> str | None:
        """The first error string's ``<severity><category>:<type>`` prefix, if any."""
        if not self.errors:
            return None
        head, _, rest = self.errors[0].partition(":")
        return f"{head}:{rest.split(':', 1)[0].strip()}" if rest else head


class AuthenticationError(APIError):
    """The key, signature, session or token was refused. Never retried."""

    category = "auth"


class PermissionDeniedError(APIError):
    """The key authenticated but may not call this method. Never retried."""

    category = "auth"


class InvalidNonceError(APIError):
    """The nonce was not above the key's last accepted nonce (outside its nonce window).

    Also raised, without sending, while a key rests after repeated refusals (a poisoned key:
    see ``docs/nonces-and-fleets.md``, "Nonces in one process"); that error is not retried and
    names the likely causes and the fix.

    Attributes
    ----------
    cooldown_until : float or None
        Set on the resting key's error: Unix time (the client's clock) when the key is tried
        again.
    """

    category = "nonce"

    retryable = True
    cooldown_until: float | None = None


class RateLimitError(APIError):
    """The key's call counter or concurrency limit was hit.

    Attributes
    ----------
    retry_at : float or None
        Unix time (seconds) before which Kraken asked not to retry (``EService: Throttled: <ts>``).
    """

    category = "rate_limit"

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        errors: Sequence[str] = (),
        status: int | None = None,
        operation: str | None = None,
        retry_at: float | None = None,
    ) -> None:
        super().__init__(message, errors=errors, status=status, operation=operation)
        self.retry_at = retry_at


class TemporaryLockoutError(RateLimitError):
    """The key is locked out (about 15 minutes). Never retried: every retry resets the timer."""

    retryable = False


class InvalidArgumentsError(APIError):
    """Kraken rejected the arguments (``EGeneral:Invalid arguments[:<detail>]``). Never retried."""

    category = "invalid_request"


class ServiceUnavailableError(APIError):
    """Kraken is unavailable (maintenance, overload, a proxy in front of it answered)."""

    category = "exchange"

    retryable = True


class DeadlineElapsedError(ServiceUnavailableError):
    """``EService:Deadline elapsed``: timed out inside Kraken; it may have taken effect."""


class InternalServerError(APIError):
    """Kraken failed internally (``EGeneral:Internal error``, HTTP 500)."""

    category = "exchange"

    retryable = True


class APIConnectionError(KrakenPrimeError):
    """No answer was received.

    Attributes
    ----------
    sent : bool
        ``False`` only when the request certainly never left (connection refused, DNS failure).
    """

    category = "network"

    retryable = True

    def __init__(self, message: str, *, sent: bool, operation: str | None = None) -> None:
        self.sent = sent
        self.operation = operation
        super().__init__(message)


class APITimeoutError(APIConnectionError):
    """No answer in time."""


class ResponseValidationError(KrakenPrimeError):
    """The answer was not JSON, or not of the documented shape.

    Attributes
    ----------
    status : int or None
        HTTP status of the response.
    operation : str or None
        The API operation.
    """

    category = "response"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        operation: str | None = None,
        retryable: bool = False,
    ) -> None:
        self.status = status
        self.operation = operation
        self.retryable = retryable
        super().__init__(message)


class OutcomeUnknownError(KrakenPrimeError):
    """A non-idempotent write was sent but its effect could not be established.

    Raised when the answer to a write was lost and reading the state back (see
    ``docs/guarantees.md``, "Exactly-once writes") could not settle it: the state could not be
    read, the lost request could not be fenced off, or the state is ambiguous. The message says
    what is known and what remains to be checked. Read the state before trying again.

    Attributes
    ----------
    operation : str
        The API operation, e.g. ``"SettlePrimeSettlementBatchAsset"``.
    arguments : Mapping[str, Any]
        The arguments of the call (never credentials).
    attempts : int
        How many attempts were made, the ambiguous one included.
    orphan_key_id : str or None
        ``api_user_keys.create``: the id of a key this call created whose secret was lost and
        that could not be deleted (delete it yourself); ``None`` otherwise.
    candidates : tuple of str
        A create whose answer was lost: the ids (Fast API keys: the names) of the objects the
        read-back found new and could not attribute. One may be this call's; another writer
        the client cannot see (another service on the account) may have made them. Nothing was
        deleted or claimed: check them (``api_user_keys.list`` / ``kraken-prime keys list``
        shows a key's creation; delete a key whose secret nobody holds).
        Empty otherwise. With ``sole_writer=True`` on the client a single candidate is taken as
        the call's own instead.
    """

    category = "outcome_unknown"

    operation: str

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        arguments: Mapping[str, Any],
        attempts: int,
        orphan_key_id: str | None = None,
        candidates: tuple[str, ...] = (),
    ) -> None:
        self.operation = operation
        self.arguments = dict(arguments)
        self.attempts = attempts
        self.orphan_key_id = orphan_key_id
        self.candidates = tuple(candidates)
        super().__init__(message)


class CoordinationError(KrakenPrimeError):
    """The store a fleet shares one key through (Redis, a lock file) could not be used.

    Raised before the request is sent (taking a nonce, an in-flight slot or call-counter room
    failed), so the call had no effect at Kraken. Never retried by the client and never replaced
    by a local fallback: a process-local nonce could collide with the rest of the fleet's.

    Attributes
    ----------
    store : str
        What failed, without credentials (``"redis 10.0.0.5:6379"``, a lock file's path).
    """

    category = "coordination"

    def __init__(self, message: str, *, store: str) -> None:
        self.store = store
        super().__init__(message)


class JournalError(CoordinationError):
    """The write journal (``PrimeClient(journal=...)``) could not record a write's intent or
    outcome, or could not be read.

    Raised before the request is sent when the intent could not be recorded, so the call had no
    effect at Kraken. When only the outcome could not be recorded the write took effect and the
    journal keeps it pending: ``client.journal.resolve_pending()`` settles it later.

    Attributes
    ----------
    store : str
        The journal that failed (a SQLite file's path, ``"redis host:port/db"``), without
        credentials.
    """


class SecretWithheldError(KrakenPrimeError):
    """The secret of a key created under an ``idempotency_key`` was asked for again.

    A repeated ``api_user_keys.create`` / ``fast_api_keys.create`` with the same idempotency key
    returns the recorded key without sending anything, and the journal never stores a secret:
    the secret was returned once, to the call that created the key. Its ``secret_withheld`` is
    ``True`` and reading its secret raises this. Keep the secret from the first call, or
    rotate the key.
    """


class _Sealed:
    """Holds a created key on an exception without showing it (its ``api_key`` is a credential
    too): ``repr`` and ``vars`` of the exception reveal nothing."""

    __slots__ = ("value",)

    def __init__(self, value: CreatedApiKey | None) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<sealed>" if self.value is not None else "None"


class KeyRotationError(KrakenPrimeError):
    """``api_user_keys.rotate`` stopped before the old key was replaced.

    The message says what happened and which keys exist. The rotation never deletes the old key
    before the new one has been verified, so the old key is live unless ``old_key_live`` says
    otherwise.

    Attributes
    ----------
    stage : str
        Where it stopped: ``"list"`` (the user's keys could not be read first; nothing was
        changed), ``"start"`` (the old key was not found), ``"create"``, ``"verify"``,
        ``"allow_list"`` (setting the new key's IP allow-list) or ``"delete_old"``.
    user_id, old_key_id : str
        The rotation's arguments.
    live_key_ids : tuple of str
        Key ids known to be live now (of the old and new keys).
    unknown_key_ids : tuple of str
        Key ids whose state could not be established (read them with ``api_user_keys.list``).
    new_key : CreatedApiKey or None
        The new key, with its secret, when it is (or may be) live: store it or delete it.
        ``None`` when the new key was never created or was deleted again.
    """

    category = "key_rotation"

    def __init__(
        self,
        message: str,
        *,
        stage: str,
        user_id: str,
        old_key_id: str,
        live_key_ids: Sequence[str] = (),
        unknown_key_ids: Sequence[str] = (),
        new_key: CreatedApiKey | None = None,
    ) -> None:
        self.stage = stage
        self.user_id = user_id
        self.old_key_id = old_key_id
        self.live_key_ids = tuple(live_key_ids)
        self.unknown_key_ids = tuple(unknown_key_ids)
        self._new_key = _Sealed(new_key)
        super().__init__(message)

    @property
    def new_key(self) -> CreatedApiKey | None:
        """The new key (with its secret) if it is or may be live, else ``None``."""
        return self._new_key.value

    @property
    def old_key_live(self) -> bool | None:
        """Whether the old key is live (``None``: unknown)."""
        if self.old_key_id in self.live_key_ids:
            return True
        return None if self.old_key_id in self.unknown_key_ids else False
