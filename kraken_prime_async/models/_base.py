"""The base of every answer Struct, and the timestamp helper the answers share."""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec

from ..errors import ResponseValidationError


class _Result(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """Base of every result Struct: immutable, no GC tracking (decoded JSON has no cycles).

    Subclasses repeat ``frozen=True`` (mypy does not inherit it) and ``kw_only=True`` (msgspec
    applies it only to the fields of the class that sets it)."""


def _ms_to_datetime(field: str, value: int | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        shown = str(value) if -(10**24) < value < 10**24 else "a number of over 24 digits"
        raise ResponseValidationError(
            f"BatchAttributes.{field}: {shown} is not a usable epoch-milliseconds timestamp"
        ) from None
