"""``kraken-prime keys audit --journal PATH``: the keys a service's lost creates may have made
(``unattributed_key``), read from that service's journal; exit 4 like any finding.

These run ``main`` in this process, so they exercise this checkout's CLI (the installed script
may belong to another one); the subprocess tests cover the installed script.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kraken_prime_async import PrimeClient
from kraken_prime_async._journal.chain import verify
from kraken_prime_async.cli import main
from tests.cli._support import ThreadedSandbox
from tests.integration._lost_key import LostKey, lose_a_key_create
from tests.integration.test_integration_claims import Meanwhile

pytestmark = pytest.mark.integration


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadedSandbox]:
    with ThreadedSandbox().running() as threaded:
        for name, value in threaded.env.items():
            monkeypatch.setenv(name, value)
        yield threaded


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _a_service_loses_a_create(sandbox: ThreadedSandbox, path: Path) -> tuple[str, LostKey]:
    """A service with a file journal at ``path`` loses a key create's answer."""
    sb = sandbox.sandbox
    user_id = sandbox.sync(lambda: sb.add_api_user("Bot", "Viewer"))

    async def service() -> LostKey:
        transport = Meanwhile()
        client = PrimeClient(
            sb.api_key, sb.api_secret, base_url=sb.url, transport=transport, journal=path
        )
        async with client:
            return await lose_a_key_create(sb, client, transport, user_id)

    return user_id, sandbox.call(service)


def test_audit_with_the_services_journal_reports_the_unattributed_keys(
    sandbox: ThreadedSandbox, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "service.sqlite3"
    user_id, lost = _a_service_loses_a_create(sandbox, path)

    code, out, err = _run(capsys, "keys", "audit", user_id, "--journal", str(path))
    assert code == 4, err
    rows = [line for line in out.splitlines() if "unattributed_key" in line]
    assert {lost.own, lost.theirs} == {key for row in rows for key in row.split()[3:4]}
    assert all(row.split()[0] == "high" for row in rows)
    assert "4 findings; 2 keys of 1 user checked" in err

    code, out, _ = _run(capsys, "--json", "keys", "audit", "--journal", str(path))
    found = [f for f in json.loads(out)["findings"] if f["code"] == "unattributed_key"]
    assert code == 4 and {f["key_id"] for f in found} == set(lost.candidates)
    assert all(lost.request_id in f["message"] for f in found)

    code, out, _ = _run(capsys, "keys", "audit", user_id)  # the command's own journal: empty
    assert code == 4 and "unattributed_key" not in out  # no_ip_allowlist only


def test_the_export_carries_the_candidates_and_verifies(
    sandbox: ThreadedSandbox, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "service.sqlite3"
    _user_id, lost = _a_service_loses_a_create(sandbox, path)
    code, out, err = _run(capsys, "journal", "export", "--journal", str(path))
    assert code == 0, err
    outcome = json.loads(out.splitlines()[-1])
    assert (outcome["status"], tuple(outcome["candidates"])) == ("unknown", lost.candidates)
    exported = tmp_path / "audit.jsonl"
    exported.write_text(out)
    assert verify(exported.read_bytes().splitlines()) == (len(out.splitlines()), None)
    assert _run(capsys, "journal", "verify", str(exported))[0] == 0


def test_a_missing_journal_file_is_refused_not_created(
    sandbox: ThreadedSandbox, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _out, err = _run(capsys, "keys", "audit", "--journal", str(tmp_path / "typo"))
    assert code == 2 and "--journal" in err
    assert not (tmp_path / "typo").exists()
