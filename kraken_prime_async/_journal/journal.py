"""``client.journal``: the write path's records, idempotency keys, resolution after a restart.

One ``Journal`` per client, over a store (``memory``, ``sqlite``, ``redis``). The resources
use it around every non-idempotent write (``Resource._written``):

1. ``Journal.held()`` — with an idempotency key: the write already recorded under it (same
   arguments) is returned, a pending one is resolved first (or waited for while the process that
   sends it lives); other arguments raise ``ValidationError``;
2. ``Journal.begin()`` — the intent, recorded (claimed under the idempotency key) before
   anything is sent; its ``Write.sent()`` records each attempt's fence just before the attempt
   goes on the wire (the pipeline's ``on_sent`` hook);
3. ``Write.applied()`` / ``Write.not_applied()`` / ``Write.unknown()`` — the outcome.

How a pending write is resolved is the resources' business: the client hands the journal a
``Resolver`` that runs the write's reconcile rule on the recorded intent (the lost request's
fence is the recorded one), ``_resources/_journaled.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

import msgspec

from .._constants import JOURNAL_MAX_WAIT, JOURNAL_OWNER_LEASE, JOURNAL_WAIT_POLL, LOGGER_NAME
from ..errors import JournalError, KrakenPrimeError, OutcomeUnknownError, ValidationError
from .base import Entry, Intent, Owner, Status, Store, digest, fold, new_id, now
from .chain import export_lines

logger = logging.getLogger(LOGGER_NAME)

#: The multi-step write whose step the current task is sending (its writes are its children).
_parent: ContextVar[str | None] = ContextVar("kraken_prime_async_journal_parent", default=None)

#: ``resolve(intent) -> (status, result, how)``: the write's reconcile rule run on a recorded
#: intent; raises ``OutcomeUnknownError`` when the state does not settle it.
Resolver = Callable[[Intent], Awaitable[tuple[Status, Any, str]]]


class Resolution(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What ``Journal.resolve_pending()`` found for one pending write.

    Attributes
    ----------
    intent_id : str
        The write's id in the journal.
    operation : str
        The API operation (``"SettlePrimeSettlementBatchAsset"``, ``"RotateApiUserKey"``, ...).
    arguments : dict
        Its arguments (never credentials).
    status : {"applied", "not_applied", "unknown", "in_flight"}
        ``applied``: it took effect (``result`` holds what it made, secrets stripped);
        ``not_applied``: it did not, or its effect was undone (a key whose secret was lost is
        deleted); ``unknown``: the state did not settle it (``error`` says why; it stays pending);
        ``in_flight``: a live process is still sending it (left alone).
    how : str or None
        How it was settled (``"never_sent"``, ``"read_back"``, ``"found_user"``, ...).
    result : object
        The recorded result as plain data, for ``applied``.
    error : str or None
        Why it stays ``unknown``.
    """

    intent_id: str
    operation: str
    arguments: dict[str, Any]
    status: str
    how: str | None = None
    result: Any = None
    error: str | None = None


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _unknown_fields(exc: BaseException) -> dict[str, Any]:
    """An ``unknown`` outcome's fields: the error, and the ids the read-back could not
    attribute (``OutcomeUnknownError.candidates``; ids, never a secret) when there are any."""
    fields: dict[str, Any] = {"error": _error_text(exc)}
    if isinstance(exc, OutcomeUnknownError) and exc.candidates:
        fields["candidates"] = tuple(exc.candidates)
    return fields


class Write:
    """One journaled write in flight: records its attempts and its outcome."""

    __slots__ = ("_journal", "intent")

    def __init__(self, journal: Journal, intent: Intent) -> None:
        self._journal = journal
        self.intent = intent

    async def sent(self, fence: int | None, request_id: str) -> None:
        """Before an attempt goes on the wire (``fence``: its nonce fence)."""
        await self._journal._append("sent", self.intent.id, fence=fence, request_id=request_id)

    async def applied(self, result: Any, how: str, *, wait: bool = False) -> None:
        """The write took effect. The outcome is recorded in the background (a crash before
        it lands leaves the write pending, and resolving it reads the same effect back), unless
        ``wait``: a result the caller must not hold before it is recorded (a created key, whose
        resolution would otherwise delete it as a key whose secret was lost)."""
        if wait:
            await self._close("applied", how, result=result)
        else:
            self._journal._later(self._close("applied", how, result=result))

    async def not_applied(self, error: BaseException) -> None:
        self._journal._later(self._close("not_applied", "refused", error=_error_text(error)))

    async def unknown(self, error: BaseException) -> None:
        """The outcome could not be established: the write stays pending (with the read-back's
        ``candidates`` when ``error`` names any)."""
        self._journal._later(self._close("unknown", "unresolved", **_unknown_fields(error)))

    async def stage(self, name: str, **progress: Any) -> None:
        """A step of a multi-step write reached (``progress``: what it learnt, no secret)."""
        await self._journal._append("stage", self.intent.id, how=name, result=progress)

    @contextmanager
    def steps(self) -> Iterator[None]:
        """Writes the enclosed code sends are this write's steps (resolved by its resolver)."""
        token = _parent.set(self.intent.id)
        try:
            yield
        finally:
            _parent.reset(token)

    def abandoned(self) -> None:
        """The caller stopped waiting (cancelled): the write stays pending for
        ``resolve_pending()``."""
        self._journal._inflight.discard(self.intent.id)

    async def _close(self, status: str, how: str, **fields: Any) -> None:
        try:
            await self._journal._append("outcome", self.intent.id, status=status, how=how, **fields)
        except JournalError:
            logger.warning(
                "%s: the outcome could not be journaled; the write stays pending there",
                self.intent.operation,
            )
        finally:
            self._journal._inflight.discard(self.intent.id)


class Journal:
    """``client.journal``: the client's write journal (see the module docstring).

    Built by the client from ``journal=`` (``None``: in memory; a path: a SQLite file; a
    ``RedisJournal``).
    """

    def __init__(self, store: Store, key: str, *, owned: bool) -> None:
        self.store = store
        #: The key's fingerprint: the journal's records of one key, shared by its clients.
        self.key = key
        self.owner = Owner.current()
        self._owner_text = self.owner.encode()
        self._owned = owned
        self._inflight: set[str] = set()
        self._background: set[asyncio.Future[None]] = set()
        self._renewing: asyncio.Future[None] | None = None
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        self._resolver: Resolver | None = None

    def __repr__(self) -> str:
        return f"<Journal store={self.store.name!r} key={self.key!r}>"

    @property
    def durable(self) -> bool:
        """Whether the journal survives the process (a file or Redis)."""
        return self.store.durable

    def attach(self, resolver: Resolver) -> None:
        """The client's resolver (set once, when the resources are built)."""
        self._resolver = resolver

    # --- recording ---------------------------------------------------------------------------

    async def _append(self, kind: Any, intent: str, **fields: Any) -> None:
        await self.store.append(Entry(kind=kind, intent=intent, key=self.key, at=now(), **fields))

    @asynccontextmanager
    async def exclusive(self, idempotency_key: str) -> AsyncIterator[None]:
        """Hold one idempotency key in this process (its tasks take turns); the lock is
        dropped when nobody holds or waits for it."""
        held = self._locks.get(idempotency_key)
        if held is None:
            held = self._locks[idempotency_key] = (asyncio.Lock(), [0])
        lock, users = held
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self._locks[idempotency_key]

    async def begin(
        self,
        operation: str,
        arguments: dict[str, Any],
        *,
        before: Any = None,
        idempotency_key: str | None = None,
        parent: str | None = None,
    ) -> Write | Intent:
        """Record a write's intent; with an idempotency key, the intent now holding it instead
        (another process claimed it meanwhile) is returned and nothing is recorded."""
        entry = Entry(
            kind="intent",
            intent=new_id(),
            key=self.key,
            at=now(),
            operation=operation,
            arguments=arguments,
            digest=digest(operation, arguments),
            before=before,
            idempotency_key=idempotency_key,
            owner=self._owner_text,
            parent=parent if parent is not None else _parent.get(),
        )
        self._inflight.add(entry.intent)
        self._keep_alive()
        try:
            holder = await self.store.claim(entry)
        except BaseException:
            self._inflight.discard(entry.intent)
            raise
        if holder is not None:
            self._inflight.discard(entry.intent)
            return holder
        state = fold(None, entry)  # what the store recorded, without reading it back
        assert state is not None
        return Write(self, state)

    async def held(self, operation: str, arguments: dict[str, Any], key: str) -> Intent | None:
        """The applied write recorded under idempotency key ``key`` (``None``: none holds it:
        send). A pending one is resolved first, or waited for while its process lives.

        Raises
        ------
        ValidationError
            ``key`` holds a write of another operation or other arguments.
        OutcomeUnknownError
            The write holding it could not be settled, or its process kept it in flight for
            longer than ``JOURNAL_MAX_WAIT``.
        """
        wanted = digest(operation, arguments)
        waited = 0.0
        while True:
            await self.flush()
            holder = await self.store.holder(self.key, key)
            if holder is None:
                return None
            if holder.digest != wanted:
                raise ValidationError(
                    "idempotency_key",
                    f"was used for {holder.operation} with other arguments; use a new key for "
                    "a different write",
                )
            if holder.status == "applied":
                return holder
            if await self._resolvable(holder):
                resolution = await self.settle(holder)
                if resolution.status == "unknown":
                    raise OutcomeUnknownError(
                        f"{operation}: the write recorded under this idempotency key could not "
                        f"be settled ({resolution.error}); it stays pending: run "
                        "client.journal.resolve_pending() later.",
                        operation=operation,
                        arguments=arguments,
                        attempts=0,
                    )
                continue
            if waited >= JOURNAL_MAX_WAIT:
                raise OutcomeUnknownError(
                    f"{operation}: another live process has the write of this idempotency key "
                    f"in flight (for over {JOURNAL_MAX_WAIT:.0f}s); try again later.",
                    operation=operation,
                    arguments=arguments,
                    attempts=0,
                )
            await asyncio.sleep(JOURNAL_WAIT_POLL)
            waited += JOURNAL_WAIT_POLL

    # --- resolution --------------------------------------------------------------------------

    async def _resolvable(self, intent: Intent) -> bool:
        """Not in flight here, and not in flight in a live process."""
        if intent.id in self._inflight:
            return False
        owner = Owner.decode(intent.owner)
        if owner.token == self.owner.token or intent.released:
            return True
        return not await self.store.alive(owner)

    async def settle(self, intent: Intent) -> Resolution:
        """Settle one pending write by its rule behind the recorded fence; record the outcome."""
        status: str
        self._inflight.add(intent.id)
        try:
            if not intent.sent:
                status, result, how = "not_applied", None, "never_sent"
            elif self._resolver is None:  # pragma: no cover - set by every client
                raise RuntimeError("the journal has no resolver")
            else:
                status, result, how = await self._resolver(intent)
        except KrakenPrimeError as exc:
            await self._append("outcome", intent.id, status="unknown", **_unknown_fields(exc))
            return self._resolution(intent, "unknown", error=_error_text(exc))
        finally:
            self._inflight.discard(intent.id)
        await self._append("outcome", intent.id, status=status, how=how, result=result)
        logger.info("journal: %s %s resolved as %s (%s)", intent.operation, intent.id, status, how)
        return self._resolution(intent, status, how=how, result=result)

    @staticmethod
    def _resolution(intent: Intent, status: str, **fields: Any) -> Resolution:
        return Resolution(
            intent_id=intent.id,
            operation=intent.operation,
            arguments=intent.arguments,
            status=status,
            **fields,
        )

    async def resolve_pending(
        self, *, operation: str | None = None, match: dict[str, Any] | None = None
    ) -> tuple[Resolution, ...]:
        """Resolve every pending write of this key left by a process that no longer runs (or
        by this one, no longer in flight), oldest first, and record each outcome.

        Each is settled by its reconcile rule, the same nonce-fenced read-back as a lost
        answer: the reads carry nonces at or above the recorded fence (the dead request's nonce
        plus the key's window), so whatever the dead process sent can no longer be admitted and
        the state read shows its final effect. A write never sent is ``not_applied``.

        Parameters
        ----------
        operation : str, optional
            Only writes of this operation.
        match : dict, optional
            Only writes whose arguments include these items (``{"batch_id": ...}``).

        Returns
        -------
        tuple of Resolution
            One per pending write, in the order resolved.
        """
        found = []
        await self.flush()
        for intent in await self.store.pending(self.key):
            if operation is not None and intent.operation != operation:
                continue
            if match and any(intent.arguments.get(k) != v for k, v in match.items()):
                continue
            if intent.parent is not None and operation is None:
                continue  # a workflow's step: resolved by its workflow
            if not await self._resolvable(intent):
                found.append(self._resolution(intent, "in_flight"))
                continue
            found.append(await self.settle(intent))
        return tuple(found)

    def _keep_alive(self) -> None:
        """With a store that leases (Redis), renew this writer's lease while it has writes in
        flight, so a write waiting long for its turn is never taken for a dead one."""
        renew = getattr(self.store, "renew", None)
        if renew is None or (self._renewing is not None and not self._renewing.done()):
            return
        every = float(getattr(self.store, "lease", JOURNAL_OWNER_LEASE)) / 3
        self._renewing = asyncio.ensure_future(self._renew(renew, every))

    async def _renew(self, renew: Callable[[Owner], Awaitable[None]], every: float) -> None:
        while self._inflight:
            try:
                await renew(self.owner)
            except JournalError:
                logger.warning("journal: the writer's lease could not be renewed")
            await asyncio.sleep(every)

    def _later(self, record: Coroutine[Any, Any, None]) -> None:
        """Record in the background; every read of this journal waits for it first."""
        task = asyncio.ensure_future(record)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def flush(self) -> None:
        """Wait for the entries still being recorded in the background (outcomes)."""
        while self._background:
            await asyncio.gather(*self._background)

    async def _export(self, since: float | None) -> AsyncIterator[str]:
        await self.flush()
        async for line in export_lines(self.store.entries(since)):
            yield line

    def export(self, since: float | None = None) -> AsyncIterator[str]:
        """The journal as hash-chained JSON lines (``async for line in journal.export()``).

        Every entry of the store (every key's), in the order recorded; ``since`` (epoch
        seconds): those recorded at or after it. See ``kraken-prime journal verify``.
        """
        if since is not None and (isinstance(since, bool) or not isinstance(since, (int, float))):
            raise ValidationError("since", "must be epoch seconds (a number) or None")
        return self._export(since)

    async def close(self) -> None:
        """Close the store if the client opened it (a path given as ``journal=``)."""
        await self.flush()
        if self._renewing is not None:
            self._renewing.cancel()
        if self._owned:
            await self.store.close()
