"""The write journal: exactly once across restarts.

``base`` holds the records (``Entry``, the folded ``Intent``), the writing process
(``Owner``) and the ``Store`` protocol; ``memory`` is the default store (for the
process's life), ``sqlite`` the file journal (``SqliteJournal``), ``redis`` the fleet's
(``RedisJournal``); both are imported on first use, never by this package; ``journal`` is
``client.journal`` and the write path's records (``Journal``, ``Write``); ``replay``
turns results into plain data without secrets and back; ``chain`` is the hash-chained audit
export and its verification. Which reconcile rule settles a recorded write is the resources'
business (``_resources/_journaled.py``).
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Union

from ..errors import ValidationError
from .base import Entry, Intent, Owner, Store
from .journal import Journal, Resolution, Write
from .memory import MemoryStore

#: ``journal=`` accepts ``None``, a path, or a store (``SqliteJournal``, ``RedisJournal``).
JournalSetting = Union[str, "PathLike[str]", Store, None]


def build_journal(setting: JournalSetting, key: str) -> Journal:
    """The client's journal for ``journal=setting`` on the key fingerprinted ``key``.

    Raises
    ------
    ValidationError
        ``setting`` is none of the accepted kinds.
    """
    if setting is None:
        return Journal(MemoryStore(), key, owned=True)
    if isinstance(setting, (str, PathLike)):
        from .sqlite import SqliteJournal  # sqlite3 loads only for a file journal

        return Journal(SqliteJournal(Path(setting)), key, owned=True)
    if all(callable(getattr(setting, m, None)) for m in ("append", "claim", "pending", "entries")):
        return Journal(setting, key, owned=False)
    raise ValidationError("journal", "must be None, a file path, a SqliteJournal or a RedisJournal")


__all__ = [
    "Entry",
    "Intent",
    "Journal",
    "JournalSetting",
    "MemoryStore",
    "Owner",
    "Resolution",
    "Store",
    "Write",
    "build_journal",
]
