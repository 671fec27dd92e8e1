"""The HTTP seam: one ``request`` that returns status and body bytes, or raises a classified
[`APIConnectionError`][kraken_prime_async.errors.APIConnectionError].

Swapping the transport is how tests (and users with special networking) take over the wire
without touching the call pipeline. [`RawResponse`][kraken_prime_async.RawResponse] is what a
transport returns; the
``max_response_bytes`` refusal (``too_large()``) is shared by every transport.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple, Protocol

from yarl import URL

from .._timeout import RequestTimeout
from ..errors import ResponseValidationError


class RawResponse(NamedTuple):
    """What came back: the HTTP status and the body bytes, unparsed.

    ``repr`` shows the body's size, not its bytes: an answer may carry a new key's secret, or a
    proxy's page quoting the request's credentials back.
    """

    status: int
    body: bytes

    def __repr__(self) -> str:
        return f"RawResponse(status={self.status}, body=<{len(self.body)} bytes>)"


class Transport(Protocol):
    """Send one request and return the raw answer.

    Implementations raise [`APIConnectionError`][kraken_prime_async.APIConnectionError]
    (``sent=False`` only when the request
    certainly never left) or [`APITimeoutError`][kraken_prime_async.APITimeoutError] when no answer
    arrived.
    """

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
        """Send ``body`` (``None``: no body, as for GET) to ``url`` with ``http_method``.

        ``timeout`` holds the attempt's budgets in seconds (``RequestTimeout``: ``total``,
        ``connect``, ``sock_read``, ``sock_connect``; ``None`` means no limit). ``operation``
        is the API operation's name, for error messages only.
        """
        ...

    async def close(self) -> None:
        """Release connections this transport owns."""
        ...


class CauseSummary(Exception):
    """What the SDK keeps of a third-party exception it replaced: its type and message.

    Attributes
    ----------
    type_name : str
        The original exception's qualified class name, e.g.
        ``"aiohttp.client_exceptions.ServerDisconnectedError"``.
    """

    def __init__(self, exc: BaseException) -> None:
        cls = type(exc)
        self.type_name = f"{cls.__module__}.{cls.__qualname__}"
        super().__init__(f"{self.type_name}: {exc}" if str(exc) else self.type_name)


def too_large(status: int, cap: int, operation: str, size: str) -> ResponseValidationError:
    """The refusal of a 2xx answer over ``max_response_bytes``."""
    return ResponseValidationError(
        f"{operation}: the answer ({size}) is larger than max_response_bytes={cap}; it was not "
        "read further. If answers this large are expected, raise max_response_bytes= on the "
        "client",
        status=status,
        operation=operation,
    )
