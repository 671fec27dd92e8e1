"""The Prime request chain: authenticate → admit → execute (the OAuth twin is ``_fast_api``).

* **authenticate**: the operation exists, an ``API-Key`` header, the key is not locked out, the
  key is live (not deleted, its user enabled, not expired), the body is a JSON object with an
  int64 ``nonce``, and ``API-Sign`` verifies.
* **admit**: Kraken's nonce rule for the key, the call counter (every authenticated call costs 1,
  a refused nonce included), then the role permission for the operation.
* **execute**: the argument schema (``additionalProperties: false``), then the operation.

Invalid key, signature and nonce failures count towards the key's lockout; a request that passes
the nonce check clears the count. A request during a lockout starts its timer again.

Every refusal is HTTP 200 ``{"error": [...], "result": {}}``: the Prime spec's 200 schema requires
``result``, and Kraken's errors guide shows an error with an empty one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kraken_prime_async._signing import verify
from kraken_prime_async.sandbox._errors import (
    ERR_INVALID_KEY,
    ERR_INVALID_NONCE,
    ERR_INVALID_SIGNATURE,
    ERR_LOCKOUT,
    ERR_PERMISSION,
    ERR_RATE_LIMIT,
    ERR_UNKNOWN_METHOD,
    invalid_arguments,
    valid_nonce,
)
from kraken_prime_async.sandbox._operations import (
    PRIME_OPERATIONS,
    Access,
    Context,
    PrimeOperation,
    validate,
)
from kraken_prime_async.sandbox._records import Outcome
from kraken_prime_async.sandbox._rules import Lockout, SandboxCallCounter, TierLimits
from kraken_prime_async.sandbox._state import BusinessRuleError, SandboxKey, SandboxState


@dataclass(frozen=True)
class PrimeRequest:
    """What the chain needs from one ``POST /0/private/<operation>``."""

    operation: str
    api_key: str | None
    signature: str
    path: bytes
    body: bytes
    params: dict[str, Any] | None
    nonce: int | None


class Refused(Exception):
    """A step refused the request; ``str(exc)`` is the Kraken error string."""


@dataclass(frozen=True)
class LockoutPolicy:
    """Failures in a row that lock a key, and for how long after its last request."""

    after: int
    seconds: float


class PrimeChain:
    """Per-key rule state (call counters, lockouts) and the three steps over a shared state.

    Parameters
    ----------
    state : Callable[[], SandboxState]
        The current account state (a reset replaces it).
    limits : TierLimits or None
        Call-counter limits; ``None`` turns the rate limit off.
    lockout : LockoutPolicy
        When invalid key/signature/nonce failures lock a key.
    """

    def __init__(
        self,
        state: Callable[[], SandboxState],
        limits: TierLimits | None,
        lockout: LockoutPolicy,
    ) -> None:
        self._state = state
        self._limits = limits
        self._lockout_policy = lockout
        self.counters: dict[str, SandboxCallCounter] = {}
        self.lockouts: dict[str, Lockout] = {}

    def reset(self) -> None:
        """Forget every key's call counter and lockout."""
        self.counters.clear()
        self.lockouts.clear()

    def handle(self, request: PrimeRequest, now: float) -> Outcome:
        """Run the chain; every refusal is an HTTP 200 Kraken error envelope."""
        ident: dict[str, Any] = {"api_key": request.api_key, "nonce": request.nonce}
        try:
            operation = PRIME_OPERATIONS.get(request.operation)
            if operation is None:
                raise Refused(ERR_UNKNOWN_METHOD)
            key, params = self._authenticate(request, now)
            self._admit(key, request, operation.access, now)
            result = self._execute(operation, params, now)
        except Refused as refused:
            return Outcome(200, {"error": [str(refused)], "result": {}}, **ident)
        return Outcome(200, {"error": [], "result": result}, processed=True, **ident)

    def _authenticate(
        self, request: PrimeRequest, now: float
    ) -> tuple[SandboxKey, Mapping[str, Any]]:
        if request.api_key is None:
            raise Refused(ERR_INVALID_KEY)
        lockout = self._lockout(request.api_key)
        if lockout.is_locked(now):
            lockout.refuse(now)  # "each retry resets the timer"
            raise Refused(ERR_LOCKOUT)
        key = self._state().live_key(request.api_key)
        if key is None or (key.valid_until and now >= key.valid_until):
            lockout.record_failure(now)
            raise Refused(ERR_INVALID_KEY)
        if request.params is None:
            raise Refused(invalid_arguments())
        if not valid_nonce(request.nonce):
            raise Refused(invalid_arguments("nonce"))
        assert request.nonce is not None  # checked by valid_nonce
        if not request.signature or not verify(
            request.path, request.nonce, request.body, key.hmac_key, request.signature
        ):
            lockout.record_failure(now)
            raise Refused(ERR_INVALID_SIGNATURE)
        return key, request.params

    def _admit(self, key: SandboxKey, request: PrimeRequest, access: Access, now: float) -> None:
        assert request.nonce is not None  # authenticated
        nonce_ok = key.nonces.accept(request.nonce)
        within_limit = self._charge(key.api_key, now)
        lockout = self._lockout(key.api_key)
        if not nonce_ok:
            lockout.record_failure(now)
            raise Refused(ERR_INVALID_NONCE)
        lockout.record_success()
        if not within_limit:
            raise Refused(ERR_RATE_LIMIT)
        key.last_used = now
        if not self._allowed(key, access):
            raise Refused(ERR_PERMISSION)

    def _execute(self, operation: PrimeOperation, params: Mapping[str, Any], now: float) -> Any:
        args = {name: value for name, value in params.items() if name != "nonce"}
        bad = validate(operation.fields, args)
        if bad is not None:
            raise Refused(invalid_arguments(bad))
        try:
            return operation.handler(Context(self._state(), int(now * 1000)), args)
        except BusinessRuleError as exc:
            raise Refused(str(exc)) from None

    def _lockout(self, api_key: str) -> Lockout:
        lockout = self.lockouts.get(api_key)
        if lockout is None:
            policy = self._lockout_policy
            lockout = Lockout(policy.after, policy.seconds)
            self.lockouts[api_key] = lockout
        return lockout

    def _charge(self, api_key: str, now: float) -> bool:
        if self._limits is None:
            return True
        counter = self.counters.get(api_key)
        if counter is None:
            counter = SandboxCallCounter(self._limits)
            self.counters[api_key] = counter
        return counter.charge(now)

    def _allowed(self, key: SandboxKey, access: Access) -> bool:
        if key.user_id is None:
            return True
        if access == "owner":
            return False
        roles = self._state().users[key.user_id].roles
        if access == "read":
            return "Trader" in roles or "Viewer" in roles
        return "Trader" in roles
