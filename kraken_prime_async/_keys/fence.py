"""Nonce fences: proving that a request whose answer was lost can no longer be admitted.

Kraken admits a request of a key only if its nonce is above the highest nonce it accepted for
the key, or (with a nonce window ``W``) at most ``W`` below it and never seen. So once Kraken has
*accepted* a later request of the key whose nonce is at least ``lost + W + 1``, the lost request
(nonce ``lost``) is refused whenever it arrives: it is fenced off, and a read-back from then on
shows its final effect. ``fence_floor()`` is that bound.

The read-back itself is the fence: ``fencing()`` marks the reads a lost-answer rule makes (a
context variable, so it follows the awaits of the rule's task and nothing else), and
``issue_nonce()`` (called by ``HmacAuth`` for every signed request) takes their nonces at or
above the floor through ``FloorNonceSource.next_nonce_at_least()``. A read that returns was
accepted by Kraken, so if the nonce it carried was at or above the floor (``Fence.passed``),
the lost request is fenced off. A custom nonce source without ``next_nonce_at_least`` only passes
the fence when its next nonce happens to be high enough (always with a window of 0).

Nonces are never logged or put in messages (they are excluded from telemetry too).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .nonces import FloorNonceSource, LocalNonceSource, NonceSource


def fence_floor(nonce: int, window: int) -> int:
    """The lowest nonce that, once accepted on the key, fences off a request with ``nonce``
    (``window``: the key's nonce window, in nonce units)."""
    return nonce + window + 1


class Fence:
    """A fence being put up: its floor, and the last nonce a request under it carried."""

    __slots__ = ("floor", "nonce")

    def __init__(self, floor: int, nonce: int | None = None) -> None:
        self.floor = floor
        self.nonce = nonce

    def __repr__(self) -> str:
        return f"Fence(floor={self.floor}, nonce={self.nonce})"

    @property
    def passed(self) -> bool:
        """Whether the last request under the fence carried a nonce at or above the floor.

        Meaningful after that request returned (Kraken accepted it).
        """
        return self.nonce is not None and self.nonce >= self.floor


_active: ContextVar[Fence | None] = ContextVar("kraken_prime_async_fence", default=None)


@contextmanager
def fencing(floor: int) -> Iterator[Fence]:
    """Run the enclosed requests of this task with nonces ``>= floor``; yield the fence."""
    fence = Fence(floor)
    token = _active.set(fence)
    try:
        yield fence
    finally:
        _active.reset(token)


def local_nonce(source: NonceSource) -> int | None:
    """The nonce of one signed request at once, when ``source`` is this package's own in-process
    source (not a subclass: its overrides are awaited) and no fence is being put up: the common
    case, without a coroutine. ``None``: take it from ``issue_nonce()``."""
    if type(source) is LocalNonceSource and _active.get() is None:
        return source.next_nonce_sync()
    return None


async def issue_nonce(source: NonceSource) -> int:
    """The nonce of one signed request: from ``source``, raised to the active fence's floor."""
    fence = _active.get()
    if fence is None:
        return await source.next_nonce()
    if isinstance(source, FloorNonceSource):
        nonce = await source.next_nonce_at_least(fence.floor)
    else:
        nonce = await source.next_nonce()
    fence.nonce = nonce
    return nonce
