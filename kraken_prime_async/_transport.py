"""The HTTP seam: one ``request`` that returns status and body bytes, or raises a classified
:class:`~kraken_prime_async.errors.APIConnectionError`.

Swapping the transport is how tests (and users with special networking) take over the wire
without touching the call pipeline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import NamedTuple, Protocol

import aiohttp
from yarl import URL

from ._constants import DEFAULT_CONNECTOR_LIMIT, DEFAULT_DNS_CACHE_TTL
from .errors import APIConnectionError, APITimeoutError


class RawResponse(NamedTuple):
    """What came back: the HTTP status and the body bytes, unparsed."""

    status: int
    body: bytes


class Transport(Protocol):
    """Send one request and return the raw answer.

    Implementations raise :class:`APIConnectionError` (``sent=False`` only when the request
    certainly never left) or :class:`APITimeoutError` when no answer arrived.
    """

    async def request(
        self,
        url: URL,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: aiohttp.ClientTimeout,
        *,
        operation: str,
        http_method: str = "POST",
    ) -> RawResponse:
        """Send ``body`` (``None``: no body, as for GET) to ``url`` with ``http_method``.

        ``operation`` is the API operation's name, for error messages only.
        """
        ...

    async def close(self) -> None:
        """Release connections this transport owns."""
        ...


class AiohttpTransport:
    """:class:`Transport` over an :class:`aiohttp.ClientSession`.

    Parameters
    ----------
    session : aiohttp.ClientSession, optional
        A caller's session, used as is and never closed here. Without one, a session is created
        on first use (no cookie jar: the API is stateless) and closed by :meth:`close`.

    Notes
    -----
    aiohttp re-sends a GET, PUT or DELETE once by itself when the connection drops before the
    answer (RFC 9112 allows it for idempotent methods). The SDK decides re-sends itself (a
    Fast API key rename or delete must not be re-sent blindly), so the session created here has
    that switched off (``_retry_connection``, the switch aiohttp's own test client uses). A
    caller's session is left as it is: with one, a lost answer to a rename or delete may come
    back as "unknown api_key_name" from aiohttp's silent second request. Prime calls are POSTs,
    which aiohttp never re-sends.
    """

    __slots__ = ("_owned", "_session")

    def __init__(self, session: aiohttp.ClientSession | None = None) -> None:
        self._session = session
        self._owned = session is None

    def _get_session(self) -> aiohttp.ClientSession:
        # Settings measured for the per-call CPU (benchmarks/README.md, issue 17): no cookie jar
        # (the API is stateless, and a real jar is consulted on every request); aiohttp's
        # defaults kept where changing them costs more or risks correctness:
        # ``skip_auto_headers`` builds a header multidict per request (slower than letting
        # aiohttp add its two defaults); ``auto_decompress`` stays on because a server may
        # compress an answer even unasked (RFC 9110 12.5.3), and ``Accept-Encoding`` stays so a
        # large settlement page may come compressed over a real network (decoding is skipped
        # when the answer is not compressed); no trace configs (none is the default, and then
        # aiohttp does no tracing work); ``raise_for_status`` stays off (the pipeline maps
        # every status itself).
        if self._session is None:
            self._session = aiohttp.ClientSession(
                cookie_jar=aiohttp.DummyCookieJar(),
                connector=aiohttp.TCPConnector(
                    limit=DEFAULT_CONNECTOR_LIMIT, ttl_dns_cache=DEFAULT_DNS_CACHE_TTL
                ),
            )
            if hasattr(self._session, "_retry_connection"):
                self._session._retry_connection = False  # re-sends are the pipeline's decision
        return self._session

    async def request(
        self,
        url: URL,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: aiohttp.ClientTimeout,
        *,
        operation: str,
        http_method: str = "POST",
    ) -> RawResponse:
        """Send ``body``; map aiohttp's failures to the SDK's connection errors."""
        session = self._get_session()
        try:
            # ``_request`` is the coroutine ``request`` wraps in a context manager; awaiting it
            # directly saves that wrapper, and ``async with response`` releases the connection
            # exactly as the wrapper's exit would.
            response = await session._request(
                http_method,
                url,
                data=body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
            )
            async with response:
                return RawResponse(response.status, await response.read())
        except aiohttp.ConnectionTimeoutError as exc:
            raise APITimeoutError(
                f"{operation}: timed out connecting", sent=False, operation=operation
            ) from exc
        except (aiohttp.ServerTimeoutError, asyncio.TimeoutError) as exc:
            raise APITimeoutError(
                f"{operation}: no answer in time", sent=True, operation=operation
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            raise APIConnectionError(
                f"{operation}: could not connect ({type(exc).__name__})",
                sent=False,
                operation=operation,
            ) from exc
        except aiohttp.ClientError as exc:
            raise APIConnectionError(
                f"{operation}: connection failed after sending ({type(exc).__name__})",
                sent=True,
                operation=operation,
            ) from exc

    async def close(self) -> None:
        """Close the session if this transport created it."""
        if self._owned and self._session is not None and not self._session.closed:
            await self._session.close()

    def __repr__(self) -> str:
        return f"AiohttpTransport(owned_session={self._owned})"
