"""Where the CLI's settings come from: the environment, then the command line's global options.

Every failure here names what to fix: the environment variable that is missing or wrong, or the
option to use. A secret's value is never echoed.
"""

from __future__ import annotations

import argparse
import os
from typing import Final

from .._client import PrimeClient
from .._constants import DEFAULT_BASE_URL, DEFAULT_NONCE_UNIT
from .._oauth_client import FastApiKeyClient
from .._rate_limit import TIERS, RateLimitSetting
from ..errors import ValidationError

ENV_KEY: Final = "KRAKEN_PRIME_API_KEY"
ENV_SECRET: Final = "KRAKEN_PRIME_API_SECRET"  # noqa: S105 - the variable's name, not a secret
ENV_BASE_URL: Final = "KRAKEN_PRIME_BASE_URL"
ENV_RATE_LIMIT: Final = "KRAKEN_PRIME_RATE_LIMIT"
ENV_OAUTH_TOKEN: Final = "KRAKEN_OAUTH_TOKEN"  # noqa: S105 - the variable's name, not a token

#: ``--rate-limit`` choices: ``off`` is ``rate_limit=None``.
RATE_LIMIT_CHOICES: Final = ("auto", *TIERS, "off")
DEFAULT_RATE_LIMIT: Final = "auto"


def base_url(args: argparse.Namespace) -> str:
    """``--base-url``, else ``$KRAKEN_PRIME_BASE_URL``, else Kraken's."""
    url: str = args.base_url or os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL
    return url.rstrip("/")


def base_url_source(args: argparse.Namespace) -> str:
    """Where :func:`base_url` came from, for messages (``--base-url``, the variable, default)."""
    if args.base_url:
        return "--base-url"
    return ENV_BASE_URL if os.environ.get(ENV_BASE_URL) else "the default"


def rate_limit_name(args: argparse.Namespace) -> str:
    """``--rate-limit``, else ``$KRAKEN_PRIME_RATE_LIMIT``, else ``auto``; checked."""
    name: str = args.rate_limit or os.environ.get(ENV_RATE_LIMIT) or DEFAULT_RATE_LIMIT
    if name not in RATE_LIMIT_CHOICES:
        where = "--rate-limit" if args.rate_limit else ENV_RATE_LIMIT
        raise ValidationError(where, f"must be one of {', '.join(RATE_LIMIT_CHOICES)}")
    return name


_SETTINGS: Final[dict[str, RateLimitSetting]] = {
    "auto": "auto",
    "starter": "starter",
    "intermediate": "intermediate",
    "pro": "pro",
    "off": None,
}


def rate_limit_setting(name: str) -> RateLimitSetting:
    """The ``rate_limit=`` value for a ``--rate-limit`` name."""
    return _SETTINGS[name]


def credentials() -> tuple[str, str]:
    """``(api_key, api_secret)`` from the environment; a missing one is named."""
    key, secret = os.environ.get(ENV_KEY), os.environ.get(ENV_SECRET)
    missing = [name for name, value in ((ENV_KEY, key), (ENV_SECRET, secret)) if not value]
    if missing:
        hint = "`kraken-prime sandbox` prints them for a local sandbox"
        raise ValidationError(" and ".join(missing), f"not set: export it ({hint})")
    assert key is not None
    assert secret is not None
    return key, secret


def client_from(args: argparse.Namespace) -> PrimeClient:
    """A client from the environment's credentials and the global options."""
    key, secret = credentials()
    try:
        return PrimeClient(
            key,
            secret,
            base_url=base_url(args),
            timeout=args.timeout,
            nonce_unit=DEFAULT_NONCE_UNIT,
            rate_limit=rate_limit_setting(rate_limit_name(args)),
        )
    except ValidationError as exc:
        raise _named(exc, args) from None


def _named(exc: ValidationError, args: argparse.Namespace) -> ValidationError:
    """The client's complaint about an argument, as one about where the value came from."""
    reason = str(exc).partition(": ")[2] or str(exc)
    if exc.field in ("api_key", "api_secret"):
        variable = ENV_KEY if exc.field == "api_key" else ENV_SECRET
        return ValidationError(variable, f"{reason} (check {variable})")
    if exc.field == "base_url":
        return ValidationError(base_url_source(args), reason)
    return exc


def oauth_client_from(args: argparse.Namespace) -> FastApiKeyClient:
    """An OAuth client from ``--token`` (or ``$KRAKEN_OAUTH_TOKEN``) and the global options."""
    token = args.token or os.environ.get(ENV_OAUTH_TOKEN)
    if not token:
        raise ValidationError(
            "--token", f"give --token or set {ENV_OAUTH_TOKEN} in the environment"
        )
    return FastApiKeyClient(token, base_url(args), timeout=args.timeout)
