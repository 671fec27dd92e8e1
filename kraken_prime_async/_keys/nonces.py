"""Nonce sources: strictly increasing integers per API key.

Kraken rejects a nonce that is not above the last one it accepted for the key, forever (a key's
nonce cannot be reset). :class:`LocalNonceSource` hands out ``max(now, last + 1)`` under a lock, so
it keeps increasing when the wall clock steps backwards and when thousands of tasks (or threads)
ask at once. :func:`shared_nonce_source` returns the one source per API key that every client in
the process uses. Other processes or hosts sharing a key plug in their own :class:`NonceSource`.

A source may also issue a nonce *at least* a given floor (:class:`FloorNonceSource`): the read-back
after a lost answer uses it to fence the lost request off (see ``_fence.py``). Raising the next
nonce to a floor keeps the sequence strictly increasing (``max(floor, now, last + 1)``); later
nonces continue from it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final, Literal, Protocol, runtime_checkable

from .._constants import DEFAULT_NONCE_UNIT, NONCE_MAX

NonceUnit = Literal["s", "ms", "us", "ns"]

PER_SECOND: Final[dict[str, int]] = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def following(now: int, last: int) -> int:
    """The nonce after ``last`` at time ``now``: ``max(now, last + 1)``, within Kraken's range."""
    nonce = now if now > last else last + 1
    if nonce > NONCE_MAX:
        raise OverflowError("nonce would exceed 2**63 - 1")
    return nonce


@runtime_checkable
class NonceSource(Protocol):
    """Anything that hands out strictly increasing nonces for one API key.

    Implementations must be safe to await from many tasks at once and must never return a value
    twice or a value lower than one already returned (across every process sharing the key).
    """

    async def next_nonce(self) -> int:
        """Return the next nonce."""
        ...


@runtime_checkable
class FloorNonceSource(NonceSource, Protocol):
    """A :class:`NonceSource` that can also issue a nonce no lower than a floor.

    Every source of this package is one. A source without it still works, but with a nonce
    window a lost write cannot be fenced off (see ``docs/guarantees.md``).
    """

    async def next_nonce_at_least(self, floor: int) -> int:
        """Return the next nonce, ``>= floor`` (later nonces stay above it)."""
        ...


class LocalNonceSource:
    """In-process nonce source: ``max(clock() * unit, last + 1)`` under a lock.

    Parameters
    ----------
    unit : {"s", "ms", "us", "ns"}
        Nonce unit; ``"ms"`` by default (see ``docs/nonces-and-fleets.md``).
    clock : callable returning float seconds, optional
        The wall clock; injectable for tests. Defaults to :func:`time.time`.
    start_after : int
        A floor: the first nonce is above it (for example the last nonce persisted elsewhere).
    """

    __slots__ = ("_clock", "_last", "_lock", "_scale", "unit")

    def __init__(
        self,
        unit: NonceUnit = DEFAULT_NONCE_UNIT,
        *,
        clock: Callable[[], float] = time.time,
        start_after: int = 0,
    ) -> None:
        if unit not in PER_SECOND:
            raise ValueError(f"nonce_unit must be one of {sorted(PER_SECOND)}, got {unit!r}")
        self.unit: NonceUnit = unit
        self._scale = PER_SECOND[unit]
        self._clock = clock
        self._last = int(start_after)
        # A threading lock, not an asyncio one: the critical section never awaits, and clients on
        # other threads' event loops may share the key.
        self._lock = threading.Lock()

    def next_nonce_sync(self, floor: int = 0) -> int:
        """Return the next nonce without awaiting, ``>= floor``."""
        now = max(int(self._clock() * self._scale), floor)
        with self._lock:
            self._last = following(now, self._last)
            return self._last

    async def next_nonce(self) -> int:
        """Return the next nonce."""
        return self.next_nonce_sync()

    async def next_nonce_at_least(self, floor: int) -> int:
        """Return the next nonce, ``>= floor``: ``max(floor, now, last + 1)``."""
        return self.next_nonce_sync(floor)

    @property
    def last(self) -> int:
        """The last nonce handed out (0 before the first)."""
        return self._last

    def __repr__(self) -> str:
        return f"LocalNonceSource(unit={self.unit!r}, last={self._last})"


_registry: dict[str, LocalNonceSource] = {}
_registry_lock = threading.Lock()


def shared_nonce_source(api_key: str, unit: NonceUnit = DEFAULT_NONCE_UNIT) -> LocalNonceSource:
    """The process-wide source for ``api_key``, created on first use.

    Raises
    ------
    ValueError
        If the key already has a source with another unit: mixing units on one key makes every
        nonce of the smaller unit invalid forever.
    """
    with _registry_lock:
        source = _registry.get(api_key)
        if source is None:
            source = _registry[api_key] = LocalNonceSource(unit)
        elif source.unit != unit:
            raise ValueError(
                f"nonce_unit {unit!r} conflicts with {source.unit!r} already used for this API key "
                "in this process"
            )
        return source
