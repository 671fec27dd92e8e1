"""``MockTransport``: the whole client runs (signing, nonces, decoding, error mapping, retries,
read-backs); only the network is replaced by a function that answers each request.

A handler takes a ``MockRequest`` and returns an ``Answer`` built with ``answer``
(``answer(result=...)``, ``answer(errors=[...])``, ``answer(status=502, body="<html>")``, or a
request that got no answer: ``answer.lost()``, ``answer.timeout()``, ``answer.refused()``).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final, Literal

import msgspec
from yarl import URL

from .._transports.base import RawResponse
from ..errors import APIConnectionError, APITimeoutError

__all__ = ["Answer", "AnswerFactory", "MockRequest", "MockTransport", "answer", "answer_payload"]

#: What a request that got no answer went through (see ``AnswerFactory``).
Failure = Literal["lost", "timeout", "refused"]

_FAILURES: Final[dict[str, tuple[type[APIConnectionError], bool, str]]] = {
    "lost": (APIConnectionError, True, "connection failed after sending (answer.lost())"),
    "timeout": (APITimeoutError, True, "no answer in time (answer.timeout())"),
    "refused": (APIConnectionError, False, "could not connect (answer.refused())"),
}


class MockRequest:
    """One request as the SDK sent it, for a ``MockTransport`` handler.

    Attributes
    ----------
    operation : str
        The API operation, e.g. ``"CreatePrimeApiUser"`` or ``"ListFastApiKeys"``.
    http_method : str
        ``"POST"`` for every Prime call; ``POST``/``GET``/``PUT``/``DELETE`` for Fast API keys.
    url : yarl.URL
        The full URL.
    path : str
        The URL's path, e.g. ``"/0/private/CreatePrimeApiUser"``.
    headers : Mapping[str, str]
        The headers sent (``API-Key``/``API-Sign``, or ``Authorization: Bearer ...``).
    params : dict
        The decoded JSON body, ``nonce`` included; ``{}`` for a request without a body.
    body : bytes or None
        The exact bytes sent (the ones ``API-Sign`` signs).
    timeout : float or None
        The attempt's time budget in seconds.

    Notes
    -----
    ``repr`` shows the operation, the verb, the path and the arguments, never the headers (they
    hold the signature or the bearer token).
    """

    __slots__ = ("body", "headers", "http_method", "operation", "params", "timeout", "url")

    def __init__(
        self,
        *,
        operation: str,
        http_method: str,
        url: URL,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: float | None,
    ) -> None:
        self.operation = operation
        self.http_method = http_method
        self.url = url
        self.headers: Mapping[str, str] = MappingProxyType(dict(headers))
        self.body = body
        self.params: dict[str, Any] = _decoded(body)
        self.timeout = timeout

    @property
    def path(self) -> str:
        """The URL's path."""
        return self.url.path

    def __repr__(self) -> str:
        return (
            f"MockRequest({self.operation} {self.http_method} {self.path} params={self.params!r})"
        )


def _decoded(body: bytes | None) -> dict[str, Any]:
    if not body:
        return {}
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return {}
    return value if isinstance(value, dict) else {}


class Answer(msgspec.Struct, frozen=True, gc=False):
    """What a ``MockTransport`` handler returns; build it with ``answer``.

    Attributes
    ----------
    status : int
        HTTP status.
    body : bytes
        The body sent back.
    headers : Mapping[str, str]
        Response headers, kept for the record: the SDK reads the status and the body only.
    failure : {"lost", "timeout", "refused"} or None
        Set for a request that got no answer (then ``status`` and ``body`` are not used).
    """

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = msgspec.field(default_factory=dict)
    failure: Failure | None = None

    def __repr__(self) -> str:  # the body may hold a test's fake secret: show its size only
        if self.failure is not None:
            return f"Answer(failure={self.failure!r})"
        return f"Answer(status={self.status}, body=<{len(self.body)} bytes>)"


def answer_payload(
    result: Any = None, errors: str | Iterable[str] = (), *, status: int = 200
) -> dict[str, Any]:
    """A Kraken envelope: ``{"error": [...], "result": ...}``.

    Parameters
    ----------
    result : JSON value, optional
        The ``result`` (the SDK unwraps ``{"data": ...}`` itself: give what Kraken sends).
        ``None`` (the default) sends ``{}``, as Kraken does with an error.
    errors : str or iterable of str
        Kraken error strings, e.g. ``"EAPI:Invalid key"``; ``W``-prefixed ones are warnings.
    status : int, default 200
        The HTTP status it goes with: a non-200 envelope has no ``result`` unless one is given
        (the shape of the Prime spec's HTTP 500 answer).

    Returns
    -------
    dict
        Plain JSON values, ready for ``aioresponses``' ``payload=`` or for ``json.dumps``.
    """
    listed = [errors] if isinstance(errors, str) else list(errors)
    if not all(isinstance(error, str) for error in listed):
        raise TypeError("errors must be strings, e.g. 'EAPI:Invalid key'")
    payload: dict[str, Any] = {"error": listed}
    if result is not None or status == 200:
        payload["result"] = {} if result is None else result
    return payload


class AnswerFactory:
    """The type of ``answer``: call it for an answer, or use its methods for none."""

    __slots__ = ()

    def __call__(
        self,
        result: Any = None,
        errors: str | Iterable[str] = (),
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
    ) -> Answer:
        """An answer: Kraken's envelope of ``result`` and ``errors``, or ``body`` as it is.

        Parameters
        ----------
        result : JSON value, optional
            See ``answer_payload()``; msgspec encodes it (``Decimal`` as a string, as Kraken
            writes amounts).
        errors : str or iterable of str
            Kraken error strings.
        status : int, default 200
            HTTP status (``502`` with an HTML ``body`` is what a gateway sends).
        headers : Mapping[str, str], optional
            Response headers (recorded; the SDK reads the status and the body).
        body : bytes or str, optional
            The exact body instead of an envelope (HTML, truncated JSON...); not with
            ``result`` or ``errors``.
        """
        if type(status) is not int or not 100 <= status <= 599:
            raise ValueError(f"status must be an HTTP status (100-599), got {status!r}")
        if body is not None:
            if result is not None or errors:
                raise ValueError("give body, or result/errors, not both")
            raw = body.encode() if isinstance(body, str) else bytes(body)
        else:
            raw = msgspec.json.encode(answer_payload(result, errors, status=status))
        return Answer(status, raw, dict(headers or {}))

    def lost(self) -> Answer:
        """The request reached the server and the connection dropped before the answer.

        The client sees ``APIConnectionError`` with
        ``sent=True``: a read is retried; a write is resolved by reading the state back (the
        handler serves that read too), never blindly re-sent.
        """
        return Answer(failure="lost")

    def timeout(self) -> Answer:
        """The request was sent and no answer came in time (``APITimeoutError``, ``sent=True``)."""
        return Answer(failure="timeout")

    def refused(self) -> Answer:
        """The connection was refused: nothing was sent (``APIConnectionError``, ``sent=False``;
        retried like any request that never left)."""
        return Answer(failure="refused")

    def __repr__(self) -> str:
        return "kraken_prime_async.testing.answer"


#: Builds a handler's answer: ``answer(result=...)``, ``answer(errors="EAPI:Invalid nonce")``,
#: ``answer(status=502, body="<html>...")``; ``answer.lost()``, ``answer.timeout()``,
#: ``answer.refused()`` for a request that got none.
answer: Final = AnswerFactory()

#: A handler: a function (or coroutine function) from a request to an answer.
Handler = Callable[[MockRequest], Answer | Awaitable[Answer]]


class MockTransport:
    """A transport whose answers come from ``handler``: ``PrimeClient(..., transport=
    MockTransport(handler))`` (``FastApiKeyClient`` the same).

    Parameters
    ----------
    handler : Callable[[MockRequest], Answer | Awaitable[Answer]]
        Called once per request the client sends (retries and read-backs included), in the
        client's event loop. An exception it raises reaches the caller unchanged (an
        ``AssertionError`` fails the test where it happened).

    Attributes
    ----------
    requests : list[MockRequest]
        Every request seen, in order.
    closed : bool
        Whether a client closed it (a client closes the transport it was given).

    Examples
    --------
    >>> def handler(request):
    ...     if request.operation == "ListPrimeApiUsers":
    ...         return answer(result={"data": []})
    ...     return answer(errors="EGeneral:Permission denied")
    >>> transport = MockTransport(handler)
    """

    __slots__ = ("_handler", "closed", "requests")

    def __init__(self, handler: Handler) -> None:
        if not callable(handler):
            raise TypeError(f"handler must be callable, got {type(handler).__name__}")
        self._handler = handler
        self.requests: list[MockRequest] = []
        self.closed = False

    async def request(
        self,
        url: URL,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: object,
        *,
        operation: str,
        http_method: str = "POST",
    ) -> RawResponse:
        """Ask the handler, then answer like the network would (or fail like it would)."""
        request = MockRequest(
            operation=operation,
            http_method=http_method,
            url=url,
            headers=headers,
            body=body,
            timeout=_seconds(timeout),
        )
        self.requests.append(request)
        await asyncio.sleep(0)  # a round trip lets other tasks run
        reply = self._handler(request)
        if inspect.isawaitable(reply):
            reply = await reply
        if not isinstance(reply, Answer):
            raise TypeError(
                f"the MockTransport handler returned {type(reply).__name__} for {operation}; "
                "return kraken_prime_async.testing.answer(...)"
            )
        if reply.failure is None:
            return RawResponse(reply.status, reply.body)
        kind, sent, what = _FAILURES[reply.failure]
        raise kind(f"{operation}: {what} [{http_method} {url}]", sent=sent, operation=operation)

    async def close(self) -> None:
        """Mark the transport closed (there is nothing to release)."""
        self.closed = True

    def __repr__(self) -> str:
        name = getattr(self._handler, "__qualname__", type(self._handler).__name__)
        return f"MockTransport({name}, requests={len(self.requests)})"


def _seconds(timeout: object) -> float | None:
    """The attempt's budget in seconds, whether the seam passes seconds or a ``ClientTimeout``."""
    total = getattr(timeout, "total", timeout)
    return float(total) if isinstance(total, (int, float)) else None
