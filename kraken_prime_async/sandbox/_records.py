"""The request log entry and the internal result of processing one request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RequestRecord:
    """One request as the sandbox saw it (``sb.requests``), in processing order.

    Attributes
    ----------
    seq : int
        Position in the log, from 0.
    method : str
        Prime method name (``"CreatePrimeApiUser"``…) or Fast API operation
        (``"CreateFastApiKey"``, ``"ListFastApiKeys"``, ``"UpdateFastApiKey"``,
        ``"DeleteFastApiKey"``).
    api_key : str or None
        Public API key from the ``API-Key`` header (never a secret or token).
    nonce : int or None
        The body's nonce, when it had an integer one.
    status : int or None
        HTTP status sent, or ``None`` when the connection was dropped.
    errors : tuple[str, ...]
        The ``error`` array sent (empty on success or when nothing was sent).
    processed : bool
        Whether the handler ran to success (for writes: whether state changed).
    fault : str or None
        The injected fault kind, if any.
    timestamp : float
        Sandbox clock (seconds) when the request was processed.
    """

    seq: int
    method: str
    api_key: str | None
    nonce: int | None
    status: int | None
    errors: tuple[str, ...]
    processed: bool
    fault: str | None
    timestamp: float

    @property
    def ok(self) -> bool:
        """HTTP 200 with an empty ``error`` array."""
        return self.status == 200 and not self.errors


@dataclass
class Outcome:
    """What processing produced, before any fault rewrites the answer."""

    status: int
    payload: dict[str, Any]
    processed: bool = False
    api_key: str | None = None
    nonce: int | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def errors(self) -> tuple[str, ...]:
        """The ``error`` array of the payload."""
        errors = self.payload.get("error", [])
        return tuple(str(e) for e in errors) if isinstance(errors, list) else ()


def error_outcome(message: str, *, status: int = 200, **extra: Any) -> Outcome:
    """An answer carrying one Kraken error string."""
    return Outcome(status=status, payload={"error": [message]}, **extra)
