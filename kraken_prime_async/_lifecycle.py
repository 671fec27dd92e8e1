"""What both clients share: the explicit lifecycle (unopened → open → closed), the connection
options (base URL, session or transport, timeout, retry, sleep, clock, answer cap) checked and
turned into the transport and the pipeline, and the User-Agent."""

from __future__ import annotations

import enum
import platform
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
import msgspec

from ._config import checked_base_url
from ._observability import build_observer
from ._observability.context import EventCallback
from ._pipeline import Pipeline
from ._retry import RetryPolicy, retry_policy
from ._timeout import DEFAULT_REQUEST_TIMEOUT, RequestTimeout, coerce_timeout
from ._transports import build_transport
from ._transports.base import Transport
from ._validation import client_options
from ._version import __version__
from .errors import ClientStateError

if TYPE_CHECKING:
    from ._auth import RequestAuth
    from ._journal.journal import Journal
    from ._keys.gate import KeyGate, NoGate
    from ._observability.observer import Observer
    from ._stats import ClientStats

_C = TypeVar("_C", bound="ClientBase")


class Connection(msgspec.Struct, frozen=True):
    """The connection options of either client, checked (nothing is opened yet)."""

    base_url: str
    transport: Transport
    timeout: RequestTimeout
    retry: RetryPolicy
    sleep: Callable[[float], Awaitable[None]]
    clock: Callable[[], float]
    observer: Observer | None


def connection(
    *,
    base_url: object,
    session: object,
    transport: Any,
    timeout: Any,
    retry: object,
    sleep: Any,
    clock: Any,
    max_response_bytes: object,
    on_event: EventCallback | None = None,
    tracer_provider: object = None,
    meter_provider: object = None,
) -> Connection:
    """Check the options both constructors take and build the transport (its session is only
    created on the first request, so a constructor that raises later leaves nothing open).

    Raises
    ------
    ValidationError
        Naming the option.
    """
    url = checked_base_url(base_url)
    cap = client_options(
        session=session,
        transport=transport,
        sleep=sleep,
        clock=clock,
        max_response_bytes=max_response_bytes,
    )
    checked_timeout = DEFAULT_REQUEST_TIMEOUT if timeout is None else coerce_timeout(timeout)
    policy = retry_policy("retry", retry)
    observer = build_observer(on_event, tracer_provider, meter_provider, base_url=url, clock=clock)
    return Connection(
        url,
        build_transport(transport, session, cap),  # type: ignore[arg-type]
        checked_timeout,
        RetryPolicy() if policy is None else policy,
        sleep,
        clock,
        observer,
    )


class ClientState(enum.Enum):
    """Lifecycle of a client: it opens on ``async with`` or on its first call."""

    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


def user_agent() -> str:
    """The ``User-Agent`` both clients send."""
    return (
        f"kraken-prime-async/{__version__} aiohttp/{aiohttp.__version__} "
        f"python/{platform.python_version()}"
    )


class ClientBase:
    """State, ``async with`` and ``close()`` of [`PrimeClient`][kraken_prime_async.PrimeClient] and
    [`FastApiKeyClient`][kraken_prime_async.FastApiKeyClient]. Subclasses set ``_base_url``,
    ``_transport`` and ``_pipeline``."""

    _base_url: str
    _transport: Transport
    _pipeline: Pipeline
    _state: ClientState = ClientState.UNOPENED

    @property
    def state(self) -> ClientState:
        """``UNOPENED``, ``OPEN`` or ``CLOSED``."""
        return self._state

    @property
    def stats(self) -> ClientStats:
        """A snapshot of this client's counters (attempts, retries, nonce rejections, ...)."""
        return self._pipeline.stats.snapshot()

    @property
    def journal(self) -> Journal:
        """The client's write journal: ``resolve_pending()``, ``export()`` (``journal=``)."""
        journal: Journal = self._pipeline.journal
        return journal

    @property
    def base_url(self) -> str:
        """The base URL requests go to."""
        return self._base_url

    def _start(self, auth: RequestAuth, gate: KeyGate | NoGate, conn: Connection) -> Pipeline:
        """Take the connection and build the pipeline every call of this client runs through."""
        self._base_url = conn.base_url
        self._transport = conn.transport
        self._pipeline = Pipeline(
            auth=auth,
            gate=gate,
            base_url=conn.base_url,
            transport=self._open_transport,
            timeout=conn.timeout,
            retry=conn.retry,
            user_agent=user_agent(),
            sleep=conn.sleep,
            clock=conn.clock,
            observer=conn.observer,
        )
        return self._pipeline

    def _lent_transport(self) -> Transport:
        """This client's transport for a copy of it (``PrimeClient.copy()``), which must not
        send once this client is closed (the transport is then closed too)."""
        if self._state is ClientState.CLOSED:
            raise ClientStateError(
                f"the {type(self).__name__} this client was copied from is closed"
            )
        return self._transport

    def _open_transport(self) -> Transport:
        if self._state is ClientState.CLOSED:
            raise ClientStateError(f"the client is closed; create a new {type(self).__name__}")
        self._state = ClientState.OPEN
        return self._transport

    async def __aenter__(self: _C) -> _C:
        if self._state is ClientState.CLOSED:
            raise ClientStateError("the client is closed and cannot be reopened")
        if self._state is ClientState.OPEN:
            raise ClientStateError("the client is already open; enter it only once")
        self._state = ClientState.OPEN
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session the client created (a caller's session is left open) and release
        the client's share of its key's in-process gate and call counter. Idempotent."""
        if self._state is ClientState.CLOSED:
            return
        self._state = ClientState.CLOSED
        self._pipeline.gate.close()  # the key's shared gate and counter, when the last user
        await self._transport.close()
        if self._pipeline.journal is not None:
            if getattr(self, "_shared_journal", False):
                await self._pipeline.journal.flush()  # its client's journal: left open
            else:
                await self._pipeline.journal.close()  # a store the client opened from a path
