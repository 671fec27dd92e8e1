"""Sharing one API key between processes and hosts: the seam every fleet backend fills.

Inside one process, every client of a key already shares a nonce source (``_nonce.py``), a
gate that orders the key's requests (``_local_gate.py``) and a call-counter model
(``_rate_limit.py``). A [`Fleet`][kraken_prime_async.Fleet] extends the same three to every process
that uses it:

* a **nonce source** whose sequence is strictly increasing across the fleet;
* a **gate**: the key's in-flight slots, held from before the nonce is taken until the answer
  arrives, so that with a nonce window of 0 one request of the key is on the wire fleet-wide and
  nonces reach Kraken in the order they were issued;
* a **rate counter**: the call-counter model, charged by every member; on ``rate_limit="auto"``
  the tier learnt from a refusal is the fleet's (``CounterState``);
* optionally a **claim store** (``ClaimStore``, both backends have one): the creates under
  way across the fleet, registered before they are sent, so that a member whose create lost its
  answer can tell its own new object from one another member created meanwhile.

Backends: [`FileLockFleet`][kraken_prime_async.FileLockFleet] (processes on one host) and
[`RedisFleet`][kraken_prime_async.RedisFleet] (hosts sharing a Redis).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator
from typing import Literal, Protocol, runtime_checkable

import msgspec

from ..._constants import (
    AUTO_RATE_LIMIT_QUIET,
    CLAIM_TTL,
    FLEET_GATE_POLL_FIRST,
    FLEET_GATE_POLL_MAX,
    LOGGER_NAME,
)
from ..._secret import fingerprint
from ...errors import CoordinationError
from ..nonces import NonceSource, NonceUnit
from ..pacing import (
    TIERS,
    RateCounter,
    RateLimit,
    decayed,
    describe_pacing,
    explaining,
    slower,
)

_logger = logging.getLogger(LOGGER_NAME)


@runtime_checkable
class FleetGate(Protocol):
    """The key's in-flight slots, shared by the fleet."""

    async def acquire(self, lease_seconds: float) -> Hashable:
        """Wait for a slot; return a token for [`release()`][kraken_prime_async.FleetGate.release].

        ``lease_seconds`` bounds how long the slot is held if its holder dies without releasing
        it (backends that cannot notice a dead holder by themselves expire it then).
        """
        ...

    async def release(self, token: Hashable, hold_seconds: float = 0.0) -> None:
        """Free the slot of ``token``; with ``hold_seconds`` only that much later (its request
        was abandoned without an answer and may still reach Kraken).

        A second ``release(token)`` (no hold) after a release with a hold ends that hold now:
        the abandoned request's exchange, watched in the background, ended. It must not free a
        slot another holder has taken since.
        """
        ...


@runtime_checkable
class RenewableGate(Protocol):
    """A fleet gate whose slots can carry a short lease, renewed while the holder lives (both
    built-in gates): a member that dies holding a slot blocks it only that long more."""

    def renew(self, token: Hashable, lease_seconds: float) -> Awaitable[None] | None:
        """The holder of ``token`` is alive: if it dies, the slot stays taken
        ``lease_seconds`` from now."""
        ...


@runtime_checkable
class Fleet(Protocol):
    """Where the members of a fleet keep what they share about each API key."""

    def nonce_source(self, api_key: str, unit: NonceUnit) -> NonceSource:
        """The fleet's nonce sequence of ``api_key``."""
        ...

    def gate(self, api_key: str, *, window_seconds: float, max_in_flight: int) -> FleetGate:
        """The fleet's in-flight slots of ``api_key`` (one slot when ``window_seconds`` is 0)."""
        ...

    def counter(
        self, api_key: str, limits: RateLimit | None, *, auto: bool, clock: Callable[[], float]
    ) -> RateCounter:
        """The fleet's call-counter model of ``api_key``."""
        ...


#: ``pending``: under way; ``done``: created ``ids``; ``none``: created nothing; ``unknown``: its
#: own answer was lost and not resolved (``ids``: what it could not attribute).
ClaimState = Literal["pending", "done", "none", "unknown"]


class Claim(msgspec.Struct, frozen=True, gc=False):
    """One create registered before it was sent: a write that may make an object in a scope
    (``"api_users"``, ``"keys:<user id>"``, ``"batch:currency"``, ``"fast_api:<name>"``)."""

    scope: str
    token: str
    state: ClaimState = "pending"
    ids: tuple[str, ...] = ()
    #: Wall-clock seconds of the last change (a registration is forgotten ``CLAIM_TTL`` later).
    at: float = 0.0


@runtime_checkable
class ClaimStore(Protocol):
    """Where the creates of a fleet are registered (see ``Claim``)."""

    async def put(self, claim: Claim) -> None:
        """Record ``claim`` (a later record of the same token replaces it)."""
        ...

    async def claims(self, scope: str) -> list[Claim]:
        """The live registrations of ``scope``."""
        ...


def live_claims(claims: Iterable[Claim], now: float) -> dict[str, Claim]:
    """The newest record of each token (a resolved one over a pending one of the same time),
    without those older than ``CLAIM_TTL``."""
    latest: dict[str, Claim] = {}
    for claim in claims:
        if claim.at < now - CLAIM_TTL:
            continue
        seen = latest.get(claim.token)
        if seen is None or (claim.at, claim.state != "pending") >= (
            seen.at,
            seen.state != "pending",
        ):
            latest[claim.token] = claim
    return latest


class Renewal:
    """Renews a fleet slot's lease every third of it while its holder holds it (a loop timer;
    a renewal that is a coroutine runs as a task kept here until it ends)."""

    __slots__ = ("_gate", "_handle", "_lease", "_running", "_token")

    def __init__(self, gate: RenewableGate, token: Hashable, lease: float) -> None:
        self._gate = gate
        self._token = token
        self._lease = lease
        self._running: set[asyncio.Future[None]] = set()
        self._handle: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            lease / 3, self._tick
        )

    def _tick(self) -> None:
        renewed = self._gate.renew(self._token, self._lease)
        if renewed is not None:
            task = asyncio.ensure_future(_renew_quietly(renewed))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        self._handle = asyncio.get_running_loop().call_later(self._lease / 3, self._tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


async def _renew_quietly(renewed: Awaitable[None]) -> None:
    try:
        await renewed
    except CoordinationError as failure:
        _logger.warning("could not renew the fleet slot's lease: %s", failure)


def lapsed(learnt: float, now: float) -> bool:
    """Whether a tier ``auto`` learnt at ``learnt`` (the refusal's time; 0: none) has gone
    ``AUTO_RATE_LIMIT_QUIET`` seconds without another refusal, and is dropped."""
    return learnt > 0 and now - learnt >= AUTO_RATE_LIMIT_QUIET


class CounterState(msgspec.Struct):
    """What a fleet shares of a key's counter, and the rules ``rate_limit="auto"`` applies to
    it (the file fleet runs them here; the Redis fleet's Lua runs the same).

    ``learnt`` tells a tier ``auto`` learnt from a refusal (the refusal's time, Unix seconds)
    from one a member gave (``0``): only the first is stepped down and dropped. ``calls`` are
    the send times of the auto members' recent calls (the last ``_CALL_HISTORY``), read for a
    refusal.
    """

    value: float
    updated: float
    blocked: float
    limits: RateLimit | None
    learnt: float = 0.0
    calls: list[float] = msgspec.field(default_factory=list)

    def relax(self, now: float) -> None:
        """Drop a learnt tier after the quiet period (the next refusal starts over)."""
        if lapsed(self.learnt, now):
            self.limits, self.learnt, self.value = None, 0.0, 0.0

    def refused(self, now: float, cost: float, mine: RateLimit | None, auto: bool) -> None:
        """A counter refusal (not ``Throttled``) told by a member with tier ``mine`` (``None``:
        it has none): a member's own tier is kept; on ``auto`` with no tier in force, the
        fleet's becomes the fastest that explains the refusal from ``calls``; with a learnt one
        in force, the next slower, and the quiet period starts over. The counter is full."""
        self.relax(now)
        if mine is not None:
            self.limits, self.learnt = mine, 0.0
        elif auto and self.limits is None:
            self.updated = max(self.updated, now)
            self.limits = TIERS[explaining(sorted(self.calls), now, cost)]
            self.learnt = now
        elif auto and self.learnt > 0 and self.limits is not None:
            self.value, self.updated = decayed(self.value, self.updated, now, self.limits)
            self.limits, self.learnt = slower(self.limits), now
        self.value, self.updated = decayed(self.value, self.updated, now, self.limits)
        if self.limits is not None:
            self.value = max(self.value, self.limits.max_counter + cost)


class FleetCounterBase:
    """What a fleet's call-counter model knows locally: this member's tier setting and what it
    last read of the shared counter (the fleet's tier, whether ``auto`` learnt it, a
    ``Throttled`` hold)."""

    def __init__(self, limits: RateLimit | None, *, auto: bool, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.auto = auto
        self._clock = clock
        self._fleet_limits: RateLimit | None = None
        #: When ``auto`` learnt the fleet's tier (0.0: it did not).
        self._fleet_learnt = 0.0
        self._blocked_until = 0.0

    def _seen(self, limits: RateLimit | None, learnt: float, blocked: float) -> None:
        """What this member just read of the shared counter."""
        self._fleet_limits = limits
        self._fleet_learnt = learnt if limits is not None else 0.0
        self._blocked_until = blocked

    @property
    def active(self) -> bool:
        """Whether calls are paced (as of this member's last look at the shared counter)."""
        if lapsed(self._fleet_learnt, self._clock()):
            self._fleet_limits, self._fleet_learnt = None, 0.0
        return (
            self.limits is not None
            or self._fleet_limits is not None
            or self._blocked_until > self._clock()
        )

    def describe(self) -> str:
        """Why calls of the key wait now, and what would make them faster (as the process's
        ``CallCounter.describe()``, from this member's last look at the shared counter)."""
        learnt = self.limits is None and self.active and self._fleet_learnt > 0
        return describe_pacing(
            self.limits or self._fleet_limits, learnt, self._blocked_until, self._clock()
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(limits={self.limits}, auto={self.auto})"


def key_id(api_key: str) -> str:
    """A stable name for ``api_key`` in shared storage that does not reveal the key."""
    return fingerprint(api_key, 16)


def poll_delays(rng: random.Random | None = None) -> Iterator[float]:
    """Pauses between tries for a slot: doubling from ``FLEET_GATE_POLL_FIRST`` to
    ``FLEET_GATE_POLL_MAX``, jittered so members do not retry in lockstep."""
    rng = rng or random.Random()  # noqa: S311 - jitter
    delay = FLEET_GATE_POLL_FIRST
    while True:
        yield delay * rng.uniform(0.5, 1.0)
        delay = min(FLEET_GATE_POLL_MAX, delay * 2)
