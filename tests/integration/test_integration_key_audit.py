"""``api_user_keys.audit``: the rules, and findings on a seeded sandbox."""

from __future__ import annotations

import pytest

from kraken_prime_async import ApiKey, ApiUser, KeyAudit, ValidationError
from kraken_prime_async._resources.key_audit import findings_for
from tests.integration._env import sandbox_and_client

pytestmark = pytest.mark.integration

DAY = 86400.0


def _user(role: str = "Viewer", status: str = "Enabled") -> ApiUser:
    return ApiUser(id="U1", name="n", status=status, roles=(role,))


def _key(
    key_id: str = "K1", ips: tuple[str, ...] = ("203.0.113.7",), updated_at: int = 0
) -> ApiKey:
    return ApiKey(id=key_id, whitelisted_ips=ips, updated_at=updated_at)


def _codes(user: ApiUser, keys: list[ApiKey], **kwargs: object) -> list[str]:
    return [f.code for f in findings_for(user, keys, **kwargs)]  # type: ignore[arg-type]


def test_a_well_kept_key_has_no_findings() -> None:
    assert _codes(_user(), [_key(ips=("203.0.113.0/24", "2001:db8::/48", "10.0.0.1"))]) == []


@pytest.mark.parametrize(
    ("ips", "codes"),
    [
        ((), ["no_ip_allowlist"]),
        (("10.0.0.0/23",), ["wide_ip_range"]),
        (("0.0.0.0/0", "10.0.0.1"), ["wide_ip_range"]),
        (("2001:db8::/47",), ["wide_ip_range"]),
        (("not-an-ip",), ["unparsable_ip_entry"]),
    ],
)
def test_allow_list_rules(ips: tuple[str, ...], codes: list[str]) -> None:
    assert _codes(_user(), [_key(ips=ips)]) == codes


def test_user_rules() -> None:
    assert _codes(_user(role="Trader"), [_key()]) == ["trader_key"]
    assert _codes(_user(status="Disabled"), [_key()]) == ["disabled_user_key"]
    three = [_key("K1"), _key("K2"), _key("K3")]
    found = findings_for(_user(), three)
    assert [(f.code, f.key_id, f.severity) for f in found] == [("many_keys", None, "medium")]
    assert _codes(_user(), three[:2]) == []


def test_stale_needs_a_unit() -> None:
    now = 1_700_000_000.0
    old_ms = int((now - 100 * DAY) * 1000)
    keys = [_key(updated_at=old_ms)]
    assert _codes(_user(), keys, now=now) == []  # no unit given: not checked
    assert _codes(_user(), keys, now=now, stale_after=90 * DAY, updated_at_unit="ms") == ["stale"]
    assert _codes(_user(), keys, now=now, stale_after=120 * DAY, updated_at_unit="ms") == []
    recent_s = [_key(updated_at=int(now - DAY))]
    assert _codes(_user(), recent_s, now=now, stale_after=90 * DAY, updated_at_unit="s") == []


async def test_audit_of_a_seeded_sandbox() -> None:
    async with sandbox_and_client() as (sb, client, clock):
        tidy = sb.add_api_user("tidy", "Viewer")
        tidy_key = sb.add_api_key(tidy)
        await client.api_user_keys.update(tidy, tidy_key.key_id, whitelisted_ips=["192.0.2.10"])
        trader = sb.add_api_user("desk", "Trader")
        open_key = sb.add_api_key(trader)
        wide_key = sb.add_api_key(trader)
        await client.api_user_keys.update(trader, wide_key.key_id, whitelisted_ips=["10.0.0.0/8"])
        sb.add_api_key(trader)
        sb.clear_requests()

        report = await client.api_user_keys.audit()
        assert isinstance(report, KeyAudit) and not report.clean
        assert (report.users_checked, report.keys_checked) == (2, 4)
        assert {f.user_id for f in report.findings} == {trader}
        pairs = {(f.code, f.key_id) for f in report.findings}
        assert ("no_ip_allowlist", open_key.key_id) in pairs
        assert ("wide_ip_range", wide_key.key_id) in pairs
        assert ("many_keys", None) in pairs
        assert sum(code == "trader_key" for code, _ in pairs) == 3
        assert report.findings[0].severity == "high"  # most urgent first
        assert {r.operation for r in sb.requests} == {"ListPrimeApiUsers", "ListPrimeApiUserKeys"}

        only_tidy = await client.api_user_keys.audit([tidy])
        assert only_tidy.clean and (only_tidy.users_checked, only_tidy.keys_checked) == (1, 1)

        clock.now += 400 * DAY  # the sandbox's updated_at is in ms
        stale = await client.api_user_keys.audit(
            [tidy], stale_after=365 * DAY, updated_at_unit="ms"
        )
        assert [(f.code, f.key_id) for f in stale.findings] == [("stale", tidy_key.key_id)]


async def test_audit_arguments_are_checked_before_sending() -> None:
    async with sandbox_and_client() as (sb, client, _):
        for kwargs, field in [
            ({"user_ids": "U1"}, "user_ids"),
            ({"user_ids": ["U 1"]}, "user_ids[0]"),
            ({"stale_after": 10.0}, "updated_at_unit"),
            ({"stale_after": 10.0, "updated_at_unit": "us"}, "updated_at_unit"),
            ({"stale_after": -1.0, "updated_at_unit": "s"}, "stale_after"),
            ({"updated_at_unit": "s"}, "updated_at_unit"),
        ]:
            with pytest.raises(ValidationError) as info:
                await client.api_user_keys.audit(**kwargs)  # type: ignore[arg-type]
            assert info.value.field == field
        assert sb.requests == []
