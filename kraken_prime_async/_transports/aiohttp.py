"""The HTTP seam: one ``request`` that returns status and body bytes, or raises a classified
[`APIConnectionError`][kraken_prime_async.errors.APIConnectionError].

Swapping the transport is how tests (and users with special networking) take over the wire
without touching the call pipeline.

``max_response_bytes``: [`AiohttpTransport`][kraken_prime_async.AiohttpTransport] stops reading an
answer as soon as it is over
the cap (a ``Content-Length`` over it is refused before reading), so nothing beyond the cap is
buffered. A 2xx answer over the cap raises
[`ResponseValidationError`][kraken_prime_async.ResponseValidationError] (for a
non-idempotent write the pipeline turns it into ``OutcomeUnknownError``); of a non-2xx answer,
only the first ``max_response_bytes`` are kept (its error strings or status decide the
exception). A caller's own [`Transport`][kraken_prime_async.Transport] reads bodies itself: the
client wraps it in
``SizeCheckedTransport``, which applies the same rule after the fact.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

import aiohttp
from yarl import URL

from .._constants import (
    ABANDON_HOLD_MAX,
    ABANDON_WATCH_LIMIT,
    DEFAULT_CONNECTOR_LIMIT,
    DEFAULT_DNS_CACHE_TTL,
    DEFAULT_MAX_RESPONSE_BYTES,
)
from .._keys.watch import connection_ended, hand_over, watching
from .._timeout import RequestTimeout
from .._validation import integer
from ..errors import APIConnectionError, APITimeoutError
from ._deadlines import Deadlines
from .base import CauseSummary, RawResponse, too_large

#: Bytes read from the socket at a time while an answer is checked against the cap.
_CHUNK = 64 * 1024

#: ``send(method, url, **options)``: aiohttp's request coroutine (see ``sender()``).
_Send = Callable[..., Awaitable[aiohttp.ClientResponse]]

#: The aiohttp releases (major, minor; both ends included) whose private request coroutine
#: ``sender()`` uses: ``make test`` runs the transport and integration tests on the lowest
#: (``.venv-lowest``) and on the newest (``.venv``). Any other release gets the public API.
PRIVATE_API_RELEASES: Final = ((3, 11), (3, 14))


def _release(version: str) -> tuple[int, int]:
    """``"3.13.2"`` -> ``(3, 13)``; ``(0, 0)`` for anything unexpected."""
    major, _, rest = version.partition(".")
    minor = rest.partition(".")[0]
    return (int(major), int(minor)) if major.isdigit() and minor.isdigit() else (0, 0)


#: Whether this aiohttp is one ``PRIVATE_API_RELEASES`` names.
PRIVATE_API: Final = (
    PRIVATE_API_RELEASES[0] <= _release(aiohttp.__version__) <= PRIVATE_API_RELEASES[1]
)


def sender(session: aiohttp.ClientSession, *, owned: bool, private: bool) -> _Send:
    """The function requests are sent with: the package's one door to aiohttp's private API.

    * ``ClientSession._request``, on a release the SDK was tested with (``private``:
      ``PRIVATE_API``): the coroutine the public ``request`` wraps in a context manager.
      Awaiting it directly saves that wrapper per call, and ``async with response`` releases the
      connection exactly as the wrapper's exit would. On any other release (or if the name is
      gone) the public ``session.request`` is used: awaiting its context manager gives the same
      response.
    * ``ClientSession._retry_connection``, on a session the transport created (``owned``):
      switched off, so aiohttp never re-sends a GET, PUT or DELETE by itself after a dropped
      connection (the switch aiohttp's own test client uses; re-sends are the pipeline's
      decision: a Fast API key rename or delete must not be re-sent blindly). This one is not
      gated by the release: it is a safety switch, and setting it cannot break a request. Every
      release from 3.11 has it; if one drops it, aiohttp's own re-send comes back, as for a
      caller's session (see ``AiohttpTransport``), and the transport tests say so.
    """
    if owned and hasattr(session, "_retry_connection"):
        session._retry_connection = False
    if not private or not hasattr(session, "_request"):
        return session.request  # awaiting its context manager gives the response
    send: _Send = session._request
    return send


class AiohttpTransport:
    """[`Transport`][kraken_prime_async.Transport] over an ``aiohttp.ClientSession``.

    Parameters
    ----------
    session : aiohttp.ClientSession, optional
        A caller's session, used as is and never closed here. Without one, a session is created
        on first use (no cookie jar: the API is stateless) and closed by ``close()``.
    max_response_bytes : int or None
        Largest answer body read (see the module docstring); ``None`` reads any size.

    Notes
    -----
    aiohttp re-sends a GET, PUT or DELETE once by itself when the connection drops before the
    answer (RFC 9112 allows it for idempotent methods). The SDK decides re-sends itself (a
    Fast API key rename or delete must not be re-sent blindly), so the session created here has
    that switched off on the aiohttp releases ``sender()`` knows (``_retry_connection``, the
    switch aiohttp's own test client uses). A caller's session is left as it is: with one, a
    lost answer to a rename or delete may come back as "unknown api_key_name" from aiohttp's
    silent second request. Prime calls are POSTs, which aiohttp never re-sends.
    """

    __slots__ = (
        "_deadlines",
        "_max_response_bytes",
        "_owned",
        "_send",
        "_session",
        "_untimed",
        "_watched",
    )

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._session = session
        self._owned = session is None
        self._deadlines: Deadlines | None = None
        self._send: _Send | None = None
        #: Each timeout seen, as aiohttp's ``ClientTimeout`` without its ``total`` (kept by
        #: ``_deadlines.py``).
        self._untimed: dict[RequestTimeout, aiohttp.ClientTimeout] = {}
        #: Exchanges of abandoned requests, watched to their end (``_abandon``).
        self._watched: set[asyncio.Task[RawResponse | Exception]] = set()
        self._max_response_bytes = (
            None
            if max_response_bytes is None
            else integer("max_response_bytes", max_response_bytes, minimum=1)
        )

    def _sender(self) -> _Send:
        """The session's send function, the session made on first use when none was given.

        Settings measured for the per-call CPU (``benchmarks/README.md``): no cookie jar (the
        API is stateless, and a real jar is consulted on every request); aiohttp's defaults kept
        where changing them costs more or risks correctness: ``skip_auto_headers`` builds a
        header multidict per request (slower than letting aiohttp add its two defaults);
        ``auto_decompress`` stays on because a server may compress an answer even unasked (RFC
        9110 12.5.3), and ``Accept-Encoding`` stays so a large settlement page may come
        compressed over a real network (decoding is skipped when the answer is not compressed);
        no trace configs (none is the default, and then aiohttp does no tracing work);
        ``raise_for_status`` stays off (the pipeline maps every status itself).
        """
        if self._send is None:
            if self._session is None:
                self._session = aiohttp.ClientSession(
                    cookie_jar=aiohttp.DummyCookieJar(),
                    connector=aiohttp.TCPConnector(
                        limit=DEFAULT_CONNECTOR_LIMIT, ttl_dns_cache=DEFAULT_DNS_CACHE_TTL
                    ),
                )
            self._send = sender(self._session, owned=self._owned, private=PRIVATE_API)
        return self._send

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
        """Send ``body``; map aiohttp's failures to the SDK's connection errors.

        The exchange runs in a task of its own, so that when the caller stops waiting (the
        deadline of ``timeout.total``, a cancellation) after the request may have left, the
        caller gets control back at once while the exchange goes on (``_abandon()``). When
        nothing would follow an abandoned exchange (``abandon_hold=0``, no key:
        ``watching()``), it runs in the caller's task instead: the same ending, a loop turn
        less each way.

        The SDK's exception is raised outside the ``except`` block, from a ``CauseSummary``
        of aiohttp's exception: the chain keeps its type and message, never the request (aiohttp's
        exceptions and their frames hold the request headers, credentials included).
        """
        send = self._sender()
        task = asyncio.current_task()
        assert task is not None
        loop = task.get_loop()
        total = timeout.total
        deadlines = self._deadlines_for(task) if total else None
        exchange: asyncio.Task[RawResponse | Exception] | None = None
        ending: Awaitable[RawResponse]
        if watching():
            # The exchange hands its end to ``answered`` itself (one loop turn, where a shield's
            # done callback takes two); the caller's cancellation cancels ``answered`` only.
            answered: asyncio.Future[RawResponse] = loop.create_future()
            exchange = loop.create_task(
                self._exchange(send, url, body, headers, timeout, operation, http_method, answered)
            )
            ending = answered
        else:
            ending = self._answer(send, url, body, headers, timeout, operation, http_method)
        if deadlines is not None:
            deadlines.start(task, total)  # type: ignore[arg-type]
        try:
            return await ending
        except asyncio.CancelledError:
            expired = deadlines is not None and deadlines.finish(task)
            if exchange is not None:
                self._abandon(exchange)
            if not expired:
                raise  # the caller's cancellation
            failure, cause = connection_error(asyncio.TimeoutError(), operation, http_method, url)
        except APIConnectionError as exc:
            if exc.sent and not isinstance(exc, APITimeoutError):
                connection_ended()  # the server closed it: nothing more of it can arrive
            raise
        finally:
            if deadlines is not None:
                deadlines.finish(task)  # the request ended before its deadline
        raise failure from cause

    async def _exchange(
        self,
        send: _Send,
        url: URL,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: RequestTimeout,
        operation: str,
        http_method: str,
        answered: asyncio.Future[RawResponse],
    ) -> RawResponse | Exception:
        """One request and its answer, or the SDK's exception (returned, never raised: a
        watched exchange's end is read by the watcher), also handed to ``answered`` while the
        caller waits (see ``request()``)."""
        end: RawResponse | Exception
        try:
            end = await self._answer(send, url, body, headers, timeout, operation, http_method)
        except asyncio.CancelledError:
            answered.cancel()  # stopped (the client closed): a caller still waiting stops too
            raise
        except Exception as exc:  # the SDK's errors (and any other) are the caller's to raise
            end = exc
        if not answered.done():
            if isinstance(end, RawResponse):
                answered.set_result(end)
            else:
                answered.set_exception(end)
        return end

    async def _answer(
        self,
        send: _Send,
        url: URL,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: RequestTimeout,
        operation: str,
        http_method: str,
    ) -> RawResponse:
        try:
            response = await send(
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
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            failure, cause = connection_error(exc, operation, http_method, url)
        raise failure from cause

    # -- the abandoned-request hook (``_keys/watch.py``) -------------------------------------

    def _abandon(self, exchange: asyncio.Task[RawResponse | Exception]) -> None:
        """The caller stopped waiting for ``exchange``: the attempt's slot follows it to its
        end (kept here, at most ``ABANDON_HOLD_MAX`` s, at most ``ABANDON_WATCH_LIMIT`` at once,
        cancelled by ``close()``), or, when nobody watches it, it is dropped now."""
        if exchange.done():
            return
        watched = self._watched
        if len(watched) < ABANDON_WATCH_LIMIT and hand_over(exchange):
            watched.add(exchange)
            bound = exchange.get_loop().call_later(ABANDON_HOLD_MAX, exchange.cancel)

            def ended(done: asyncio.Task[RawResponse | Exception]) -> None:
                watched.discard(done)
                bound.cancel()

            exchange.add_done_callback(ended)
            return
        exchange.cancel()

    def _deadlines_for(self, task: asyncio.Task[object]) -> Deadlines:
        loop = task.get_loop()
        deadlines = self._deadlines
        if deadlines is None or deadlines.loop is not loop:
            deadlines = self._deadlines = Deadlines(loop)
        return deadlines

    def _without_total(self, timeout: RequestTimeout) -> aiohttp.ClientTimeout:
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
            )
        return untimed

    async def close(self) -> None:
        """Stop watching abandoned requests; close the session if this transport created it."""
        if self._deadlines is not None:
            self._deadlines.close()
        watched, self._watched = self._watched, set()
        for exchange in watched:
            exchange.cancel()
        if watched:
            await asyncio.wait(watched)
        if self._owned and self._session is not None and not self._session.closed:
            await self._session.close()

    def __repr__(self) -> str:
        return f"AiohttpTransport(owned_session={self._owned})"


def connection_error(
    exc: BaseException, operation: str, http_method: str = "POST", url: URL | None = None
) -> tuple[APIConnectionError, CauseSummary]:
    """The SDK's exception for an aiohttp failure, and the summary to chain it from.

    ``sent`` is ``False`` only when the request certainly never left (connect failures). The
    message ends with the verb and the URL tried (no query: the API sends none), so a request a
    test forgot to mock says what to mock.
    """
    name = type(exc).__name__
    tried = "" if url is None else f" [{http_method} {url.with_query(None).with_user(None)}]"
    failure: APIConnectionError
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        failure = APITimeoutError(
            f"{operation}: timed out connecting{tried}", sent=False, operation=operation
        )
    elif isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        failure = APITimeoutError(
            f"{operation}: no answer in time{tried}", sent=True, operation=operation
        )
    elif isinstance(exc, aiohttp.ClientConnectorError):
        failure = APIConnectionError(
            f"{operation}: could not connect ({name}){tried}", sent=False, operation=operation
        )
    else:
        failure = APIConnectionError(
            f"{operation}: connection failed after sending ({name}){tried}",
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
