"""How the CLI builds its clients: the library's reading of the environment, options on top.

``client_from`` is ``PrimeClient.from_env(...)`` and ``oauth_client_from`` is
``FastApiKeyClient.from_env(...)``, so every variable (``KRAKEN_PRIME_API_SECRET_FILE`` included)
means the same to the CLI as to the library (see ``kraken_prime_async._config``). The global
options ``--base-url``, ``--timeout``, ``--rate-limit`` and ``fast-keys --token`` override their
variables. Every failure names what to fix (the variable or the option); a secret's value is
never echoed.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, Final

from .._client import PrimeClient
from .._config import (
    ENV_API_KEY,
    ENV_API_SECRET,
    ENV_API_SECRET_FILE,
    ENV_BASE_URL,
    ENV_OAUTH_TOKEN,
    ENV_RATE_LIMIT,
    ENV_SECRET_ENCODING,
    ENV_SOLE_WRITER,
    base_url_from,
    rate_limit_from,
)
from .._keys.pacing import TIERS, RateLimitSetting
from .._oauth_client import FastApiKeyClient
from ..errors import ValidationError

__all__ = [
    "ENV_BASE_URL",
    "ENV_KEY",
    "ENV_OAUTH_TOKEN",
    "ENV_RATE_LIMIT",
    "ENV_SECRET",
    "ENV_SECRET_ENCODING",
    "ENV_SECRET_FILE",
    "ENV_SOLE_WRITER",
    "RATE_LIMIT_CHOICES",
    "base_url",
    "base_url_source",
    "client_from",
    "oauth_client_from",
    "rate_limit_name",
]

ENV_KEY: Final = ENV_API_KEY
ENV_SECRET: Final = ENV_API_SECRET
ENV_SECRET_FILE: Final = ENV_API_SECRET_FILE

#: ``--rate-limit`` choices: ``off`` is ``rate_limit=None``.
RATE_LIMIT_CHOICES: Final = ("auto", *TIERS, "off")
_SETTINGS: Final[dict[str, RateLimitSetting]] = {
    "auto": "auto",
    "starter": "starter",
    "intermediate": "intermediate",
    "pro": "pro",
    "off": None,
}
#: A secret that is not base64, in the CLI's words (the library names its Python argument).
_NOT_BASE64: Final = (
    "is not valid base64 (check {field}: Kraken issues secrets in base64; give "
    f"--secret-encoding raw, or set {ENV_SECRET_ENCODING}=raw, only if you know yours is not)"
)
#: Added to "not set" errors about the credentials.
_SANDBOX_HINT: Final = "`kraken-prime sandbox` prints them for a local sandbox"


def base_url(args: argparse.Namespace) -> str:
    """``--base-url``, else ``$KRAKEN_PRIME_BASE_URL``, else Kraken's (for messages)."""
    url: str = args.base_url or base_url_from(os.environ)
    return url.rstrip("/")


def base_url_source(args: argparse.Namespace) -> str:
    """Where ``base_url()`` came from, for messages (``--base-url``, the variable, default)."""
    if args.base_url:
        return "--base-url"
    return ENV_BASE_URL if os.environ.get(ENV_BASE_URL) else "the default"


def rate_limit_name(args: argparse.Namespace) -> str:
    """``--rate-limit``, else ``$KRAKEN_PRIME_RATE_LIMIT`` (checked by the library), else auto."""
    if args.rate_limit:
        return str(args.rate_limit)
    setting = rate_limit_from(os.environ)
    return "off" if setting is None else setting


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {"timeout": args.timeout}
    if args.base_url:
        overrides["base_url"] = args.base_url
    if getattr(args, "sole_writer", False):  # else $KRAKEN_PRIME_SOLE_WRITER, read by from_env
        overrides["sole_writer"] = True
    return overrides


def client_from(args: argparse.Namespace, **options: Any) -> PrimeClient:
    """``PrimeClient.from_env`` with the global options (and a command's ``options``, such as
    ``journal=``) on top."""
    overrides = {**_overrides(args), **options}
    if getattr(args, "rate_limit", None):
        overrides["rate_limit"] = _SETTINGS[args.rate_limit]
    if getattr(args, "secret_encoding", None):
        overrides["secret_encoding"] = args.secret_encoding
    try:
        return PrimeClient.from_env(**overrides)
    except ValidationError as exc:
        raise _named(exc) from None


def oauth_client_from(args: argparse.Namespace) -> FastApiKeyClient:
    """``FastApiKeyClient.from_env`` with ``--token`` and the global options on top."""
    overrides = _overrides(args)
    if getattr(args, "token", None):
        overrides["access_token"] = args.token
    try:
        return FastApiKeyClient.from_env(**overrides)
    except ValidationError as exc:
        if exc.field == ENV_OAUTH_TOKEN:
            raise ValidationError(
                ENV_OAUTH_TOKEN, f"not set: set it, or give --token=TOKEN ({_SANDBOX_HINT})"
            ) from None
        raise _named(exc) from None


def _named(exc: ValidationError, hint: str = _SANDBOX_HINT) -> ValidationError:
    """The library's complaint, with the fix: the option for an option's value, a hint else."""
    reason = str(exc).partition(": ")[2] or str(exc)
    if exc.field == "base_url":
        return ValidationError("--base-url", reason)
    if exc.field in (ENV_KEY, ENV_SECRET, ENV_SECRET_FILE):
        if "secret_encoding=" in reason:  # the library names its argument; the CLI, its option
            return ValidationError(exc.field, _NOT_BASE64.format(field=exc.field))
        if reason.startswith("not set"):
            return ValidationError(exc.field, f"{reason} ({hint})")
        if "not both" not in reason:
            return ValidationError(exc.field, f"{reason} (check {exc.field})")
    return exc
