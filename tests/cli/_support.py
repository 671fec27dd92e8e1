"""Run the installed ``kraken-prime`` script; serve a sandbox from a background thread."""

from __future__ import annotations

import asyncio
import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pyte

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


def run_pty(
    *args: str,
    env: dict[str, str] | None = None,
    columns: int = 80,
    rows: int = 60,
    timeout: float = 60,
    interrupt_on: bytes | None = None,
    screen_columns: int | None = None,
) -> tuple[int, bytes, list[str]]:
    """Run ``kraken-prime ARGS`` with stdout and stderr on a pseudo-terminal of the given size.

    Returns the exit code, the raw bytes written to the terminal, and the screen a VT100
    terminal shows at the end (emulated by pyte), one string per row, trailing blanks removed.
    ``interrupt_on``: once the output contains these bytes, the command gets SIGINT (Ctrl-C).
    ``screen_columns``: emulate a wider screen than the terminal the command is told about, so
    a line written past ``columns`` shows as a longer row instead of wrapping.
    """
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KRAKEN_PRIME_", "KRAKEN_OAUTH_")) and k not in ("COLUMNS", "LINES")
    }
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    with subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
        [str(SCRIPT), *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env={**base, **(env or {}), "TERM": "xterm-256color"},
    ) as process:
        os.close(slave)
        data = bytearray()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every writer closed the terminal
                    break
                if not chunk:
                    break
                data += chunk
                if interrupt_on is not None and interrupt_on in data:
                    process.send_signal(signal.SIGINT)
                    interrupt_on = None
            elif process.poll() is not None:
                break
        os.close(master)
        code = process.wait(timeout=10)
    screen = pyte.Screen(screen_columns or columns, rows)
    pyte.ByteStream(screen).feed(bytes(data))
    return code, bytes(data), [row.rstrip() for row in screen.display]
