"""The default journal (``journal=None``): in memory, for the process's life.

It gives a single process what the durable journals give a fleet across restarts: idempotency
keys, one pending record per write in flight, the audit export. Nothing survives the process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec

from .base import HOLDING, Entry, Intent, Owner, fold


class MemoryStore:
    """Entries in a list, states in a dict; every method completes without awaiting."""

    name = "memory"
    durable = False

    def __init__(self) -> None:
        self._entries: list[Entry] = []
        self._states: dict[str, Intent] = {}
        self._holders: dict[tuple[str, str], str] = {}

    async def append(self, entry: Entry) -> None:
        self._record(entry)

    def _record(self, entry: Entry) -> None:
        entry = msgspec.structs.replace(entry, seq=len(self._entries) + 1)
        self._entries.append(entry)
        state = fold(self._states.get(entry.intent), entry)
        if state is None:
            return
        self._states[entry.intent] = state
        if state.idempotency_key is not None and state.status in HOLDING:
            self._holders[(state.key, state.idempotency_key)] = state.id

    async def claim(self, entry: Entry) -> Intent | None:
        if entry.idempotency_key is not None:
            holder = await self.holder(entry.key, entry.idempotency_key)
            if holder is not None:
                return holder
        self._record(entry)
        return None

    async def holder(self, key: str, idempotency_key: str) -> Intent | None:
        intent_id = self._holders.get((key, idempotency_key))
        state = None if intent_id is None else self._states.get(intent_id)
        return state if state is not None and state.status in HOLDING else None

    async def get(self, intent_id: str) -> Intent | None:
        return self._states.get(intent_id)

    async def pending(self, key: str) -> list[Intent]:
        return [s for s in self._states.values() if s.key == key and s.pending]

    async def children(self, key: str, parent: str) -> list[Intent]:
        return [s for s in self._states.values() if s.key == key and s.parent == parent]

    async def entries(self, since: float | None = None) -> AsyncIterator[Entry]:
        for entry in list(self._entries):
            if since is None or entry.at >= since:
                yield entry

    async def alive(self, owner: Owner) -> bool:
        return True  # every writer is this process

    async def close(self) -> None:
        return None
