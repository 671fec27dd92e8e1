"""Structured concurrency for Python 3.10 (``asyncio.TaskGroup`` arrived in 3.11).

``run_together()`` runs coroutines as tasks and never returns or raises while one of them is
still running: when one fails or the caller is cancelled, the others are cancelled and awaited
first. Nothing the SDK starts outlives the call that started it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any


async def run_together(coroutines: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run ``coroutines`` concurrently; return when all are done.

    The first exception (if any) is raised after every task has finished; a cancellation of the
    caller cancels every task and waits for them before it propagates.
    """
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    if not tasks:
        return
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        try:
            await _cancel_and_wait([task for task in tasks if not task.done()])
        finally:
            errors = [t.exception() for t in tasks if not t.cancelled()]  # all retrieved
    first = next((error for error in errors if error is not None), None)
    if first is not None:
        raise first


async def _cancel_and_wait(tasks: list[asyncio.Future[None]]) -> None:
    """Cancel ``tasks`` and wait until every one has finished, even if cancelled meanwhile."""
    for task in tasks:
        task.cancel()
    interrupted = False
    while tasks:
        try:
            await asyncio.wait(tasks)
        except asyncio.CancelledError:
            interrupted = True
        tasks = [task for task in tasks if not task.done()]
    if interrupted:
        raise asyncio.CancelledError
