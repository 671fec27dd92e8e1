"""Per-request deadlines kept by one loop timer per transport, instead of one timer per request.

aiohttp enforces ``ClientTimeout.total`` with a timer per request: a ``TimerHandle`` scheduled,
cancelled and swept from the loop's heap for every request, about 27,000 instructions of a tiny
call's ~560,000 (``benchmarks/instructions.py``).
[`AiohttpTransport`][kraken_prime_async.AiohttpTransport] instead registers
each request here (a dict entry) and sends it with no ``total``: a single timer, armed for the
earliest deadline, cancels the requests whose deadline passed and re-arms for the next one.

Expiry works as aiohttp's own timer does: the request's task is cancelled, and
``Deadlines.finish()`` tells the transport that the ``CancelledError`` was the deadline's, so
it raises a timeout instead. On Python 3.11+ the cancellation is withdrawn with
``Task.uncancel()``; if the task was also cancelled from outside, that cancellation wins and
propagates. (Python 3.10 has no ``uncancel``: there, as with aiohttp's timer, a deadline and an
outside cancellation landing together give the timeout.)
"""

from __future__ import annotations

import asyncio
import math
import sys
from typing import Any


class Deadlines:
    """The deadlines of the requests in flight on one event loop."""

    __slots__ = ("_armed_at", "_expired", "_handle", "_loop", "_pending")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._pending: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at = math.inf

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop these deadlines run on."""
        return self._loop

    def start(self, task: asyncio.Task[Any], seconds: float) -> None:
        """``task``'s request must end within ``seconds`` from now."""
        deadline = self._loop.time() + seconds
        self._pending[task] = deadline
        if deadline < self._armed_at:
            self._arm(deadline)

    def finish(self, task: asyncio.Task[Any]) -> bool:
        """``task``'s request ended; return whether its deadline cancelled it.

        ``False`` also when an outside cancellation came on top of the deadline's (Python 3.11+):
        then the ``CancelledError`` is the caller's and must propagate.
        """
        if self._pending.pop(task, None) is not None:
            return False
        if task not in self._expired:
            return False
        self._expired.discard(task)
        if sys.version_info >= (3, 11):
            return task.uncancel() == 0
        return True

    def close(self) -> None:
        """Stop the timer (the transport is closing)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._armed_at = math.inf

    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._loop.call_at(when, self._fire)
        self._armed_at = when

    def _fire(self) -> None:
        self._handle = None
        self._armed_at = math.inf
        now = self._loop.time()
        following = math.inf
        for task, deadline in list(self._pending.items()):
            if deadline <= now:
                del self._pending[task]
                if not task.done():
                    self._expired.add(task)
                    task.cancel()
            elif deadline < following:
                following = deadline
        if following < math.inf:
            self._arm(following)

    def __repr__(self) -> str:
        return f"Deadlines(pending={len(self._pending)}, expired={len(self._expired)})"
