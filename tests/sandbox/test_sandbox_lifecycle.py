"""Server lifecycle, constructor checks and the pure rule classes."""

from __future__ import annotations

import asyncio
import base64

import aiohttp
import pytest

from kraken_prime_async.sandbox import Announcement, PrimeSandbox, serve
from kraken_prime_async.sandbox._rules import TIERS, Lockout, NonceTracker, SandboxCallCounter


async def test_start_close_and_restart_keep_state() -> None:
    sb = PrimeSandbox()
    with pytest.raises(RuntimeError, match="not started"):
        _ = sb.url
    await sb.start()
    await sb.start()  # idempotent
    assert sb.url.startswith("http://127.0.0.1:")
    assert len(base64.b64decode(sb.api_secret, validate=True)) == 64
    assert sb.api_key.startswith("KRA")
    trade = sb.add_trade("BTC", "1")
    await sb.close()
    await sb.close()
    with pytest.raises(RuntimeError):
        _ = sb.url
    await sb.start()
    try:
        assert trade in sb._state.trades
    finally:
        await sb.close()


@pytest.mark.parametrize(
    "options",
    [
        {"tier": "gold"},
        {"nonce_window": -1},
        {"latency": (0.2, 0.1)},
        {"lockout_after": 0},
    ],
)
def test_constructor_rejects_bad_options(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - several messages
        PrimeSandbox(**options)  # type: ignore[arg-type]


async def test_serve_announces_and_runs_until_cancelled() -> None:
    announced: list[Announcement] = []
    task = asyncio.create_task(serve(announce=announced.append))
    for _ in range(100):
        if announced:
            break
        await asyncio.sleep(0.005)
    (announcement,) = announced
    assert announcement.url.startswith("http://127.0.0.1:")
    assert announcement.api_key.startswith("KRA")
    for secret in (announcement.api_secret, announcement.oauth_token, announcement.admin_token):
        assert secret and secret not in repr(announcement)
    exports = announcement.export_lines()
    assert [line.split("=", 1)[0] for line in exports] == [
        "export KRAKEN_PRIME_BASE_URL",
        "export KRAKEN_PRIME_API_KEY",
        "export KRAKEN_PRIME_API_SECRET",
        "export KRAKEN_OAUTH_TOKEN",
        "export KRAKEN_SANDBOX_ADMIN_TOKEN",
    ]
    assert exports[0] == f"export KRAKEN_PRIME_BASE_URL={announcement.url}"
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{announcement.url}/0/private/ListPrimeApiUsers", data=b"{}") as response,
    ):
        assert (await response.json())["error"] == ["EAPI:Invalid key"]
    headers = {"Authorization": f"Bearer {announcement.oauth_token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{announcement.url}/oauth/fast-api-key", headers=headers) as response,
    ):
        assert (await response.json()) == {"result": []}
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_nonce_tracker() -> None:
    tracker = NonceTracker()
    assert tracker.accept(10)
    assert not tracker.accept(10)
    assert not tracker.accept(9)
    tracker.set_window(3)
    assert tracker.accept(8)
    assert tracker.accept(7)
    assert not tracker.accept(6)
    assert tracker.accept(20)
    assert not tracker.accept(10)
    with pytest.raises(ValueError, match="window"):
        tracker.set_window(-1)


def test_call_counter_decay() -> None:
    counter = SandboxCallCounter(TIERS["pro"])
    for _ in range(20):
        assert counter.charge(100.0)
    assert not counter.charge(100.0)
    assert counter.current(101.0) == 20
    assert counter.charge(102.0)
    assert counter.current(200.0) == 0
    assert counter.current(150.0) == 0  # a clock going back does not re-add


def test_lockout_counts_failures_in_a_row_and_each_refusal_restarts_it() -> None:
    lockout = Lockout(after=2, duration=30.0)
    lockout.record_failure(0.0)
    lockout.record_success()  # a success in between: the count starts again
    lockout.record_failure(1000.0)
    assert not lockout.is_locked(1000.0)
    lockout.record_failure(5000.0)  # the second in a row, however far apart
    assert lockout.is_locked(5000.0) and lockout.is_locked(5029.9)
    lockout.refuse(5020.0)  # a request during the lockout
    assert lockout.is_locked(5049.9)
    assert not lockout.is_locked(5050.0)


async def test_public_time_answers_like_kraken() -> None:
    sb = PrimeSandbox(clock=lambda: 1_700_000_000.75)
    async with sb, aiohttp.ClientSession() as session:
        for verb in ("GET", "POST"):
            async with session.request(verb, f"{sb.url}/0/public/Time") as response:
                assert response.status == 200
                assert response.content_type == "application/json"
                body = await response.json()
            assert body == {
                "error": [],
                "result": {"unixtime": 1_700_000_000, "rfc1123": "Tue, 14 Nov 23 22:13:20 +0000"},
            }
