"""Results as JSON (``--json``) or as tables. Secrets stay masked unless revealed on purpose."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Final, TextIO

import msgspec

from .._secret import SecretStr
from ..models._lazy import materialized
from ._console import print_table


def _masked(obj: Any) -> Any:
    if isinstance(obj, SecretStr):
        return str(obj)
    if isinstance(obj, Decimal):
        return str(obj)
    raise NotImplementedError(type(obj))


def _revealed(obj: Any) -> Any:
    if isinstance(obj, SecretStr):
        return obj.get_secret_value()
    return _masked(obj)


def to_builtins(value: Any, *, reveal_secrets: bool = False) -> Any:
    """Structs, dataclasses and Decimals as JSON-ready builtins (lazy fields read first)."""
    return msgspec.to_builtins(
        materialized(value), enc_hook=_revealed if reveal_secrets else _masked
    )


def emit_json(value: Any, *, reveal_secrets: bool = False, stream: TextIO | None = None) -> None:
    """Print ``value`` as one JSON document (stdout unless ``stream``)."""
    data = to_builtins(value, reveal_secrets=reveal_secrets)
    (stream or sys.stdout).write(msgspec.json.format(msgspec.json.encode(data)).decode() + "\n")


def iso_ms(epoch_ms: int | None, *, seconds: bool = True) -> str | None:
    """Epoch milliseconds as ISO-8601 UTC: ``2026-11-30T05:10:32Z`` (or ``...T05:10Z``)."""
    if epoch_ms is None:
        return None
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ" if seconds else "%Y-%m-%dT%H:%MZ")


#: Epoch values at or above this are milliseconds (as seconds it is the year 5138; as
#: milliseconds, 1973): how a time of undocumented unit is shown (``--json`` keeps it raw).
MS_THRESHOLD: Final = 100_000_000_000


def iso_time(epoch: float | None) -> str | None:
    """An epoch time in seconds or milliseconds (told apart by size) as ISO-8601 UTC; ``None``
    for a missing time and for Kraken's ``0`` (none)."""
    if epoch is None or isinstance(epoch, bool) or not isinstance(epoch, (int, float)) or not epoch:
        return None
    return iso_ms(int(epoch if epoch >= MS_THRESHOLD else epoch * 1000))


def emit(
    value: Any,
    columns: Sequence[str],
    *,
    as_json: bool,
    wrap: Sequence[str] = (),
    times: Sequence[str] = (),
) -> None:
    """Print a result (a Struct or a list of them) as JSON or as a table (``times``: columns
    shown as ISO-8601 UTC)."""
    if as_json:
        emit_json(value)
        return
    data = to_builtins(value)
    rows = [_flatten(row) for row in (data if isinstance(data, list) else [data])]
    for row in rows:
        row.update({column: iso_time(row.get(column)) for column in times if column in row})
    print_table(rows, columns, wrap=wrap)


def _flatten(row: dict[str, Any]) -> dict[str, Any]:
    flat = dict(row)
    for key, value in row.items():
        if isinstance(value, dict) and key in ("attributes", "relationships"):
            flat.update(value)
    return flat
