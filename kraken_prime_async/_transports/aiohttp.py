"""The HTTP seam: one ``request`` that returns status and body bytes, or raises a classified
:class:`~kraken_prime_async.errors.APIConnectionError`.

Swapping the transport is how tests (and users with special networking) take over the wire
without touching the call pipeline.

``max_response_bytes``: :class:`AiohttpTransport` stops reading an answer as soon as it is over
the cap (a ``Content-Length`` over it is refused before reading), so nothing beyond the cap is
buffered. A 2xx answer over the cap raises :class:`ResponseValidationError` (for a
non-idempotent write the pipeline turns it into ``OutcomeUnknownError``); of a non-2xx answer,
only the first ``max_response_bytes`` are kept (its error strings or status decide the
exception). A caller's own :class:`Transport` reads bodies itself: the client wraps it in
:class:`SizeCheckedTransport`, which applies the same rule after the fact.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import aiohttp
from yarl import URL

from .._constants import (
    DEFAULT_CONNECTOR_LIMIT,
    DEFAULT_DNS_CACHE_TTL,
    DEFAULT_MAX_RESPONSE_BYTES,
)
from .._validation import integer
from ..errors import APIConnectionError, APITimeoutError
from ._deadlines import Deadlines
from .base import CauseSummary, RawResponse, too_large

#: Bytes read from the socket at a time while an answer is checked against the cap.
_CHUNK = 64 * 1024


class AiohttpTransport:
    """:class:`Transport` over an :class:`aiohttp.ClientSession`.

    Parameters
    ----------
    session : aiohttp.ClientSession, optional
        A caller's session, used as is and never closed here. Without one, a session is created
        on first use (no cookie jar: the API is stateless) and closed by :meth:`close`.
    max_response_bytes : int or None
        Largest answer body read (see the module docstring); ``None`` reads any size.

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

    __slots__ = ("_deadlines", "_max_response_bytes", "_owned", "_session", "_untimed")

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._session = session
        self._owned = session is None
        self._deadlines: Deadlines | None = None
        #: Each ``ClientTimeout`` seen, without its ``total`` (kept by ``_deadlines.py``).
        self._untimed: dict[aiohttp.ClientTimeout, aiohttp.ClientTimeout] = {}
        self._max_response_bytes = (
            None
            if max_response_bytes is None
            else integer("max_response_bytes", max_response_bytes, minimum=1)
        )

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
        """Send ``body``; map aiohttp's failures to the SDK's connection errors.

        The SDK's exception is raised outside the ``except`` block, from a :class:`CauseSummary`
        of aiohttp's exception: the chain keeps its type and message, never the request (aiohttp's
        exceptions and their frames hold the request headers, credentials included).
        """
        session = self._get_session()
        task = asyncio.current_task()
        assert task is not None
        deadlines = self._deadlines_for(task) if timeout.total else None
        if deadlines is not None:
            deadlines.start(task, timeout.total)  # type: ignore[arg-type]
        try:
            # ``_request`` is the coroutine ``request`` wraps in a context manager; awaiting it
            # directly saves that wrapper, and ``async with response`` releases the connection
            # exactly as the wrapper's exit would.
            response = await session._request(
                http_method,
                url,
                data=body,
                headers=headers,
                timeout=self._without_total(timeout),
                allow_redirects=False,
            )
            async with response:
                if self._max_response_bytes is None:
                    return RawResponse(response.status, await response.read())
                return await _read_capped(response, self._max_response_bytes, operation)
        except asyncio.CancelledError:
            if deadlines is None or not deadlines.finish(task):
                raise  # the caller's cancellation
            failure, cause = connection_error(asyncio.TimeoutError(), operation)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            expired = deadlines is not None and deadlines.finish(task)
            failure, cause = connection_error(asyncio.TimeoutError() if expired else exc, operation)
        finally:
            if deadlines is not None:
                deadlines.finish(task)  # the request ended before its deadline
        raise failure from cause

    def _deadlines_for(self, task: asyncio.Task[object]) -> Deadlines:
        loop = task.get_loop()
        deadlines = self._deadlines
        if deadlines is None or deadlines.loop is not loop:
            deadlines = self._deadlines = Deadlines(loop)
        return deadlines

    def _without_total(self, timeout: aiohttp.ClientTimeout) -> aiohttp.ClientTimeout:
        """``timeout`` for aiohttp: its ``total`` is kept by ``self._deadlines`` instead."""
        untimed = self._untimed.get(timeout)
        if untimed is None:
            if len(self._untimed) >= 64:  # per-call timeouts that all differ: keep a few
                self._untimed.clear()
            untimed = self._untimed[timeout] = aiohttp.ClientTimeout(
                total=None,
                connect=timeout.connect,
                sock_read=timeout.sock_read,
                sock_connect=timeout.sock_connect,
                ceil_threshold=timeout.ceil_threshold,
            )
        return untimed

    async def close(self) -> None:
        """Close the session if this transport created it."""
        if self._deadlines is not None:
            self._deadlines.close()
        if self._owned and self._session is not None and not self._session.closed:
            await self._session.close()

    def __repr__(self) -> str:
        return f"AiohttpTransport(owned_session={self._owned})"


def connection_error(exc: BaseException, operation: str) -> tuple[APIConnectionError, CauseSummary]:
    """The SDK's exception for an aiohttp failure, and the summary to chain it from.

    ``sent`` is ``False`` only when the request certainly never left (connect failures).
    """
    name = type(exc).__name__
    failure: APIConnectionError
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        failure = APITimeoutError(
            f"{operation}: timed out connecting", sent=False, operation=operation
        )
    elif isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        failure = APITimeoutError(f"{operation}: no answer in time", sent=True, operation=operation)
    elif isinstance(exc, aiohttp.ClientConnectorError):
        failure = APIConnectionError(
            f"{operation}: could not connect ({name})", sent=False, operation=operation
        )
    else:
        failure = APIConnectionError(
            f"{operation}: connection failed after sending ({name})",
            sent=True,
            operation=operation,
        )
    return failure, CauseSummary(exc)


async def _read_capped(response: aiohttp.ClientResponse, cap: int, operation: str) -> RawResponse:
    """Read at most ``cap`` bytes of the body (see the module docstring).

    Nothing read is kept in a local when the refusal is raised (a frame captured with its locals
    must not carry an answer that may hold a new key's secret).
    """
    status = response.status
    declared = response.content_length
    if declared is not None:
        if declared > cap and 200 <= status < 300:
            response.close()  # drop the connection rather than drain the rest
            raise too_large(status, cap, operation, f"Content-Length {declared}")
        if declared <= cap and response.headers.get("Content-Encoding", "identity") == "identity":
            # The common case, read in one go: the parser stops at Content-Length, so the body
            # cannot exceed the cap. A compressed answer (its length counts compressed bytes)
            # takes the chunked path below, which counts what it inflates to.
            return RawResponse(status, await response.read())
    # The chunks aiohttp hands over are kept as they are and joined once at the end: the body
    # is copied once (the same single copy ``response.read()`` makes; none when it came in one
    # chunk), and the decoder then reads that buffer in place (``Batch`` keeps views into it).
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            response.close()
            if 200 <= status < 300:
                del chunks, chunk
                raise too_large(status, cap, operation, f"over {cap} bytes")
            return RawResponse(status, b"".join(chunks)[:cap])
    return RawResponse(status, b"".join(chunks))
