"""``FastApiKeyClient`` against the embedded sandbox over real loopback HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kraken_prime_async import (
    AuthenticationError,
    CreatedFastApiKey,
    FastApiKeyClient,
    FastApiKeyInfo,
    FastApiKeyPermissions,
    InvalidArgumentsError,
    OutcomeUnknownError,
    PermissionDeniedError,
    PrimeClient,
    ValidationError,
)
from kraken_prime_async.sandbox import PrimeSandbox
from tests._fakes import FakeClock

pytestmark = pytest.mark.integration

READ = "account.fast-api-key:read"
WRITE = "account.fast-api-key:write"


@asynccontextmanager
async def oauth_sandbox(
    *, scopes: tuple[str, ...] = (READ, WRITE), client_kwargs: dict[str, Any] | None = None
) -> AsyncIterator[tuple[PrimeSandbox, FastApiKeyClient, FakeClock]]:
    """A sandbox and an OAuth client sharing one fake clock (nothing waits for real)."""
    clock = FakeClock()
    async with PrimeSandbox(rate_limit=False, clock=clock) as sb:
        kwargs: dict[str, Any] = {"sleep": clock.sleep, "clock": clock, **(client_kwargs or {})}
        if "access_token" not in kwargs and "token_provider" not in kwargs:
            kwargs["access_token"] = sb.issue_token(scopes)
        async with FastApiKeyClient(base_url=sb.url, **kwargs) as oauth:
            yield sb, oauth, clock


class Provider:
    """A token_provider that hands out the given tokens in turn and counts its calls."""

    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        await asyncio.sleep(0)
        return self.tokens.pop(0)


def names(keys: list[FastApiKeyInfo]) -> list[str | None]:
    return [key.api_key_name for key in keys]


# -- every operation -----------------------------------------------------------------------------


async def test_create_list_update_delete() -> None:
    async with oauth_sandbox() as (sb, oauth, clock):
        query_from = datetime.fromtimestamp(clock.now - 3600, tz=timezone.utc)
        created = await oauth.fast_api_keys.create(
            "bot-1",
            permissions=FastApiKeyPermissions(funds_query=True, trades_modify=False),
            ip_allowlist=["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"],
            nonce_window=5000,
            query_from=query_from,
            query_to=0,
            valid_until=int(clock.now) + 86400,
        )
        assert isinstance(created, CreatedFastApiKey)
        assert created.api_key_name == "bot-1"
        assert created.api_key and created.id
        assert len(created.secret.get_secret_value()) == 88  # base64 of 64 bytes
        assert "**" in repr(created) and created.secret.get_secret_value() not in repr(created)
        assert created.ip_allowlist == ("10.0.0.0/8", "2001:db8::/32", "192.0.2.7")
        assert created.nonce_window == 5000
        assert created.permissions == FastApiKeyPermissions(funds_query=True, trades_modify=False)
        assert created.query_from == int(clock.now) - 3600  # the aware datetime, as Unix seconds
        assert created.valid_until == int(clock.now) + 86400
        assert created.created_time == "2023-11-14T22:13:20Z" and created.purpose == "standard"

        listed = await oauth.fast_api_keys.list()
        assert names(listed) == ["bot-1"]
        assert listed[0].api_key == created.api_key
        assert not hasattr(listed[0], "secret")
        assert listed[0].last_used == 0

        assert (
            await oauth.fast_api_keys.update(
                "bot-1",
                new_api_key_name="bot-2",
                permissions={"funds_query": False, "ledger_query": True},
                ip_allowlist=[],
            )
            is True
        )
        (updated,) = await oauth.fast_api_keys.list()
        assert updated.api_key_name == "bot-2" and updated.ip_allowlist == ()
        assert updated.permissions == FastApiKeyPermissions(funds_query=False, ledger_query=True)
        assert updated.nonce_window == 5000  # fields not given are left alone

        assert await oauth.fast_api_keys.delete("bot-2") is True
        assert await oauth.fast_api_keys.list() == []
    assert [r.operation for r in sb.requests] == [
        "ListFastApiKeys",  # the names before the create (see docs/guarantees.md)
        "CreateFastApiKey",
        "ListFastApiKeys",
        "UpdateFastApiKey",
        "ListFastApiKeys",
        "DeleteFastApiKey",
        "ListFastApiKeys",
    ]
    assert all(r.status == 200 for r in sb.requests)


async def test_update_without_rename_sets_values() -> None:
    async with oauth_sandbox() as (_, oauth, _clock):
        await oauth.fast_api_keys.create("bot")
        assert await oauth.fast_api_keys.update("bot", nonce_window=10, valid_until=0)
        assert await oauth.fast_api_keys.update("bot", new_api_key_name="bot")  # same name
        (key,) = await oauth.fast_api_keys.list()
        assert key.nonce_window == 10 and key.api_key_name == "bot"


async def test_duplicate_and_unknown_names_are_refused_without_retry() -> None:
    async with oauth_sandbox() as (sb, oauth, _):
        await oauth.fast_api_keys.create("bot")
        await oauth.fast_api_keys.create("other")
        with pytest.raises(InvalidArgumentsError, match="duplicate api_key_name"):
            await oauth.fast_api_keys.create("bot")
        with pytest.raises(InvalidArgumentsError, match="duplicate api_key_name"):
            await oauth.fast_api_keys.update("bot", new_api_key_name="other")
        for call in (
            oauth.fast_api_keys.update("ghost", nonce_window=1),
            oauth.fast_api_keys.update("ghost", new_api_key_name="x"),
            oauth.fast_api_keys.delete("ghost"),
        ):
            with pytest.raises(InvalidArgumentsError, match="unknown api_key_name") as info:
                await call
            assert info.value.status == 400
    # each create reads the names first
    assert [r.status for r in sb.requests] == [200] * 5 + [400] * 5


# -- validation: nothing is sent -------------------------------------------------------------------

Call = Callable[[FastApiKeyClient], Awaitable[Any]]
NAIVE = datetime(2030, 1, 1)  # deliberately naive


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda o: o.fast_api_keys.create(""), "api_key_name"),
        (lambda o: o.fast_api_keys.create("   "), "api_key_name"),
        (lambda o: o.fast_api_keys.create("x" * 33), "api_key_name"),
        (lambda o: o.fast_api_keys.create("bad\nname"), "api_key_name"),
        (lambda o: o.fast_api_keys.create(42), "api_key_name"),
        (lambda o: o.fast_api_keys.create("k", ip_allowlist=["10.0.0.1/8"]), "ip_allowlist[0]"),
        (
            lambda o: o.fast_api_keys.create("k", ip_allowlist=["1.2.3.4", "nope"]),
            "ip_allowlist[1]",
        ),
        (lambda o: o.fast_api_keys.create("k", ip_allowlist="10.0.0.1"), "ip_allowlist"),
        (lambda o: o.fast_api_keys.create("k", ip_allowlist=["::1", "::1"]), "ip_allowlist"),
        (lambda o: o.fast_api_keys.create("k", nonce_window=-1), "nonce_window"),
        (lambda o: o.fast_api_keys.create("k", nonce_window=True), "nonce_window"),
        (lambda o: o.fast_api_keys.create("k", nonce_window=1.5), "nonce_window"),
        (
            lambda o: o.fast_api_keys.create("k", permissions={"funds_query": "yes"}),
            "permissions['funds_query']",
        ),
        (
            lambda o: o.fast_api_keys.create("k", permissions={"withdrawal_address_add": True}),
            "permissions['withdrawal_address_add']",
        ),
        (lambda o: o.fast_api_keys.create("k", permissions=["funds_query"]), "permissions"),
        (lambda o: o.fast_api_keys.create("k", query_from=NAIVE), "query_from"),
        (lambda o: o.fast_api_keys.create("k", query_to=-1), "query_to"),
        (lambda o: o.fast_api_keys.create("k", valid_until="tomorrow"), "valid_until"),
        (lambda o: o.fast_api_keys.create("k", valid_until=NAIVE), "valid_until"),
        (lambda o: o.fast_api_keys.create("k", query_from=200, query_to=100), "query_from"),
        (lambda o: o.fast_api_keys.update("k"), "new_api_key_name"),
        (lambda o: o.fast_api_keys.update("k", new_api_key_name="y" * 33), "new_api_key_name"),
        (lambda o: o.fast_api_keys.update("", nonce_window=1), "api_key_name"),
        (lambda o: o.fast_api_keys.update("k", ip_allowlist=["300.1.1.1"]), "ip_allowlist[0]"),
        (lambda o: o.fast_api_keys.delete("x" * 33), "api_key_name"),
        (lambda o: o.fast_api_keys.delete(None), "api_key_name"),
    ],
)
async def test_bad_input_is_refused_before_sending(call: Call, field: str) -> None:
    async with oauth_sandbox() as (sb, oauth, _):
        with pytest.raises(ValidationError) as info:
            await call(oauth)
        assert info.value.field == field
        assert isinstance(info.value, ValueError)
    assert sb.requests == []


async def test_aware_datetimes_of_any_zone_become_unix_seconds() -> None:
    async with oauth_sandbox() as (_, oauth, _clock):
        plus_two = timezone(timedelta(hours=2))
        until = datetime(2030, 1, 1, 2, 0, 30, 900_000, tzinfo=plus_two)
        created = await oauth.fast_api_keys.create("k", valid_until=until, query_to=until)
        expected = int(datetime(2030, 1, 1, 0, 0, 30, tzinfo=timezone.utc).timestamp())
        assert created.valid_until == created.query_to == expected


# -- tokens, scopes and refresh --------------------------------------------------------------------


async def test_a_token_without_the_scope_is_permission_denied_and_not_retried() -> None:
    async with oauth_sandbox(scopes=(READ,)) as (sb, oauth, _):
        assert await oauth.fast_api_keys.list() == []
        with pytest.raises(PermissionDeniedError) as info:
            await oauth.fast_api_keys.create("bot")
        assert info.value.status == 403 and info.value.errors == ("EGeneral:Permission denied",)
        with pytest.raises(PermissionDeniedError):
            await oauth.fast_api_keys.delete("bot")
    assert [r.status for r in sb.requests] == [200, 200, 403, 403]
    async with oauth_sandbox(scopes=(WRITE,)) as (sb, oauth, _):
        with pytest.raises(PermissionDeniedError):
            await oauth.fast_api_keys.list()
    assert len(sb.requests) == 1


async def test_an_expired_token_without_provider_is_not_retried() -> None:
    async with oauth_sandbox() as (sb, oauth, clock):
        clock.now += 86400
        with pytest.raises(AuthenticationError) as info:
            await oauth.fast_api_keys.list()
        assert info.value.status == 401 and info.value.errors == ("EAuth:Invalid token",)
        assert oauth.stats.attempts == 1 and oauth.stats.token_refreshes == 0
    assert len(sb.requests) == 1 and clock.sleeps == []


@pytest.mark.parametrize("how", ["expired", "revoked"])
async def test_a_refused_token_is_refreshed_once_through_the_provider(how: str) -> None:
    clock = FakeClock()
    async with PrimeSandbox(rate_limit=False, clock=clock) as sb:
        old = sb.issue_token(expires_in=60)
        provider = Provider(sb.issue_token(expires_in=86400))
        async with FastApiKeyClient(
            old, sb.url, token_provider=provider, sleep=clock.sleep, clock=clock
        ) as oauth:
            await oauth.fast_api_keys.create("bot")
            if how == "expired":
                clock.now += 120
            else:
                sb.revoke_token(old)
            assert names(await oauth.fast_api_keys.list()) == ["bot"]
            assert names(await oauth.fast_api_keys.list()) == ["bot"]  # the new token is kept
            assert provider.calls == 1
            stats = oauth.stats
            assert stats.token_refreshes == 1 and stats.failures == 0
        assert [r.status for r in sb.requests] == [200, 200, 401, 200, 200]
        assert clock.sleeps == []


async def test_a_bad_token_from_the_provider_fails_after_exactly_one_refresh() -> None:
    provider = Provider("also-not-a-token", "never-asked-for")
    kwargs = {"access_token": "expired-token", "token_provider": provider}
    async with oauth_sandbox(client_kwargs=kwargs) as (sb, oauth, _):
        with pytest.raises(AuthenticationError) as info:
            await oauth.fast_api_keys.create("bot")
        assert info.value.status == 401
        assert provider.calls == 1
    assert [r.status for r in sb.requests] == [401, 401]


async def test_without_access_token_the_provider_supplies_the_first() -> None:
    clock = FakeClock()
    async with PrimeSandbox(rate_limit=False, clock=clock) as sb:
        provider = Provider(sb.issue_token())
        async with FastApiKeyClient(base_url=sb.url, token_provider=provider) as oauth:
            assert "token_fingerprint=None" in repr(oauth)
            assert await oauth.fast_api_keys.list() == []
            assert await oauth.fast_api_keys.list() == []
            assert "token_fingerprint=None" not in repr(oauth)
        assert provider.calls == 1 and [r.status for r in sb.requests] == [200, 200]


async def test_concurrent_calls_refused_with_one_token_share_one_refresh() -> None:
    clock = FakeClock()
    async with PrimeSandbox(rate_limit=False, clock=clock) as sb:
        old = sb.issue_token()
        provider = Provider(sb.issue_token())
        async with FastApiKeyClient(old, sb.url, token_provider=provider) as oauth:
            sb.revoke_token(old)
            results = await asyncio.gather(*(oauth.fast_api_keys.list() for _ in range(6)))
        assert results == [[]] * 6
        assert provider.calls == 1
        statuses = [r.status for r in sb.requests]
        assert statuses.count(200) == 6 and statuses.count(401) <= 6


# -- retries and lost answers --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["http_500", "http_502_html", "http_503_html", "drop_after"])
async def test_list_is_retried_after_server_errors(kind: Any) -> None:
    async with oauth_sandbox() as (sb, oauth, clock):
        sb.faults.add("ListFastApiKeys", kind)
        assert await oauth.fast_api_keys.list() == []
        assert oauth.stats.retries == 1
    assert len(sb.calls("ListFastApiKeys")) == 2
    assert len(clock.sleeps) == 1  # the backoff went through the injected sleep


async def test_create_is_retried_when_kraken_says_unavailable() -> None:
    async with oauth_sandbox() as (sb, oauth, _):
        sb.faults.add("CreateFastApiKey", "error", message="EService:Unavailable")
        created = await oauth.fast_api_keys.create("bot")
        assert created.api_key_name == "bot"
    assert [r.processed for r in sb.calls("CreateFastApiKey")] == [False, True]


async def test_create_whose_answer_was_lost_deletes_the_secretless_key_and_creates_again() -> None:
    async with oauth_sandbox(client_kwargs={"sole_writer": True}) as (sb, oauth, _):
        sb.faults.add("CreateFastApiKey", "drop_after")
        created = await oauth.fast_api_keys.create("bot", nonce_window=3)
        assert created.api_key_name == "bot" and created.nonce_window == 3
        assert names(await oauth.fast_api_keys.list()) == ["bot"]
        assert oauth.stats.outcome_unknown == 0 and oauth.stats.resolved_lost_answers == 1
    assert [r.processed for r in sb.calls("CreateFastApiKey")] == [True, True]
    assert len(sb.calls("DeleteFastApiKey")) == 1  # the key whose secret was lost


@pytest.mark.parametrize("kind", ["drop_before", "http_500", "http_502_html"])
async def test_create_whose_answer_was_lost_is_sent_again_when_not_created(kind: Any) -> None:
    async with oauth_sandbox() as (sb, oauth, _):
        sb.faults.add("CreateFastApiKey", kind)
        assert (await oauth.fast_api_keys.create("bot")).api_key_name == "bot"
        assert names(await oauth.fast_api_keys.list()) == ["bot"]
    assert [r.processed for r in sb.calls("CreateFastApiKey")] == [False, True]
    assert sb.calls("DeleteFastApiKey") == []


async def test_create_whose_answer_was_lost_and_cannot_be_read_back() -> None:
    async with oauth_sandbox() as (sb, oauth, _):
        sb.faults.add("CreateFastApiKey", "drop_after")
        with pytest.raises(OutcomeUnknownError, match="could not be read back"):
            await _after_first_list(sb, oauth.fast_api_keys.create("bot"))
    assert len(sb.calls("CreateFastApiKey")) == 1 and sb.calls("DeleteFastApiKey") == []


async def _after_first_list(sb: PrimeSandbox, call: Awaitable[Any]) -> Any:
    """Run ``call``; every ``ListFastApiKeys`` after the first fails with HTTP 500."""
    original = sb.faults.take

    def take(operation: str) -> Any:
        if operation == "ListFastApiKeys" and sb.calls("ListFastApiKeys"):
            sb.faults.add("ListFastApiKeys", "http_500")
        return original(operation)

    sb.faults.take = take  # type: ignore[method-assign]
    try:
        return await call
    finally:
        sb.faults.take = original  # type: ignore[method-assign]


async def test_a_write_only_token_still_creates_and_a_lost_answer_stays_unknown() -> None:
    async with oauth_sandbox(scopes=(WRITE,)) as (sb, oauth, _):
        assert (await oauth.fast_api_keys.create("bot")).api_key_name == "bot"
        sb.faults.add("CreateFastApiKey", "drop_after")
        with pytest.raises(OutcomeUnknownError, match="could not be read back"):
            await oauth.fast_api_keys.create("bot2")
    assert len(sb.calls("CreateFastApiKey")) == 2 and sb.calls("DeleteFastApiKey") == []


async def test_delete_whose_answer_was_lost_is_read_back() -> None:
    async with oauth_sandbox() as (sb, oauth, _):
        await oauth.fast_api_keys.create("gone")
        await oauth.fast_api_keys.create("kept")
        sb.faults.add("DeleteFastApiKey", "drop_after")
        assert await oauth.fast_api_keys.delete("gone") is True
        sb.faults.add("DeleteFastApiKey", "drop_before")
        with pytest.raises(OutcomeUnknownError, match="'kept' still exists"):
            await oauth.fast_api_keys.delete("kept")
        assert names(await oauth.fast_api_keys.list()) == ["kept"]
    assert len(sb.calls("DeleteFastApiKey")) == 2  # neither was re-sent


async def test_rename_whose_answer_was_lost_is_read_back_not_resent() -> None:
    async with oauth_sandbox() as (sb, oauth, _):
        await oauth.fast_api_keys.create("old")
        sb.faults.add("UpdateFastApiKey", "drop_after")
        assert await oauth.fast_api_keys.update("old", new_api_key_name="new") is True
        sb.faults.add("UpdateFastApiKey", "drop_before")
        with pytest.raises(OutcomeUnknownError, match="does not show 'new' renamed to 'newer'"):
            await oauth.fast_api_keys.update("new", new_api_key_name="newer")
        assert names(await oauth.fast_api_keys.list()) == ["new"]
    assert len(sb.calls("UpdateFastApiKey")) == 2


async def test_update_without_rename_is_retried_after_a_lost_answer() -> None:
    async with oauth_sandbox() as (sb, oauth, _):
        await oauth.fast_api_keys.create("bot")
        sb.faults.add("UpdateFastApiKey", "drop_after")
        assert await oauth.fast_api_keys.update("bot", nonce_window=7) is True
    assert [r.processed for r in sb.calls("UpdateFastApiKey")] == [True, True]


# -- the bridge to PrimeClient -------------------------------------------------------------------


async def _max_concurrency(sb: PrimeSandbox, created: CreatedFastApiKey, calls: int) -> int:
    """Send ``calls`` concurrent Prime calls with the bridged key; the most on the wire at once."""
    in_flight = peak = 0

    async def start(*_: Any) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)

    async def end(*_: Any) -> None:
        nonlocal in_flight
        in_flight -= 1

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(start)
    trace.on_request_end.append(end)
    trace.on_request_exception.append(end)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        token = sb.issue_token()
        async with FastApiKeyClient(token, sb.url) as oauth:
            prime = PrimeClient.from_fast_api_key(
                created, base_url=oauth.base_url, session=session, rate_limit=None
            )
        async with prime:
            results = await asyncio.gather(*(prime.api_users.list() for _ in range(calls)))
            assert len(results) == calls
            assert prime.stats.nonce_rejections == 0 and prime.stats.attempts == calls
    return peak


async def test_a_created_key_becomes_a_working_prime_client() -> None:
    async with PrimeSandbox(rate_limit=False, latency=(0.005, 0.02), seed=3) as sb:
        async with FastApiKeyClient(sb.issue_token(), sb.url) as oauth:
            windowed = await oauth.fast_api_keys.create("windowed", nonce_window=5000)
            serial = await oauth.fast_api_keys.create("serial")
            async with PrimeClient.from_fast_api_key(windowed, base_url=oauth.base_url) as prime:
                user = await prime.api_users.create(name="Desk", role="Trader")
                assert [u.id for u in await prime.api_users.list()] == [user.id]
            signed = [r for r in sb.requests if r.api_key == windowed.api_key]
            assert [r.status for r in signed] == [200, 200, 200]  # list, create, list

        assert await _max_concurrency(sb, windowed, 8) > 1  # the window lets requests overlap
        assert await _max_concurrency(sb, serial, 4) == 1  # window 0: one at a time


async def test_the_bridge_carries_the_window_and_refuses_a_larger_one() -> None:
    async with oauth_sandbox() as (sb, oauth, _):
        created = await oauth.fast_api_keys.create("bot", nonce_window=5000)
        client = PrimeClient.from_fast_api_key(created, base_url=oauth.base_url)
        assert client.base_url == sb.url
        assert client._gate.window_seconds == 5.0  # 5000 ms nonces
        lowered = PrimeClient.from_fast_api_key(created, nonce_window=0, base_url="https://x")
        assert lowered._gate.window_seconds == 0.0 and lowered.base_url == "https://x"
        with pytest.raises(ValidationError) as info:
            PrimeClient.from_fast_api_key(created, base_url=oauth.base_url, nonce_window=5001)
        assert info.value.field == "nonce_window"
        listed = (await oauth.fast_api_keys.list())[0]
        with pytest.raises(ValidationError) as info:
            PrimeClient.from_fast_api_key(listed)  # type: ignore[arg-type]
        assert info.value.field == "created"
        for made in (client, lowered):
            await made.close()


async def test_a_deleted_fast_key_is_revoked_for_prime_calls() -> None:
    async with oauth_sandbox() as (_, oauth, clock):
        created = await oauth.fast_api_keys.create("bot")
        async with PrimeClient.from_fast_api_key(
            created, base_url=oauth.base_url, sleep=clock.sleep
        ) as prime:
            assert await prime.api_users.list() == []
            await oauth.fast_api_keys.delete("bot")
            with pytest.raises(AuthenticationError):
                await prime.api_users.list()


async def test_the_guides_first_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    guide = (Path(__file__).parents[2] / "docs/fast-api-keys.md").read_text()
    code = guide.split("```python\n", 1)[1].split("```", 1)[0]
    code = code.replace("asyncio.run(main())", "")
    namespace: dict[str, Any] = {}
    exec(compile(code, "fast-api-keys.md", "exec"), namespace)  # noqa: S102 - our own docs
    await namespace["main"]()
    printed = capsys.readouterr().out
    assert "CreatedFastApiKey(" in printed and "['desk-bot-2']" in printed
    assert "SecretStr('**********')" in printed
