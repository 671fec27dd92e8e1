"""``rate_limit="auto"`` on a fleet, as in one process: a refusal makes the fleet's tier the
fastest that explains it from the members' recent send times, a refusal while paced steps it
down, and the quiet period drops it; a member's own tier is kept (file lock and Redis).

Each member is a counter of its own fleet object on one store, as in separate processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from kraken_prime_async import FileLockFleet, RateLimit, RedisFleet
from kraken_prime_async._constants import AUTO_RATE_LIMIT_QUIET
from kraken_prime_async._keys.fleet._file import FileLockCounter
from kraken_prime_async._keys.fleet._redis import RedisCounter
from kraken_prime_async._keys.pacing import TIERS, explaining

from ..._fakes import FakeClock

Member = FileLockCounter | RedisCounter


class Members:
    """Members of one fleet on one fake clock."""

    def __init__(self, fleet: Callable[[], FileLockFleet | RedisFleet]) -> None:
        self.clock = FakeClock()
        self._fleet = fleet
        self.fleets: list[FileLockFleet | RedisFleet] = []

    def __call__(self, limits: RateLimit | None = None) -> Member:
        fleet = self._fleet()
        self.fleets.append(fleet)
        return fleet.counter("KEY", limits, auto=limits is None, clock=self.clock)

    async def send(self, members: list[Member], count: int, every: float) -> list[float]:
        """``count`` calls taken in turn by ``members``, ``every`` seconds apart, none paced;
        their send times."""
        sent = []
        for i in range(count):
            self.clock.now += every if i else 0.0
            assert await members[i % len(members)].acquire(1, self.clock.sleep) == 0
            sent.append(self.clock.now)
        return sent


@pytest.fixture(params=["file", "redis"])
async def fleet(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Members]:
    if request.param == "file":
        members = Members(lambda: FileLockFleet(tmp_path))
    else:
        url = request.getfixturevalue("redis_url")
        members = Members(lambda: RedisFleet(url))
    yield members
    for made in members.fleets:
        await made.close()


async def test_a_refusal_after_calls_at_a_pro_rate_paces_every_member_as_pro(
    fleet: Members,
) -> None:
    a, b = fleet(), fleet()
    sent = await fleet.send([a, b], 30, every=0.125)  # 8 a second: even pro's counter fills
    assert explaining(sent, fleet.clock.now) == "pro"
    await a.refused(None, 1)  # a's last call was refused: Kraken counted it too
    assert await b.acquire(1, fleet.clock.sleep) == pytest.approx((21 + 1 - 19.5) / 1.0)
    assert await a.acquire(1, fleet.clock.sleep) == pytest.approx(1.0)  # one pro decay a call
    assert a.active and b.active
    assert "rate_limit='auto' paces the key as the pro tier" in b.describe()


async def test_a_refusal_while_paced_steps_the_fleet_down_one_tier(fleet: Members) -> None:
    a, b = fleet(), fleet()
    await fleet.send([a, b], 25, every=0.0)
    await a.refused(None, 1)
    assert await b.acquire(1, fleet.clock.sleep) == pytest.approx(2.5)  # 21 -> 19.5 at pro
    assert "as the pro tier" in b.describe()
    await b.refused(None, 1)  # paced as pro and still refused: pro is too fast
    assert await a.acquire(1, fleet.clock.sleep) == pytest.approx((21 + 1 - 19.5) / 0.5)
    assert "as the intermediate tier" in a.describe()
    await a.refused(None, 1)
    await b.acquire(1, fleet.clock.sleep)
    assert "as the starter tier" in b.describe()
    await b.refused(None, 1)  # the slowest stays
    await a.acquire(1, fleet.clock.sleep)
    assert "as the starter tier" in a.describe()


async def test_after_the_quiet_period_the_fleet_paces_nothing_and_starts_over(
    fleet: Members,
) -> None:
    a, b = fleet(), fleet()
    await fleet.send([a, b], 25, every=0.0)
    refused_at = fleet.clock.now
    await a.refused(None, 1)
    await b.acquire(1, fleet.clock.sleep)  # paced calls do not extend the tier's life
    fleet.clock.now = refused_at + AUTO_RATE_LIMIT_QUIET - 1
    assert await b.acquire(1, fleet.clock.sleep) == 0 and b.active
    fleet.clock.now = refused_at + AUTO_RATE_LIMIT_QUIET
    assert not a.active  # from its last look: the learnt tier has lapsed
    await fleet.send([a, b], 25, every=0.0)  # unpaced again, fleet-wide
    assert not a.active and not b.active
    await b.refused(None, 1)  # starts over: learnt anew from the calls, not stepped down
    assert await a.acquire(1, fleet.clock.sleep) == pytest.approx(2.5)
    assert "as the pro tier" in a.describe()


async def test_calls_too_slow_to_explain_a_refusal_pace_as_starter(fleet: Members) -> None:
    a, b = fleet(), fleet()
    await fleet.send([a, b], 10, every=5.0)  # other clients of the key spent the rest
    await b.refused(None, 1)
    assert await a.acquire(1, fleet.clock.sleep) == pytest.approx((16 + 1 - 14.5) / 0.33)
    assert "as the starter tier" in a.describe()


@pytest.mark.parametrize(
    ("every", "tier"),
    [(0.0, "pro"), (0.5, "pro"), (1.0, "intermediate"), (1.5, "starter"), (5.0, "starter")],
)
async def test_the_fleet_learns_the_tier_explaining_gives_for_its_calls(
    fleet: Members, every: float, tier: str
) -> None:
    members = [fleet(), fleet(), fleet()]
    sent = await fleet.send(members, 100, every=every)  # more than the 64 kept
    assert explaining(sent[-64:], fleet.clock.now) == tier
    await members[0].refused(None, 1)
    await members[1].acquire(1, fleet.clock.sleep)
    assert f"rate_limit='auto' paces the key as the {tier} tier" in members[1].describe()


async def test_a_members_own_tier_replaces_a_learnt_one_and_is_kept(fleet: Members) -> None:
    auto, own = fleet(), fleet(TIERS["pro"])
    await fleet.send([auto], 3, every=5.0)
    await auto.refused(None, 1)
    assert "as the starter tier" in auto.describe()
    await own.acquire(1, fleet.clock.sleep)  # the member's tier, as it gave it
    await auto.acquire(1, fleet.clock.sleep)
    assert "rate_limit='pro' paces the key" in auto.describe()
    await auto.refused(None, 1)  # not learnt: neither stepped down...
    assert await auto.acquire(1, fleet.clock.sleep) == pytest.approx((21 + 1 - 19.5) / 1.0)
    fleet.clock.now += AUTO_RATE_LIMIT_QUIET + 1  # ...nor dropped
    assert await auto.acquire(1, fleet.clock.sleep) == 0
    assert auto.active and "rate_limit='pro' paces the key" in auto.describe()
    await own.refused(None, 1)  # the member's own refusal keeps its tier too
    assert await auto.acquire(1, fleet.clock.sleep) == pytest.approx(2.5)


async def test_a_throttle_learns_nothing_and_keeps_the_quiet_period(fleet: Members) -> None:
    a, b = fleet(), fleet()
    await fleet.send([a, b], 25, every=0.0)
    refused_at = fleet.clock.now
    await a.refused(None, 1)
    fleet.clock.now += 200
    await a.refused(fleet.clock.now + 40, 1)  # Throttled: a hold, honoured to its timestamp
    assert await b.acquire(1, fleet.clock.sleep) == pytest.approx(40)
    assert "as the pro tier" in b.describe()
    fleet.clock.now = refused_at + AUTO_RATE_LIMIT_QUIET  # 300 s after the counter refusal
    assert await b.acquire(1, fleet.clock.sleep) == 0 and not b.active
