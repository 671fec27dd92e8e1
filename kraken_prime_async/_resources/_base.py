"""What every resource shares: the pipeline and the keyword tail of every method."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import aiohttp
import msgspec

from .._constants import LOGGER_NAME
from .._endpoint import Endpoint
from .._pipeline import Pipeline
from .._retry import RetryPolicy
from .._timeout import coerce_timeout
from ..errors import OutcomeUnknownError
from ._reconcile import LostAnswer, Outcome, Resend, Rule, not_applied

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
        retry: RetryPolicy | None,
        prior_attempts: int = 0,
    ) -> R:
        return await self._pipeline.call(
            endpoint,
            request,
            timeout=None if timeout is None else coerce_timeout(timeout),
            retry=retry,
            prior_attempts=prior_attempts,
        )

    async def _write(
        self: Res,
        endpoint: Endpoint[Any, R],
        request: Q,
        *,
        reconcile: Rule[Res, Q, F],
        timeout: TimeoutLike | None,
        retry: RetryPolicy | None,
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
        retry: RetryPolicy | None = None,
    ) -> Outcome[R | F]:
        """As :meth:`_write`, also saying whether the result was read back after a lost answer.

        The rule's ``before`` read (if any) runs once, before the first send. After a lost
        answer the rule reads back: applied → its result; proven not applied → the write is sent
        again as a new attempt, while the retry policy's ``max_attempts`` allows (then the
        failure of the last attempt is raised: the write did not take effect).
        """
        max_attempts = (retry or self._pipeline.retry).max_attempts
        before = None if reconcile.before is None else await reconcile.before(self, request)
        attempts = 0
        while True:
            try:
                value = await self._call(
                    endpoint, request, timeout=timeout, retry=retry, prior_attempts=attempts
                )
                return Outcome(value)
            except OutcomeUnknownError as exc:
                lost = LostAnswer(endpoint.operation, request, exc, before, exc._fence)
            verdict = await reconcile.resolve(self, lost)
            if not isinstance(verdict, Resend):
                return Outcome(verdict, read_back=True)
            attempts = lost.error.attempts
            if attempts >= max_attempts:
                raise not_applied(lost, verdict)
            logger.warning(
                "%s: answer lost; %s; sending it again (attempt %d of %d)",
                endpoint.operation,
                verdict.reason,
                attempts + 1,
                max_attempts,
            )

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class Request(msgspec.Struct, omit_defaults=True, frozen=True, gc=False):
    """Base of request Structs: unset optional fields are left out of the body."""
