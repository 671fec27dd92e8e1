"""Kraken's error strings as the sandbox sends them, and the safe rendering of their details.

A detail that comes from the client (an unknown argument's name) is never echoed raw: anything
but printable ASCII becomes ``?`` (Kraken's error strings are ASCII), long names are cut (ending
in ``...``), and an empty name is shown as ``(empty)``, so an error string is always one
well-formed ASCII line with a non-empty detail.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

ERR_INVALID_KEY: Final = "EAPI:Invalid key"
ERR_INVALID_SIGNATURE: Final = "EAPI:Invalid signature"
ERR_INVALID_NONCE: Final = "EAPI:Invalid nonce"
ERR_RATE_LIMIT: Final = "EAPI:Rate limit exceeded"
ERR_BAD_REQUEST: Final = "EAPI:Bad request"
ERR_LOCKOUT: Final = "EGeneral:Temporary lockout"
ERR_PERMISSION: Final = "EGeneral:Permission denied"
ERR_UNKNOWN_METHOD: Final = "EGeneral:Unknown Method"
ERR_INVALID_ARGUMENTS: Final = "EGeneral:Invalid arguments"
ERR_INTERNAL: Final = "EGeneral:Internal error"

#: Longest client-supplied detail echoed in an error string.
MAX_DETAIL: Final = 64
#: Nonces are int64 on the wire (``0 <= nonce < 2**63``).
NONCE_LIMIT: Final = 2**63


def safe_detail(text: str) -> str:
    """``text`` as an error detail: printable ASCII, at most ``MAX_DETAIL`` long, never
    empty."""
    cleaned = "".join(ch if ch.isascii() and ch.isprintable() else "?" for ch in text)
    if len(cleaned) > MAX_DETAIL:
        cleaned = cleaned[: MAX_DETAIL - 3] + "..."
    return cleaned if cleaned.strip() else "(empty)"


def invalid_arguments(detail: str | None = None) -> str:
    """``EGeneral:Invalid arguments[:<detail>]`` with a safe detail."""
    if detail is None:
        return ERR_INVALID_ARGUMENTS
    return f"{ERR_INVALID_ARGUMENTS}:{safe_detail(detail)}"


def decode_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or ``None`` when it is not one (bad JSON, too deeply nested)."""
    try:
        parsed = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


def body_nonce(params: dict[str, Any] | None) -> int | None:
    """The body's ``nonce`` when it is an integer (any size: the range is checked later)."""
    nonce = None if params is None else params.get("nonce")
    return nonce if type(nonce) is int else None


def valid_nonce(nonce: int | None) -> bool:
    """An int64 nonce: ``0 <= nonce < 2**63``."""
    return nonce is not None and 0 <= nonce < NONCE_LIMIT
