"""Two fleet members creating at once: each member's creates are registered with the fleet's
store before they are sent, so a member whose create lost its answer sets the other member's
object aside and ends exactly (file lock and Redis).

The members are two clients on one key with two views of one fleet store, and two base URLs
(``127.0.0.1`` and ``localhost``) so that only the fleet's store links their registrations, as
between processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from kraken_prime_async import FileLockFleet, Fleet, PrimeClient, RedisFleet
from kraken_prime_async._keys.fleet._base import Claim
from kraken_prime_async._keys.fleet._file_claims import FileLockClaims
from kraken_prime_async.sandbox import PrimeSandbox
from tests._fakes import FakeClock
from tests.integration.test_integration_claims import Meanwhile, processed, works

WINDOW = 5000
OP = "CreatePrimeApiUserKey"


@asynccontextmanager
async def members(
    fleets: tuple[Fleet, Fleet], *, sole_writer: bool
) -> AsyncIterator[tuple[PrimeSandbox, PrimeClient, PrimeClient, Meanwhile]]:
    clock = FakeClock()
    transport = Meanwhile()
    async with PrimeSandbox(rate_limit=False, clock=clock, nonce_window=WINDOW) as sb:
        options: dict[str, Any] = {
            "nonce_window": WINDOW,
            "sleep": clock.sleep,
            "clock": clock,
            "sole_writer": sole_writer,
        }
        a = PrimeClient(
            sb.api_key,
            sb.api_secret,
            base_url=sb.url,
            transport=transport,
            fleet=fleets[0],
            **options,
        )
        b = PrimeClient(
            sb.api_key,
            sb.api_secret,
            base_url=sb.url.replace("127.0.0.1", "localhost"),
            fleet=fleets[1],
            **options,
        )
        async with a, b:
            yield sb, a, b, transport


def file_fleets(tmp_path: Path) -> tuple[Fleet, Fleet]:
    return FileLockFleet(tmp_path), FileLockFleet(tmp_path)


def redis_fleets(url: str) -> tuple[Fleet, Fleet]:
    return RedisFleet(url, namespace="claims-test"), RedisFleet(url, namespace="claims-test")


@pytest.fixture(params=["file", "redis"])
def fleets(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Fleet, Fleet]:
    if request.param == "file":
        return file_fleets(tmp_path)
    return redis_fleets(request.getfixturevalue("redis_url"))


async def close(fleets: tuple[Fleet, Fleet]) -> None:
    for fleet in fleets:
        await fleet.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("sole_writer", [False, True])
async def test_a_lost_create_that_never_landed_sets_the_other_members_key_aside(
    fleets: tuple[Fleet, Fleet], sole_writer: bool
) -> None:
    async with members(fleets, sole_writer=sole_writer) as (sb, a, b, transport):
        user_id = sb.add_api_user("Bot", "Viewer")
        theirs = []

        async def b_creates() -> None:
            theirs.append(await b.api_user_keys.create(user_id))
            sb.faults.add(OP, "drop_before")  # then A's is lost before it lands

        transport.before[OP] = b_creates
        mine = await a.api_user_keys.create(user_id)
        assert {k.id for k in await a.api_user_keys.list(user_id)} == {mine.id, theirs[0].id}
        assert sb.calls("DeletePrimeApiUserKey") == []
        assert await works(sb, theirs[0].api_key, theirs[0].api_secret.get_secret_value())
    await close(fleets)


async def test_with_sole_writer_both_members_end_exactly_when_both_land(
    fleets: tuple[Fleet, Fleet],
) -> None:
    async with members(fleets, sole_writer=True) as (sb, a, b, transport):
        user_id = sb.add_api_user("Bot", "Viewer")
        b_task: list[asyncio.Task[Any]] = []

        async def b_creates() -> None:
            sb.faults.add(OP, "delay_after", seconds=0.3)  # B's answer still on its way...
            b_task.append(asyncio.ensure_future(b.api_user_keys.create(user_id)))
            await processed(sb, OP)
            sb.faults.add(OP, "drop_after")  # ...when A's lands and its answer is lost

        transport.before[OP] = b_creates
        mine = await a.api_user_keys.create(user_id)
        theirs = await b_task[0]
        assert {k.id for k in await a.api_user_keys.list(user_id)} == {mine.id, theirs.id}
        assert len(sb.calls("DeletePrimeApiUserKey")) == 1  # A's own orphan only
        assert await works(sb, mine.api_key, mine.api_secret.get_secret_value())
        assert await works(sb, theirs.api_key, theirs.api_secret.get_secret_value())
    await close(fleets)


async def test_the_claim_log_keeps_the_newest_record_and_compacts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kraken_prime_async._keys.fleet._file_claims as file_module

    monkeypatch.setattr(file_module, "_CLAIMS_COMPACT", 2000)
    log = FileLockClaims(tmp_path)
    for n in range(100):
        await log.put(Claim("s", f"t{n % 3}", "done", (str(n),), at=1000.0 + n))
    await log.put(Claim("other", "x", at=1100.0))
    with (tmp_path / "creates.log").open("ab") as torn:
        torn.write(b'{"scope": "s", "tok')  # a member killed mid-write
    records = await log.claims("s")
    assert (tmp_path / "creates.log").stat().st_size < 4000  # compacted on the way
    newest = {c.token: c.ids for c in records if c.at >= 1097}
    assert newest == {"t0": ("99",), "t1": ("97",), "t2": ("98",)}
    log.close()
