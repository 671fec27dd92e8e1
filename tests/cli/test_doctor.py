"""``kraken-prime doctor`` against the sandbox: all ✓, then the ✗ line that matches each fault."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from tests.cli._support import ThreadedSandbox, run_cli

pytestmark = pytest.mark.integration

CHECKS = ["base URL", "clock", "credentials", "permissions", "nonces", "rate limit"]


@pytest.fixture
def sandbox() -> Iterator[ThreadedSandbox]:
    with ThreadedSandbox().running() as threaded:
        yield threaded


def _lines(stdout: str) -> dict[str, str]:
    """``{check name: its line}``; every line starts with a mark."""
    lines = {}
    for line in stdout.splitlines():
        mark, rest = line[0], line[2:]
        assert mark in "✓✗", line
        name = next(name for name in CHECKS if rest.startswith(name))
        lines[name] = line
    assert list(lines) == CHECKS
    return lines


def test_all_checks_pass_against_the_sandbox(sandbox: ThreadedSandbox) -> None:
    sandbox.sync(lambda: sandbox.sandbox.add_api_user("Desk A", "Viewer"))
    done = run_cli("doctor", env=sandbox.env)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = _lines(done.stdout)
    assert all(line.startswith("✓") for line in lines.values())
    assert sandbox.sandbox.url in lines["base URL"] and "loopback" in lines["base URL"]
    assert "reads users, keys, settlement batches" in lines["permissions"]
    assert "unit ms; window 0" in lines["nonces"] and "0 nonce rejections" in lines["nonces"]
    assert "auto" in lines["rate limit"]
    # Probing reads only, never a write.
    seen = {record.operation for record in sandbox.sync(lambda: sandbox.sandbox.requests)}
    reads = {"Time", "ListPrimeApiUsers", "ListPrimeApiUserKeys", "ListPrimeSettlementBatches"}
    assert seen == reads

    as_json = run_cli("--json", "doctor", "--rate-limit", "pro", env=sandbox.env)
    report = json.loads(as_json.stdout)
    assert report["ok"] is True and [c["name"] for c in report["checks"]] == CHECKS
    assert report["checks"][-1]["detail"].startswith("pro: paced as the pro tier")


def test_a_trader_key_reads_settlement_only(sandbox: ThreadedSandbox) -> None:
    def trader_key() -> tuple[str, str]:
        user = sandbox.sandbox.add_api_user("Desk B", "Trader")
        credentials = sandbox.sandbox.add_api_key(user)
        return credentials.api_key, credentials.api_secret

    api_key, api_secret = sandbox.sync(trader_key)
    env = {**sandbox.env, "KRAKEN_PRIME_API_KEY": api_key, "KRAKEN_PRIME_API_SECRET": api_secret}
    done = run_cli("doctor", env=env)
    assert done.returncode == 0, done.stdout
    permissions = _lines(done.stdout)["permissions"]
    assert "reads settlement batches; denied users" in permissions


def test_a_wrong_secret_fails_credentials_and_names_the_variable(
    sandbox: ThreadedSandbox,
) -> None:
    env = {**sandbox.env, "KRAKEN_PRIME_API_SECRET": "QUFBQUFBQUFBQUFBQUFBQQ=="}
    done = run_cli("doctor", env=env)
    assert done.returncode == 4
    lines = _lines(done.stdout)
    assert lines["base URL"].startswith("✓") and lines["clock"].startswith("✓")
    assert lines["credentials"].startswith("✗ credentials")
    assert "EAPI:Invalid signature" in lines["credentials"]
    assert "fix: check KRAKEN_PRIME_API_SECRET" in lines["credentials"]
    assert sandbox.sandbox.api_secret not in done.stdout + done.stderr

    unset = {k: v for k, v in sandbox.env.items() if k != "KRAKEN_PRIME_API_SECRET"}
    missing = _lines(run_cli("doctor", env=unset).stdout)["credentials"]
    assert missing.startswith("✗") and "KRAKEN_PRIME_API_SECRET: not set" in missing


def test_a_skewed_clock_fails_the_clock_check() -> None:
    ahead = ThreadedSandbox(clock=lambda: time.time() + 120)  # the server's clock, 2 min ahead
    with ahead.running():
        done = run_cli("doctor", "--json", env=ahead.env)
    assert done.returncode == 4
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert not checks["clock"]["ok"]
    assert checks["clock"]["detail"].startswith(("119 s behind", "120 s behind", "121 s behind"))
    assert "timedatectl set-ntp true" in checks["clock"]["fix"]
    assert all(c["ok"] for name, c in checks.items() if name != "clock")


def test_an_unreachable_url_is_named(sandbox: ThreadedSandbox) -> None:
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    done = run_cli("doctor", "--base-url", url, env=sandbox.env)
    assert done.returncode == 4
    lines = _lines(done.stdout)
    assert f"could not reach {url}" in lines["base URL"]
    assert "fix: check --base-url or KRAKEN_PRIME_BASE_URL" in lines["base URL"]
    assert lines["credentials"].startswith("✗ credentials  not checked")
