"""``_resources/_reconcile/claims.py``: which registered creates can explain a lost create's new
objects. A create that had ended when the lost one was registered explains nothing (what it made
was there before the lost create's read-before-write); one that ended later, or is unknown, may.
A registration is made without reading the others; they are read only when an answer is lost."""

from __future__ import annotations

import itertools

from kraken_prime_async._keys.fleet._base import Claim
from kraken_prime_async._resources._reconcile.claims import Claims
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


async def test_a_create_that_ended_unknown_before_this_one_was_registered_is_no_rival() -> None:
    claims = _claims(FakeClock())  # a frozen clock: the process's stamps order the creates
    earlier = await claims.register("api_users")
    await earlier.put("unknown")
    mine = await claims.register("api_users")
    assert (await mine.attribute({"U9"})).mine == "U9"


async def test_a_create_that_ended_unknown_after_this_one_was_registered_withholds_the_proof() -> (
    None
):
    claims = _claims(FakeClock())
    mine = await claims.register("api_users")
    later = await claims.register("api_users")
    await later.put("unknown")
    attribution = await mine.attribute({"U9"})
    assert attribution.remaining == ("U9",)
    assert not attribution.proven


async def test_what_a_later_create_made_is_set_aside() -> None:
    claims = _claims(FakeClock())
    mine = await claims.register("api_users")
    later = await claims.register("api_users")
    await later.put("done", ["U8"])
    assert (await mine.attribute({"U8", "U9"})).mine == "U9"


async def test_registering_reads_no_store_and_a_lost_answer_reads_it_once() -> None:
    store = Store()
    claims = _claims(FakeClock(), store)
    mine = await claims.register("api_users")
    assert store.reads == 0
    await mine.attribute({"U9"})
    assert store.reads == 1


async def test_another_members_create_counts_by_its_time() -> None:
    clock = FakeClock()
    store = Store()
    claims = _claims(clock, store)
    # Another member's create ended unknown a second before this one was registered: no rival.
    store.records.append(Claim("api_users", "theirs", "unknown", (), clock.now - 1))
    mine = await claims.register("api_users")
    assert (await mine.attribute({"U9"})).mine == "U9"
    # One that ended at the same instant may have ended after: it withholds the proof.
    store.records.append(Claim("api_users", "same-time", "unknown", (), clock.now))
    assert not (await mine.attribute({"U9"})).proven
