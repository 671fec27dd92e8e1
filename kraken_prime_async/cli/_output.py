"""Human tables by default, JSON with ``--json``. Secrets stay masked unless revealed on purpose."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TextIO

import msgspec

from .._secret import SecretStr


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
    """Structs, dataclasses and Decimals as JSON-ready builtins."""
    return msgspec.to_builtins(value, enc_hook=_revealed if reveal_secrets else _masked)


def emit_json(value: Any, *, reveal_secrets: bool = False, stream: TextIO | None = None) -> None:
    """Print ``value`` as one JSON document."""
    data = to_builtins(value, reveal_secrets=reveal_secrets)
    (stream or sys.stdout).write(msgspec.json.format(msgspec.json.encode(data)).decode() + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ",".join(_cell(v) for v in value) or "-"
    if isinstance(value, dict):
        return ",".join(f"{k}={_cell(v)}" for k, v in value.items()) or "-"
    return str(value)


def emit_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], *, stream: TextIO | None = None
) -> None:
    """Print ``rows`` as an aligned table of ``columns``."""
    out = stream or sys.stdout
    if not rows:
        out.write("(none)\n")
        return
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    out.write("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    out.write("\n")
    for row in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")


def emit(value: Any, columns: Sequence[str], *, as_json: bool) -> None:
    """Print a result (a Struct or a list of them) as JSON or as a table."""
    if as_json:
        emit_json(value)
        return
    data = to_builtins(value)
    rows = data if isinstance(data, list) else [data]
    emit_table([_flatten(row) for row in rows], columns)


def _flatten(row: dict[str, Any]) -> dict[str, Any]:
    flat = dict(row)
    for key, value in row.items():
        if isinstance(value, dict) and key in ("attributes", "relationships"):
            flat.update(value)
    if isinstance(row.get("legs"), list):
        flat["legs"] = len(row["legs"])
    return flat
