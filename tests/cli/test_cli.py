"""The ``kraken-prime`` CLI and the demo, run as subprocesses."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator

import pytest

from tests.cli._support import SCRIPT, ThreadedSandbox, run_cli

pytestmark = pytest.mark.integration


@pytest.fixture
def sandbox() -> Iterator[ThreadedSandbox]:
    with ThreadedSandbox().running() as threaded:
        yield threaded


def test_demo_settles_every_leg_exactly_once() -> None:
    done = run_cli("demo", "--legs", "6", "--concurrency", "3", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["settled"] == summary["legs"] == summary["transfers_started"] == 6
    assert summary["settle_requests"] == 7  # one retried refusal; the lost answer was read back
    assert summary["retries"] == 1 and summary["read_backs"] == 1
    assert summary["batch_status"] == "settled"
    assert summary["verdict"] == "6 legs: 6 settled exactly once, 0 failed, 0 unknown"
    assert "created Trader user" in done.stderr
    assert "BTC, ETH, USD, EUR, SOL, XRP" in done.stderr  # real asset codes


def test_demo_legs_outside_the_book_name_the_option() -> None:
    done = run_cli("demo", "--legs", "99")
    assert done.returncode == 2 and "--legs" in done.stderr


def test_users_and_keys(sandbox: ThreadedSandbox) -> None:
    created = run_cli(
        "--json", "users", "create", "--name", "Desk A", "--role", "Trader", env=sandbox.env
    )
    assert created.returncode == 0, created.stderr
    user = json.loads(created.stdout)
    assert user["roles"] == ["Trader"]

    table = run_cli("users", "list", env=sandbox.env)
    assert table.returncode == 0 and "Desk A" in table.stdout and "NAME" in table.stdout

    key = run_cli("keys", "create", user["id"], "--print-secret", env=sandbox.env)
    assert key.returncode == 0, key.stderr
    secret_lines = [line for line in key.stdout.splitlines() if line.startswith("api_secret: ")]
    assert len(secret_lines) == 1 and "*" not in secret_lines[0]
    assert "cannot be retrieved again" in key.stderr

    listed = run_cli("--json", "keys", "list", user["id"], env=sandbox.env)
    assert secret_lines[0].split(": ", 1)[1] not in listed.stdout
    key_id = json.loads(listed.stdout)[0]["id"]
    ips = run_cli(
        "--json", "keys", "update", user["id"], key_id, "--ip", "10.0.0.0/8", env=sandbox.env
    )
    assert json.loads(ips.stdout)["whitelisted_ips"] == ["10.0.0.0/8"]
    deleted = run_cli("keys", "delete", user["id"], key_id, env=sandbox.env)
    assert deleted.returncode == 0 and deleted.stdout.strip() == "deleted"


def test_batches_and_settle(sandbox: ThreadedSandbox) -> None:
    def book() -> None:
        for asset, amount in (("BTC", "1.5"), ("ETH", "-3"), ("USD", "100")):
            sandbox.sandbox.add_trade(asset, amount)

    sandbox.sync(book)
    created = run_cli("--json", "batches", "create", env=sandbox.env)
    assert created.returncode == 0, created.stderr
    batch_id = json.loads(created.stdout)["id"]

    unconfirmed = run_cli("settle", batch_id, env=sandbox.env)
    assert unconfirmed.returncode == 4 and "batch not confirmed" in unconfirmed.stdout
    assert "0 settled exactly once, 3 skipped (batch not confirmed)" in unconfirmed.stdout

    sandbox.sync(lambda: sandbox.sandbox.confirm_batch(batch_id))
    settled = run_cli("settle", batch_id, env=sandbox.env)
    assert settled.returncode == 0, settled.stderr
    assert "[3/3]" in settled.stderr  # progress, one plain line per leg
    lines = settled.stdout.splitlines()
    assert sum(line.split()[1:2] == ["settled"] for line in lines) == 3
    assert lines[-1] == "3 legs: 3 settled exactly once, 0 failed, 0 unknown"

    again = run_cli("settle", batch_id, "--json", env=sandbox.env)
    report = json.loads(again.stdout)
    assert again.returncode == 0 and {leg["result"] for leg in report["legs"]} == {"skipped"}
    assert report["verdict"].startswith("3 legs: 0 settled exactly once, 3 skipped (already")

    shown = run_cli("batches", "get", batch_id, env=sandbox.env)
    assert shown.returncode == 0 and "BTC" in shown.stdout and "ASSET" in shown.stdout
    assert re.search(r"^created\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", shown.stdout, re.M)
    listed = run_cli("batches", "list", "--status", "partially_settled", "--json", env=sandbox.env)
    assert [b["id"] for b in json.loads(listed.stdout)["data"]] == [batch_id]

    table = run_cli("batches", "list", env=sandbox.env)
    header, row = table.stdout.splitlines()
    assert header.split() == ["ID", "STATUS", "CONF", "LEGS", "CREATED", "UPDATED"]
    assert row.split()[:5] == [batch_id, "partially_settled", "yes", "3", "BTC,ETH,USD"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\dZ", t) for t in row.split()[5:])


def test_errors_are_one_clear_line_and_an_exit_code(sandbox: ThreadedSandbox) -> None:
    missing = run_cli("users", "list")
    assert missing.returncode == 2 and "KRAKEN_PRIME_API_KEY" in missing.stderr

    bad_ip = run_cli("keys", "update", "U1", "K1", "--ip", "10.0.0.1/8", env=sandbox.env)
    assert bad_ip.returncode == 2 and "whitelisted_ips[0]" in bad_ip.stderr

    refused = run_cli("batches", "create", env=sandbox.env)
    assert refused.returncode == 1
    assert "InvalidArgumentsError" in refused.stderr and "no unsettled trades" in refused.stderr

    wrong_secret = {**sandbox.env, "KRAKEN_PRIME_API_SECRET": "QUFBQUFBQUFBQUFBQUFBQQ=="}
    denied = run_cli("users", "list", env=wrong_secret)
    assert denied.returncode == 1 and "Invalid signature" in denied.stderr
    for output in (denied.stdout, denied.stderr, refused.stderr):
        assert sandbox.sandbox.api_secret not in output
        assert sandbox.sandbox.api_key not in output

    not_base64 = run_cli("users", "list", env={**sandbox.env, "KRAKEN_PRIME_API_SECRET": "nope!"})
    assert not_base64.returncode == 2 and "nope!" not in not_base64.stderr


def test_sandbox_command_prints_exports() -> None:
    with subprocess.Popen(  # noqa: S603 - our own script
        [str(SCRIPT), "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline().strip() for _ in range(3)]
        finally:
            process.terminate()
            process.wait(timeout=10)
    assert lines[0].startswith("export KRAKEN_PRIME_BASE_URL=http://127.0.0.1:")
    assert lines[1].startswith("export KRAKEN_PRIME_API_KEY=")
    assert lines[2].startswith("export KRAKEN_PRIME_API_SECRET=")
