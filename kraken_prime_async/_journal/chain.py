"""The audit export: JSON lines chained by SHA-256, and their verification.

Each exported line is one journal entry as compact JSON with sorted keys, plus two fields:

* ``prev``: the SHA-256 (hex) of the previous line's bytes (64 zeros on the first line);
* ``hash``: the SHA-256 of the line's own JSON *without* ``hash`` (so the line is checked on
  its own, the last one included).

Changing, removing, inserting or reordering any byte breaks either a line's ``hash`` or the next
line's ``prev``, and ``verify()`` names the first broken record (its line number and ``seq``).
The chain proves the file is the one exported; it is not a signature: keep the last line's
``hash`` somewhere else (a ticket, a log) to prove no one re-chained an edited file.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable
from typing import Any, Final

import msgspec

from .base import Entry

GENESIS: Final = "0" * 64

_encoder = msgspec.json.Encoder(order="sorted")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def line(entry: Entry, prev: str) -> bytes:
    """One exported line (without its newline) for ``entry``, following the line hashed
    ``prev``."""
    record: dict[str, Any] = msgspec.to_builtins(entry)
    record["prev"] = prev
    record["hash"] = _sha(_encoder.encode(record))
    return _encoder.encode(record)


async def export_lines(entries: AsyncIterator[Entry]) -> AsyncIterator[str]:
    """The chained lines (each ending in a newline) of ``entries``."""
    prev = GENESIS
    async for entry in entries:
        data = line(entry, prev)
        prev = _sha(data)
        yield data.decode() + "\n"


class Broken(msgspec.Struct, frozen=True, gc=False):
    """The first broken record of a file: its line number (1-based), ``seq`` if readable, and
    what is wrong."""

    line: int
    seq: int | None
    problem: str

    def __str__(self) -> str:
        seq = "" if self.seq is None else f" (seq {self.seq})"
        return f"record {self.line}{seq}: {self.problem}"


def verify(lines: Iterable[bytes]) -> tuple[int, Broken | None]:
    """Check a file's lines: ``(records checked, first broken record or None)``."""
    prev = GENESIS
    count = 0
    for number, raw in enumerate(lines, 1):
        data = raw.rstrip(b"\r\n")
        if not data:
            continue
        count += 1
        problem, seq = _check(data, prev)
        if problem is not None:
            return count, Broken(number, seq, problem)
        prev = _sha(data)
    return count, None


def _check(data: bytes, prev: str) -> tuple[str | None, int | None]:
    try:
        record = msgspec.json.decode(data)
    except msgspec.DecodeError:
        return "not valid JSON (the line was altered)", None
    if not isinstance(record, dict):
        return "not a journal record (the line was altered)", None
    seq = record.get("seq") if isinstance(record.get("seq"), int) else None
    claimed = record.pop("hash", None)
    if claimed != _sha(_encoder.encode(record)):
        return "its hash does not match its content (the record was altered)", seq
    if record.get("prev") != prev:
        return (
            "it does not follow the record before it (a record was removed, inserted or reordered)",
            seq,
        )
    return None, seq
