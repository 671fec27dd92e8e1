"""``<dir>/creates.log``: the creates a ``FileLockFleet``'s members have under way."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

import msgspec

from ...errors import CoordinationError
from ._base import Claim, live_claims
from ._locked_file import LockedFile

#: The claim log is rewritten with its live records once it grows past this many bytes.
_CLAIMS_COMPACT: Final = 256 * 1024
_claim_encoder = msgspec.json.Encoder()
_claim_decoder = msgspec.json.Decoder(Claim)


class FileLockClaims:
    """The fleet's creates under way (a ``ClaimStore``): ``<dir>/creates.log``.

    Records are appended under the lock of ``<dir>/creates.lock`` (a few hundred bytes of I/O,
    never across an ``await``); once the log outgrows ``_CLAIMS_COMPACT`` bytes it is rewritten
    with its live records (those within ``CLAIM_TTL`` of the newest) and renamed over, so a
    member killed meanwhile leaves the old log or the new one. A torn last line is skipped.
    """

    def __init__(self, directory: Path) -> None:
        self._lock = LockedFile(directory / "creates.lock")
        self._path = directory / "creates.log"

    def _read(self) -> list[Claim]:
        try:
            data = self._path.read_bytes()
        except FileNotFoundError:
            return []
        records = []
        for line in data.splitlines():
            try:
                records.append(_claim_decoder.decode(line))
            except msgspec.DecodeError:
                continue  # a line torn by a member killed mid-write
        return records

    def _put(self, claim: Claim) -> None:
        with self._lock.locked():
            with open(self._path, "ab") as log:
                log.write(_claim_encoder.encode(claim) + b"\n")
                size = log.tell()
            if size > _CLAIMS_COMPACT:
                records = self._read()
                newest = max(record.at for record in records)
                live = live_claims(records, newest).values()
                temporary = self._path.with_suffix(".tmp")
                temporary.write_bytes(b"".join(_claim_encoder.encode(c) + b"\n" for c in live))
                os.replace(temporary, self._path)

    async def put(self, claim: Claim) -> None:
        """Append ``claim``."""
        try:
            self._put(claim)
        except OSError as exc:
            raise CoordinationError(
                f"cannot write {self._path} ({exc.strerror})", store=str(self._path)
            ) from None

    async def claims(self, scope: str) -> list[Claim]:
        """The records of ``scope`` (every version; the caller keeps the newest)."""
        try:
            with self._lock.locked():
                records = self._read()
        except OSError as exc:
            raise CoordinationError(
                f"cannot read {self._path} ({exc.strerror})", store=str(self._path)
            ) from None
        return [record for record in records if record.scope == scope]

    def close(self) -> None:
        self._lock.close()

    def __repr__(self) -> str:
        return f"FileLockClaims({str(self._path)!r})"
