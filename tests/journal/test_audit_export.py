"""The audit export: hash-chained JSON lines; ``verify`` passes an export and names the first
broken record of any one-byte change; the ``kraken-prime journal`` commands."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from kraken_prime_async import PrimeClient
from kraken_prime_async._journal.chain import GENESIS, verify
from kraken_prime_async.sandbox import PrimeSandbox
from tests._fakes import FakeClock
from tests.cli._support import run_cli

pytestmark = pytest.mark.integration


async def _journal_with_writes(path: Path) -> list[str]:
    clock = FakeClock()
    async with PrimeSandbox(rate_limit=False, clock=clock) as sb:
        client = PrimeClient(
            sb.api_key,
            sb.api_secret,
            base_url=sb.url,
            sleep=clock.sleep,
            clock=clock,
            journal=path,
            sole_writer=True,
        )
        async with client:
            await client.api_users.create("Desk A", "Trader", idempotency_key="u")
            user_id = sb.add_api_user("Desk K")
            await client.api_user_keys.create(user_id)
            sb.add_trade("BTC", "1")
            batch = await client.settlement.create_batch()
            sb.confirm_batch(batch.id)
            await client.settlement.settle_batch(batch.id)
            return [line async for line in client.journal.export()]


async def test_an_export_verifies_and_any_one_byte_change_names_its_record(
    tmp_path: Path,
) -> None:
    lines = await _journal_with_writes(tmp_path / "j.sqlite3")
    data = [line.encode() for line in lines]
    assert len(data) >= 10
    assert json.loads(data[0])["prev"] == GENESIS
    assert verify(data) == (len(data), None)
    rng = random.Random(7)
    for _ in range(40):
        index = rng.randrange(len(data))
        line = bytearray(data[index])
        at = rng.randrange(len(line) - 1)  # not the newline
        line[at] = ord("x") if line[at] != ord("x") else ord("y")
        changed = [*data[:index], bytes(line), *data[index + 1 :]]
        _count, broken = verify(changed)
        assert broken is not None and broken.line == index + 1, (index, at, broken)


async def test_a_removed_or_reordered_record_is_named(tmp_path: Path) -> None:
    data = [line.encode() for line in await _journal_with_writes(tmp_path / "j.sqlite3")]
    _count, removed = verify([*data[:3], *data[4:]])
    assert removed is not None and removed.line == 4 and "removed" in removed.problem
    _count, swapped = verify([data[0], data[2], data[1], *data[3:]])
    assert swapped is not None and swapped.line == 2


async def test_export_since(tmp_path: Path) -> None:
    lines = await _journal_with_writes(tmp_path / "j.sqlite3")
    middle = json.loads(lines[len(lines) // 2])["at"]
    client = PrimeClient("KEYKEYKEYKEYKEY", "c2VjcmV0", journal=tmp_path / "j.sqlite3")
    later = [line async for line in client.journal.export(since=middle)]
    await client.close()
    assert 0 < len(later) < len(lines)
    assert all(json.loads(line)["at"] >= middle for line in later)
    assert verify(line.encode() for line in later)[1] is None


async def test_the_journal_commands(tmp_path: Path) -> None:
    await _journal_with_writes(tmp_path / "j.sqlite3")
    exported = run_cli("journal", "export", "--journal", str(tmp_path / "j.sqlite3"))
    assert exported.returncode == 0, exported.stderr
    audit = tmp_path / "audit.jsonl"
    audit.write_text(exported.stdout)
    ok = run_cli("journal", "verify", str(audit))
    assert ok.returncode == 0 and "intact" in ok.stderr
    lines = exported.stdout.splitlines(keepends=True)
    lines[2] = lines[2].replace('"kind":"', '"kind":"X', 1)
    audit.write_text("".join(lines))
    bad = run_cli("journal", "verify", str(audit), "--json")
    assert bad.returncode == 4
    assert json.loads(bad.stdout)["broken"]["record"] == 3
    assert "record 3" in bad.stderr
    missing = run_cli("journal", "export", "--journal", str(tmp_path / "nope.sqlite3"))
    assert missing.returncode == 2 and "--journal" in missing.stderr
    assert not (tmp_path / "nope.sqlite3").exists()
