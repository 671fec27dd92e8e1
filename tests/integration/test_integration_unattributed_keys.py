"""``api_user_keys.audit()`` reports the keys a lost create may have made (``unattributed_key``):
the candidates its ``OutcomeUnknownError`` named, kept by the client's journal while the write
stays pending, against the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from kraken_prime_async import ApiKey, ApiUser, KeyAudit
from kraken_prime_async._journal.base import Intent
from kraken_prime_async._resources.key_audit import _sorted, lost_creates, unattributed_findings
from tests.integration._lost_key import (
    CREATE_KEY,
    LostKey,
    account,
    lose_a_key_create,
    pending,
)

pytestmark = pytest.mark.integration


def _unattributed(report: KeyAudit) -> dict[str, str]:
    return {f.key_id or "": f.message for f in report.findings if f.code == "unattributed_key"}


def _intent(intent_id: str, at: float, *candidates: str) -> Intent:
    return Intent(
        id=intent_id,
        key="k",
        operation=CREATE_KEY,
        arguments={"user_id": "U1"},
        digest="d",
        at=at,
        owner="",
        request_id=f"req-{intent_id}",
        candidates=candidates,
    )


def test_only_candidates_still_listed_are_reported_once_each() -> None:
    user = ApiUser(id="U1", name="n", status="Enabled", roles=("Viewer",))
    lost = {"K1": [_intent("i1", 1.0, "K1"), _intent("i2", 2.0, "K1", "K9")], "K9": []}
    (finding,) = unattributed_findings(user, [ApiKey(id="K1"), ApiKey(id="K2")], lost)
    assert (finding.key_id, finding.severity) == ("K1", "high")
    assert "journal intent i1, request req-i1, and 1 later" in finding.message
    assert unattributed_findings(user, [ApiKey(id="K2")], lost) == []


async def test_no_journal_no_lost_creates() -> None:
    assert await lost_creates(None) == {}  # a bare pipeline


def _check_reported(report: KeyAudit, lost: LostKey, intent_id: str) -> None:
    found = _unattributed(report)
    assert set(found) == set(lost.candidates)
    for message in found.values():
        assert f"journal intent {intent_id}, request {lost.request_id})" in message
        assert "nobody may hold its secret: delete it unless you know it" in message
        assert "\n" not in message
    assert {f.severity for f in report.findings if f.code == "unattributed_key"} == {"high"}
    assert report.findings == _sorted(report.findings)


async def test_the_candidates_of_a_lost_create_are_reported() -> None:
    async with account() as acct:
        sb = acct.sandbox
        user_id = sb.add_api_user("Bot", "Viewer")
        elsewhere = sb.add_api_user("Desk", "Viewer")
        sb.add_api_key(elsewhere)
        client, transport = acct.client()  # the default in-memory journal
        async with client:
            lost = await lose_a_key_create(sb, client, transport, user_id)
            (write,) = await pending(client.journal)
            report = await client.api_user_keys.audit()
            _check_reported(report, lost, write.id)
            assert (report.users_checked, report.keys_checked) == (2, 3)
            assert _unattributed(await client.api_user_keys.audit([elsewhere])) == {}
        restarted, _ = acct.client()  # a new process: its memory journal knows nothing
        async with restarted:
            assert _unattributed(await restarted.api_user_keys.audit()) == {}


async def test_a_file_journal_reports_them_after_a_restart_until_deleted(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    async with account() as acct:
        sb = acct.sandbox
        user_id = sb.add_api_user("Bot", "Viewer")
        client, transport = acct.client(path)
        async with client:
            lost = await lose_a_key_create(sb, client, transport, user_id)
            (write,) = await pending(client.journal)
        restarted, _ = acct.client(path)
        async with restarted:
            _check_reported(await restarted.api_user_keys.audit(), lost, write.id)
            await restarted.api_user_keys.delete(user_id, lost.own)  # nobody held its secret
            assert set(_unattributed(await restarted.api_user_keys.audit())) == {lost.theirs}
            await restarted.api_user_keys.delete(user_id, lost.theirs)
            report = await restarted.api_user_keys.audit()
            assert _unattributed(report) == {} and report.keys_checked == 0
            assert [p.id for p in await pending(restarted.journal)] == [write.id]


async def test_a_settled_create_is_no_longer_reported(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    async with account() as acct:
        sb = acct.sandbox
        user_id = sb.add_api_user("Bot", "Viewer")
        client, transport = acct.client(path)
        async with client:
            lost = await lose_a_key_create(sb, client, transport, user_id)
            await client.api_user_keys.delete(user_id, lost.theirs)  # the other service's, known
        # the other key gone, the lost create's own key is the only new one left; resolved by a
        # client told no writer outside it creates on the account, it is taken as the create's
        # own and deleted (its secret was lost)
        resolver, _ = acct.client(path, sole_writer=True)
        async with resolver:
            (settled,) = await resolver.journal.resolve_pending()
            assert settled.status == "not_applied"
            report = await resolver.api_user_keys.audit()
            assert _unattributed(report) == {} and await pending(resolver.journal) == []
        assert [r.processed for r in sb.calls("DeletePrimeApiUserKey")] == [True, True]
        assert report.keys_checked == 0
