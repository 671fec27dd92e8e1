"""A fleet across hosts: the key's nonce, in-flight slots and call counter live in Redis.

Each step is one Lua script, so it is atomic on the server however many members race:

* nonce: ``max(now, last + 1)`` in a hash ``<ns>:<key id>:nonce`` (with the unit, checked);
* gate: in-flight tokens in ``<ns>:<key id>:inflight`` (scored by start) and their lease expiries
  in ``…:leases``; a slot is granted while fewer than the cap are out and the oldest is younger
  than half the nonce window (always one slot with a window of 0);
* counter: the call-counter model in a hash ``<ns>:<key id>:counter``, and the send times of the
  ``rate_limit="auto"`` members' recent calls in a list ``…:calls`` (updated by the same script
  as the charge);
* claims: the fleet's creates under way, a hash per scope ``<ns>:claims:<scope>`` (token →
  JSON record), expiring ``CLAIM_TTL`` after its last change (``RedisClaims``).

``now`` is the member's own clock, passed to the script, so hosts must agree on the time within a
small part of the nonce window (NTP does). Needs Redis >= 5 and the ``redis`` package
(``pip install kraken-prime-async[redis]``). Any Redis failure raises
[`CoordinationError`][kraken_prime_async.errors.CoordinationError] before the request is sent; there
is no
fallback to a local counter, whose nonces could collide with the fleet's.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any

import msgspec

from ..._constants import (
    CLAIM_TTL,
    DEFAULT_NONCE_UNIT,
    DEFAULT_REDIS_NAMESPACE,
    REDIS_CONNECT_TIMEOUT,
    REDIS_SOCKET_TIMEOUT,
)
from ...errors import CoordinationError, ValidationError
from ..local import WINDOW_SAFETY
from ..nonces import PER_SECOND, NonceUnit
from ..pacing import RateLimit
from ._base import Claim, FleetCounterBase, key_id, poll_delays
from ._redis_scripts import (
    COUNTER_ACQUIRE_LUA,
    COUNTER_REFUSED_LUA,
    GATE_ACQUIRE_LUA,
    NONCE_LUA,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis


def _connect(redis: str | Redis) -> tuple[Redis, bool]:
    """``(client, owned)`` from a URL or a caller's ``redis.asyncio.Redis``."""
    try:
        from redis.asyncio import Redis
    except ImportError:  # pragma: no cover - depends on the install
        raise ImportError(
            "Redis fleets need the 'redis' package: pip install 'kraken-prime-async[redis]'"
        ) from None
    if isinstance(redis, str):
        try:
            client = Redis.from_url(
                redis,
                socket_timeout=REDIS_SOCKET_TIMEOUT,
                socket_connect_timeout=REDIS_CONNECT_TIMEOUT,
            )
        except ValueError:
            raise ValidationError("redis", "not a redis:// or rediss:// URL") from None
        return client, True
    if not isinstance(redis, Redis):
        raise ValidationError("redis", "must be a URL or a redis.asyncio.Redis client")
    return redis, False


def _describe(client: Redis) -> str:
    """``redis host:port/db`` for messages: never the password or the URL's user."""
    kwargs: dict[str, Any] = client.connection_pool.connection_kwargs
    where = kwargs.get("path") or f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
    return f"redis {where}/{kwargs.get('db', 0)}"


class _Scripts:
    """One Redis connection and the fleet's Lua scripts, with failures turned into
    [`CoordinationError`][kraken_prime_async.CoordinationError]."""

    def __init__(self, redis: str | Redis) -> None:
        from redis.exceptions import RedisError, ResponseError

        self.failures: tuple[type[BaseException], ...] = (RedisError, OSError)
        self.refusal: type[BaseException] = ResponseError
        self.client, self.owned = _connect(redis)
        self.store = _describe(self.client)
        self.nonce = self.client.register_script(NONCE_LUA)
        self.gate_acquire = self.client.register_script(GATE_ACQUIRE_LUA)
        self.counter_acquire = self.client.register_script(COUNTER_ACQUIRE_LUA)
        self.counter_refused = self.client.register_script(COUNTER_REFUSED_LUA)

    async def run(self, what: str, awaitable: Awaitable[Any]) -> Any:
        try:
            return await awaitable
        except self.refusal as exc:
            if str(exc).startswith("KP_UNIT"):
                raise
            raise CoordinationError(
                f"{self.store} refused the {what} script ({type(exc).__name__}); nothing was sent",
                store=self.store,
            ) from exc
        except self.failures as exc:
            raise CoordinationError(
                f"{self.store} is unreachable while taking the {what} "
                f"({type(exc).__name__}); nothing was sent",
                store=self.store,
            ) from exc

    async def delete(self, *keys: str) -> None:
        await self.run("cleanup", self.client.delete(*keys))

    async def close(self) -> None:
        if self.owned:
            await self.client.aclose()


class RedisNonceSource:
    """Nonces shared by every host that reaches one Redis.

    One Lua script per nonce sets the stored value to ``max(clock() * unit, last + 1)`` and
    returns it: strictly increasing for the whole fleet, across restarts of any member and when a
    host's clock steps backwards.

    Parameters
    ----------
    redis : str or redis.asyncio.Redis
        A ``redis://`` / ``rediss://`` / ``unix://`` URL (a client is built with a 5 s socket
        timeout and closed by ``close()``), or a caller's client (never closed here).
    key : str
        The Redis key holding this API key's nonce (a hash with the last nonce and its unit).
        Every member sharing the API key uses the same key.
    unit : Literal["s", "ms", "us"]
        Nonce unit. ``"ns"`` is refused: such nonces exceed the integers Lua computes exactly.
    clock : callable returning float seconds, optional
        The wall clock (``time.time()``).

    Raises
    ------
    CoordinationError
        From ``next_nonce()``, when Redis cannot be reached (nothing is sent then).
    """

    def __init__(
        self,
        redis: str | Redis,
        *,
        key: str,
        unit: NonceUnit = DEFAULT_NONCE_UNIT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if unit not in PER_SECOND or unit == "ns":
            raise ValidationError("nonce_unit", "must be 's', 'ms' or 'us' for a Redis source")
        if not isinstance(key, str) or not key:
            raise ValidationError("key", "must be a non-empty string")
        self._setup(_Scripts(redis), key, unit, clock)

    def _setup(
        self, scripts: _Scripts, key: str, unit: NonceUnit, clock: Callable[[], float]
    ) -> None:
        self.unit: NonceUnit = unit
        self.key = key
        self._scale = PER_SECOND[unit]
        self._clock = clock
        self._scripts = scripts

    @classmethod
    def _on(
        cls, scripts: _Scripts, key: str, unit: NonceUnit, clock: Callable[[], float]
    ) -> RedisNonceSource:
        """A source on a fleet's connection (the fleet's client, never closed by the source)."""
        if unit == "ns":
            raise ValidationError("nonce_unit", "must be 's', 'ms' or 'us' for a Redis fleet")
        return cls(scripts.client, key=key, unit=unit, clock=clock)

    async def next_nonce(self) -> int:
        """Return the next nonce of the fleet."""
        return await self.next_nonce_at_least(0)

    async def next_nonce_at_least(self, floor: int) -> int:
        """Return the next nonce of the fleet, ``>= floor``: the script stores
        ``max(candidate, last + 1)`` with ``candidate = max(floor, now)``."""
        now = max(int(self._clock() * self._scale), floor)
        try:
            nonce = await self._scripts.run(
                "nonce", self._scripts.nonce(keys=[self.key], args=[now, self.unit])
            )
        except self._scripts.refusal as exc:
            recorded = str(exc).split()[-1]
            raise ValidationError(
                "nonce_unit",
                f"{self.unit!r} conflicts with {recorded!r} recorded in Redis for this key",
            ) from None
        return int(nonce)

    async def close(self) -> None:
        """Close the Redis client if this source built it from a URL."""
        await self._scripts.close()

    def __repr__(self) -> str:
        return f"RedisNonceSource({self._scripts.store!r}, key={self.key!r}, unit={self.unit!r})"


class RedisGate:
    """The key's in-flight slots in Redis (a sorted set of leased tokens)."""

    def __init__(
        self,
        scripts: _Scripts,
        base: str,
        *,
        window_seconds: float,
        max_in_flight: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._scripts = scripts
        self._keys = [f"{base}:inflight", f"{base}:leases"]
        self.cap = 1 if window_seconds <= 0 else max_in_flight
        self._safety_ms = int(window_seconds * WINDOW_SAFETY * 1000)
        self._clock = clock

    async def _try(self, token: str, lease_ms: int) -> bool:
        granted = await self._scripts.run(
            "in-flight slot",
            self._scripts.gate_acquire(
                keys=self._keys,
                args=[token, int(self._clock() * 1000), self.cap, self._safety_ms, lease_ms],
            ),
        )
        return bool(granted)

    async def acquire(self, lease_seconds: float) -> Hashable:
        """Wait for a slot; it expires after ``lease_seconds`` if this member dies holding it."""
        token = os.urandom(12).hex()
        lease_ms = max(1, int(lease_seconds * 1000))
        if await self._try(token, lease_ms):
            return token
        for delay in poll_delays():
            await asyncio.sleep(delay)
            if await self._try(token, lease_ms):
                return token
        raise AssertionError("unreachable")  # pragma: no cover

    async def renew(self, token: Hashable, lease_seconds: float) -> None:
        """This member still holds ``token``: its lease (and the keys' expiry) runs
        ``lease_seconds`` from now, so a member that dies holding it blocks it that long."""
        lease_ms = max(1, int(lease_seconds * 1000))
        pipe = self._scripts.client.pipeline(transaction=True)
        pipe.zadd(self._keys[1], {str(token): int(self._clock() * 1000) + lease_ms}, xx=True)
        for key in self._keys:
            pipe.pexpire(key, lease_ms)
        await self._scripts.run("in-flight slot lease", pipe.execute())

    async def release(self, token: Hashable, hold_seconds: float = 0.0) -> None:
        """Free the slot (its lease would free it anyway); with ``hold_seconds``, shorten its
        lease to that instead, so it stays in flight for every member until then (never beyond
        the keys' expiry, set from the lease at the last grant)."""
        pipe = self._scripts.client.pipeline(transaction=False)
        if hold_seconds > 0:
            until_ms = int((self._clock() + hold_seconds) * 1000)
            pipe.zadd(self._keys[1], {str(token): until_ms})
        else:
            for key in self._keys:
                pipe.zrem(key, str(token))
        await self._scripts.run("in-flight slot release", pipe.execute())

    def __repr__(self) -> str:
        return f"RedisGate(cap={self.cap})"


def _tier(maximum: float, decay: float) -> RateLimit | None:
    return RateLimit(maximum, decay) if maximum >= 1 and decay > 0 else None


class RedisCounter(FleetCounterBase):
    """The call-counter model of ``_rate_limit``, shared by the fleet in a Redis hash (and the
    auto members' recent send times in a list beside it)."""

    def __init__(
        self,
        scripts: _Scripts,
        base: str,
        limits: RateLimit | None,
        *,
        auto: bool,
        clock: Callable[[], float],
    ) -> None:
        super().__init__(limits, auto=auto, clock=clock)
        self._scripts = scripts
        self._keys = [f"{base}:counter", f"{base}:calls"]

    def _mine(self) -> tuple[float, float]:
        return (self.limits.max_counter, self.limits.decay_per_second) if self.limits else (0, 0)

    async def acquire(self, cost: float, sleep: Callable[[float], Awaitable[None]]) -> float:
        """Wait until a call of ``cost`` fits the fleet's counter, charge it, return the wait
        (one script: an auto member's send time is recorded by the same)."""
        waited = 0.0
        maximum, decay = self._mine()
        while True:
            reply = await self._scripts.run(
                "call-counter room",
                self._scripts.counter_acquire(
                    keys=self._keys,
                    args=[repr(self._clock()), cost, maximum, decay],
                ),
            )
            delay, fleet_max, fleet_decay, blocked, learnt = (float(x) for x in reply)
            self._seen(_tier(fleet_max, fleet_decay), learnt, blocked)
            if delay <= 0:
                return waited
            await sleep(delay)
            waited += delay

    async def refused(self, retry_at: float | None, cost: float) -> None:
        """Kraken refused a call for rate: the whole fleet's counter is full (a counter
        refusal, ``retry_at`` None: the script applies ``CounterState.refused()``), or every
        call of the key waits until ``retry_at`` (``Throttled``: no tier is learnt or changed)."""
        maximum, decay = self._mine()
        reply = await self._scripts.run(
            "call-counter update",
            self._scripts.counter_refused(
                keys=self._keys,
                args=[
                    repr(self._clock()),
                    cost,
                    "" if retry_at is None else repr(retry_at),
                    maximum,
                    decay,
                    "1" if self.auto else "0",
                ],
            ),
        )
        fleet_max, fleet_decay, learnt, blocked = (float(x) for x in reply)
        self._seen(_tier(fleet_max, fleet_decay), learnt, blocked)


_claim_encoder = msgspec.json.Encoder()
_claim_decoder = msgspec.json.Decoder(Claim)


class RedisClaims:
    """The fleet's creates under way (a ``ClaimStore``), one hash per scope."""

    def __init__(self, scripts: _Scripts, namespace: str) -> None:
        self._scripts = scripts
        self._namespace = namespace

    def _key(self, scope: str) -> str:
        return f"{self._namespace}:claims:{scope}"

    async def put(self, claim: Claim) -> None:
        """Record ``claim`` under its token; the scope's hash lives ``CLAIM_TTL`` more."""
        key = self._key(claim.scope)
        pipe = self._scripts.client.pipeline(transaction=True)
        pipe.hset(key, claim.token, _claim_encoder.encode(claim))
        pipe.expire(key, int(CLAIM_TTL))
        await self._scripts.run("create registration", pipe.execute())

    async def claims(self, scope: str) -> list[Claim]:
        """The records of ``scope``."""
        found = await self._scripts.run(
            "create registrations", self._scripts.client.hvals(self._key(scope))
        )
        records = []
        for value in found:
            try:
                records.append(_claim_decoder.decode(value))
            except msgspec.DecodeError:
                continue
        return records

    def __repr__(self) -> str:
        return f"RedisClaims({self._scripts.store!r})"


class RedisFleet:
    """Hosts sharing API keys through one Redis: nonces, in-flight slots and the call counter.

    Parameters
    ----------
    redis : str or redis.asyncio.Redis
        A URL (the fleet builds a client with a 5 s socket timeout and closes it in
        ``close()``) or a caller's ``redis.asyncio.Redis`` (never closed here).
    namespace : str
        Prefix of every Redis key the fleet writes (``<namespace>:<key id>:…``; the key id is a
        hash of the API key, never the key).
    clock : callable returning float seconds, optional
        The member's wall clock (``time.time()``).

    Examples
    --------
    >>> fleet = RedisFleet("redis://10.0.0.5:6379/0")  # doctest: +SKIP
    >>> client = PrimeClient(key, secret, fleet=fleet, rate_limit="pro")  # doctest: +SKIP
    """

    def __init__(
        self,
        redis: str | Redis,
        *,
        namespace: str = DEFAULT_REDIS_NAMESPACE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(namespace, str) or not namespace:
            raise ValidationError("namespace", "must be a non-empty string")
        self.namespace = namespace
        self._scripts = _Scripts(redis)
        self._clock = clock
        self._sources: dict[tuple[str, NonceUnit], RedisNonceSource] = {}
        self._claims = RedisClaims(self._scripts, namespace)

    def _base(self, api_key: str) -> str:
        return f"{self.namespace}:{key_id(api_key)}"

    def nonce_source(self, api_key: str, unit: NonceUnit) -> RedisNonceSource:
        """The fleet's nonce sequence for ``api_key``."""
        found = self._sources.get((api_key, unit))
        if found is None:
            found = self._sources[(api_key, unit)] = RedisNonceSource._on(
                self._scripts, f"{self._base(api_key)}:nonce", unit, self._clock
            )
        return found

    def gate(self, api_key: str, *, window_seconds: float, max_in_flight: int) -> RedisGate:
        """The fleet's in-flight slots for ``api_key`` (the cap and age rule are fleet-wide)."""
        return RedisGate(
            self._scripts,
            self._base(api_key),
            window_seconds=window_seconds,
            max_in_flight=max_in_flight,
            clock=self._clock,
        )

    def counter(
        self, api_key: str, limits: RateLimit | None, *, auto: bool, clock: Callable[[], float]
    ) -> RedisCounter:
        """The fleet's call-counter model for ``api_key``."""
        return RedisCounter(self._scripts, self._base(api_key), limits, auto=auto, clock=clock)

    def claims(self) -> RedisClaims:
        """The fleet's creates under way (every key of the fleet shares them)."""
        return self._claims

    async def forget(self, api_key: str) -> None:
        """Delete what the fleet stores for ``api_key`` except its nonce (a retired key's slots,
        counter and recent send times). The nonce is kept: a key's nonces can never go back."""
        base = self._base(api_key)
        await self._scripts.delete(
            f"{base}:inflight", f"{base}:leases", f"{base}:counter", f"{base}:calls"
        )

    async def close(self) -> None:
        """Close the Redis client if the fleet built it from a URL."""
        await self._scripts.close()

    def __repr__(self) -> str:
        return f"RedisFleet({self._scripts.store!r}, namespace={self.namespace!r})"
