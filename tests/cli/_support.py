"""Run the installed ``kraken-prime`` script; serve a sandbox from a background thread."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from kraken_prime_async.sandbox import PrimeSandbox

T = TypeVar("T")

SCRIPT = Path(sys.executable).with_name("kraken-prime")


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``kraken-prime ARGS`` with only the given credentials in its environment."""
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("KRAKEN_PRIME_", "KRAKEN_OAUTH_"))
    }
    return subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [str(SCRIPT), *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class ThreadedSandbox:
    """A :class:`PrimeSandbox` running on its own event loop in a daemon thread."""

    def __init__(self, **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.sandbox = PrimeSandbox(**{"rate_limit": False, **options})
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def call(self, make: Callable[[], Awaitable[T]]) -> T:
        async def wrapped() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout=30)

    def sync(self, fn: Callable[[], T]) -> T:
        async def wrapped() -> T:
            return fn()

        return self.call(wrapped)

    @property
    def env(self) -> dict[str, str]:
        sb = self.sandbox
        return {
            "KRAKEN_PRIME_API_KEY": sb.api_key,
            "KRAKEN_PRIME_API_SECRET": sb.api_secret,
            "KRAKEN_PRIME_BASE_URL": sb.url,
        }

    @contextmanager
    def running(self) -> Iterator[ThreadedSandbox]:
        self._thread.start()
        self.call(self.sandbox.start)
        try:
            yield self
        finally:
            self.call(self.sandbox.close)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            self.loop.close()
