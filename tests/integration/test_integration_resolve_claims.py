"""A create resolved later (``journal.resolve_pending()``) is attributed against the
registrations as they stood before its own read-before-write: a create that ended meanwhile
(another task's, whose caller holds the new key's secret) is never taken for it, so its key is
never deleted as an orphan."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from kraken_prime_async import FastApiKeyClient, OutcomeUnknownError, PrimeClient
from kraken_prime_async._resources._reconcile import claims
from kraken_prime_async.sandbox import PrimeSandbox
from tests._fakes import FakeClock
from tests.integration._lost_key import account, pending
from tests.integration.test_integration_claims import WINDOW, Meanwhile

pytestmark = pytest.mark.integration

CREATE_KEY = "CreatePrimeApiUserKey"
LIST_KEYS = "ListPrimeApiUserKeys"


async def test_resolving_a_lost_create_leaves_a_key_made_meanwhile_alone() -> None:
    async with account() as acc:
        sb = acc.sandbox
        user = sb.add_api_user("Bot", "Viewer")
        client, transport = acc.client(sole_writer=True)
        async with client:
            await _lose_a_create(sb, client, transport, user)
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
            await _lose_a_create(sb, first, transport, user)
            theirs = await first.api_user_keys.create(user)
        async with _restarted(acc, path) as restarted:
            resolved = await restarted.journal.resolve_pending()
            assert [r.status for r in resolved] == ["not_applied"]
            assert {k.id for k in await restarted.api_user_keys.list(user)} == {theirs.id}
        assert sb.calls("DeletePrimeApiUserKey") == []


async def test_resolving_again_after_a_restart_keeps_the_journals_view(tmp_path: Path) -> None:
    # A first resolution that cannot read the state leaves the write registered in the new
    # process; the next one must look at the journal's records again, not at an empty view.
    async with account() as acc:
        sb = acc.sandbox
        user = sb.add_api_user("Bot", "Viewer")
        path = tmp_path / "journal.sqlite3"
        first, transport = acc.client(journal=str(path), sole_writer=True)
        async with first:
            await _lose_a_create(sb, first, transport, user)
            theirs = await first.api_user_keys.create(user)  # its caller holds the secret
        async with _restarted(acc, path) as restarted:
            sb.faults.add(LIST_KEYS, "drop_before", times=None)
            assert [r.status for r in await restarted.journal.resolve_pending()] == ["unknown"]
            sb.faults.clear()
            assert [r.status for r in await restarted.journal.resolve_pending()] == ["not_applied"]
            assert {k.id for k in await restarted.api_user_keys.list(user)} == {theirs.id}
        assert sb.calls("DeletePrimeApiUserKey") == []


async def test_a_name_an_earlier_create_used_is_not_taken_as_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Fast API key's name can be used again once deleted: the journal's record of the first
    # "n1" must not explain the "n1" a lost create made later (nor make it "not applied").
    clock = FakeClock()
    async with PrimeSandbox(rate_limit=False, clock=clock) as sb:
        token = sb.issue_token(("account.fast-api-key:read", "account.fast-api-key:write"))
        path = str(tmp_path / "journal.sqlite3")
        transport = Meanwhile()
        options: dict[str, Any] = {"sleep": clock.sleep, "clock": clock, "journal": path}
        first = FastApiKeyClient(
            base_url=sb.url, access_token=token, sole_writer=True, transport=transport, **options
        )
        async with first:
            await first.fast_api_keys.create("n1")
            await first.fast_api_keys.delete("n1")

            async def lose() -> None:
                sb.faults.add("CreateFastApiKey", "drop_after")
                sb.faults.add("ListFastApiKeys", "drop_before", times=None)

            transport.before["CreateFastApiKey"] = lose
            with pytest.raises(OutcomeUnknownError):
                await first.fast_api_keys.create("n1")
            sb.faults.clear()
        # A new process: none of the first one's registrations (an OAuth client's journal
        # records are its base URL's, so the restarted client keeps the URL).
        monkeypatch.setattr(claims, "_PROCESS", claims._ProcessClaims())
        restarted = FastApiKeyClient(
            base_url=sb.url, access_token=token, sole_writer=True, **options
        )
        async with restarted:
            resolved = await restarted.journal.resolve_pending()
            assert [r.status for r in resolved] == ["unknown"]  # candidates, not "not applied"
            assert "n1" in (resolved[0].error or "")
            assert [k.api_key_name for k in await restarted.fast_api_keys.list()] == ["n1"]


async def _lose_a_create(
    sb: PrimeSandbox, client: PrimeClient, transport: Meanwhile, user: str
) -> None:
    """``client``'s key create for ``user`` is never processed, and its read-back fails: it
    ends unknown and stays pending in the journal."""

    async def lose() -> None:
        sb.faults.add(CREATE_KEY, "drop_before")
        sb.faults.add(LIST_KEYS, "drop_before", times=None)

    transport.before[CREATE_KEY] = lose
    with contextlib.suppress(OutcomeUnknownError):
        await client.api_user_keys.create(user)
    transport.before.clear()
    sb.faults.clear()


def _restarted(acc: Any, path: Path) -> PrimeClient:
    """A client of the account's key in a new process (another place: none of the first
    process's registrations), on the same journal file."""
    sb = acc.sandbox
    return PrimeClient(
        sb.api_key,
        sb.api_secret,
        base_url=sb.url.replace("127.0.0.1", "localhost"),
        nonce_window=WINDOW,
        sleep=acc.clock.sleep,
        clock=acc.clock,
        journal=str(path),
        sole_writer=True,
    )
