"""``kraken-prime keys rotate`` and ``kraken-prime keys audit``, run as subprocesses."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from kraken_prime_async import AuthenticationError, PrimeClient
from kraken_prime_async.sandbox import SandboxCredentials
from tests.cli._support import ThreadedSandbox, run_cli

pytestmark = pytest.mark.integration


@pytest.fixture
def sandbox() -> Iterator[ThreadedSandbox]:
    with ThreadedSandbox().running() as threaded:
        yield threaded


def _seed(sandbox: ThreadedSandbox, role: str = "Trader") -> tuple[str, SandboxCredentials]:
    sb = sandbox.sandbox
    user_id = sandbox.sync(lambda: sb.add_api_user("Desk", role))
    return user_id, sandbox.sync(lambda: sb.add_api_key(user_id))


def _key_ids(sandbox: ThreadedSandbox, user_id: str) -> list[str]:
    listed = run_cli("--json", "keys", "list", user_id, env=sandbox.env)
    assert listed.returncode == 0, listed.stderr
    return [key["id"] for key in json.loads(listed.stdout)]


def _works(sandbox: ThreadedSandbox, api_key: str, secret: str) -> bool:
    async def probe() -> bool:
        async with PrimeClient(api_key, secret, base_url=sandbox.sandbox.url) as client:
            try:
                await client.settlement.list_batches(limit=1)
            except AuthenticationError:
                return False
            return True

    return sandbox.call(probe)


def test_rotate_writes_the_secret_to_a_new_0600_file_and_prints_nothing_secret(
    sandbox: ThreadedSandbox, tmp_path: Path
) -> None:
    user_id, old = _seed(sandbox)
    path = tmp_path / "new.secret"
    done = run_cli(
        "keys", "rotate", user_id, old.key_id, "--secret-file", str(path), env=sandbox.env
    )
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = path.read_text()
    assert secret and "\n" not in secret  # exactly as issued
    for stream in (done.stdout, done.stderr):
        assert secret not in stream
        assert sandbox.env["KRAKEN_PRIME_API_SECRET"] not in stream
    (new_id,) = _key_ids(sandbox, user_id)
    assert new_id != old.key_id and new_id in done.stdout
    api_key = next(line.split()[1] for line in done.stdout.splitlines() if line.startswith(new_id))
    assert _works(sandbox, api_key, secret)
    assert not _works(sandbox, old.api_key, old.api_secret)


def test_rotate_json_masks_the_secret(sandbox: ThreadedSandbox, tmp_path: Path) -> None:
    user_id, old = _seed(sandbox)
    path = tmp_path / "s"
    done = run_cli(
        "--json", "keys", "rotate", user_id, old.key_id, "--secret-file", str(path), env=sandbox.env
    )
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert "api_secret" not in shown and shown["secret_file"] == str(path)
    assert path.read_text().strip() not in done.stdout + done.stderr


def test_rotate_refuses_an_existing_file_before_changing_anything(
    sandbox: ThreadedSandbox, tmp_path: Path
) -> None:
    user_id, old = _seed(sandbox)
    path = tmp_path / "taken"
    path.write_text("keep me\n")
    done = run_cli(
        "keys", "rotate", user_id, old.key_id, "--secret-file", str(path), env=sandbox.env
    )
    assert done.returncode == 2 and "--secret-file" in done.stderr and "exists" in done.stderr
    assert path.read_text() == "keep me\n"
    assert _key_ids(sandbox, user_id) == [old.key_id]
    assert not sandbox.sync(lambda: sandbox.sandbox.calls("CreatePrimeApiUserKey"))


def test_rotate_needs_somewhere_to_put_the_secret(sandbox: ThreadedSandbox) -> None:
    user_id, old = _seed(sandbox)
    done = run_cli("keys", "rotate", user_id, old.key_id, env=sandbox.env)
    assert done.returncode == 2 and "--print-secret" in done.stderr
    assert _key_ids(sandbox, user_id) == [old.key_id]


def test_rotate_prints_the_secret_only_when_asked(sandbox: ThreadedSandbox) -> None:
    user_id, old = _seed(sandbox)
    done = run_cli("keys", "rotate", user_id, old.key_id, "--print-secret", env=sandbox.env)
    assert done.returncode == 0, done.stderr
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("api_secret: ")]
    secret = line.split(": ", 1)[1]
    assert "*" not in secret and secret not in done.stderr
    (new_id,) = _key_ids(sandbox, user_id)
    api_key = next(x.split()[1] for x in done.stdout.splitlines() if x.startswith(new_id))
    assert _works(sandbox, api_key, secret)


def test_rotate_failure_removes_the_unused_secret_file(
    sandbox: ThreadedSandbox, tmp_path: Path
) -> None:
    user_id, _ = _seed(sandbox)
    path = tmp_path / "s"
    done = run_cli(
        "keys", "rotate", user_id, "NOSUCHKEY", "--secret-file", str(path), env=sandbox.env
    )
    assert done.returncode == 1 and "KeyRotationError" in done.stderr
    assert not path.exists()


def test_audit_table_json_and_exit_codes(sandbox: ThreadedSandbox) -> None:
    trader, open_key = _seed(sandbox, "Trader")
    viewer, viewer_key = _seed(sandbox, "Viewer")
    fenced = run_cli(
        "keys", "update", viewer, viewer_key.key_id, "--ip", "192.0.2.1", env=sandbox.env
    )
    assert fenced.returncode == 0, fenced.stderr

    table = run_cli("keys", "audit", env=sandbox.env)
    assert table.returncode == 4, table.stderr
    assert "no_ip_allowlist" in table.stdout and "trader_key" in table.stdout
    assert open_key.key_id in table.stdout and viewer_key.key_id not in table.stdout
    assert "2 findings; 2 keys of 2 users checked" in table.stderr

    report = json.loads(run_cli("--json", "keys", "audit", trader, env=sandbox.env).stdout)
    assert report["users_checked"] == 1
    assert {(f["code"], f["severity"]) for f in report["findings"]} == {
        ("no_ip_allowlist", "high"),
        ("trader_key", "low"),
    }

    after = json.loads(run_cli("keys", "audit", trader, "--json", env=sandbox.env).stdout)
    assert after == report  # --json after the command as well

    clean = run_cli("keys", "audit", viewer, env=sandbox.env)
    assert clean.returncode == 0 and "(none)" in clean.stdout

    stale = run_cli("keys", "audit", viewer, "--stale-days", "30", env=sandbox.env)
    assert stale.returncode == 2 and "--updated-at-unit" in stale.stderr


def test_keys_commands_read_the_secret_file_variable(
    sandbox: ThreadedSandbox, tmp_path: Path
) -> None:
    path = tmp_path / "owner.secret"
    path.write_text(sandbox.env["KRAKEN_PRIME_API_SECRET"] + "\n")
    env = {**sandbox.env, "KRAKEN_PRIME_API_SECRET_FILE": str(path)}
    both = run_cli("keys", "audit", env=env)
    assert both.returncode == 2 and "not both" in both.stderr
    del env["KRAKEN_PRIME_API_SECRET"]
    done = run_cli("keys", "audit", env=env)
    assert done.returncode == 0, done.stderr
    assert sandbox.env["KRAKEN_PRIME_API_SECRET"] not in done.stdout + done.stderr


def test_a_stopped_rotation_still_saves_the_live_new_keys_secret(
    sandbox: ThreadedSandbox, tmp_path: Path
) -> None:
    user_id, old = _seed(sandbox)
    sb = sandbox.sandbox
    sandbox.sync(
        lambda: sb.faults.add(
            "DeletePrimeApiUserKey", "error", message="EGeneral:Permission denied", times=2
        )
    )
    path = tmp_path / "s"
    done = run_cli(
        "keys", "rotate", user_id, old.key_id, "--secret-file", str(path), env=sandbox.env
    )
    assert done.returncode == 1 and "KeyRotationError" in done.stderr
    secret = path.read_text().strip()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret not in done.stdout + done.stderr
    ids = _key_ids(sandbox, user_id)
    assert old.key_id in ids and len(ids) == 2
    (new_id,) = set(ids) - {old.key_id}
    assert f"the new key {new_id} is live" in done.stderr
