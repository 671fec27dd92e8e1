"""A create resolved later (``journal.resolve_pending()``) is attributed against the
registrations as they stood before its own read-before-write: a create that ended meanwhile
(another task's, whose caller holds the new key's secret) is never taken for it, so its key is
never deleted as an orphan."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from kraken_prime_async import OutcomeUnknownError, PrimeClient
from tests.integration._lost_key import account, pending
from tests.integration.test_integration_claims import WINDOW

pytestmark = pytest.mark.integration

CREATE_KEY = "CreatePrimeApiUserKey"
LIST_KEYS = "ListPrimeApiUserKeys"


async def test_resolving_a_lost_create_leaves_a_key_made_meanwhile_alone() -> None:
    async with account() as acc:
        sb = acc.sandbox
        user = sb.add_api_user("Bot", "Viewer")
        client, transport = acc.client(sole_writer=True)
        async with client:

            async def lose() -> None:
                sb.faults.add(CREATE_KEY, "drop_before")  # never processed
                sb.faults.add(LIST_KEYS, "drop_before", times=None)  # and the read-back fails

            transport.before[CREATE_KEY] = lose
            with contextlib.suppress(OutcomeUnknownError):
                await client.api_user_keys.create(user)
            transport.before.clear()
            sb.faults.clear()
            assert len(await pending(client.journal)) == 1
            theirs = await client.api_user_keys.create(user)  # another task's: it succeeds
            resolved = await client.journal.resolve_pending()
            assert [r.status for r in resolved] == ["not_applied"]
            assert {k.id for k in await client.api_user_keys.list(user)} == {theirs.id}
            assert sb.calls("DeletePrimeApiUserKey") == []


async def test_after_a_restart_the_journal_says_which_creates_came_since(tmp_path: Path) -> None:
    # The restarted process never saw the lost create registered (another base URL: another
    # place, as another process): the journal's records of the creates since stand in for
    # the registrations, so the key the first process made next is not taken for the lost one.
    async with account() as acc:
        sb = acc.sandbox
        user = sb.add_api_user("Bot", "Viewer")
        path = tmp_path / "journal.sqlite3"
        first, transport = acc.client(journal=str(path), sole_writer=True)
        async with first:

            async def lose() -> None:
                sb.faults.add(CREATE_KEY, "drop_before")
                sb.faults.add(LIST_KEYS, "drop_before", times=None)

            transport.before[CREATE_KEY] = lose
            with contextlib.suppress(OutcomeUnknownError):
                await first.api_user_keys.create(user)
            transport.before.clear()
            sb.faults.clear()
            theirs = await first.api_user_keys.create(user)
        restarted = PrimeClient(
            sb.api_key,
            sb.api_secret,
            base_url=sb.url.replace("127.0.0.1", "localhost"),
            nonce_window=WINDOW,
            sleep=acc.clock.sleep,
            clock=acc.clock,
            journal=str(path),
            sole_writer=True,
        )
        async with restarted:
            resolved = await restarted.journal.resolve_pending()
            assert [r.status for r in resolved] == ["not_applied"]
            assert {k.id for k in await restarted.api_user_keys.list(user)} == {theirs.id}
        assert sb.calls("DeletePrimeApiUserKey") == []
