"""What every resource shares: the pipeline and the keyword tail of every method."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import aiohttp
import msgspec

from .._constants import LOGGER_NAME
from .._endpoint import Endpoint
from .._observability.context import Reconciling
from .._pipeline import Pipeline
from .._retry import RetryLike, retry_policy
from .._retry_call import may_resend
from .._timeout import coerce_timeout
from ..errors import KrakenPrimeError, OutcomeUnknownError
from ._reconcile.base import LostAnswer, Outcome, Resend, Rule, not_applied

logger = logging.getLogger(LOGGER_NAME)

R = TypeVar("R")
F = TypeVar("F")
Q = TypeVar("Q", bound=msgspec.Struct)
Res = TypeVar("Res", bound="Resource")

#: ``timeout=`` accepts seconds or an :class:`aiohttp.ClientTimeout`.
TimeoutLike = float | aiohttp.ClientTimeout


class Resource:
    """Base of ``client.api_users``, ``client.api_user_keys`` and ``client.settlement``."""

    __slots__ = ("_pipeline",)

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    async def _call(
        self,
        endpoint: Endpoint[Any, R],
        request: msgspec.Struct | None,
        *,
        timeout: TimeoutLike | None,
        retry: RetryLike | None,
        prior_attempts: int = 0,
        request_id: str | None = None,
        deadline: float | None = None,
    ) -> R:
        return await self._pipeline.call(
            endpoint,
            request,
            timeout=None if timeout is None else coerce_timeout(timeout),
            retry=retry_policy("retry", retry),
            prior_attempts=prior_attempts,
            request_id=request_id,
            deadline=deadline,
        )

    async def _write(
        self: Res,
        endpoint: Endpoint[Any, R],
        request: Q,
        *,
        reconcile: Rule[Res, Q, F],
        timeout: TimeoutLike | None,
        retry: RetryLike | None,
    ) -> R | F:
        """A non-idempotent write; a lost answer is settled by the ``reconcile`` rule."""
        outcome = await self._written(
            endpoint, request, reconcile=reconcile, timeout=timeout, retry=retry
        )
        return outcome.value

    async def _written(
        self: Res,
        endpoint: Endpoint[Any, R],
        request: Q,
        *,
        reconcile: Rule[Res, Q, F],
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
    ) -> Outcome[R | F]:
        """As :meth:`_write`, also saying whether the result was read back after a lost answer.

        The rule's ``before`` read (if any) runs once, before the first send. After a lost
        answer the rule reads back: applied → its result; proven not applied → the write is sent
        again as a new attempt, while the retry policy allows (``max_attempts``, or its ``stop``
        strategy, and its ``max_elapsed`` deadline; then the
        failure of the last attempt is raised: the write did not take effect). A resend refused
        outright is raised, unless the rule's ``refused`` hook finds the refusal revealed the
        lost request's effect (it then undoes it and the write is sent again).

        The write keeps one request id across its sends; each read-back runs inside
        :class:`~.._observe.Reconciling`, which reports how it ended (``reconciled`` event, INFO
        record, ``reconcile`` span) under that id.
        """
        # Checked before the rule's read-before-write, so a bad argument sends nothing.
        policy = retry_policy("retry", retry) or self._pipeline.retry
        if timeout is not None:
            coerce_timeout(timeout)
        # ``max_elapsed`` bounds the write's sends, a resend included (never its read-backs).
        started = self._pipeline.elapsed()
        deadline = None if policy.max_elapsed is None else started + policy.max_elapsed
        before = None if reconcile.before is None else await reconcile.before(self, request)
        attempts, lost, refused = 0, None, None
        while True:
            try:
                value = await self._call(
                    endpoint,
                    request,
                    timeout=timeout,
                    retry=retry,
                    prior_attempts=attempts,
                    request_id=None if lost is None else lost.error.request_id,
                    deadline=deadline,
                )
                return Outcome(value)
            except OutcomeUnknownError as exc:
                lost = LostAnswer(endpoint.operation, request, exc, before, exc._fence)
                attempts, refused = exc.attempts, None
            except KrakenPrimeError as exc:
                if lost is None or reconcile.refused is None:
                    raise  # refused outright, or a resend refused for its own reasons
                attempts, refused = attempts + 1, exc
            with Reconciling(self._pipeline.observer, endpoint.operation, lost.error) as step:
                verdict = await self._verdict(reconcile, lost, refused)
                step.how = "not_applied" if isinstance(verdict, Resend) else reconcile.how
            if not isinstance(verdict, Resend):
                return Outcome(verdict, read_back=True)
            now = self._pipeline.elapsed()
            if not await may_resend(policy, attempts, lost.error, started=started, now=now):
                failure = not_applied(lost, verdict, refused)
                failure.request_id = lost.error.request_id
                raise failure
            logger.warning(
                "%s: answer lost; %s; sending it again (attempt %d)",
                endpoint.operation,
                verdict.reason,
                attempts + 1,
                extra={"request_id": lost.error.request_id},
            )

    async def _verdict(
        self: Res,
        reconcile: Rule[Res, Q, F],
        lost: LostAnswer[Q],
        refused: KrakenPrimeError | None,
    ) -> F | Resend:
        """The rule's verdict on ``lost``; after a resend refused with ``refused``, that refusal
        is raised unless the rule's ``refused`` hook finds it revealed the lost request's
        effect (and undid it)."""
        if refused is None:
            return await reconcile.resolve(self, lost)
        hook = reconcile.refused
        verdict = None if hook is None else await hook(self, lost, refused)
        if verdict is None:
            raise refused
        return verdict

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class Request(msgspec.Struct, omit_defaults=True, frozen=True, gc=False):
    """Base of request Structs: unset optional fields are left out of the body."""
