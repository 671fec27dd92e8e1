"""The fleet's journal (``RedisJournal``): the hosts sharing a key share its write journal.

Layout under a namespace (``kraken-prime:journal`` by default):

* ``<ns>:log`` — the entries, a list in the order recorded (each with its ``seq``, from
  ``<ns>:seq``); the audit export reads it;
* ``<ns>:intents`` — each write's folded state, by id; ``<ns>:holders`` — the write holding each
  idempotency key (``<key>|<idempotency key>``); ``<ns>:pending:<key>`` and
  ``<ns>:children:<write>`` — indexes;
* ``<ns>:owner:<token>`` — each journal instance's lease, renewed by every entry it records.

Each entry is one Lua script (append, index, renew the lease), so it is atomic on the server; a
claim of an idempotency key checks the holder and records the intent in the same script. A
writer on this host is alive while its process runs (pid and start time); one on another host
while its lease (``lease`` seconds, renewed by each entry it records, so longer than a request's
timeout) has not expired. Durability is Redis's: with ``appendonly yes`` and ``appendfsync
always`` an entry survives a Redis restart; with the defaults the last second may not.

Needs the ``redis`` package (``pip install 'kraken-prime-async[redis]'``); never imported by
``import kraken_prime_async``. Any Redis failure raises
``JournalError`` (before the request, when recording its intent).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Any, Final

import msgspec

from .._constants import (
    DEFAULT_JOURNAL_NAMESPACE,
    JOURNAL_OWNER_LEASE,
    REDIS_CONNECT_TIMEOUT,
    REDIS_SOCKET_TIMEOUT,
)
from ..errors import JournalError, ValidationError
from .base import HOLDING, Entry, Intent, Owner, fold

if TYPE_CHECKING:
    from redis.asyncio import Redis

# KEYS: seq, log, intents, holders, pending, children, owner
# ARGV: entry body (JSON, no seq), intent id, state JSON, holder field or "", status,
#       lease ms, claim ("1": refuse if the holder field is held)
_APPEND_LUA: Final = """
if ARGV[7] == '1' and ARGV[4] ~= '' then
  local held = redis.call('HGET', KEYS[4], ARGV[4])
  if held then
    local state = redis.call('HGET', KEYS[3], held)
    if state then
      local status = cjson.decode(state)['status']
      if status == 'pending' or status == 'applied' then return {0, state} end
    end
  end
end
local seq = redis.call('INCR', KEYS[1])
redis.call('RPUSH', KEYS[2], '{"seq":' .. seq .. ',' .. string.sub(ARGV[1], 2))
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
if ARGV[4] ~= '' then
  if ARGV[5] == 'pending' or ARGV[5] == 'applied' then
    redis.call('HSET', KEYS[4], ARGV[4], ARGV[2])
  elseif redis.call('HGET', KEYS[4], ARGV[4]) == ARGV[2] then
    redis.call('HDEL', KEYS[4], ARGV[4])
  end
end
if ARGV[5] == 'pending' then redis.call('SADD', KEYS[5], ARGV[2])
else redis.call('SREM', KEYS[5], ARGV[2]) end
if KEYS[6] ~= '' then redis.call('SADD', KEYS[6], ARGV[2]) end
redis.call('SET', KEYS[7], '1', 'PX', ARGV[6])
return {1, seq}
"""
_PAGE: Final = 500

_encode = msgspec.json.Encoder().encode
_entry = msgspec.json.Decoder(Entry).decode
_state = msgspec.json.Decoder(Intent).decode


def _connect(redis: object) -> tuple[Redis, bool]:
    try:
        from redis.asyncio import Redis
    except ImportError:  # pragma: no cover - depends on the install
        raise ImportError(
            "RedisJournal needs the 'redis' package: pip install 'kraken-prime-async[redis]'"
        ) from None
    if isinstance(redis, str):
        try:
            return Redis.from_url(
                redis,
                socket_timeout=REDIS_SOCKET_TIMEOUT,
                socket_connect_timeout=REDIS_CONNECT_TIMEOUT,
            ), True
        except ValueError:
            raise ValidationError("redis", "not a redis:// or rediss:// URL") from None
    if not isinstance(redis, Redis):
        raise ValidationError("redis", "must be a URL or a redis.asyncio.Redis client")
    return redis, False


class RedisJournal:
    """A write journal in Redis, shared by the hosts of a fleet (see the module docstring).

    Parameters
    ----------
    redis : str or redis.asyncio.Redis
        A ``redis://`` / ``rediss://`` URL (the journal owns that connection) or a client of
        yours (never closed by the journal).
    namespace : str
        Prefix of the journal's keys.
    lease : float
        Seconds a writer on another host counts as alive after its last entry.
    """

    durable = True

    def __init__(
        self,
        redis: str | Redis,
        *,
        namespace: str = DEFAULT_JOURNAL_NAMESPACE,
        lease: float = JOURNAL_OWNER_LEASE,
    ) -> None:
        if not isinstance(namespace, str) or not namespace:
            raise ValidationError("namespace", "must be a non-empty string")
        if isinstance(lease, bool) or not isinstance(lease, (int, float)) or lease <= 0:
            raise ValidationError("lease", "must be a positive number of seconds")
        from redis.exceptions import RedisError

        self._failures: tuple[type[BaseException], ...] = (RedisError, OSError)
        self.client, self._owned = _connect(redis)
        kwargs: dict[str, Any] = self.client.connection_pool.connection_kwargs
        where = kwargs.get("path") or f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
        self.name = f"redis {where}/{kwargs.get('db', 0)}"
        self._ns = namespace
        self._lease_ms = int(lease * 1000)
        self._append = self.client.register_script(_APPEND_LUA)

    def __repr__(self) -> str:
        return f"RedisJournal({self.name!r}, namespace={self._ns!r})"

    async def _run(self, what: str, awaitable: Awaitable[Any]) -> Any:
        try:
            return await awaitable
        except self._failures as exc:
            raise JournalError(
                f"the journal on {self.name} could not {what} ({type(exc).__name__})",
                store=self.name,
            ) from exc

    async def _record(self, entry: Entry, *, claim: bool) -> Intent | None:
        raw = await self._run("be read", self.client.hget(f"{self._ns}:intents", entry.intent))
        state = fold(None if raw is None else _state(raw), entry)
        if state is None:
            return None
        ns, holder = self._ns, ""
        if state.idempotency_key is not None:
            holder = f"{state.key}|{state.idempotency_key}"
        keys = [
            f"{ns}:seq",
            f"{ns}:log",
            f"{ns}:intents",
            f"{ns}:holders",
            f"{ns}:pending:{state.key}",
            "" if state.parent is None else f"{ns}:children:{state.parent}",
            f"{ns}:owner:{Owner.decode(state.owner).token}",
        ]
        args: list[Any] = [
            _encode(entry),
            state.id,
            _encode(state),
            holder,
            state.status,
            self._lease_ms,
        ]
        done, value = await self._run(
            "record an entry", self._append(keys=keys, args=[*args, "1" if claim else "0"])
        )
        return None if done else _state(value)

    async def append(self, entry: Entry) -> None:
        await self._record(entry, claim=False)

    async def claim(self, entry: Entry) -> Intent | None:
        return await self._record(entry, claim=True)

    async def holder(self, key: str, idempotency_key: str) -> Intent | None:
        held = await self._run(
            "be read", self.client.hget(f"{self._ns}:holders", f"{key}|{idempotency_key}")
        )
        state = None if held is None else await self.get(held.decode())
        return state if state is not None and state.status in HOLDING else None

    async def get(self, intent_id: str) -> Intent | None:
        raw = await self._run("be read", self.client.hget(f"{self._ns}:intents", intent_id))
        return None if raw is None else _state(raw)

    async def _states(self, index: str) -> list[Intent]:
        ids = await self._run("be read", self.client.smembers(index))
        if not ids:
            return []
        raws = await self._run("be read", self.client.hmget(f"{self._ns}:intents", list(ids)))
        return sorted((_state(raw) for raw in raws if raw is not None), key=lambda s: s.at)

    async def pending(self, key: str) -> list[Intent]:
        return [s for s in await self._states(f"{self._ns}:pending:{key}") if s.pending]

    async def children(self, key: str, parent: str) -> list[Intent]:
        found = await self._states(f"{self._ns}:children:{parent}")
        return [s for s in found if s.key == key]

    async def entries(self, since: float | None = None) -> AsyncIterator[Entry]:
        start = 0
        while True:
            rows = await self._run(
                "be read", self.client.lrange(f"{self._ns}:log", start, start + _PAGE - 1)
            )
            for raw in rows:
                entry = _entry(raw)
                if since is None or entry.at >= since:
                    yield entry
            if len(rows) < _PAGE:
                return
            start += _PAGE

    @property
    def lease(self) -> float:
        """Seconds a writer on another host counts as alive after its last renewal."""
        return self._lease_ms / 1000

    async def renew(self, owner: Owner) -> None:
        """Renew ``owner``'s lease (while it has writes in flight; see ``Journal``)."""
        key = f"{self._ns}:owner:{owner.token}"
        await self._run("renew a lease", self.client.set(key, "1", px=self._lease_ms))

    async def alive(self, owner: Owner) -> bool:
        here = owner.alive_here()
        if here is not None:
            return here
        lease = await self._run("be read", self.client.exists(f"{self._ns}:owner:{owner.token}"))
        return bool(lease)

    async def close(self) -> None:
        """Close the connection the journal opened from a URL (a client of yours stays open)."""
        if self._owned:
            await self.client.aclose()
