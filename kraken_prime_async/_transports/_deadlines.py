"""Per-request deadlines kept by one loop timer per transport, instead of one timer per request.

aiohttp enforces a request's ``total`` budget with a timer per request: a ``TimerHandle``
scheduled, cancelled and swept from the loop's heap for every request.
``AiohttpTransport`` instead registers each request here and sends it with no ``total``: a
single timer, armed for the earliest deadline, cancels the requests whose deadline passed and
re-arms for the next one. Measured with callgrind (``benchmarks/instructions.py``, the same tree
with and without this module, 2026-12-06): a tiny call costs 543.9k instructions with it and
565.3k with aiohttp's timer, sequentially, and 530.2k against 563.9k with 50 callers on a key
with a nonce window: 4-6% of a call.

The deadlines are kept in a heap, as trio's run loop keeps its own (``trio/_core/_run.py``,
``Deadlines``), so a firing never scans every request in flight. Most requests end long before
their deadline, so a new one is only noted (a dict entry, as cheap as registering can be) and
enters the heap when the timer next fires, if it is still in flight then: a request is pushed at
most once, and one that ends first costs no heap work at all. A request that ends after entering
the heap leaves its entry behind (removing it would cost a search): entries whose deadline no
longer matches the request's are stale, dropped when they reach the top, and the heap is
rebuilt when more than half of it is stale.

Expiry works as aiohttp's own timer does: the request's task is cancelled, and
``Deadlines.finish()`` tells the transport that the ``CancelledError`` was the deadline's, so
it raises a timeout instead. On Python 3.11+ the cancellation is withdrawn with
``Task.uncancel()``; if the task was also cancelled from outside, that cancellation wins and
propagates. (Python 3.10 has no ``uncancel``: there, as with aiohttp's timer, a deadline and an
outside cancellation landing together give the timeout.)
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import sys
from typing import Any

#: Below this many entries the heap is never rebuilt (stale entries cost nothing worth it).
_PRUNE_FLOOR = 64


class Deadlines:
    """The deadlines of the requests in flight on one event loop."""

    __slots__ = (
        "_armed_at",
        "_expired",
        "_handle",
        "_heap",
        "_loop",
        "_pending",
        "_serials",
        "_young",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        #: Requests registered since the timer last fired, with their deadlines (not in the heap).
        self._young: dict[asyncio.Task[Any], float] = {}
        #: Requests in the heap, with their deadlines: an entry is live while this holds its
        #: deadline for its task.
        self._pending: dict[asyncio.Task[Any], float] = {}
        #: ``(deadline, serial, task)``, earliest first (the serial breaks ties).
        self._heap: list[tuple[float, int, asyncio.Task[Any]]] = []
        self._serials = itertools.count()
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
        self._young[task] = deadline
        if deadline < self._armed_at:
            self._arm(deadline)

    def finish(self, task: asyncio.Task[Any]) -> bool:
        """``task``'s request ended; return whether its deadline cancelled it.

        ``False`` also when an outside cancellation came on top of the deadline's (Python 3.11+):
        then the ``CancelledError`` is the caller's and must propagate.
        """
        if self._young.pop(task, None) is not None:
            return False
        if self._pending.pop(task, None) is not None:
            return False  # its heap entry is stale now
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
        heap, pending = self._heap, self._pending
        for task, deadline in self._young.items():  # still in flight: into the heap, once
            pending[task] = deadline
            heapq.heappush(heap, (deadline, next(self._serials), task))
        self._young.clear()
        if len(heap) > _PRUNE_FLOOR and len(heap) > 2 * len(pending):
            self._prune()
        while heap:
            deadline, _, task = heap[0]
            if pending.get(task) != deadline:
                heapq.heappop(heap)  # stale: that request ended (or was registered again)
            elif deadline <= now:
                heapq.heappop(heap)
                del pending[task]
                if not task.done():
                    self._expired.add(task)
                    task.cancel()
            else:
                self._arm(deadline)
                return

    def _prune(self) -> None:
        """Drop the stale entries (more than half of the heap): one pass, then one heapify."""
        pending = self._pending
        self._heap = [entry for entry in self._heap if pending.get(entry[2]) == entry[0]]
        heapq.heapify(self._heap)

    def __repr__(self) -> str:
        in_flight = len(self._pending) + len(self._young)
        return f"Deadlines(pending={in_flight}, expired={len(self._expired)})"
