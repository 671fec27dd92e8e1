"""``_resources/_reconcile/claims.py``: which registered creates can explain a lost create's new
objects. A create that had ended before the lost one's read-before-write (its ``Mark``) explains
nothing (what it made is in that read); one that ended later, or is unknown, may. The process's
registrations are not read when a create registers; only a lost answer reads them. Without a
mark taken here (a write resolved after a restart), or once registrations made since may have
expired, nothing is claimed."""

from __future__ import annotations

import itertools

from kraken_prime_async._constants import CLAIM_TTL
from kraken_prime_async._keys.fleet._base import Claim
from kraken_prime_async._resources._reconcile.claims import Claims, Registration
from tests._fakes import FakeClock

_places = itertools.count()


class Store:
    """A fleet's claim store in memory, counting its reads."""

    def __init__(self) -> None:
        self.records: list[Claim] = []
        self.reads = 0

    async def put(self, claim: Claim) -> None:
        self.records.append(claim)

    async def claims(self, scope: str) -> list[Claim]:
        self.reads += 1
        return [claim for claim in self.records if claim.scope == scope]


def _claims(clock: FakeClock, store: Store | None = None) -> Claims:
    return Claims(f"test-{next(_places)}", sole_writer=True, store=store, clock=clock)


async def _create(claims: Claims, scope: str = "api_users") -> Registration:
    """A create as the resources make one: marked before its read-before-write, registered."""
    mark = await claims.mark(scope)
    return await claims.register(scope, mark=mark)


async def test_a_create_that_ended_unknown_before_this_ones_read_is_no_rival() -> None:
    claims = _claims(FakeClock())  # a frozen clock: the process's stamps order the creates
    earlier = await _create(claims)
    await earlier.put("unknown")
    mine = await _create(claims)
    assert (await mine.attribute({"U9"})).mine == "U9"


async def test_a_create_that_ended_unknown_after_this_ones_read_withholds_the_proof() -> None:
    claims = _claims(FakeClock())
    mine = await _create(claims)
    later = await _create(claims)
    await later.put("unknown")
    attribution = await mine.attribute({"U9"})
    assert attribution.remaining == ("U9",)
    assert not attribution.proven


async def test_what_a_later_create_made_is_set_aside() -> None:
    claims = _claims(FakeClock())
    mine = await _create(claims)
    later = await _create(claims)
    await later.put("done", ["U8"])
    assert (await mine.attribute({"U8", "U9"})).mine == "U9"


async def test_a_create_that_ended_between_the_read_and_the_registration_is_set_aside() -> None:
    # The read-before-write comes before the registration: a create that ended in between made
    # its object after the read, so it is new to this one and must not be taken for its own.
    claims = _claims(FakeClock())
    mark = await claims.mark("api_users")
    other = await _create(claims)
    await other.put("done", ["K2"])
    mine = await claims.register("api_users", mark=mark)
    attribution = await mine.attribute({"K2"})
    assert attribution.remaining == () and attribution.mine is None


async def test_registering_again_keeps_the_first_mark() -> None:
    # A journaled create resolved later registers its token again: it keeps the mark taken
    # before its own read, so what ended since is still set aside.
    claims = _claims(FakeClock())
    mark = await claims.mark("api_users")
    first = await claims.register("api_users", token="intent-1", mark=mark)
    await first.put("unknown")
    other = await _create(claims)
    await other.put("done", ["K2"])
    again = await claims.register("api_users", token="intent-1")
    assert (await again.attribute({"K2"})).remaining == ()
    assert (await again.attribute({"K9"})).mine == "K9"


async def test_a_create_this_process_never_registered_claims_nothing() -> None:
    # After a restart the registrations made since its read are gone: nothing is claimed.
    claims = _claims(FakeClock())
    orphan = await claims.register("api_users", token="intent-from-a-dead-process")
    attribution = await orphan.attribute({"K9"})
    assert attribution.remaining == ("K9",)
    assert not attribution.proven


async def test_nothing_is_claimed_once_registrations_since_may_have_expired() -> None:
    clock = FakeClock()
    claims = _claims(clock)
    mine = await _create(claims)
    clock.now += CLAIM_TTL
    assert not (await mine.attribute({"K9"})).proven


async def test_a_members_create_reads_the_store_for_its_mark_and_for_a_lost_answer() -> None:
    store = Store()
    claims = _claims(FakeClock(), store)
    mine = await claims.register("api_users", mark=await claims.mark("api_users"))
    assert store.reads == 1  # the mark: the members' creates that have ended
    await mine.attribute({"U9"})
    assert store.reads == 2


async def test_another_members_create_counts_by_the_mark_not_by_its_clock() -> None:
    clock = FakeClock()
    store = Store()
    claims = _claims(clock, store)
    # Another member's create had ended unknown when this one read: no rival.
    store.records.append(Claim("api_users", "theirs", "unknown", (), clock.now - 1))
    mine = await _create(claims)
    assert (await mine.attribute({"U9"})).mine == "U9"
    # One that ended after the mark withholds the proof, even stamped earlier by a clock
    # running behind.
    store.records.append(Claim("api_users", "skewed", "unknown", (), clock.now - 2))
    assert not (await mine.attribute({"U9"})).proven
