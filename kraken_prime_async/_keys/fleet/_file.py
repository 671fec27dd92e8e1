"""A fleet on one host: processes share a key through small files under OS locks (``flock``).

* ``<dir>/<key id>.nonce``: the last nonce and its unit, read-max-written under an exclusive lock
  ([`FileLockNonceSource`][kraken_prime_async.FileLockNonceSource]). The record is rewritten in
  place with one ``pwrite`` of a
  fixed-size line, so a process killed at any point leaves either the old or the new value.
* ``<dir>/<key id>.slot<i>``: one lock file per in-flight slot, held while a request is on the
  wire. The kernel drops the lock of a process that dies, so a crashed member never blocks the
  key.
* ``<dir>/<key id>.counter``: the call-counter model (value, last update, throttle hold, tier;
  then when ``rate_limit="auto"`` learnt the tier and the auto members' recent send times).
* ``<dir>/creates.log``: the fleet's creates under way (``FileLockClaims``), one JSON record
  a line, appended under the lock of ``<dir>/creates.lock``.

Every lock is held for microseconds (a read and a write of a few bytes, never across an
``await``), except the slot locks, which are taken without blocking and polled.
"""

from __future__ import annotations

import asyncio
import os
import struct
import threading
import time
from collections.abc import Awaitable, Callable, Hashable
from pathlib import Path
from typing import Final, TypeVar

from ..._constants import DEFAULT_NONCE_UNIT
from ...errors import CoordinationError, ValidationError
from ..nonces import PER_SECOND, NonceUnit, following
from ..pacing import _CALL_HISTORY, RateLimit, decayed, wait_for_room
from ._base import CounterState, FleetCounterBase, key_id, poll_delays
from ._file_claims import FileLockClaims
from ._locked_file import LockedFile

_K = TypeVar("_K")
_T = TypeVar("_T")

_NONCE_RECORD: Final = b"%020d %-2s\n"
_COUNTER_RECORD: Final = struct.Struct("<5d")  # value, updated, blocked_until, max, decay
#: ... and when ``auto`` learnt the tier (0: a member gave it, or none): what a member with a
#: tier of its own writes. A file from before has only ``_COUNTER_RECORD``.
_TIER_RECORD: Final = struct.Struct("<6d")
#: ... and how many send times were ever recorded: what an ``auto`` member writes, followed by
#: ``_CALL_HISTORY`` send times in a ring (the next goes to slot ``count % _CALL_HISTORY``), all
#: in one ``pwrite``; the ring is unpacked only for a refusal.
_AUTO_HEAD: Final = struct.Struct("<7d")
_TIME: Final = struct.Struct("<d")
_TIME_RING: Final = struct.Struct(f"<{_CALL_HISTORY}d")
_RING_SIZE: Final = _TIME_RING.size
_AUTO_SIZE: Final = _AUTO_HEAD.size + _RING_SIZE
_HOLD_RECORD: Final = struct.Struct("<d")  # a slot's "busy until" (Unix seconds; 0: free)


def _held_until(fd: int) -> float:
    """The "busy until" time a slot file holds (0.0 when none)."""
    data = os.pread(fd, _HOLD_RECORD.size, 0)
    return _HOLD_RECORD.unpack(data)[0] if len(data) == _HOLD_RECORD.size else 0.0


class FileLockNonceSource:
    """Nonces shared by the processes of one host through a file.

    Each nonce is ``max(clock() * unit, last + 1)``, where ``last`` is read from the file and the
    new value written back under an exclusive lock: strictly increasing across every process
    using ``path``, across restarts, and when the clock steps backwards.

    Parameters
    ----------
    path : str or os.PathLike
        The nonce file (created with mode 0600 if missing; its directory must exist). Every
        process sharing the key must use the same file, on a local file system (``flock`` over
        NFS is not reliable).
    unit : Literal["s", "ms", "us", "ns"]
        Nonce unit, recorded in the file: a process with another unit gets a
        [`ValidationError`][kraken_prime_async.ValidationError] instead of nonces the key would
        reject.
    clock : callable returning float seconds, optional
        The wall clock (``time.time()``); injectable for tests.

    Notes
    -----
    About 5 µs per nonce on a local disk (see ``docs/nonces-and-fleets.md``, "Running a fleet on
    one key"). The file is
    not fsync'ed: it survives processes being killed, not the host losing power (after which the
    clock-based part of the nonce is normally already ahead).
    """

    __slots__ = ("_clock", "_file", "_scale", "unit")

    def __init__(
        self,
        path: str | os.PathLike[str],
        unit: NonceUnit = DEFAULT_NONCE_UNIT,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if unit not in PER_SECOND:
            raise ValidationError("nonce_unit", f"must be one of {sorted(PER_SECOND)}")
        self.unit: NonceUnit = unit
        self._scale = PER_SECOND[unit]
        self._clock = clock
        self._file = LockedFile(path)

    @property
    def path(self) -> str:
        """The nonce file."""
        return self._file.path

    def next_nonce_sync(self, floor: int = 0) -> int:
        """Return the next nonce without awaiting, ``>= floor`` (the lock is held for
        microseconds)."""
        now = max(int(self._clock() * self._scale), floor)
        with self._file.locked() as fd:
            nonce = following(now, self._read(fd))
            os.pwrite(fd, _NONCE_RECORD % (nonce, self.unit.encode()), 0)
        return nonce

    async def next_nonce(self) -> int:
        """Return the next nonce."""
        return self.next_nonce_sync()

    async def next_nonce_at_least(self, floor: int) -> int:
        """Return the next nonce, ``>= floor``: ``max(floor, now, last + 1)``."""
        return self.next_nonce_sync(floor)

    def _read(self, fd: int) -> int:
        raw = os.pread(fd, 64, 0)
        if not raw.strip():
            return 0
        try:
            text, unit = raw.decode("ascii").split()
            last = int(text)
        except ValueError:
            raise CoordinationError(
                f"{self.path} does not hold a nonce record; refusing to guess the last nonce",
                store=self.path,
            ) from None
        if unit != self.unit:
            raise ValidationError(
                "nonce_unit",
                f"{self.unit!r} conflicts with {unit!r} recorded in {self.path} for this key",
            )
        return last

    def close(self) -> None:
        """Close the file (it is reopened on the next nonce)."""
        self._file.close()

    def __repr__(self) -> str:
        return f"FileLockNonceSource({self.path!r}, unit={self.unit!r})"


class FileLockGate:
    """The key's in-flight slots as lock files: a slot is held by holding its file's lock.

    A slot released with a hold keeps its "busy until" time (wall clock) in its file: members
    that lock it before then let it go again. A second release of the token ends the hold, if
    the file still holds the time this member wrote.
    """

    def __init__(self, base: str, slots: int) -> None:
        self._files = [LockedFile(f"{base}.slot{i}") for i in range(slots)]
        self._held: set[int] = set()  # flock does not exclude holders of the same descriptor
        self._holding: dict[int, float] = {}  # slots released with a hold: the time written
        self._lock = threading.Lock()

    def _try(self) -> int | None:
        with self._lock:
            for index, file in enumerate(self._files):
                if index not in self._held and file.try_lock():
                    if _held_until(file.fd()) > time.time():
                        file.unlock()  # an abandoned request's hold: still taken
                        continue
                    self._held.add(index)
                    return index
        return None

    async def acquire(self, lease_seconds: float) -> Hashable:
        """Wait for a free slot. Its file then says "busy until" ``lease_seconds`` from now
        (``renew()`` moves it on): a holder that dies (the kernel drops its lock) keeps the
        slot taken that long, since its request may still be travelling."""
        index = self._try()
        if index is None:
            for delay in poll_delays():
                await asyncio.sleep(delay)
                index = self._try()
                if index is not None:
                    break
        assert index is not None
        self.renew(index, lease_seconds)
        return index

    def renew(self, token: Hashable, lease_seconds: float) -> None:
        """This member still holds slot ``token``: if it dies, the slot stays taken
        ``lease_seconds`` from now."""
        assert isinstance(token, int)
        with self._lock:
            if token in self._held:
                until = time.time() + lease_seconds
                os.pwrite(self._files[token].fd(), _HOLD_RECORD.pack(until), 0)

    async def release(self, token: Hashable, hold_seconds: float = 0.0) -> None:
        """Free slot ``token`` (with ``hold_seconds``: for other members only that much later;
        released again, without: the hold ends now)."""
        assert isinstance(token, int)
        with self._lock:
            file = self._files[token]
            if token not in self._held:  # the end of a hold: only the one this member wrote
                written = self._holding.pop(token, None)
                if written is not None and _held_until(file.fd()) == written:
                    os.pwrite(file.fd(), _HOLD_RECORD.pack(0.0), 0)
                return
            until = time.time() + hold_seconds if hold_seconds > 0 else 0.0
            if hold_seconds > 0 or _held_until(file.fd()):
                os.pwrite(file.fd(), _HOLD_RECORD.pack(until), 0)
            if hold_seconds > 0:
                self._holding[token] = until
            file.unlock()
            self._held.discard(token)

    def close(self) -> None:
        """Close the slot files not held now (a held slot stays locked until released)."""
        with self._lock:
            for index, file in enumerate(self._files):
                if index not in self._held:
                    file.close()

    def __repr__(self) -> str:
        return f"FileLockGate(slots={len(self._files)}, held_here={len(self._held)})"


class FileLockCounter(FleetCounterBase):
    """The call-counter model of ``_rate_limit``, kept in a file shared by the fleet."""

    def __init__(
        self, path: str, limits: RateLimit | None, *, auto: bool, clock: Callable[[], float]
    ) -> None:
        super().__init__(limits, auto=auto, clock=clock)
        self._file = LockedFile(path)

    def _read(self, fd: int) -> tuple[CounterState, int, bytes]:
        """The shared counter, from as much of the record as the file holds; with how many send
        times were ever recorded and the ring of the last ones (zeros when there is none).

        A file of the previous format holds no learnt time: its tier, if any, counts as learnt
        at its last update (it cannot tell a member's tier from the starter tier ``auto`` then
        stored for good); a member with a tier of its own writes it back as given on its next
        call.
        """
        raw = os.pread(fd, _AUTO_SIZE, 0)
        if len(raw) < _COUNTER_RECORD.size:
            return CounterState(0.0, self._clock(), 0.0, None), 0, bytes(_RING_SIZE)
        value, updated, blocked, maximum, decay = _COUNTER_RECORD.unpack_from(raw)
        limits = RateLimit(maximum, decay) if maximum >= 1 and decay > 0 else None
        state = CounterState(value, updated, blocked, limits, updated if limits else 0.0)
        if len(raw) >= _TIER_RECORD.size:
            state.learnt = _TIER_RECORD.unpack_from(raw)[5]
        if len(raw) < _AUTO_SIZE:
            return state, 0, bytes(_RING_SIZE)
        count = _AUTO_HEAD.unpack_from(raw)[6]
        valid = 0 <= count < 2**53 and count == int(count)
        return state, int(count) if valid else 0, raw[_AUTO_HEAD.size :]

    def _write(self, fd: int, state: CounterState, count: int, ring: bytes) -> None:
        limits = state.limits
        maximum, decay = (limits.max_counter, limits.decay_per_second) if limits else (0.0, 0.0)
        head = (state.value, state.updated, state.blocked, maximum, decay, state.learnt, count)
        os.pwrite(fd, _AUTO_HEAD.pack(*head) + ring, 0)

    async def acquire(self, cost: float, sleep: Callable[[float], Awaitable[None]]) -> float:
        """Wait until a call of ``cost`` fits the fleet's counter, charge it, return the wait.

        A member without a tier of its own (``auto``) drops a learnt tier after the quiet
        period and records the call's send time; one with a tier stores it, as given.
        """
        if self.limits is not None:
            return await self._acquire_given(self.limits, cost, sleep)
        waited = 0.0
        while True:
            now = self._clock()
            with self._file.locked() as fd:
                state, count, ring = self._read(fd)
                state.relax(now)
                self._seen(state.limits, state.learnt, state.blocked)
                state.value, state.updated = decayed(state.value, state.updated, now, state.limits)
                delay = wait_for_room(state.value, state.blocked, now, cost, state.limits)
                if delay == 0.0:
                    if state.limits is not None:
                        state.value += cost
                    slot = count % _CALL_HISTORY * _TIME.size
                    ring = ring[:slot] + _TIME.pack(now) + ring[slot + _TIME.size :]
                    self._write(fd, state, count + 1, ring)
                    return waited
            await sleep(delay)
            waited += delay

    async def _acquire_given(
        self, limits: RateLimit, cost: float, sleep: Callable[[float], Awaitable[None]]
    ) -> float:
        """``acquire()`` of a member with a tier of its own: the counter's head only."""
        waited = 0.0
        while True:
            now = self._clock()
            with self._file.locked() as fd:
                raw = os.pread(fd, _COUNTER_RECORD.size, 0)
                value, updated, blocked, _, _ = (
                    _COUNTER_RECORD.unpack(raw)
                    if len(raw) == _COUNTER_RECORD.size
                    else (0.0, now, 0.0, 0.0, 0.0)
                )
                self._blocked_until = blocked
                value, updated = decayed(value, updated, now, limits)
                delay = wait_for_room(value, blocked, now, cost, limits)
                if delay == 0.0:
                    maximum, decay = limits.max_counter, limits.decay_per_second
                    record = (value + cost, updated, blocked, maximum, decay, 0.0)
                    os.pwrite(fd, _TIER_RECORD.pack(*record), 0)
                    return waited
            await sleep(delay)
            waited += delay

    def close(self) -> None:
        """Close the counter file (it is reopened on the next call)."""
        self._file.close()

    async def refused(self, retry_at: float | None, cost: float) -> None:
        """Kraken refused a call for rate: the whole fleet's counter is full (a counter
        refusal, ``retry_at`` None: see ``CounterState.refused()``), or every call of the key
        waits until ``retry_at`` (``Throttled``: no tier is learnt or changed)."""
        now = self._clock()
        with self._file.locked() as fd:
            state, count, ring = self._read(fd)
            if retry_at is None:
                times = _TIME_RING.unpack(ring)
                oldest = count % _CALL_HISTORY if count > _CALL_HISTORY else 0
                state.calls = [*times[oldest:], *times[:oldest]][: min(count, _CALL_HISTORY)]
                state.refused(now, cost, self.limits, self.auto)
            else:
                state.relax(now)
                if self.limits is not None:
                    state.limits, state.learnt = self.limits, 0.0
                state.value, state.updated = decayed(state.value, state.updated, now, state.limits)
                state.blocked = max(state.blocked, retry_at)
            self._seen(state.limits, state.learnt, state.blocked)
            self._write(fd, state, count, ring)


class FileLockFleet:
    """Processes on one host sharing API keys through lock files in ``directory``.

    Parameters
    ----------
    directory : str or os.PathLike
        Where the files live (created, mode 0700, if missing). Every member of the fleet passes
        the same directory, on a local file system. File names are derived from a hash of the
        API key, never the key itself.

    Examples
    --------
    >>> fleet = FileLockFleet("/var/lib/settler/kraken")  # doctest: +SKIP
    >>> client = PrimeClient(key, secret, fleet=fleet, rate_limit="pro")  # doctest: +SKIP
    >>> await fleet.close()  # after the clients; as for RedisFleet  # doctest: +SKIP
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise CoordinationError(
                f"cannot create {self.directory} ({exc.strerror})", store=str(self.directory)
            ) from None
        # One object per key in the process: one descriptor per file, one set of held slots.
        self._sources: dict[tuple[str, NonceUnit], FileLockNonceSource] = {}
        self._gates: dict[tuple[str, int], FileLockGate] = {}
        self._counters: list[FileLockCounter] = []
        self._claims = FileLockClaims(self.directory)
        self._lock = threading.Lock()

    def _shared(self, cache: dict[_K, _T], key: _K, make: Callable[[], _T]) -> _T:
        with self._lock:
            found = cache.get(key)
            if found is None:
                found = cache[key] = make()
            return found

    def _base(self, api_key: str) -> str:
        return str(self.directory / key_id(api_key))

    def nonce_source(self, api_key: str, unit: NonceUnit) -> FileLockNonceSource:
        """The fleet's nonce file for ``api_key``."""
        return self._shared(
            self._sources,
            (api_key, unit),
            lambda: FileLockNonceSource(self._base(api_key) + ".nonce", unit),
        )

    def gate(self, api_key: str, *, window_seconds: float, max_in_flight: int) -> FileLockGate:
        """The fleet's slots for ``api_key``: one with a window of 0, else ``max_in_flight``.

        With a window, the age rule of ``_local_gate`` (a new request waits while the oldest
        is past half the window) is applied per process; the slot count caps the fleet.
        """
        slots = 1 if window_seconds <= 0 else max_in_flight
        return self._shared(
            self._gates, (api_key, slots), lambda: FileLockGate(self._base(api_key), slots)
        )

    def counter(
        self, api_key: str, limits: RateLimit | None, *, auto: bool, clock: Callable[[], float]
    ) -> FileLockCounter:
        """The fleet's call-counter file for ``api_key``."""
        counter = FileLockCounter(self._base(api_key) + ".counter", limits, auto=auto, clock=clock)
        with self._lock:
            self._counters.append(counter)
        return counter

    def claims(self) -> FileLockClaims:
        """The fleet's creates under way (every key of the fleet shares one log)."""
        return self._claims

    async def close(self) -> None:
        """Close the fleet's open files (safe to call twice; a later call reopens them).

        Call it after the clients using the fleet are closed, as
        [`RedisFleet.close()`][kraken_prime_async.RedisFleet.close]: the
        files themselves stay, so the key's nonce sequence continues in the next process.
        """
        with self._lock:
            sources, gates = list(self._sources.values()), list(self._gates.values())
            counters, self._counters = self._counters, []
        for source in sources:
            source.close()
        for gate in gates:
            gate.close()
        for counter in counters:
            counter.close()
        self._claims.close()

    def __repr__(self) -> str:
        return f"FileLockFleet({str(self.directory)!r})"
