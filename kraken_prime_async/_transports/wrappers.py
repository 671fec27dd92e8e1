"""Transports that wrap another: the size check applied to a caller's own transport, and a
borrowed transport that is used but never closed (a client's copy, ``PrimeClient.copy``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from yarl import URL

from .._timeout import RequestTimeout
from .base import RawResponse, Transport, too_large


class SizeCheckedTransport:
    """A caller's [`Transport`][kraken_prime_async.Transport] with ``max_response_bytes`` applied to
    what it returns.

    The caller's transport has already read the body; this only keeps an oversized answer from
    being decoded, by the same rule as [`AiohttpTransport`][kraken_prime_async.AiohttpTransport].
    """

    __slots__ = ("_inner", "_max_response_bytes")

    def __init__(self, inner: Transport, max_response_bytes: int) -> None:
        self._inner = inner
        self._max_response_bytes = max_response_bytes

    async def request(
        self,
        url: URL,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: RequestTimeout,
        *,
        operation: str,
        http_method: str = "POST",
    ) -> RawResponse:
        """Delegate, then apply the cap."""
        raw = await self._inner.request(
            url, body, headers, timeout, operation=operation, http_method=http_method
        )
        size, cap = len(raw.body), self._max_response_bytes
        if size <= cap:
            return raw
        if not 200 <= raw.status < 300:
            return RawResponse(raw.status, raw.body[:cap])
        raise too_large(raw.status, cap, operation, f"{size} bytes")

    async def close(self) -> None:
        """Close the wrapped transport."""
        await self._inner.close()

    def __repr__(self) -> str:
        return (
            f"SizeCheckedTransport({self._inner!r}, max_response_bytes={self._max_response_bytes})"
        )


class BorrowedTransport:
    """Another client's transport, used but never closed (a copy of that client).

    ``lender`` returns the transport for each request, or raises ``ClientStateError`` once its
    owner is closed.
    """

    __slots__ = ("_lender",)

    def __init__(self, lender: Callable[[], Transport]) -> None:
        self._lender = lender

    async def request(
        self,
        url: URL,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: RequestTimeout,
        *,
        operation: str,
        http_method: str = "POST",
    ) -> RawResponse:
        """Send through the borrowed transport."""
        return await self._lender().request(
            url, body, headers, timeout, operation=operation, http_method=http_method
        )

    async def close(self) -> None:
        """Nothing: the owner closes it."""
        return

    def __repr__(self) -> str:
        return "BorrowedTransport()"
