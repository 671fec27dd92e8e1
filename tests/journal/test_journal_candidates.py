"""A lost create's ``candidates`` in the journal: recorded on its ``unknown`` outcome, kept on its
pending intent, through the file journal and its export, and ended by a later resolution."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from kraken_prime_async._journal.base import Entry, Intent, fold
from kraken_prime_async._journal.chain import verify
from kraken_prime_async._journal.journal import Journal
from kraken_prime_async._journal.sqlite import SqliteJournal
from tests.integration._lost_key import CREATE_KEY, account, lose_a_key_create, pending

pytestmark = pytest.mark.integration


def _outcome(status: str, candidates: tuple[str, ...] | None = None) -> Entry:
    return Entry(kind="outcome", intent="i1", key="k", at=2.0, status=status, candidates=candidates)


def test_an_entry_without_candidates_encodes_as_before() -> None:
    old = b'{"kind":"outcome","intent":"i1","key":"k","at":2.0,"status":"unknown"}'
    entry = _outcome("unknown")
    assert msgspec.json.encode(entry) == old
    assert msgspec.json.decode(old, type=Entry) == entry
    state = msgspec.json.decode(
        b'{"id":"i1","key":"k","operation":"o","arguments":{},"digest":"d","at":1.0,"owner":""}',
        type=Intent,
    )
    assert state.candidates == ()  # a state recorded before the field existed


def test_fold_keeps_the_latest_candidates_until_the_write_ends() -> None:
    state = fold(None, Entry(kind="intent", intent="i1", key="k", at=1.0, operation=CREATE_KEY))
    state = fold(state, _outcome("unknown", ("A", "B")))
    assert state is not None and state.pending and state.candidates == ("A", "B")
    state = fold(state, _outcome("unknown"))  # a resolution that could not read the state
    assert state is not None and state.candidates == ("A", "B")
    state = fold(state, _outcome("unknown", ("B",)))  # one that read it again
    assert state is not None and state.candidates == ("B",)
    state = fold(state, _outcome("not_applied"))
    assert state is not None and not state.pending


async def test_candidates_survive_the_file_journal_and_its_export(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    async with account() as acct:
        user_id = acct.sandbox.add_api_user("Bot", "Viewer")
        client, transport = acct.client(path)
        async with client:
            lost = await lose_a_key_create(acct.sandbox, client, transport, user_id)
            key = client.journal.key
        # another reader of the file (what a restart finds, what `journal export` reads)
        journal = Journal(SqliteJournal(path), key, owned=True)
        try:
            (write,) = await pending(journal)
            lines = [line async for line in journal.export()]
        finally:
            await journal.close()
    assert (write.operation, write.arguments) == (CREATE_KEY, {"user_id": user_id})
    assert write.candidates == lost.candidates and write.request_id == lost.request_id
    outcome = json.loads(lines[-1])
    assert (outcome["kind"], outcome["status"]) == ("outcome", "unknown")
    assert tuple(outcome["candidates"]) == lost.candidates
    assert verify(line.encode() for line in lines) == (len(lines), None)


async def test_a_resolution_keeps_them_while_unknown_and_ends_the_write(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    async with account() as acct:
        sb = acct.sandbox
        user_id = sb.add_api_user("Bot", "Viewer")
        client, transport = acct.client(path)
        async with client:
            lost = await lose_a_key_create(sb, client, transport, user_id)
        again, _ = acct.client(path)  # a restart
        async with again:
            (still,) = await again.journal.resolve_pending()
            assert still.status == "unknown"  # the same two keys: still not attributable
            (write,) = await pending(again.journal)
            assert write.candidates == lost.candidates
            for key_id in lost.candidates:
                await again.api_user_keys.delete(user_id, key_id)
            (ended,) = await again.journal.resolve_pending()
            assert (ended.status, ended.how) == ("not_applied", "not_applied")
            assert await pending(again.journal) == []
