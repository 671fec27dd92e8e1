"""Kill a worker process with SIGKILL at a random point of a journaled write, run it again.

The sandbox runs in the test process on its own thread (``ThreadedSandbox``); workers are
``python -m tests.journal._worker`` processes signing with the sandbox owner's key and a file
(or Redis) journal. Effects are counted from the sandbox's request log (processed requests).
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..cli._support import ThreadedSandbox

ROOT = Path(__file__).resolve().parents[2]


class Workers:
    """Start, run and kill workers against one sandbox and one journal."""

    def __init__(
        self,
        served: ThreadedSandbox,
        *,
        journal: Path | None = None,
        redis: str | None = None,
        window: int = 0,
    ) -> None:
        self.served = served
        self.journal = journal
        self.redis = redis
        self.window = window

    def config(self, **options: Any) -> dict[str, Any]:
        sb = self.served.sandbox
        where = {"redis": self.redis} if self.redis else {"journal": str(self.journal)}
        return {
            "api_key": sb.api_key,
            "api_secret": sb.api_secret,
            "base_url": sb.url,
            "window": self.window,
            **where,
            **options,
        }

    def start(self, **options: Any) -> subprocess.Popen[str]:
        return subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", "tests.journal._worker", json.dumps(self.config(**options))],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )

    def run(self, **options: Any) -> dict[str, Any]:
        child = self.start(**options)
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err[-3000:]
        result: dict[str, Any] = json.loads(out)
        return result

    def kill_while_sending(
        self, rng: random.Random, operation: str, *, within: float, **options: Any
    ) -> bool:
        """Start a worker, wait until its journal records an attempt of ``operation`` going
        out, then SIGKILL it after a random part of ``within`` seconds. Whether it was still
        running when killed."""
        child = self.start(**options)
        deadline = time.monotonic() + 60
        while not self.sent(operation):
            if child.poll() is not None or time.monotonic() > deadline:
                out, err = child.communicate()
                raise AssertionError(f"the worker ended before sending: {out} {err[-2000:]}")
            time.sleep(0.005)
        time.sleep(rng.uniform(0, within))
        running = child.poll() is None
        child.send_signal(signal.SIGKILL)  # a no-op once it has ended
        child.communicate(timeout=30)
        return running

    def sent(self, operation: str) -> bool:
        """Whether the journal holds an attempt of ``operation`` recorded as sent."""
        if self.redis:
            return _redis_sent(self.redis, operation)
        assert self.journal is not None
        if not self.journal.exists():
            return False
        try:
            with sqlite3.connect(f"file:{self.journal}?mode=ro", uri=True, timeout=5) as db:
                rows = db.execute(
                    "SELECT state FROM intents WHERE instr(state, ?) > 0 AND instr(state, ?) > 0",
                    (f'"operation":"{operation}"', '"sent":true'),
                ).fetchall()
        except sqlite3.OperationalError:  # the worker is creating the tables
            return False
        return bool(rows)

    def processed(self, operation: str, **arguments: Any) -> list[Any]:
        """The sandbox's processed requests of ``operation`` whose arguments include these."""
        return [
            r
            for r in self.served.sandbox.calls(operation)
            if r.processed and all(r.arguments.get(k) == v for k, v in arguments.items())
        ]


def _redis_sent(url: str, operation: str) -> bool:
    import redis

    client = redis.Redis.from_url(url)
    try:
        for raw in client.hvals("kraken-prime:journal:intents"):
            state = json.loads(raw)
            if state.get("operation") == operation and state.get("sent"):
                return True
        return False
    finally:
        client.close()
