"""The request log entry, the start-up announcement, and the internal result of one request."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Final

#: Argument names whose values never enter the request log (the Fast API's ``secret`` included).
_SECRET_NAMES: Final = ("secret", "token", "signature", "password")


def key_fingerprint(api_key: str | None) -> str | None:
    """The first 8 hex digits of the key's SHA-256, the form the SDK's own logs use."""
    if api_key is None:
        return None
    return hashlib.sha256(api_key.encode()).hexdigest()[:8]


def redact_arguments(arguments: Any) -> dict[str, Any]:
    """A copy of a request body's arguments without ``nonce`` and with secret-like values hidden."""
    if not isinstance(arguments, dict):
        return {}
    return {
        name: "***" if any(s in name.lower() for s in _SECRET_NAMES) else value
        for name, value in arguments.items()
        if name != "nonce"
    }


@dataclass(frozen=True)
class RequestRecord:
    """One request as the sandbox saw it (``sb.requests``), in processing order.

    Attributes
    ----------
    seq : int
        Position in the log, from 0.
    operation : str
        Prime operation (``"CreatePrimeApiUser"``…) or Fast API operation (``"CreateFastApiKey"``,
        ``"ListFastApiKeys"``, ``"UpdateFastApiKey"``, ``"DeleteFastApiKey"``), ``"Time"``, or the
        path of a request refused for its verb or path (non-printable characters as ``?``).
    api_key : str or None
        Public API key from the ``API-Key`` header (never a secret or token; left out of the
        ``repr`` and of [`to_json()`][kraken_prime_async.sandbox.RequestRecord.to_json], which carry
        [`key_fingerprint`][kraken_prime_async.sandbox.RequestRecord.key_fingerprint]).
    key_fingerprint : str or None
        Short SHA-256 fingerprint of ``api_key``.
    nonce : int or None
        The body's nonce, when it had an integer one.
    arguments : dict
        The body's arguments without ``nonce``; values of secret-like names are ``"***"``.
    status : int or None
        HTTP status sent, or ``None`` when the connection was dropped.
    errors : tuple[str, ...]
        The ``error`` array sent (empty on success or when nothing was sent).
    processed : bool
        Whether the operation ran to success (reads included).
    changed : bool
        Whether the request changed the account's state (a processed write).
    fault : str or None
        The injected fault kind, if any.
    timestamp : float
        Sandbox clock (seconds) when the request was processed.
    http_method : str
        The HTTP verb.
    """

    seq: int
    operation: str
    api_key: str | None = field(repr=False)
    nonce: int | None
    status: int | None
    errors: tuple[str, ...]
    processed: bool
    fault: str | None
    timestamp: float
    changed: bool = False
    arguments: dict[str, Any] = field(default_factory=dict)
    http_method: str = "POST"

    @property
    def key_fingerprint(self) -> str | None:
        """Short SHA-256 fingerprint of the public key (``None`` without one)."""
        return key_fingerprint(self.api_key)

    @property
    def ok(self) -> bool:
        """HTTP 200 with an empty ``error`` array."""
        return self.status == 200 and not self.errors

    def to_json(self) -> dict[str, Any]:
        """The record as JSON builtins for ``GET /_sandbox/requests`` (no public key)."""
        return {
            "seq": self.seq,
            "operation": self.operation,
            "http_method": self.http_method,
            "key_fingerprint": self.key_fingerprint,
            "nonce": self.nonce,
            "arguments": self.arguments,
            "status": self.status,
            "errors": list(self.errors),
            "ok": self.ok,
            "processed": self.processed,
            "changed": self.changed,
            "fault": self.fault,
            "timestamp": self.timestamp,
        }


@dataclass(frozen=True)
class Announcement:
    """What a started sandbox tells its user: where it is and the credentials to use.

    Printed by ``kraken-prime sandbox`` as ``export`` lines (``export_lines()``); the ``repr``
    masks every credential.
    """

    url: str
    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    oauth_token: str = field(repr=False)
    admin_token: str = field(repr=False)

    def environment(self) -> dict[str, str]:
        """The environment variables the CLI, ``PrimeClient.from_env`` and tests read."""
        return {
            "KRAKEN_PRIME_BASE_URL": self.url,
            "KRAKEN_PRIME_API_KEY": self.api_key,
            "KRAKEN_PRIME_API_SECRET": self.api_secret,
            "KRAKEN_OAUTH_TOKEN": self.oauth_token,
            "KRAKEN_SANDBOX_ADMIN_TOKEN": self.admin_token,
        }

    def export_lines(self) -> list[str]:
        """``export NAME=value`` for each of ``environment()``, in that order."""
        return [f"export {name}={value}" for name, value in self.environment().items()]


def print_exports(announcement: Announcement) -> None:
    """Print the ``export`` lines of an announcement (the default of
    [`serve_forever()`][kraken_prime_async.sandbox.PrimeSandbox.serve_forever])."""
    for line in announcement.export_lines():
        print(line, flush=True)


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
