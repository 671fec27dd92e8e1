"""The one call pipeline every endpoint runs through, in reading order: call → attempt → send.

* ``Pipeline.call()`` runs one call: its state (``_Call``), one plain retry loop driven by
  the ``RetryPolicy`` (the call's ``Retries``, built at its first failure,
  decides after each failed attempt), the counters.
* ``Pipeline._attempt()`` runs one attempt inside the key's slot (``_key_gate``: in-process
  gate → fleet gate → pacing; a no-op for bearer clients) and lets the auth flow re-send once at
  once when it replaced a refused credential (not counted by the retry policy).
* ``Pipeline._send()`` is one request: prepare (the auth flow: nonce → splice → sign for Prime,
  a bearer token for OAuth) → send → decode → map errors.

Each phase has one hook method (``_call_started``, ``_attempt_finished``, ``_attempt_abandoned``,
``_retry_scheduled``, ``_call_finished``, in ``_phases.PhaseHooks``) taking the call's state:
logging and counters live there, and the call's events and spans when the client has an observer
(``_observe``; without one each hook tests one attribute). The call's request id is made on first
use and set on every exception the call raises, in ``_call_finished``. Nothing endpoint-specific
or auth-specific lives here.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from yarl import URL

from ._auth import RequestAuth
from ._call import LostRequest, OnSent, PhaseHooks, _Call
from ._constants import ABANDON_HOLD_MAX, LOGGER_NAME
from ._endpoint import Endpoint
from ._error_map import error_code, is_ambiguous, unanswered
from ._retry import RetryBudget, RetryPolicy
from ._retry_call import Retries, limit_attempt
from ._secret import Credential, redact
from ._stats import ClientStats
from ._timeout import RequestTimeout
from ._transports.base import RawResponse, Transport
from .errors import (
    AuthenticationError,
    KrakenPrimeError,
    OutcomeUnknownError,
)

if TYPE_CHECKING:
    from ._keys.gate import KeyGate, NoGate, Slot
    from ._observability.observer import Observer
    from ._resources._reconcile.claims import Claims

R = TypeVar("R")

logger = logging.getLogger(LOGGER_NAME)

_encoder = msgspec.json.Encoder()


def encode_params(request: msgspec.Struct | None) -> bytes:
    """Encode a request's fields once per call (``nonce`` is spliced in per attempt)."""
    return b"{}" if request is None else _encoder.encode(request)


class Pipeline(PhaseHooks):
    """Runs endpoint calls for one credential (an API key, or a bearer token).

    Built by [`PrimeClient`][kraken_prime_async.PrimeClient] (``HmacAuth``, the key's
    ``KeyGate``) and [`FastApiKeyClient`][kraken_prime_async.FastApiKeyClient]
    (``BearerAuth``, no gate); not part of the public API.
    """

    def __init__(
        self,
        *,
        auth: RequestAuth,
        gate: KeyGate | NoGate,
        base_url: str,
        transport: Callable[[], Transport],
        timeout: RequestTimeout,
        retry: RetryPolicy,
        user_agent: str,
        sleep: Callable[[float], Awaitable[None]],
        clock: Callable[[], float],
        observer: Observer | None = None,
    ) -> None:
        self._auth = auth
        self.gate = gate
        self._base_url = base_url.rstrip("/")
        self._transport = transport
        self.timeout = timeout
        self.retry = retry
        self._user_agent = user_agent
        self.sleep = sleep
        self.clock = clock
        #: Time for deadlines: monotonic unless a clock was injected (tests drive both).
        self.elapsed = time.monotonic if clock is time.time else clock
        self._rng = random.Random()  # noqa: S311 - jitter, not cryptography
        self._urls: dict[str, URL] = {}
        self.budget = RetryBudget()
        self.stats = ClientStats()
        #: The client's listeners (events, OpenTelemetry), ``None`` when nothing listens.
        self.observer = observer
        #: The client's write journal (``_journal.Journal``; set by the client, ``None`` on a
        #: bare pipeline): non-idempotent writes record their intent and outcome in it.
        self.journal: Any = None
        #: The creates under way the client can see (``_resources/_reconcile/claims.py``); set
        #: by the client.
        self.claims: Claims | None = None

    async def call(
        self,
        endpoint: Endpoint[Any, R],
        request: msgspec.Struct | None,
        *,
        timeout: RequestTimeout | None = None,
        retry: RetryPolicy | None = None,
        prior_attempts: int = 0,
        request_id: str | None = None,
        on_sent: OnSent | None = None,
        lost: LostRequest | None = None,
        deadline: float | None = None,
    ) -> R:
        """Run ``endpoint`` with ``request``'s fields and return its unwrapped result.

        ``prior_attempts``: attempts an earlier call of the same write already made (a write
        sent again after its lost answer was proven not applied). They count against the
        policy's ``max_attempts``, and every attempt of this call counts as a retry.
        ``request_id``: that earlier call's id (the write keeps one id across its sends).
        ``on_sent``: awaited before each attempt is sent (the write journal's record).
        ``lost``: filled in when the call raises ``OutcomeUnknownError`` (the lost request's
        fence).
        ``deadline``: that write's deadline (``max_elapsed`` from its first send), on
        ``elapsed``'s time.
        """
        policy = retry or self.retry
        if prior_attempts:
            remaining = max(1, policy.max_attempts - prior_attempts)
            policy = msgspec.structs.replace(policy, max_attempts=remaining)
        call = _Call(
            endpoint,
            encode_params(request),
            timeout or self.timeout,
            policy,
            policy.budget or self.budget,
            self._auth.begin(),
            self.observer,
            request_id,
            on_sent,
        )
        call.attempts = prior_attempts
        call.lost = lost
        call.deadline = deadline
        self._call_started(call)
        try:
            result: R = await self._run(call)
        except BaseException as exc:
            self._call_finished(call, exc)
            raise
        self._call_finished(call, None)
        return result

    async def _run(self, call: _Call) -> Any:
        """The retry loop: attempt, and after a failure ask the call's
        ``Retries`` (built at the first failure) whether and when again.

        With ``max_elapsed`` the call gets its deadline here and every attempt's timeout (and
        pacing wait) is cut to what is left; the deadline is checked between attempts only.
        """
        policy = call.policy
        max_elapsed = policy.max_elapsed
        # The call's start, read only when its deadline or a tenacity strategy needs it.
        started = (
            self.elapsed()
            if max_elapsed is not None
            or policy.stop is not None
            or policy.wait is not None
            or policy.retry is not None
            or policy.before_sleep is not None
            else 0.0
        )
        if max_elapsed is not None:
            if call.deadline is None:
                call.deadline = started + max_elapsed
            limit_attempt(call, call.deadline - started)
        retries: Retries | None = None
        while True:
            try:
                return await self._attempt(call)
            except Exception as exc:
                if retries is None:
                    retries = Retries(
                        call,
                        started,
                        elapsed=self.elapsed,
                        clock=self.clock,
                        rng=self._rng,
                        gate=self.gate,
                    )
                delay = await retries.after(exc)
                if delay is None:
                    raise
                self._retry_scheduled(call, exc, retries.attempt, delay)
                await retries.before_sleep(delay)
            await self.sleep(delay)
            retries.slept()

    async def _attempt(self, call: _Call) -> Any:
        """One attempt inside the key's slot; one immediate re-send if the auth flow replaced a
        refused credential."""
        transport = self._transport()  # checks the client is still open, before every attempt
        endpoint = call.endpoint
        async with self.gate.slot(
            endpoint.cost,
            call.timeout.total,
            operation=endpoint.operation,
            max_wait=call.max_wait,
        ) as slot:
            if slot.waited:
                self.stats.rate_limit_waits += 1
                self.stats.rate_limit_wait_seconds += slot.waited
                if call.deadline is not None:  # the pacing wait came out of the call's time
                    limit_attempt(call, call.deadline - self.elapsed())
            call.paced += slot.waited + slot.queued
            try:
                return await self._send(call, transport, slot)
            except AuthenticationError as exc:
                if not await call.auth.on_refused(exc):
                    raise
            self.stats.token_refreshes += 1
            logger.info(
                "%s: credential refused; re-sending with a new one",
                endpoint.operation,
                extra={"request_id": call.request_id},
            )
            return await self._send(call, self._transport(), slot)

    async def _send(self, call: _Call, transport: Transport, slot: Slot | NoGate) -> Any:
        """prepare → send → decode → map errors: one request on the wire."""
        endpoint = call.endpoint
        call.attempts += 1
        self.stats.attempts += 1
        if call.attempts > 1:
            self.stats.retries += 1
        prepared = await call.auth.prepare(endpoint, call.params, self._user_agent)
        if call.on_sent is not None:
            await call.on_sent(prepared.fence, call.request_id)
        started = time.perf_counter()
        status: int | None = None
        slot.sending()
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
            result = endpoint.decode(raw, redact=lambda text: _redact(text, *prepared.secrets))
        except asyncio.CancelledError:
            if call.observer is not None:
                call.observer.attempt_finished(call, None, started, "CancelledError")
            self._attempt_abandoned(call, None)
            self._late_answer(call, slot, prepared.secrets)
            raise
        except KrakenPrimeError as exc:
            self._attempt_finished(call, status, started, exc)
            if unanswered(exc):
                self._attempt_abandoned(call, exc)
            if not endpoint.idempotent and is_ambiguous(exc):
                unknown = OutcomeUnknownError(
                    f"{endpoint.operation}: the request was sent but its outcome is unknown "
                    f"({error_code(exc)}); it was not retried. "
                    "Check the state before trying again.",
                    operation=endpoint.operation,
                    arguments=msgspec.json.decode(call.params),
                    attempts=call.attempts,
                )
                if call.lost is not None:
                    call.lost.fence = prepared.fence  # for the read-back's fence (never shown)
                    watched = getattr(slot, "watched", None)
                    if watched is not None:  # its answer, if it comes, settles the write
                        call.lost.late = LateAnswer(watched, endpoint, prepared.secrets)
                raise unknown from exc
            raise
        self._attempt_finished(call, status, started, None)
        return result

    def _pacing_reason(self) -> str:
        return self.gate.pacing_reason()

    def _late_answer(self, call: _Call, slot: Slot | NoGate, secrets: tuple[str, ...]) -> None:
        """A write abandoned after sending whose exchange is watched: report its answer."""
        exchange = getattr(slot, "watched", None)
        if exchange is not None and not call.endpoint.idempotent:
            self._watch_late_answer(call, exchange, lambda text: _redact(text, *secrets))

    def _url(self, endpoint: Endpoint[Any, Any]) -> URL:
        url = self._urls.get(endpoint.operation)
        if url is None:
            url = self._urls[endpoint.operation] = URL(self._base_url + endpoint.path)
        return url


class LateAnswer:
    """The exchange of a write whose caller gave up waiting (its timeout), watched to its end:
    its answer, when Kraken's, is the write's result (``Resource._written`` asks before it reads
    the state back)."""

    __slots__ = ("_endpoint", "_exchange", "_secrets")

    def __init__(
        self,
        exchange: asyncio.Future[Any],
        endpoint: Endpoint[Any, Any],
        secrets: tuple[str, ...],
    ) -> None:
        self._exchange = exchange
        self._endpoint = endpoint
        # Wrapped: the error that carries this object shows no credential (repr, pickle).
        self._secrets = tuple(Credential(secret) for secret in secrets)

    async def result(self) -> tuple[bool, Any]:
        """``(True, result)`` when the answer came (within ``ABANDON_HOLD_MAX``) and Kraken
        accepted the write; else ``(False, None)``: the state must be read back."""
        exchange = self._exchange
        await asyncio.wait({exchange}, timeout=ABANDON_HOLD_MAX)
        if not exchange.done() or exchange.cancelled():
            return False, None
        raw = exchange.result()
        if not isinstance(raw, RawResponse):
            return False, None  # the connection ended without an answer
        try:
            return True, self._endpoint.decode(raw, redact=self._redact)
        except KrakenPrimeError:
            return False, None  # refused (a nonce overtaken, ...): the read-back decides

    def _redact(self, text: str) -> str:
        return _redact(text, *(str(secret.reveal()) for secret in self._secrets))

    def __repr__(self) -> str:
        return f"LateAnswer({self._endpoint.operation!r}, done={self._exchange.done()})"


def _redact(text: str, *values: str) -> str:
    return redact(text, *values)
