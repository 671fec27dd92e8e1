"""``kraken-prime fast-keys``, run as subprocesses against a sandbox served from a thread."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from kraken_prime_async.sandbox import _fast_api
from tests.cli._support import ThreadedSandbox, run_cli

pytestmark = pytest.mark.integration


@pytest.fixture
def sandbox() -> Iterator[ThreadedSandbox]:
    with ThreadedSandbox().running() as threaded:
        yield threaded


def _env(sandbox: ThreadedSandbox, *scopes: str) -> tuple[dict[str, str], str]:
    if scopes:
        token = sandbox.sync(lambda: sandbox.sandbox.issue_token(scopes))
    else:
        token = sandbox.sync(sandbox.sandbox.issue_token)
    env = {"KRAKEN_PRIME_BASE_URL": sandbox.sandbox.url, "KRAKEN_OAUTH_TOKEN": token}
    return env, token


def test_create_list_update_delete(sandbox: ThreadedSandbox) -> None:
    env, token = _env(sandbox)
    created = run_cli(
        "fast-keys",
        "create",
        "bot-1",
        "--ip",
        "10.0.0.0/8",
        "--nonce-window",
        "5000",
        "--allow",
        "funds_query",
        "--deny",
        "funds_withdraw",
        "--valid-until",
        "2030-01-01T00:00:00Z",
        "--print-secret",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    secret_lines = [line for line in created.stdout.splitlines() if line.startswith("secret: ")]
    assert len(secret_lines) == 1 and "*" not in secret_lines[0]
    secret = secret_lines[0].split(": ", 1)[1]
    assert created.stdout.count(secret) == 1  # printed once
    assert "cannot be retrieved again" in created.stderr
    assert "bot-1" in created.stdout and "API KEY NAME" in created.stdout

    listed = run_cli("--json", "fast-keys", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    (key,) = json.loads(listed.stdout)
    assert key["api_key_name"] == "bot-1" and key["nonce_window"] == 5000
    assert key["ip_allowlist"] == ["10.0.0.0/8"] and key["valid_until"] == 1893456000
    assert key["permissions"]["funds_query"] is True
    assert key["permissions"]["funds_withdraw"] is False
    assert secret not in listed.stdout

    renamed = run_cli(
        "--json", "fast-keys", "update", "bot-1", "--new-name", "bot-2", "--clear-ips", env=env
    )
    assert renamed.returncode == 0 and json.loads(renamed.stdout) == {"updated": True}
    table = run_cli("fast-keys", "list", env=env)
    assert "bot-2" in table.stdout and "funds_query" in table.stdout

    deleted = run_cli("fast-keys", "delete", "bot-2", env=env)
    assert deleted.returncode == 0 and deleted.stdout.strip() == "deleted"
    assert run_cli("fast-keys", "list", env=env).stdout.strip() == "(none)"

    for done in (created, listed, renamed, table, deleted):
        assert token not in done.stdout and token not in done.stderr


def test_token_from_the_command_line(sandbox: ThreadedSandbox) -> None:
    env, token = _env(sandbox)
    url = env["KRAKEN_PRIME_BASE_URL"]
    for given in (["--token", token], [f"--token={token}"]):
        listed = run_cli("--base-url", url, "--json", "fast-keys", "list", *given)
        assert listed.returncode == 0, listed.stderr
        assert json.loads(listed.stdout) == []


def test_a_token_that_starts_with_a_dash_is_still_the_tokens_value(
    sandbox: ThreadedSandbox,
) -> None:
    url = sandbox.sandbox.url
    for given in (["--token", "-not-a-token"], ["--token=-not-a-token"]):
        refused = run_cli("--base-url", url, "fast-keys", "list", *given)
        assert refused.returncode == 1, refused.stderr  # sent, and refused by the sandbox
        assert "AuthenticationError" in refused.stderr and "-not-a-token" not in refused.stderr


def test_the_sandbox_never_issues_a_token_that_starts_with_a_dash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drawn = iter(["-first", "-second", "third"])
    monkeypatch.setattr("secrets.token_urlsafe", lambda nbytes: next(drawn))
    assert _fast_api.new_token(32) == "third"


def test_exit_codes(sandbox: ThreadedSandbox) -> None:
    env, token = _env(sandbox)
    missing = run_cli(
        "fast-keys", "list", env={"KRAKEN_PRIME_BASE_URL": env["KRAKEN_PRIME_BASE_URL"]}
    )
    assert missing.returncode == 2 and "KRAKEN_OAUTH_TOKEN" in missing.stderr

    for bad in (
        ("fast-keys", "create", "x" * 33),
        ("fast-keys", "create", "k", "--ip", "10.0.0.1/8"),
        ("fast-keys", "create", "k", "--valid-until", "2030-01-01T00:00:00"),  # naive
        ("fast-keys", "create", "k", "--valid-until", "soon"),
        ("fast-keys", "create", "k", "--allow", "funds_add", "--deny", "funds_add"),
        ("fast-keys", "update", "k"),
    ):
        refused = run_cli(*bad, env=env)
        assert refused.returncode == 2, (bad, refused.stderr)
    assert sandbox.sync(lambda: sandbox.sandbox.requests) == []  # nothing was sent

    unknown = run_cli("fast-keys", "delete", "ghost", env=env)
    assert unknown.returncode == 1 and "unknown api_key_name" in unknown.stderr

    read_only, read_token = _env(sandbox, "account.fast-api-key:read")
    denied = run_cli("fast-keys", "create", "k", "--print-secret", env=read_only)
    assert denied.returncode == 1 and "PermissionDeniedError" in denied.stderr

    sandbox.sync(lambda: sandbox.sandbox.revoke_token(token))
    revoked = run_cli("fast-keys", "list", env=env)
    assert revoked.returncode == 1 and "AuthenticationError" in revoked.stderr

    sandbox.sync(lambda: sandbox.sandbox.faults.add("CreateFastApiKey", "drop_after"))
    # The key the lost request created cannot be told from another writer's (the client is not
    # told it is the sole writer): reported, never deleted, an outcome the caller must see.
    sandbox.sync(lambda: sandbox.sandbox.faults.add("DeleteFastApiKey", "http_500", times=None))
    lost = run_cli(
        "fast-keys",
        "create",
        "lost",
        "--print-secret",
        env=read_only | {"KRAKEN_OAUTH_TOKEN": _env(sandbox)[1]},
    )
    assert lost.returncode == 3 and "nothing was deleted" in lost.stderr

    for done in (unknown, denied, revoked, lost):
        for secret in (token, read_token):
            assert secret not in done.stdout and secret not in done.stderr
