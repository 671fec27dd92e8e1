"""The journal's records, the state they fold into, the owner of a write, and the store protocol.

A journal is an append-only log of ``Entry`` records, three kinds per write:

* ``intent``: recorded before anything is sent: the operation, its arguments (never
  credentials), the digest the idempotency check compares, the state the reconcile rule read
  before sending (``before``), the idempotency key, the key's fingerprint and the writing process
  (``owner``);
* ``sent``: recorded before each attempt goes on the wire: the attempt's nonce fence (the lowest
  nonce that, once Kraken accepts it on the key, refuses this attempt for good) and the call's
  request id;
* ``stage``: a step of a multi-step write (a key rotation's ``created``, ``delivered``,
  ``deleting_old``), with what it learnt (``result``, merged into the write's ``progress``);
* ``outcome``: after the write: ``applied`` (with the result, secrets stripped), ``not_applied``
  (refused, or proven not applied behind the fence), or ``unknown`` (the answer was lost and
  could not be settled: the intent stays pending for ``resolve_pending()``); an ``unknown``
  create also records the ids the read-back could not attribute (``candidates``: ids, never a
  secret), which ``api_user_keys.audit()`` reports while the write stays pending.

The entries of one write fold into its ``Intent`` (``fold``); a store keeps both, the log for
the audit export and the folded state for lookups. Stores (``memory``, ``sqlite``, ``redis``)
implement ``Store``; everything above them is shared.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Final, Literal, Protocol

import msgspec

EntryKind = Literal["intent", "sent", "stage", "outcome"]
#: ``pending`` until an outcome closes it; ``unknown`` outcomes leave it pending.
Status = Literal["pending", "applied", "not_applied"]
#: Statuses under which an idempotency key stays taken (a ``not_applied`` write frees it).
HOLDING: Final = ("pending", "applied")


class Entry(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True, gc=False):
    """One journal record (see the module docstring for the three kinds).

    ``seq`` is given by the store when the entry is appended (0 before).
    """

    kind: EntryKind
    intent: str
    key: str
    at: float
    seq: int = 0
    operation: str | None = None
    arguments: dict[str, Any] | None = None
    digest: str | None = None
    before: Any = None
    idempotency_key: str | None = None
    owner: str | None = None
    parent: str | None = None
    fence: int | None = None
    request_id: str | None = None
    status: str | None = None
    result: Any = None
    how: str | None = None
    error: str | None = None
    candidates: tuple[str, ...] | None = None


class Intent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One write's state: its intent entry with what the later entries added.

    Attributes
    ----------
    fence : int or None
        The highest fence of the attempts sent (``None``: none was sent, or it had no nonce).
    sent : bool
        Whether an attempt may have gone on the wire.
    released : bool
        The owner is done with it (its outcome was unknown): resolvable while the owner lives.
    candidates : tuple of str
        A create whose outcome was unknown: the ids its last read-back that found new objects
        could not attribute (``OutcomeUnknownError.candidates``); one may be its own. Empty
        otherwise.
    """

    id: str
    key: str
    operation: str
    arguments: dict[str, Any]
    digest: str
    at: float
    owner: str
    before: Any = None
    idempotency_key: str | None = None
    parent: str | None = None
    fence: int | None = None
    sent: bool = False
    request_id: str | None = None
    status: Status = "pending"
    result: Any = None
    how: str | None = None
    released: bool = False
    stage: str | None = None
    progress: dict[str, Any] = {}
    candidates: tuple[str, ...] = ()

    @property
    def pending(self) -> bool:
        return self.status == "pending"


def fold(state: Intent | None, entry: Entry) -> Intent | None:
    """``state`` after ``entry`` (an ``intent`` entry starts one)."""
    if entry.kind == "intent":
        return Intent(
            id=entry.intent,
            key=entry.key,
            operation=entry.operation or "",
            arguments=entry.arguments or {},
            digest=entry.digest or "",
            at=entry.at,
            owner=entry.owner or "",
            before=entry.before,
            idempotency_key=entry.idempotency_key,
            parent=entry.parent,
        )
    if state is None:
        return None
    if entry.kind == "sent":
        fence = state.fence
        if entry.fence is not None:
            fence = entry.fence if fence is None else max(fence, entry.fence)
        return msgspec.structs.replace(
            state, sent=True, fence=fence, request_id=entry.request_id or state.request_id
        )
    if entry.kind == "stage":
        progress = {**state.progress, **(entry.result or {})}
        return msgspec.structs.replace(state, stage=entry.how, progress=progress)
    if entry.status in ("applied", "not_applied"):
        return msgspec.structs.replace(
            state, status=entry.status, result=entry.result, how=entry.how, released=True
        )
    # unknown: still pending; a read-back that found candidates replaces the earlier ones (one
    # that could not read the state keeps them)
    return msgspec.structs.replace(
        state, released=True, candidates=entry.candidates or state.candidates
    )


_encoder = msgspec.json.Encoder(order="sorted")


def digest(operation: str, arguments: dict[str, Any]) -> str:
    """What an idempotency key is bound to: the operation and its arguments, canonical."""
    return hashlib.sha256(operation.encode() + b"\n" + _encoder.encode(arguments)).hexdigest()


def new_id() -> str:
    return uuid.uuid4().hex


def now() -> float:
    return round(time.time(), 6)


# --- Owners: which process made a write, and whether it still runs ---------------------------


def _start_ticks(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), so a reused pid is told
    apart; ``""`` where ``/proc`` is not available."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return ""


class Owner(msgspec.Struct, frozen=True, gc=False):
    """A writing process: host, pid, start time and a token unique to one journal instance."""

    host: str
    pid: int
    started: str
    token: str

    @classmethod
    def current(cls) -> Owner:
        pid = os.getpid()
        return cls(socket.gethostname(), pid, _start_ticks(pid), new_id()[:12])

    def encode(self) -> str:
        return f"{self.host}|{self.pid}|{self.started}|{self.token}"

    @classmethod
    def decode(cls, text: str) -> Owner:
        host, pid, started, token = [*text.split("|"), "", "", ""][:4]
        return cls(host, int(pid) if pid.isdigit() else -1, started, token)

    def alive_here(self) -> bool | None:
        """Whether this owner still runs, if it ran on this host (``None``: another host)."""
        if self.host != socket.gethostname():
            return None
        if self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # runs, as another user
        return not self.started or _start_ticks(self.pid) in ("", self.started)


# --- The store protocol ----------------------------------------------------------------------


class Store(Protocol):
    """Where a journal keeps its entries; every method is safe to call from the event loop.

    Attributes
    ----------
    name : str
        What the store is, for messages (a path, ``"redis host:port/db"``, ``"memory"``);
        never a credential.
    durable : bool
        Whether entries survive the process.
    """

    name: str
    durable: bool

    async def append(self, entry: Entry) -> None:
        """Record ``entry``; durable when this returns."""
        ...

    async def claim(self, entry: Entry) -> Intent | None:
        """Record the ``intent`` entry unless its idempotency key is held (by a pending or
        applied intent of the key): then record nothing and return the holder. Atomic across
        every process using the store."""
        ...

    async def holder(self, key: str, idempotency_key: str) -> Intent | None:
        """The pending or applied intent holding ``idempotency_key`` on ``key``, if any."""
        ...

    async def get(self, intent_id: str) -> Intent | None:
        """One write's state."""
        ...

    async def pending(self, key: str) -> list[Intent]:
        """Every pending intent of ``key``, oldest first."""
        ...

    async def children(self, key: str, parent: str) -> list[Intent]:
        """The intents of ``key`` recorded as steps of the write ``parent``, oldest first."""
        ...

    def entries(self, since: float | None = None) -> AsyncIterator[Entry]:
        """Every entry in the order recorded (``since``: those recorded at or after it)."""
        ...

    async def alive(self, owner: Owner) -> bool:
        """Whether ``owner`` (a process that wrote to this store) still runs."""
        ...

    async def close(self) -> None:
        """Release the store's connections (idempotent)."""
        ...
