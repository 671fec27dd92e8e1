"""Start and stop the loopback server as a child process."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Urls:
    """Base URLs of the two listeners."""

    tiny: str
    large: str


class ServerProcess:
    """``with ServerProcess() as urls:`` runs ``benchmarks.server`` for the block."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> Urls:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.server"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().split()
        if len(line) != 3 or line[0] != "PORTS":
            self._stop()
            raise RuntimeError(f"bench server did not start: {line!r}")
        return Urls(f"http://127.0.0.1:{line[1]}", f"http://127.0.0.1:{line[2]}")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()

    def _stop(self) -> None:
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
