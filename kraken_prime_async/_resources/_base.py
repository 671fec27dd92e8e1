"""What every resource shares: the pipeline and the keyword tail of every method."""

from __future__ import annotations

from typing import Any, TypeVar

import aiohttp
import msgspec

from .._endpoint import Endpoint
from .._observe import Reconciling
from .._pipeline import Pipeline
from .._retry import RetryPolicy
from .._timeout import coerce_timeout
from ..errors import OutcomeUnknownError
from ._reconcile import LostAnswer, Outcome, Rule

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
    ) -> R:
        return await self._pipeline.call(
            endpoint,
            request,
            timeout=None if timeout is None else coerce_timeout(timeout),
            retry=retry,
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

        The read-back runs inside :class:`~.._observe.Reconciling`: it reports how it ended
        (``reconciled`` event, INFO record, ``reconcile`` span) under the write's request id.
        """
        started_at = self._pipeline.clock()
        before = None if reconcile.before is None else await reconcile.before(self, request)
        try:
            value = await self._call(endpoint, request, timeout=timeout, retry=retry)
        except OutcomeUnknownError as exc:
            lost = LostAnswer(endpoint.operation, request, exc, started_at, before)
            with Reconciling(self._pipeline.observer, endpoint.operation, exc) as step:
                found = await reconcile.resolve(self, lost)
                step.how = reconcile.how
            return Outcome(found, read_back=True)
        return Outcome(value)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class Request(msgspec.Struct, omit_defaults=True, frozen=True, gc=False):
    """Base of request Structs: unset optional fields are left out of the body."""
