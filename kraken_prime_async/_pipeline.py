"""The one call pipeline every endpoint runs through.

validate (in the resource method) → encode once → per attempt: prepare (the auth strategy:
nonce → splice → sign for Prime, a bearer token for OAuth) → send → decode → map errors → retry
decision. Nothing endpoint-specific lives here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
import msgspec
from yarl import URL

from ._auth import RequestAuth
from ._constants import DEFAULT_TIMEOUT, FLEET_LEASE_MARGIN, LOGGER_NAME
from ._dispatch import KeyDispatcher, shared_dispatcher
from ._endpoint import Endpoint
from ._rate_limit import RateCounter, RateLimitSetting, resolve, shared_counter
from ._retry import RetryBudget, RetryPolicy, build_retrying
from ._stats import ClientStats
from ._transport import Transport
from .errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    CoordinationError,
    DeadlineElapsedError,
    InternalServerError,
    InvalidNonceError,
    KrakenPrimeError,
    OutcomeUnknownError,
    RateLimitError,
    ResponseValidationError,
    ServiceUnavailableError,
    ValidationError,
)

if TYPE_CHECKING:
    from tenacity import RetryCallState

    from ._fleet import Fleet, FleetGate

R = TypeVar("R")

logger = logging.getLogger(LOGGER_NAME)

_encoder = msgspec.json.Encoder()


def encode_params(request: msgspec.Struct | None) -> bytes:
    """Encode a request's fields once per call (``nonce`` is spliced in per attempt)."""
    return b"{}" if request is None else _encoder.encode(request)


def is_ambiguous(exc: BaseException) -> bool:
    """Whether the request may have taken effect although no usable answer came back."""
    if isinstance(exc, APIConnectionError):
        return exc.sent
    if isinstance(exc, (DeadlineElapsedError, InternalServerError)):
        return True
    if isinstance(exc, ServiceUnavailableError):
        return not exc.errors  # a proxy's 502/503/504 page: the origin may have processed it
    if isinstance(exc, ResponseValidationError):
        return exc.status is not None and 200 <= exc.status < 300
    return False


def _code(exc: BaseException) -> str:
    if isinstance(exc, APIError):
        return exc.code or f"HTTP {exc.status}"
    return type(exc).__name__


class _Call:
    """State of one call across its attempts."""

    __slots__ = ("attempts", "auth_tag", "endpoint", "params", "refreshed", "timeout")

    def __init__(self, endpoint: Endpoint[Any, Any], params: bytes, timeout: aiohttp.ClientTimeout):
        self.endpoint = endpoint
        self.params = params
        self.timeout = timeout
        self.attempts = 0
        self.auth_tag = 0  # the credential the last attempt used (see BearerAuth)
        self.refreshed = False  # whether this call already replaced a refused credential


class Pipeline:
    """Runs endpoint calls for one credential (an API key, or a bearer token).

    Built by :class:`~kraken_prime_async.PrimeClient` (with :class:`HmacAuth`) and
    :class:`~kraken_prime_async.FastApiKeyClient` (with :class:`BearerAuth`); not part of the
    public API.
    """

    def __init__(
        self,
        *,
        auth: RequestAuth,
        base_url: str,
        transport: Callable[[], Transport],
        timeout: aiohttp.ClientTimeout,
        retry: RetryPolicy,
        user_agent: str,
        sleep: Callable[[float], Awaitable[None]],
        clock: Callable[[], float],
        nonce_window_seconds: float = 0.0,
        max_in_flight: int = 1,
        rate_limit: RateLimitSetting = "auto",
        fleet: Fleet | None = None,
    ) -> None:
        self._auth = auth
        self._api_key = auth.key
        self._fleet = fleet
        self._window_seconds = nonce_window_seconds
        self._max_in_flight = max_in_flight
        self._rate_limit = rate_limit
        self._per_loop: (
            tuple[asyncio.AbstractEventLoop, KeyDispatcher, FleetGate | None, RateCounter | None]
            | None
        ) = None
        self._base_url = base_url.rstrip("/")
        self._transport = transport
        self.timeout = timeout
        self.retry = retry
        self._user_agent = user_agent
        self.sleep = sleep
        self.clock = clock
        self._rng = random.Random()  # noqa: S311 - jitter, not cryptography
        self._urls: dict[str, URL] = {}
        self.budget = RetryBudget()
        self.stats = ClientStats()

    async def call(
        self,
        endpoint: Endpoint[Any, R],
        request: msgspec.Struct | None,
        *,
        timeout: aiohttp.ClientTimeout | None = None,
        retry: RetryPolicy | None = None,
        prior_attempts: int = 0,
    ) -> R:
        """Run ``endpoint`` with ``request``'s fields and return its unwrapped result.

        ``prior_attempts``: attempts an earlier call of the same write already made (a write
        re-sent after its lost answer was proven not applied). They count against the policy's
        ``max_attempts``, and every attempt of this call counts as a retry.
        """
        call = _Call(endpoint, encode_params(request), timeout or self.timeout)
        call.attempts = prior_attempts
        policy = retry or self.retry
        if prior_attempts:
            policy = dataclasses.replace(
                policy, max_attempts=max(1, policy.max_attempts - prior_attempts)
            )
        else:
            self.stats.calls += 1
        try:
            try:
                # Most calls succeed at once: the retrier is only built when one is needed.
                result: R = await self._attempt(call)
            except Exception as exc:
                if policy.max_attempts < 2 or not getattr(exc, "retryable", False):
                    raise  # what the retrier would do: re-raise as is
                result = await self._retry(call, policy, exc)
        except OutcomeUnknownError:
            self.stats.failures += 1
            self.stats.outcome_unknown += 1
            raise
        except BaseException:
            self.stats.failures += 1
            raise
        self.stats.successes += 1
        return result

    async def _retry(self, call: _Call, policy: RetryPolicy, first: Exception) -> Any:
        """Attempts 2.. under a fresh tenacity retrier. ``first`` is replayed as attempt 1, so the
        retry rules, caps, backoff and logging see exactly the sequence of failures."""
        replay: Exception | None = first

        async def attempt(call: _Call) -> Any:
            nonlocal replay
            if replay is not None:
                exc, replay = replay, None
                raise exc
            return await self._attempt(call)

        retrying = build_retrying(
            policy,
            self.budget,
            sleep=self.sleep,
            clock=self.clock,
            rng=self._rng,
            before_sleep=self._before_sleep(call),
            paced=self._paced,
        )
        return await retrying(attempt, call)

    def _key_gates(self) -> tuple[KeyDispatcher, FleetGate | None, RateCounter | None]:
        """This key's dispatcher, fleet gate and call counter on the running loop.

        The dispatcher orders the key's requests in this process (shared by its clients). With a
        fleet, its gate orders them across processes and its counter replaces the process's.
        """
        loop = asyncio.get_running_loop()
        if self._per_loop is None or self._per_loop[0] is not loop:
            try:
                dispatcher = shared_dispatcher(
                    self._api_key,
                    window_seconds=self._window_seconds,
                    max_in_flight=self._max_in_flight,
                )
            except ValueError as exc:
                raise ValidationError("nonce_window", str(exc)) from None
            gate: FleetGate | None = None
            counter: RateCounter | None
            if self._fleet is None:
                counter = shared_counter(self._api_key, self._rate_limit, self.clock)
            else:
                gate = self._fleet.gate(
                    self._api_key,
                    window_seconds=self._window_seconds,
                    max_in_flight=self._max_in_flight,
                )
                limits, auto = resolve(self._rate_limit)
                counter = (
                    None
                    if limits is None and not auto
                    else self._fleet.counter(self._api_key, limits, auto=auto, clock=self.clock)
                )
            self._per_loop = (loop, dispatcher, gate, counter)
        return self._per_loop[1], self._per_loop[2], self._per_loop[3]

    def _paced(self) -> bool:
        return (
            self._per_loop is not None
            and self._per_loop[3] is not None
            and (self._per_loop[3].active)
        )

    async def _attempt(self, call: _Call) -> Any:
        if not self._auth.keyed:
            return await self._attempt_unkeyed(call)
        endpoint = call.endpoint
        transport = self._transport()  # checks the client is still open, before every attempt
        dispatcher, gate, counter = self._key_gates()
        token = await dispatcher.acquire()
        slot: Any = None
        succeeded = nonce_rejected = False
        try:
            if gate is not None:
                # The fleet-wide slot, taken before the nonce like the process's own.
                slot = await gate.acquire(
                    (call.timeout.total or DEFAULT_TIMEOUT) + FLEET_LEASE_MARGIN
                )
            if counter is not None:
                # Paced at send time, inside the key's slot: a call that queued before Kraken's
                # first refusal is held back too.
                waited = await counter.acquire(endpoint.cost, self.sleep)
                if waited:
                    self.stats.rate_limit_waits += 1
                    self.stats.rate_limit_wait_seconds += waited
            result = await self._send(call, transport)
            succeeded = True
            return result
        except InvalidNonceError:
            nonce_rejected = True
            raise
        except RateLimitError as exc:
            if counter is not None:
                await self._tell_refused(counter, exc, endpoint.cost)
            raise
        finally:
            if gate is not None and slot is not None:
                await self._release_slot(gate, slot, endpoint)
            dispatcher.release(token, nonce_rejected=nonce_rejected, succeeded=succeeded)

    @staticmethod
    async def _tell_refused(counter: RateCounter, exc: RateLimitError, cost: float) -> None:
        try:
            await counter.refused(exc.retry_at, cost)
        except CoordinationError as failure:
            # The refusal is what the caller needs to see; the next call reports the store.
            logger.warning("could not record a rate-limit refusal: %s", failure)

    @staticmethod
    async def _release_slot(gate: FleetGate, slot: Any, endpoint: Endpoint[Any, Any]) -> None:
        try:
            await gate.release(slot)
        except CoordinationError as failure:
            # The answer is in hand and must not be lost; the slot's lease frees it later.
            logger.warning("%s: could not free the fleet slot: %s", endpoint.operation, failure)

    async def _attempt_unkeyed(self, call: _Call) -> Any:
        """An attempt without per-key gates (bearer auth: no nonce, no call counter).

        A credential refused with HTTP 401 is replaced once per call, if the auth strategy can,
        and the request is re-sent at once (inside this attempt, so the retry policy does not
        count it). A second 401 is raised.
        """
        transport = self._transport()  # checks the client is still open
        try:
            return await self._send(call, transport)
        except AuthenticationError as exc:
            if call.refreshed or exc.status != 401 or not self._auth.can_refresh:
                raise
            call.refreshed = True
            logger.info("%s: credential refused (HTTP 401); refreshing it", call.endpoint.operation)
            await self._auth.refresh(call.auth_tag)
        self.stats.token_refreshes += 1
        return await self._send(call, self._transport())

    async def _send(self, call: _Call, transport: Transport) -> Any:
        endpoint = call.endpoint
        call.attempts += 1
        stats = self.stats
        stats.attempts += 1
        if call.attempts > 1:
            stats.retries += 1
        prepared = await self._auth.prepare(endpoint, call.params, self._user_agent)
        call.auth_tag = prepared.tag
        started = time.perf_counter()
        status: int | None = None
        try:
            raw = await transport.request(
                self._url(endpoint),
                prepared.body,
                prepared.headers,
                call.timeout,
                operation=endpoint.operation,
                http_method=endpoint.http_method,
            )
            status = raw.status
            result = endpoint.decode(
                raw.status, raw.body, redact=lambda text: _redact(text, *prepared.secrets)
            )
        except KrakenPrimeError as exc:
            self._record_failure(call, exc, status, started)
            if not endpoint.idempotent and is_ambiguous(exc):
                unknown = OutcomeUnknownError(
                    f"{endpoint.operation}: the request was sent but its outcome is unknown "
                    f"({_code(exc)}); it was not retried. Check the state before trying again.",
                    operation=endpoint.operation,
                    arguments=msgspec.json.decode(call.params),
                    attempts=call.attempts,
                )
                unknown._fence = prepared.fence  # for the read-back's fence (never shown)
                raise unknown from exc
            raise
        self.budget.record_success()
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s attempt=%d status=%d latency_ms=%.1f",
                endpoint.operation,
                call.attempts,
                raw.status,
                (time.perf_counter() - started) * 1000,
            )
        return result

    def _record_failure(
        self, call: _Call, exc: KrakenPrimeError, status: int | None, started: float
    ) -> None:
        if isinstance(exc, InvalidNonceError):
            self.stats.nonce_rejections += 1
        elif isinstance(exc, RateLimitError):
            self.stats.rate_limit_errors += 1
        elif exc.retryable:
            self.budget.record_failure()
        logger.info(
            "%s attempt=%d status=%s latency_ms=%.1f error=%s",
            call.endpoint.operation,
            call.attempts,
            status if status is not None else "-",
            (time.perf_counter() - started) * 1000,
            _code(exc),
        )

    def _before_sleep(self, call: _Call) -> Callable[[RetryCallState], None]:
        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome is not None else None
            delay = state.upcoming_sleep
            if isinstance(exc, RateLimitError) and delay > 0:
                self.stats.rate_limit_waits += 1
                self.stats.rate_limit_wait_seconds += delay
            logger.info(
                "%s retrying after attempt %d in %.2fs (%s)",
                call.endpoint.operation,
                state.attempt_number,
                delay,
                _code(exc) if exc is not None else "-",
            )

        return before_sleep

    def _url(self, endpoint: Endpoint[Any, Any]) -> URL:
        url = self._urls.get(endpoint.operation)
        if url is None:
            url = self._urls[endpoint.operation] = URL(self._base_url + endpoint.path)
        return url


def _redact(text: str, *values: str) -> str:
    for value in values:
        if value:
            text = text.replace(value, "<redacted>")
    return text
