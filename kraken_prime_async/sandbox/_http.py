"""The sandbox's HTTP side: routes, the per-request steps shared by every API, and the log.

Every API request goes: fault taken → body read → simulated latency → fault delay before →
processing (the Prime chain in ``_prime`` or the Fast API in ``_fast_api``, unless the fault skips
it) → answer rendered (``_faults.render``) → request logged → fault delay after → answer sent.
A wrong HTTP verb, an unknown path or a body over 1 MiB (aiohttp's ``client_max_size``) gets a
Kraken-shaped JSON error (HTTP 405, 404, 413), and is logged too: every answer is Kraken's
envelope except the HTML pages a fault asks for.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Final

from aiohttp import web

from kraken_prime_async.sandbox._errors import (
    ERR_BAD_REQUEST,
    ERR_UNKNOWN_METHOD,
    body_nonce,
    decode_object,
    safe_detail,
)
from kraken_prime_async.sandbox._fast_api import FAST_API_OPERATIONS, FastApi
from kraken_prime_async.sandbox._faults import Fault, Faults, Rendered, envelope, render
from kraken_prime_async.sandbox._operations import PRIME_OPERATIONS
from kraken_prime_async.sandbox._prime import PrimeChain, PrimeRequest
from kraken_prime_async.sandbox._records import Outcome, RequestRecord, redact_arguments

PRIME_PATH: Final = "/0/private/{operation}"
FAST_API_PATH: Final = "/oauth/fast-api-key"
TIME_PATH: Final = "/0/public/Time"


def rfc1123(now: float) -> str:
    """``Tue, 14 Nov 23 22:13:20 +0000`` as Kraken writes it (2-digit year, English names)."""
    moment = datetime.fromtimestamp(now, tz=timezone.utc)
    day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[moment.weekday()]
    month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")[
        moment.month - 1
    ]
    return f"{day}, {moment:%d} {month} {moment:%y %H:%M:%S} +0000"


@dataclass
class Received:
    """One API request as read: what the log and the processing steps need."""

    operation: str
    http_method: str
    body: bytes
    writes: bool
    params: dict[str, Any] | None = None


class RequestServer:
    """The aiohttp handlers of one sandbox.

    Parameters
    ----------
    chain, fast_api, faults :
        The Prime chain, the Fast API and the fault queue.
    clock : Callable[[], float]
        The sandbox clock.
    tick : Callable[[], None]
        Called before processing (auto-confirmation of batches).
    latency : tuple[float, float] or None
        Random delay range before processing, drawn from ``rng``.
    log : Callable[[RequestRecord], None]
        Receives every record (appends it to the log and tells listeners).
    next_seq : Callable[[], int]
        The next record's position in the log.
    """

    def __init__(
        self,
        *,
        chain: PrimeChain,
        fast_api: Callable[[], FastApi],
        faults: Faults,
        clock: Callable[[], float],
        tick: Callable[[], None],
        latency: tuple[float, float] | None,
        rng: random.Random,
        log: Callable[[RequestRecord], None],
        next_seq: Callable[[], int],
    ) -> None:
        self._chain = chain
        self._fast_api = fast_api
        self._faults = faults
        self._clock = clock
        self._tick = tick
        self._latency = latency
        self._rng = rng
        self._log = log
        self._next_seq = next_seq

    def routes(self) -> list[web.RouteDef]:
        """The API routes; admin routes are added by the sandbox."""
        return [
            web.post(PRIME_PATH, self.prime),
            web.route("*", PRIME_PATH, self.prime_wrong_verb),
            *(web.route(verb, FAST_API_PATH, self.fast_api) for verb in FAST_API_OPERATIONS),
            web.route("*", FAST_API_PATH, self.wrong_verb),
            web.get(TIME_PATH, self.time, allow_head=False),
            web.post(TIME_PATH, self.time),
            web.route("*", TIME_PATH, self.wrong_verb),
        ]

    # -- handlers ------------------------------------------------------------------------------

    async def prime(self, request: web.Request) -> web.StreamResponse:
        """``POST /0/private/<operation>``."""
        name = request.match_info["operation"]
        operation = PRIME_OPERATIONS.get(name)
        received = Received(
            name if operation else safe_detail(name),
            "POST",
            b"",
            bool(operation and operation.writes),
        )
        return await self._serve(request, received, self._process_prime)

    async def fast_api(self, request: web.Request) -> web.StreamResponse:
        """``/oauth/fast-api-key`` with POST, GET, PUT or DELETE."""
        verb = request.method
        if verb not in FAST_API_OPERATIONS:  # HEAD, which aiohttp routes with GET
            return await self.wrong_verb(request)
        received = Received(FAST_API_OPERATIONS[verb], verb, b"", verb != "GET")
        return await self._serve(request, received, self._process_fast_api)

    async def time(self, request: web.Request) -> web.StreamResponse:
        """Kraken's public ``Time``: the sandbox clock in Unix seconds and RFC 1123."""
        now = self._clock()
        result = {"unixtime": int(now), "rfc1123": rfc1123(now)}
        rendered = envelope(200, {"error": [], "result": result})
        self._record(Received("Time", request.method, b"", False), Outcome(200, {}, True), rendered)
        return _response(rendered)

    async def prime_wrong_verb(self, request: web.Request) -> web.StreamResponse:
        """A Prime path with another verb than POST: HTTP 405 ``EAPI:Bad request``."""
        return await self._refuse(request, 405, ERR_BAD_REQUEST, allow="POST")

    async def wrong_verb(self, request: web.Request) -> web.StreamResponse:
        """A verb the path does not serve: HTTP 405 ``EAPI:Bad request``."""
        allow = "GET, POST" if request.path == TIME_PATH else ", ".join(FAST_API_OPERATIONS)
        return await self._refuse(request, 405, ERR_BAD_REQUEST, allow=allow)

    async def not_found(self, request: web.Request) -> web.StreamResponse:
        """Any other path: HTTP 404 ``EGeneral:Unknown Method``."""
        return await self._refuse(request, 404, ERR_UNKNOWN_METHOD)

    # -- the shared steps ----------------------------------------------------------------------

    async def _serve(
        self,
        request: web.Request,
        received: Received,
        process: Callable[[web.Request, Received], Outcome],
    ) -> web.StreamResponse:
        if (request.content_length or 0) > request.client_max_size:
            return self._too_large(request, received)  # refused before any fault is taken
        fault = self._faults.take(received.operation)
        try:
            received.body = await request.read()
            received.params = decode_object(received.body)
        except web.HTTPRequestEntityTooLarge:  # a chunked body that grew over the limit
            return self._too_large(request, received)
        except ConnectionError:  # the client went away before its request had arrived
            self._record(received, Outcome(0, {}), Rendered(None, (), None), fault)
            return web.Response()
        # The request has arrived: from here on it is processed even if the client gives up.
        if self._latency is not None:
            await asyncio.sleep(self._rng.uniform(*self._latency))
        if fault is not None and fault.delay_before:
            await asyncio.sleep(fault.delay_before)
        if fault is None or fault.processed:
            self._tick()
            outcome = process(request, received)
        else:
            nonce = body_nonce(received.params)
            outcome = Outcome(0, {}, api_key=_api_key(request), nonce=nonce)
        rendered = render(fault, outcome, self._clock())
        self._record(received, outcome, rendered, fault)
        if fault is not None and fault.delay_after:
            await asyncio.sleep(fault.delay_after)
        if rendered.body is None:
            if request.transport is not None:
                request.transport.close()
            return web.Response()
        return _response(rendered)

    def _too_large(self, request: web.Request, received: Received) -> web.StreamResponse:
        """HTTP 413 ``EAPI:Bad request`` for a body over ``client_max_size`` (not read further;
        the connection is closed after the answer, so the rest of the body is never read)."""
        rendered = envelope(413, {"error": [ERR_BAD_REQUEST]})
        self._record(received, Outcome(413, {}, api_key=_api_key(request)), rendered)
        response = _response(rendered)
        response.force_close()
        return response

    def _process_prime(self, request: web.Request, received: Received) -> Outcome:
        params = received.params
        prime_request = PrimeRequest(
            operation=received.operation,
            api_key=_api_key(request),
            signature=request.headers.get("API-Sign", ""),
            path=request.rel_url.raw_path.encode("ascii", "replace"),
            body=received.body,
            params=params,
            nonce=body_nonce(params),
        )
        return self._chain.handle(prime_request, self._clock())

    def _process_fast_api(self, request: web.Request, received: Received) -> Outcome:
        authorization = request.headers.get("Authorization", "")
        return self._fast_api().handle(
            received.http_method, authorization, received.body, self._clock()
        )

    async def _refuse(
        self, request: web.Request, status: int, error: str, *, allow: str | None = None
    ) -> web.StreamResponse:
        name = request.match_info.get("operation", "")
        label = name if name in PRIME_OPERATIONS else request.path
        received = Received(safe_detail(label), request.method, b"", False)
        rendered = envelope(status, {"error": [error]})
        outcome = Outcome(status, {}, api_key=_api_key(request))
        self._record(received, outcome, rendered)
        response = _response(rendered)
        if allow is not None:
            response.headers["Allow"] = allow
        return response

    def _record(
        self, received: Received, outcome: Outcome, rendered: Rendered, fault: Fault | None = None
    ) -> None:
        self._log(
            RequestRecord(
                seq=self._next_seq(),
                operation=received.operation,
                api_key=outcome.api_key,
                nonce=outcome.nonce,
                status=rendered.status,
                errors=rendered.errors,
                processed=outcome.processed,
                fault=None if fault is None else fault.kind,
                timestamp=self._clock(),
                changed=outcome.processed and received.writes,
                arguments=redact_arguments(received.params),
                http_method=received.http_method,
            )
        )


def _api_key(request: web.Request) -> str | None:
    return request.headers.get("API-Key") or None


def _response(rendered: Rendered) -> web.Response:
    assert rendered.status is not None
    assert rendered.body is not None
    return web.Response(
        status=rendered.status, body=rendered.body, content_type=rendered.content_type
    )
