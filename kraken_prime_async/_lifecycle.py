"""What both clients share: the explicit lifecycle (unopened → open → closed), the transport
they own and the User-Agent."""

from __future__ import annotations

import enum
import platform
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

import aiohttp

from ._version import __version__
from .errors import ClientStateError

if TYPE_CHECKING:
    from ._pipeline import Pipeline
    from ._stats import ClientStats
    from ._transport import Transport

_C = TypeVar("_C", bound="ClientBase")


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
    """State, ``async with`` and ``close()`` of :class:`PrimeClient` and
    :class:`FastApiKeyClient`. Subclasses set ``_base_url``, ``_transport`` and ``_pipeline``."""

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
    def base_url(self) -> str:
        """The base URL requests go to."""
        return self._base_url

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
