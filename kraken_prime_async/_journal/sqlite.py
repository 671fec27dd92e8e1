"""The file journal (``journal="path.sqlite3"`` or ``SqliteJournal``): stdlib ``sqlite3``.

Every call runs on one dedicated thread per journal (the connection never leaves it), so the
event loop only awaits a future. The database is in WAL mode and each entry is one
``BEGIN IMMEDIATE`` transaction (an entry and its write's folded state together), so several
processes on one host can share the file: SQLite's locks serialise them, and a claim of an
idempotency key is atomic across them.

Durability (``fsync``):

* ``False`` (the default, ``PRAGMA synchronous=NORMAL``): an entry is in the WAL file when
  ``append()`` returns. It survives the process being killed at any point (``kill -9``, an OOM
  kill, a crash): the operating system writes it out. An operating-system crash or a power cut
  may lose the last entries. Costs a few tens of microseconds per entry.
* ``True`` (``PRAGMA synchronous=FULL``): the WAL is fsynced at every entry; it survives a power
  cut too. Costs one fsync per entry (about 4 ms on the test machine's disk).

The file must be on a local disk: SQLite's locks are not reliable on network filesystems. For
several hosts use ``RedisJournal``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from .._constants import JOURNAL_BUSY_TIMEOUT
from ..errors import JournalError, ValidationError
from .base import Entry, Intent, Owner, fold

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    intent TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_at ON entries (at);
CREATE TABLE IF NOT EXISTS intents (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    idem TEXT,
    status TEXT NOT NULL,
    state BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS intents_status ON intents (key, status);
CREATE INDEX IF NOT EXISTS intents_idem ON intents (key, idem);
"""
_HOLDER = (
    "SELECT state FROM intents WHERE key = ? AND idem = ? AND status IN ('pending', 'applied') "
    "LIMIT 1"
)
_PAGE = 500

_encode = msgspec.json.Encoder().encode
_entry = msgspec.json.Decoder(Entry).decode
_state = msgspec.json.Decoder(Intent).decode


class SqliteJournal:
    """A write journal in a SQLite file (see the module docstring).

    Parameters
    ----------
    path : str or Path
        The database file (created with its tables if missing).
    fsync : bool
        ``True``: fsync every entry (survives a power cut; one fsync per entry). ``False``
        (default): survives any crash of the process, not of the machine.
    """

    durable = True

    def __init__(self, path: str | Path, *, fsync: bool = False) -> None:
        if not isinstance(path, (str, Path)) or not str(path):
            raise ValidationError("journal", "must be a file path, a RedisJournal or None")
        if not isinstance(fsync, bool):
            raise ValidationError("fsync", "must be True or False")
        self.path = Path(path)
        self.name = str(self.path)
        self._fsync = fsync
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kraken-journal")
        self._db: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"SqliteJournal({self.name!r}, fsync={self._fsync})"

    # --- the journal's thread ----------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(self.path, timeout=JOURNAL_BUSY_TIMEOUT, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={'FULL' if self._fsync else 'NORMAL'}")
            db.executescript(_SCHEMA)
            self._db = db
        return self._db

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def job() -> T:
            return work(self._connection())

        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, job)
        except (sqlite3.Error, OSError) as exc:
            raise JournalError(
                f"the journal {self.name} could not be used ({type(exc).__name__}: {exc})",
                store=self.name,
            ) from exc

    @staticmethod
    def _insert(db: sqlite3.Connection, entry: Entry) -> None:
        row = db.execute(
            "INSERT INTO entries (at, intent, body) VALUES (?, ?, ?)",
            (entry.at, entry.intent, _encode(entry)),
        )
        entry = msgspec.structs.replace(entry, seq=row.lastrowid or 0)
        found = db.execute("SELECT state FROM intents WHERE id = ?", (entry.intent,)).fetchone()
        state = fold(None if found is None else _state(found[0]), entry)
        if state is None:
            return
        db.execute(
            "INSERT OR REPLACE INTO intents (id, key, idem, status, state) VALUES (?, ?, ?, ?, ?)",
            (state.id, state.key, state.idempotency_key, state.status, _encode(state)),
        )

    @staticmethod
    def _transaction(db: sqlite3.Connection, work: Callable[[], T]) -> T:
        db.execute("BEGIN IMMEDIATE")
        try:
            value = work()
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return value

    # --- Store -------------------------------------------------------------------------------

    async def append(self, entry: Entry) -> None:
        await self._run(lambda db: self._transaction(db, lambda: self._insert(db, entry)))

    async def claim(self, entry: Entry) -> Intent | None:
        def work(db: sqlite3.Connection) -> Intent | None:
            if entry.idempotency_key is not None:
                found = db.execute(_HOLDER, (entry.key, entry.idempotency_key)).fetchone()
                if found is not None:
                    return _state(found[0])
            self._insert(db, entry)
            return None

        return await self._run(lambda db: self._transaction(db, lambda: work(db)))

    async def holder(self, key: str, idempotency_key: str) -> Intent | None:
        found = await self._run(lambda db: db.execute(_HOLDER, (key, idempotency_key)).fetchone())
        return None if found is None else _state(found[0])

    async def get(self, intent_id: str) -> Intent | None:
        found = await self._run(
            lambda db: db.execute("SELECT state FROM intents WHERE id = ?", (intent_id,)).fetchone()
        )
        return None if found is None else _state(found[0])

    async def pending(self, key: str) -> list[Intent]:
        rows: list[Any] = await self._run(
            lambda db: db.execute(
                "SELECT state FROM intents WHERE key = ? AND status = 'pending'", (key,)
            ).fetchall()
        )
        return sorted((_state(row[0]) for row in rows), key=lambda s: s.at)

    async def children(self, key: str, parent: str) -> list[Intent]:
        rows: list[Any] = await self._run(
            lambda db: db.execute(
                "SELECT state FROM intents WHERE key = ? AND instr(state, ?) > 0",
                (key, f'"parent":"{parent}"'),
            ).fetchall()
        )
        found = (_state(row[0]) for row in rows)
        return sorted((s for s in found if s.parent == parent), key=lambda s: s.at)

    async def entries(self, since: float | None = None) -> AsyncIterator[Entry]:
        last = 0
        start = -1.0 if since is None else since
        while True:
            query = (last, start, _PAGE)
            rows: list[Any] = await self._run(
                lambda db, query=query: db.execute(  # type: ignore[misc]
                    "SELECT seq, body FROM entries WHERE seq > ? AND at >= ? ORDER BY seq LIMIT ?",
                    query,
                ).fetchall()
            )
            for seq, body in rows:
                yield msgspec.structs.replace(_entry(body), seq=seq)
            if len(rows) < _PAGE:
                return
            last = rows[-1][0]

    async def alive(self, owner: Owner) -> bool:
        here = owner.alive_here()
        return True if here is None else here  # another host's writes are left to that host

    async def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, db.close)
        self._thread.shutdown(wait=False)
