"""Who else is creating: every create is registered before it is sent, so that a create whose
answer was lost can tell its own new object from one another writer the SDK can see made.

A create's registration (a ``Claim``) lives in the process (every
client of the base URL sees it) and, when the client has a fleet with a claim store
(``FileLockFleet``, ``RedisFleet``), in the fleet's store too. It says the create is under way,
then what it made (``done``), that it made nothing (``none``), or that its own answer was lost
and not resolved (``unknown``, with the ids it could not attribute).

After a lost answer, a rule reads the state back and hands the objects that are new since its
read-before-write to ``Registration.attribute()``. The creates of the scope still under way
are waited for (at most ``CLAIM_WAIT`` s); then every new object another registered create made
is set aside. What remains is the lost create's, *if* nothing else could have made it:

* nothing remains → the lost create made nothing: proven, whoever else writes;
* one remains, the client was told it is the only writer outside its fleet (``sole_writer=True``),
  no registered create is unresolved, and every create registered since this one's
  read-before-write is still in sight (its ``Mark``: not after a restart, not by a process that
  did not register it, not after ``CLAIM_TTL``) → it is this create's: proven;
* otherwise the remaining ids are ``candidates``: reported, never claimed, never deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Final

import msgspec

from ..._constants import CLAIM_POLL, CLAIM_TTL, CLAIM_WAIT
from ..._keys.fleet._base import Claim, ClaimState, ClaimStore, live_claims
from ...errors import KrakenPrimeError, OutcomeUnknownError, ValidationError

#: Registrations a scope holds before expired ones are swept (``_ProcessClaims.put``).
_SWEEP_MIN = 64


class Mark:
    """What the registrations said just before a create's read-before-write: the process's last
    stamp, and the fleet store's registrations that had ended then. A registration that had
    ended by then explains nothing new (what it made is in the read); any other may.

    ``complete``: ``False`` when registrations made since may be out of sight (a write settled
    after a restart, or by a process that did not register it): then nothing is claimed.
    ``extra``: other creates known from elsewhere, as registrations (a durable journal's records,
    for a write this process did not register: ``seq`` is then -1).
    """

    __slots__ = ("at", "complete", "extra", "seq", "settled")

    def __init__(
        self,
        seq: int,
        settled: frozenset[str],
        at: float,
        *,
        complete: bool = True,
        extra: Mapping[str, Claim] | None = None,
    ) -> None:
        self.seq = seq
        self.settled = settled
        self.at = at
        self.complete = complete
        self.extra: Mapping[str, Claim] = dict(extra or {})

    def __repr__(self) -> str:
        return f"Mark(seq={self.seq}, settled={len(self.settled)}, complete={self.complete})"


#: The mark of a create whose read-before-write was not marked here: every other registration
#: counts as another create, and nothing is claimed.
BLIND: Final = Mark(-1, frozenset(), -math.inf, complete=False)


class _ProcessClaims:
    """The registrations of this process, by base URL and scope, each with the stamp of its last
    change (the process's next sequence number) and its create's ``Mark``; tasks waiting for a
    change are woken by each ``put``."""

    def __init__(self) -> None:
        self._claims: dict[tuple[str, str], dict[str, tuple[int, Claim, Mark]]] = {}
        self.seq = 0
        self._lock = threading.Lock()  # clients on several threads' loops stamp in turn
        #: A scope is swept of expired registrations when it outgrows this (then twice its live
        #: size): sweeping on every put made each create cost a pass over the scope.
        self._sweep_at: dict[tuple[str, str], int] = {}
        self._changed: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def put(self, place: str, claim: Claim, mark: Mark | None = None) -> None:
        """Record ``claim`` (with its create's ``mark``; ``None``: the one recorded before)."""
        key = (place, claim.scope)
        with self._lock:
            scope = self._claims.setdefault(key, {})
            earlier = scope.get(claim.token)
            if mark is None:
                mark = BLIND if earlier is None else earlier[2]
            self.seq += 1
            scope[claim.token] = (self.seq, claim, mark)
            if len(scope) > self._sweep_at.get(key, _SWEEP_MIN):
                for token in [t for t, (_, c, _m) in scope.items() if c.at < claim.at - CLAIM_TTL]:
                    del scope[token]
                self._sweep_at[key] = max(_SWEEP_MIN, 2 * len(scope))
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def claims(self, place: str, scope: str) -> list[Claim]:
        with self._lock:  # another thread's put may change the scope meanwhile
            return [claim for _, claim, _ in self._claims.get((place, scope), {}).values()]

    def stamps(self, place: str, scope: str) -> dict[str, tuple[int, Claim, Mark]]:
        """The process's registrations of ``scope`` by token: the stamp of their last change,
        the registration, its create's mark."""
        return self._claims.get((place, scope), {})

    def changed(self) -> asyncio.Event:
        """An event set at the next ``put`` (one per event loop)."""
        loop = asyncio.get_running_loop()
        if self._changed is None or self._loop is not loop:
            self._changed, self._loop = asyncio.Event(), loop
        return self._changed


_PROCESS = _ProcessClaims()


class Attribution(msgspec.Struct, frozen=True):
    """What a read-back proves about the new objects it found.

    ``remaining``: the new ids no other registered create made (sorted). ``proven``: whether
    the lost create is the only possible author of ``remaining`` (the client is the sole writer
    outside its fleet and every other registered create of the scope is resolved).
    """

    remaining: tuple[str, ...]
    proven: bool

    @property
    def mine(self) -> str | None:
        """The lost create's object, when that is proven; else ``None``."""
        return self.remaining[0] if self.proven and len(self.remaining) == 1 else None


class Registration:
    """One create's registration: made before it is sent, finished with what it made."""

    __slots__ = ("_claims", "_mark", "_scope", "_token")

    def __init__(
        self, claims: Claims, scope: str, token: str | None = None, mark: Mark = BLIND
    ) -> None:
        self._claims = claims
        self._scope = scope
        self._token = secrets.token_hex(8) if token is None else token
        #: The registrations as they stood before this create's read-before-write.
        self._mark = mark

    async def put(self, state: ClaimState, ids: Iterable[str] = ()) -> None:
        await self._claims.put(Claim(self._scope, self._token, state, tuple(ids)))

    async def failed(self, exc: BaseException) -> None:
        """End the registration of a create that raised ``exc``: ``unknown`` (with the ids its
        read-back could not attribute) when it may have taken effect, ``none`` when it was
        refused or proven not applied."""
        if isinstance(exc, OutcomeUnknownError):
            await self.put("unknown", exc.candidates)
        elif isinstance(exc, KrakenPrimeError):
            await self.put("none")
        else:
            await self.put("unknown")  # cancelled: it may have been sent

    async def open(self) -> None:
        """Register as under way (nothing is read: see ``_others()``)."""
        await self._claims.put(Claim(self._scope, self._token, "pending"), self._mark)

    async def _others(self) -> dict[str, Claim]:
        """The registrations of the scope but this one and those that had ended before this
        create's read-before-write (``Mark``: what they made is in that read, so they explain
        nothing new). Any registration not known to have ended by then counts as another
        create: that can only withhold a proof, never make one."""
        stamps = self._claims.stamps(self._scope)
        mark = self._mark
        others = {t: claim for t, claim in mark.extra.items() if t != self._token}
        for token, claim in (await self._claims.read(self._scope)).items():
            if token == self._token:
                continue
            stamped = stamps.get(token)
            if stamped is not None:
                ended_before = stamped[0] <= mark.seq and stamped[1].state != "pending"
            else:
                ended_before = token in mark.settled
            if not ended_before:
                others[token] = claim
            else:
                others.pop(token, None)
        return others

    def _complete(self) -> bool:
        """Whether every registration made since the mark is still in sight."""
        mark = self._mark
        return mark.complete and self._claims.clock() - mark.at < CLAIM_TTL

    async def attribute(self, new: Iterable[str]) -> Attribution:
        """Set aside the ``new`` ids another registered create made, waiting (at most
        ``CLAIM_WAIT`` s) for the creates of the scope under way now while some remain."""
        new = set(new)
        others = await self._others()
        waiting = {token for token, claim in others.items() if claim.state == "pending"}
        # The loop's clock, not the client's: the creates waited for are requests on the wire,
        # answered in real time; an injected clock (tests freeze or jump it) must not cut the
        # wait short and take their objects for this create's.
        deadline = asyncio.get_running_loop().time() + CLAIM_WAIT
        while True:
            theirs = {i for claim in others.values() if claim.state == "done" for i in claim.ids}
            remaining = tuple(sorted(new - theirs))
            if not remaining or not waiting or asyncio.get_running_loop().time() >= deadline:
                break
            changed = _PROCESS.changed()
            # woken by a change in this process; a fleet's store is polled
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(changed.wait(), CLAIM_POLL)
            others = await self._others()
            waiting = {t for t in waiting if t in others and others[t].state == "pending"}
        # Another create may have made one of ``remaining``: one still under way since before,
        # or one that ended unknown with no candidates or with one of them among its own.
        rivals = [
            claim
            for token, claim in others.items()
            if (claim.state == "pending" and token in waiting)
            or (claim.state == "unknown" and (not claim.ids or set(claim.ids) & set(remaining)))
        ]
        proven = self._claims.sole_writer and not rivals and self._complete()
        return Attribution(remaining, proven)


class Claims:
    """A client's view of the creates under way: the process's and its fleet's registrations.

    Parameters
    ----------
    place : str
        Where the writes go (the base URL): registrations of other places are not consulted.
    sole_writer : bool
        Whether the client was told no writer outside its fleet creates on the account.
    store : ClaimStore or None
        The fleet's claim store.
    clock : callable
        The client's wall clock (registrations expire ``CLAIM_TTL`` after their last change).
    """

    __slots__ = ("_place", "_store", "clock", "sole_writer")

    def __init__(
        self,
        place: str,
        *,
        sole_writer: bool,
        store: ClaimStore | None,
        clock: Callable[[], float],
    ) -> None:
        self._place = place
        self.sole_writer = sole_writer
        self._store = store
        self.clock = clock

    async def mark(self, scope: str) -> Mark:
        """The registrations of ``scope`` as they stand now: taken just before a create's
        read-before-write (the fleet's store is read for those that have ended)."""
        seq = _PROCESS.seq
        settled: frozenset[str] = frozenset()
        if self._store is not None:
            found = live_claims(await self._store.claims(scope), self.clock())
            settled = frozenset(t for t, claim in found.items() if claim.state != "pending")
        return Mark(seq, settled, self.clock())

    async def register(
        self, scope: str, *, token: str | None = None, mark: Mark | None = None
    ) -> Registration:
        """Register a create of ``scope`` (before it is sent), with the ``mark`` taken before its
        read-before-write. ``token`` names it (default: a random one); registering a token
        again replaces its earlier registration and keeps its mark (a journaled create resolved
        after its answer was lost); one this process did not register before, without a mark,
        claims nothing (``BLIND``)."""
        if mark is None:
            earlier = None if token is None else self.stamps(scope).get(token)
            mark = BLIND if earlier is None else earlier[2]
        registration = Registration(self, scope, token, mark)
        await registration.open()
        return registration

    async def put(self, claim: Claim, mark: Mark | None = None) -> None:
        """Record ``claim`` in the process (with its create's ``mark``) and the fleet's store."""
        claim = msgspec.structs.replace(claim, at=self.clock())
        _PROCESS.put(self._place, claim, mark)
        if self._store is not None:
            await self._store.put(claim)

    def stamps(self, scope: str) -> dict[str, tuple[int, Claim, Mark]]:
        """This process's registrations of ``scope`` with their stamps (``_ProcessClaims``)."""
        return _PROCESS.stamps(self._place, scope)

    async def read(self, scope: str) -> dict[str, Claim]:
        """The live registrations of ``scope``, the process's and the fleet's, by token."""
        found = _PROCESS.claims(self._place, scope)
        if self._store is not None:
            found += await self._store.claims(scope)
        return live_claims(found, self.clock())

    def __repr__(self) -> str:
        return f"Claims(sole_writer={self.sole_writer})"


def client_claims(
    place: str, sole_writer: object, fleet: object, clock: Callable[[], float]
) -> Claims:
    """A client's ``Claims``: ``sole_writer`` checked, the fleet's claim store if any.

    Raises
    ------
    ValidationError
        If ``sole_writer`` is not a bool.
    """
    if not isinstance(sole_writer, bool):
        raise ValidationError("sole_writer", "must be True or False")
    claims = getattr(fleet, "claims", None)
    store = claims() if callable(claims) else None
    return Claims(
        place,
        sole_writer=sole_writer,
        store=store if isinstance(store, ClaimStore) else None,
        clock=clock,
    )
