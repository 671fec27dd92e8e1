"""What the CLI says when a command fails: the exit code and a message that names the fix.

Exit codes (documented in ``--help`` and the README): 0 ok, 1 Kraken refused or did not answer,
2 bad input or setup, 3 outcome unknown, 4 settlement incomplete (or doctor found a problem),
130 interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from typing import Final

import msgspec

from ..errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    InvalidNonceError,
    KrakenPrimeError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    TemporaryLockoutError,
    ValidationError,
)
from ._config import ENV_BASE_URL, ENV_KEY, ENV_OAUTH_TOKEN, ENV_SECRET, base_url, base_url_source

EXIT_OK: Final = 0
EXIT_REFUSED: Final = 1
EXIT_BAD_INPUT: Final = 2
EXIT_UNKNOWN: Final = 3
EXIT_INCOMPLETE: Final = 4
EXIT_INTERRUPTED: Final = 130

#: The option (or argument) behind an SDK argument name, for "the option to use".
FIELD_OPTIONS: Final = {
    "whitelisted_ips": "--ip",
    "ip_allowlist": "--ip",
    "name": "--name",
    "role": "--role",
    "status": "--status",
    "statuses": "--status",
    "limit": "--limit",
    "offset": "--offset",
    "concurrency": "--concurrency",
    "wait_for_confirmation": "--wait-confirmation",
    "asset_kind": "--asset-kind",
    "asset": "--asset",
    "nonce_window": "--nonce-window",
    "permissions": "--allow/--deny",
    "new_api_key_name": "--new-name",
    "query_from": "--query-from",
    "query_to": "--query-to",
    "valid_until": "--valid-until",
    "timeout": "--timeout",
    "user_id": "USER_ID",
    "key_id": "KEY_ID",
    "batch_id": "BATCH_ID",
    "api_key_name": "API_KEY_NAME",
}


#: Failures whose one line needs no class name (the message says it all).
_UNTYPED: Final = frozenset({"ValidationError", "UsageError", "KeyboardInterrupt"})


class UsageError(Exception):
    """The command line could not be parsed (argparse's complaint, kept as the message)."""


@dataclasses.dataclass(frozen=True)
class Failure:
    """A failed command as the user sees it."""

    code: int
    type: str
    message: str
    request_id: str | None = None

    def emit(self, *, as_json: bool) -> None:
        """Write the failure to stderr: one JSON document or one line."""
        if as_json:
            error: dict[str, str] = {"type": self.type, "message": self.message}
            if self.request_id:
                error["request_id"] = self.request_id
            sys.stderr.write(msgspec.json.encode({"error": error}).decode() + "\n")
        else:
            label = {EXIT_UNKNOWN: "outcome unknown", EXIT_INTERRUPTED: "interrupted"}.get(
                self.code, "error"
            )
            kind = "" if self.type in _UNTYPED else f"{self.type}: "
            rid = f" (request id {self.request_id})" if self.request_id else ""
            line = f"{label}: {kind}{self.message}{rid}"
            if sys.stderr.isatty():  # wrapped under its label, as `doctor` wraps its details
                from ._console import err, hanging

                line = hanging(line, err().width)
            print(line, file=sys.stderr)


def describe(exc: BaseException, args: argparse.Namespace | None) -> Failure | None:
    """The ``Failure`` for ``exc``, or ``None`` if it is not one the CLI explains."""
    request_id = getattr(exc, "request_id", None)
    rid = request_id if isinstance(request_id, str) else None
    name = type(exc).__name__
    if isinstance(exc, KeyboardInterrupt):
        return Failure(EXIT_INTERRUPTED, name, _interrupted_message(args))
    if isinstance(exc, UsageError):
        return Failure(EXIT_BAD_INPUT, name, str(exc))
    if isinstance(exc, ValidationError):
        return Failure(EXIT_BAD_INPUT, name, _validation_message(exc), rid)
    if isinstance(exc, OutcomeUnknownError):
        hint = "read the state (e.g. `kraken-prime batches get`) before trying again"
        return Failure(EXIT_UNKNOWN, name, f"{exc}; {hint}", rid)
    if isinstance(exc, APIConnectionError):
        return Failure(EXIT_REFUSED, name, _connection_message(exc, args), rid)
    if isinstance(exc, APIError):
        fix = _api_hint(exc, args)
        return Failure(EXIT_REFUSED, name, f"{exc}; {fix}" if fix else str(exc), rid)
    if isinstance(exc, KrakenPrimeError):
        return Failure(EXIT_REFUSED, name, str(exc), rid)
    return None


def _interrupted_message(args: argparse.Namespace | None) -> str:
    """What was done, and whether the same command line is safe to run again."""
    if args is None:
        return "stopped before it finished"
    said = getattr(args, "done", None) or "stopped before it finished"
    if not getattr(args, "rerun_safe", False):
        return said
    command = getattr(args, "command_line", "the same command")
    return f"{said}; the same command is safe to run again: {command}"


def _validation_message(exc: ValidationError) -> str:
    field = re.sub(r"\[\d+\]$", "", exc.field)
    option = FIELD_OPTIONS.get(field)
    if option is None:
        return str(exc)
    return f"{exc} (fix {option})"


def _connection_message(exc: APIConnectionError, args: argparse.Namespace | None) -> str:
    url = base_url(args) if args is not None else "the server"
    source = base_url_source(args) if args is not None else ENV_BASE_URL
    fix = f"check the URL (from {source}; set --base-url or {ENV_BASE_URL}) and the network"
    if isinstance(exc, APITimeoutError):
        return f"no answer from {url} in time ({exc}); raise --timeout or {fix}"
    if not exc.sent:
        return f"could not reach {url} ({exc}); {fix}"
    return f"the connection to {url} failed after sending ({exc}); {fix}"


def _api_hint(exc: APIError, args: argparse.Namespace | None) -> str | None:
    said = " ".join(exc.errors)
    oauth = args is not None and getattr(args, "group", None) == "fast-keys"
    if isinstance(exc, AuthenticationError):
        if oauth:
            return f"check {ENV_OAUTH_TOKEN} or --token (it may have expired)"
        if "Invalid signature" in said:
            return f"check {ENV_SECRET}: it must be the secret issued with {ENV_KEY}"
        if "Invalid key" in said:
            return f"check {ENV_KEY}: Kraken does not know this key (deleted?)"
        return f"check {ENV_KEY} and {ENV_SECRET}"
    if isinstance(exc, PermissionDeniedError):
        return "the key's user may not do this (a Viewer cannot settle); `kraken-prime doctor`"
    if isinstance(exc, InvalidNonceError):
        return (
            "another program may use this key with larger nonces (nonce unit: ms) or with "
            "overlapping requests; raise the key's nonce window, or use a fresh key"
        )
    if isinstance(exc, TemporaryLockoutError):
        return "the key is locked out for about 15 minutes: wait, do not retry sooner"
    if isinstance(exc, RateLimitError):
        return "set --rate-limit (or KRAKEN_PRIME_RATE_LIMIT) to your account's tier"
    return None
