"""New secrets go to a 0600 file that did not exist, or to stdout only with --print-secret."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from kraken_prime_async import PrimeClient
from kraken_prime_async.cli._secret_file import SecretFile, write_secret_file
from kraken_prime_async.errors import ValidationError
from tests.cli._support import ThreadedSandbox, run_cli

CREATE_KEY = "CreatePrimeApiUserKey"


@pytest.fixture
def sandbox() -> Iterator[ThreadedSandbox]:
    with ThreadedSandbox().running() as threaded:
        yield threaded


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_secret_file_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0)  # a umask that would leave the file world-readable
    try:
        path = write_secret_file(tmp_path / "secret", "c2VjcmV0")
    finally:
        os.umask(previous)
    assert _mode(path) == 0o600
    assert path.read_text() == "c2VjcmV0"  # exactly as issued, no newline


def test_an_existing_file_or_link_is_never_overwritten(tmp_path: Path) -> None:
    existing = tmp_path / "existing"
    existing.write_text("keep me")
    with pytest.raises(ValidationError, match=r"--secret-file: .* exists; it is never overwritten"):
        write_secret_file(existing, "c2VjcmV0")
    assert existing.read_text() == "keep me"

    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere")  # dangling: O_EXCL refuses to follow it
    with pytest.raises(ValidationError, match="exists"):
        write_secret_file(link, "c2VjcmV0")
    assert not (tmp_path / "elsewhere").exists()

    with pytest.raises(ValidationError, match="cannot create"):
        write_secret_file(tmp_path / "no-such-dir" / "secret", "c2VjcmV0")


def test_a_reservation_without_a_secret_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    reserved = SecretFile(path)
    with reserved:
        assert path.exists() and _mode(path) == 0o600 and path.read_text() == ""
    assert not path.exists()  # left without write(): the key could not be created


@pytest.mark.integration
def test_keys_create_writes_the_secret_file_and_prints_no_secret(
    sandbox: ThreadedSandbox, tmp_path: Path
) -> None:
    user_id = sandbox.sync(lambda: sandbox.sandbox.add_api_user("Desk A", "Trader"))
    path = tmp_path / "desk-a.secret"
    created = run_cli(  # -vv: the SDK's debug log too stays free of the secret
        "keys", "create", user_id, "--secret-file", str(path), "-vv", env=sandbox.env
    )
    assert created.returncode == 0, created.stderr
    assert _mode(path) == 0o600
    secret = path.read_text()
    assert len(secret) > 40
    assert secret not in created.stdout and secret not in created.stderr
    assert f"written to {path} (mode 0600)" in created.stderr
    assert "DEBUG kraken_prime_async" in created.stderr
    header, row = created.stdout.splitlines()
    assert header.split()[:3] == ["ID", "API", "KEY"]
    api_key = row.split()[1]

    async def works() -> int:  # the file holds the secret of the key just created
        async with PrimeClient(api_key, secret, base_url=sandbox.sandbox.url) as client:
            return len((await client.settlement.list_batches()).data)

    assert sandbox.call(works) == 0

    as_json = run_cli(
        "keys", "create", user_id, "--secret-file", str(tmp_path / "2"), "--json", env=sandbox.env
    )
    document = json.loads(as_json.stdout)
    assert "api_secret" not in document and document["secret_file"] == str(tmp_path / "2")
    assert (tmp_path / "2").read_text() not in as_json.stdout + as_json.stderr

    shown = run_cli("keys", "create", user_id, "--print-secret", "--json", env=sandbox.env)
    assert len(json.loads(shown.stdout)["api_secret"]) > 40


@pytest.mark.integration
def test_keys_create_refuses_before_sending_anything(
    sandbox: ThreadedSandbox, tmp_path: Path
) -> None:
    user_id = sandbox.sync(lambda: sandbox.sandbox.add_api_user("Desk A", "Trader"))
    existing = tmp_path / "existing"
    existing.write_text("keep me")
    refused = run_cli("keys", "create", user_id, "--secret-file", str(existing), env=sandbox.env)
    assert refused.returncode == 2 and "never overwritten" in refused.stderr
    assert existing.read_text() == "keep me"

    neither = run_cli("keys", "create", user_id, env=sandbox.env)
    assert neither.returncode == 2
    assert "give --secret-file PATH (written with mode 0600) or --print-secret" in neither.stderr
    assert sandbox.sync(lambda: sandbox.sandbox.calls(CREATE_KEY)) == []

    unknown = tmp_path / "for-unknown-user"
    failed = run_cli("keys", "create", "NOSUCHUSER", "--secret-file", str(unknown), env=sandbox.env)
    assert failed.returncode in (1, 2) and not unknown.exists()  # no empty file left behind
