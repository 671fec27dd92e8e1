"""Four processes x 50 concurrent tasks on one key: a whole fleet vs a shared nonce sequence only.

The sandbox (nonce window 0, random latency so requests overtake each other, lockout after 15
invalid nonces) serves every member; each member is a child process running
``tests.keys.fleet._fleet_worker``. Rows: ``RedisFleet`` and ``FileLockFleet`` (nonces, in-flight
slots and counter shared), and members that share only a ``RedisNonceSource``.

Run: ``.venv/bin/python -m benchmarks.fleet_scenario`` (writes ``results/fleet_scenario.md``)
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from tests.cli._support import ThreadedSandbox
from tests.keys.fleet._redis_server import redis_server
from tests.keys.fleet.test_fleet_processes import PROCESSES, TASKS, run_fleet

RESULTS = Path(__file__).parent / "results"


def row(name: str, fleet: str, where: str, **extra: Any) -> str:
    served = ThreadedSandbox(latency=(0.0, 0.004), nonce_window=0, seed=7)
    with served.running():
        started = time.monotonic()
        reports = run_fleet(served, fleet=fleet, where=where, **extra)
        elapsed = time.monotonic() - started - 1.5  # the members' common start delay
    ok = sum(r["successes"] for r in reports)
    attempts = sum(r["stats"]["attempts"] for r in reports)
    invalid = sum(r["stats"]["nonce_rejections"] for r in reports)
    errors: dict[str, int] = {}
    for report in reports:
        for kind, count in report["errors"].items():
            errors[kind] = errors.get(kind, 0) + count
    failed = ", ".join(f"{count} {kind}" for kind, count in sorted(errors.items())) or "none"
    return f"| {name} | {ok} | {attempts} | {invalid} | {failed} | {elapsed:.1f} |"


def main() -> None:
    with redis_server() as server, tempfile.TemporaryDirectory() as directory:
        rows = [
            row("RedisFleet", "redis", server.url),
            row("FileLockFleet", "file", directory),
            row("RedisNonceSource only", "redis", server.url, nonce_only=True),
        ]
    text = "\n".join(
        [
            f"# Fleet scenario: {PROCESSES} processes x {TASKS} tasks on one key",
            "",
            "Command: `python -m benchmarks.fleet_scenario` "
            f"({time.strftime('%Y-%m-%d')}, one run; window 0, latency 0-4 ms).",
            "",
            "| members share | ok | attempts | invalid nonces | failed calls | seconds |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    (RESULTS / "fleet_scenario.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
