"""Four processes x 50 concurrent tasks on one key, through a Redis and a file-lock fleet.

The sandbox runs in this process (on its own thread) with random latency before every request,
so requests overtake each other on the way in, and a nonce window of 0, so an overtaken nonce
would be rejected. The fleet must keep every nonce unique and rejections under 2 % of attempts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kraken_prime_async.sandbox import TierLimits

from ...cli._support import ThreadedSandbox
from ._redis_server import redis_server

PROCESSES = 4
TASKS = 50


@pytest.fixture
def sandbox() -> Iterator[ThreadedSandbox]:
    served = ThreadedSandbox(latency=(0.0, 0.004), nonce_window=0, seed=7)
    with served.running():
        yield served


def run_fleet(
    sandbox: ThreadedSandbox,
    *,
    fleet: str,
    where: str,
    processes: int = PROCESSES,
    tasks: int = TASKS,
    calls: int = 1,
    **extra: Any,
) -> list[dict[str, Any]]:
    """Start the members together and collect their reports."""
    sb = sandbox.sandbox
    config = {
        "fleet": fleet,
        "where": where,
        "api_key": sb.api_key,
        "api_secret": sb.api_secret,
        "base_url": sb.url,
        "tasks": tasks,
        "calls": calls,
        "start_at": time.time() + 1.5,  # after every interpreter has started
        **extra,
    }
    children = [
        subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", "tests.keys.fleet._fleet_worker", json.dumps(config)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    reports = []
    for child in children:
        out, _ = child.communicate(timeout=180)
        assert child.returncode == 0
        reports.append(json.loads(out))
    return reports


def assert_clean_run(sandbox: ThreadedSandbox, reports: list[dict[str, Any]]) -> None:
    records = [r for r in sandbox.sandbox.requests if r.api_key == sandbox.sandbox.api_key]
    attempts = sum(r["stats"]["attempts"] for r in reports)
    rejections = sum(r["stats"]["nonce_rejections"] for r in reports)
    assert [r["errors"] for r in reports] == [{}] * len(reports)
    assert sum(r["successes"] for r in reports) == PROCESSES * TASKS
    assert rejections < 0.02 * attempts, f"{rejections} invalid nonces in {attempts} attempts"
    nonces = [r.nonce for r in records]
    assert len(nonces) == attempts  # the sandbox saw every attempt, and nothing else
    assert len(set(nonces)) == len(nonces), "a nonce was used twice across the fleet"


def test_four_processes_share_a_key_through_redis(sandbox: ThreadedSandbox, redis_url: str) -> None:
    reports = run_fleet(sandbox, fleet="redis", where=redis_url)
    assert_clean_run(sandbox, reports)


def test_four_processes_share_a_key_through_a_lock_file(
    sandbox: ThreadedSandbox, tmp_path: Path
) -> None:
    reports = run_fleet(sandbox, fleet="file", where=str(tmp_path))
    assert_clean_run(sandbox, reports)


def test_the_fleet_shares_one_call_counter(redis_url: str) -> None:
    # A fast-decaying counter (max 6, 30/s) so the test is short; 4 x 10 calls overflow it
    # unless the four members pace against one shared model. The members' clocks move only
    # while they wait (``SleepClock``): the model never decays faster than the sandbox's real
    # counter, and not between calls, so the 7th call of the fleet waits however slow the
    # machine (with real clocks, calls slower than 1/30 s each never filled the counter).
    served = ThreadedSandbox(tier=TierLimits(6.0, 30.0), rate_limit=True)
    with served.running():
        reports = run_fleet(
            served,
            fleet="redis",
            where=redis_url,
            tasks=5,
            calls=2,
            rate_limit=[6.0, 30.0],
            sleep_clock=True,
        )
    assert [r["errors"] for r in reports] == [{}] * PROCESSES
    assert sum(r["successes"] for r in reports) == PROCESSES * 10
    assert sum(r["stats"]["rate_limit_errors"] for r in reports) == 0
    assert sum(r["stats"]["rate_limit_waits"] for r in reports) > 0
    # The shared counter decays only as far as the furthest member clock moved, that is by the
    # waits of one member: one of them waited for about (40 - 6) / 30 s of decay. Counters of
    # their own would need (10 - 6) / 30 s each.
    waited = max(r["stats"]["rate_limit_wait_seconds"] for r in reports)
    assert waited >= 0.5 * (40 - 6) / 30.0
    refused = [r for r in served.sandbox.requests if "EAPI:Rate limit exceeded" in r.errors]
    assert refused == []


def test_redis_going_away_mid_run_is_a_clear_error_and_loses_nothing(
    sandbox: ThreadedSandbox,
) -> None:
    with redis_server() as server:
        children = [
            subprocess.Popen(  # noqa: S603 - our own module
                [
                    sys.executable,
                    "-m",
                    "tests.keys.fleet._fleet_worker",
                    json.dumps(
                        {
                            "fleet": "redis",
                            "where": server.url,
                            "api_key": sandbox.sandbox.api_key,
                            "api_secret": sandbox.sandbox.api_secret,
                            "base_url": sandbox.sandbox.url,
                            "tasks": 10,
                            "calls": 100_000,
                            "until_error": True,
                            "start_at": time.time() + 1.5,
                        }
                    ),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        deadline = time.monotonic() + 30
        while len(sandbox.sandbox.requests) < 50:  # the fleet is well under way
            assert time.monotonic() < deadline
            time.sleep(0.02)
        server.kill()
    reports = []
    for child in children:
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 0
        reports.append(json.loads(out))
    # Every task stopped on the coordination error, none on anything else.
    assert [r["errors"] for r in reports] == [{"CoordinationError": 10}] * 2
    for report in reports:
        assert any("unreachable" in m and "nothing was sent" in m for m in report["messages"])
    # Nothing lost silently: every request Kraken answered was delivered to its caller.
    answered = [r for r in sandbox.sandbox.requests if r.ok]
    assert sum(r["successes"] for r in reports) == len(answered) >= 50
