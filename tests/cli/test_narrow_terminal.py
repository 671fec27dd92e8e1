"""The first hour on an 80x24 terminal: nothing a user must copy is cut, times read as times.

Each command runs on a pseudo-terminal that says it is 80 columns wide, while the emulated screen
is wider: a line written past column 80 shows as a longer row instead of wrapping out of sight.
Every id and API key (taken from the same command's ``--json``) must be on the screen whole.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from decimal import Decimal

import pytest

from tests.cli._support import ThreadedSandbox, run_cli, run_pty

pytestmark = pytest.mark.integration

COLUMNS = 80
ROWS = 24
SETTLE = "SettlePrimeSettlementBatchAsset"
#: A run of 10 or more digits: an epoch time shown raw (seconds or milliseconds).
EPOCH = re.compile(r"(?<![\w.])\d{10,13}(?![\w.])")
ISO = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d)?Z\b")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ThreadedSandbox]:
    with ThreadedSandbox().running() as threaded:
        yield threaded


def _screen(*args: str, env: dict[str, str]) -> tuple[int, list[str]]:
    code, _, screen = run_pty(
        *args, env=env, columns=COLUMNS, rows=ROWS, screen_columns=2 * COLUMNS
    )
    return code, screen


def _assert_fits(screen: list[str], *whole: str) -> None:
    shown = "\n".join(screen)
    assert all(len(row) <= COLUMNS for row in screen), shown
    for value in whole:
        assert any(value in row for row in screen), f"{value!r} not whole on screen:\n{shown}"
    assert not EPOCH.search(shown), shown


def _oauth_env(sandbox: ThreadedSandbox) -> dict[str, str]:
    token = sandbox.sync(sandbox.sandbox.issue_token)
    return {"KRAKEN_PRIME_BASE_URL": sandbox.sandbox.url, "KRAKEN_OAUTH_TOKEN": token}


def test_fast_keys_create_and_list(sandbox: ThreadedSandbox, tmp_path: object) -> None:
    env = _oauth_env(sandbox)
    secret = f"{tmp_path}/bot.secret"
    code, created = _screen(
        "fast-keys",
        "create",
        "desk-a-settlement-bot",
        "--ip",
        "10.0.0.0/8",
        "--ip",
        "192.0.2.17",
        "--nonce-window",
        "5000",
        "--allow",
        "funds_query",
        "--allow",
        "ledger_query",
        "--valid-until",
        "2030-01-01T00:00:00Z",
        "--secret-file",
        secret,
        env=env,
    )
    assert code == 0, "\n".join(created)
    (key,) = json.loads(run_cli("--json", "fast-keys", "list", env=env).stdout)
    _assert_fits(created, key["api_key"], key["api_key_name"], "2030-01-01T00:00:00Z")
    assert any("cannot be retrieved again" in row for row in created)

    code, listed = _screen("fast-keys", "list", env=env)
    assert code == 0, "\n".join(listed)
    _assert_fits(listed, key["api_key"], "desk-a-settlement-bot", "10.0.0.0/8", "192.0.2.17")


def test_keys_list_and_audit(sandbox: ThreadedSandbox) -> None:
    sb = sandbox.sandbox
    user_id = sandbox.sync(lambda: sb.add_api_user("Desk A", "Trader"))
    for _ in range(2):
        sandbox.sync(lambda: sb.add_api_key(user_id))
    keys = json.loads(run_cli("--json", "keys", "list", user_id, env=sandbox.env).stdout)

    code, listed = _screen("keys", "list", user_id, env=sandbox.env)
    assert code == 0, "\n".join(listed)
    _assert_fits(listed, *(k["id"] for k in keys), *(k["api_key"] for k in keys))
    assert ISO.search("\n".join(listed))  # UPDATED AT as a time, not epoch milliseconds

    code, audit = _screen("keys", "audit", user_id, env=sandbox.env)
    assert code == 4, "\n".join(audit)
    _assert_fits(audit, user_id, *(k["id"] for k in keys))
    text = " ".join(" ".join(audit).split())
    assert "no IP allow-list: usable from anywhere" in text  # the message wrapped, not cut
    assert "…" not in text
    assert "4 findings; 2 keys of 1 user checked" in text


def test_batches_list_and_settle(sandbox: ThreadedSandbox) -> None:
    sb = sandbox.sandbox
    for asset, amount in (("BTC", "0.75"), ("ETH", "-12.5"), ("USD", "-48250.00")):
        sandbox.sync(functools.partial(sb.add_trade, asset, Decimal(amount)))
    batch = json.loads(run_cli("--json", "batches", "create", env=sandbox.env).stdout)
    sandbox.sync(lambda: sb.confirm_batch(batch["id"]))

    code, listed = _screen("batches", "list", env=sandbox.env)
    assert code == 0, "\n".join(listed)
    _assert_fits(listed, batch["id"])
    assert ISO.search("\n".join(listed))

    code, settled = _screen("settle", batch["id"], "--wait-confirmation", "300", env=sandbox.env)
    assert code == 0, "\n".join(settled)
    _assert_fits(settled, batch["id"], "3 legs: 3 settled exactly once, 0 failed, 0 unknown")
    # The batch is confirmed: nothing is said about waiting for a confirmation.
    assert not any("confirm" in row for row in settled), "\n".join(settled)


def test_interrupted_settle_says_what_was_done_and_the_line_to_run_again() -> None:
    with ThreadedSandbox(latency=(0.4, 0.4)).running() as sandbox:
        sb = sandbox.sandbox
        assets = ("BTC", "ETH", "USD", "EUR", "SOL", "XRP")
        for asset in assets:
            sandbox.sync(functools.partial(sb.add_trade, asset, Decimal("1")))
        batch = json.loads(run_cli("--json", "batches", "create", env=sandbox.env).stdout)["id"]
        sandbox.sync(lambda: sb.confirm_batch(batch))
        command = ("settle", batch, "--concurrency", "1")
        code, _, screen = run_pty(
            *command, env=sandbox.env, columns=COLUMNS, rows=ROWS, interrupt_on=b"1/6"
        )
        shown = "\n".join(screen)
        assert code == 130, shown
        said = " ".join(shown.split())
        rerun = f"kraken-prime {' '.join(command)}"
        assert re.search(
            rf"interrupted: \d of 6 legs settled \(batch {batch}\); the same command is safe "
            rf"to run again: {re.escape(rerun)}$",
            said,
        ), shown
        assert "check the state" not in said and "━" not in shown  # the bar was removed

        again = run_cli(*command, env=sandbox.env)
        assert again.returncode == 0, again.stderr
        settled = [r for r in sandbox.sync(lambda: sb.calls(SETTLE)) if r.processed]
        assert sorted(record.arguments["asset"] for record in settled) == sorted(assets)
