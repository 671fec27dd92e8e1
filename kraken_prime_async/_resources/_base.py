"""What every resource shares: the pipeline and the keyword tail of every method."""

from __future__ import annotations

from typing import Any, TypeVar

import aiohttp
import msgspec

from .._endpoint import Endpoint
from .._pipeline import Pipeline
from .._retry import RetryPolicy
from .._timeout import coerce_timeout
from .._validation import retry_policy

R = TypeVar("R")

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
            retry=retry_policy("retry", retry),
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class Request(msgspec.Struct, omit_defaults=True, frozen=True, gc=False):
    """Base of request Structs: unset optional fields are left out of the body."""
