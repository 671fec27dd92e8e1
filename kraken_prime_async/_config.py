"""Configuration from the environment, and the base-URL rule both clients apply.

``PrimeClient.from_env()`` and ``FastApiKeyClient.from_env()`` read the variables named here, so a
variable means the same thing to the library and to the ``kraken-prime`` CLI. The CLI builds its
clients with them: ``PrimeClient.from_env(timeout=..., base_url=<--base-url, if given>)`` and
``FastApiKeyClient.from_env(access_token=<--token, if given>, timeout=...)``
(``cli/_config.client_from`` and ``oauth_client_from``).

=================================  =============================================================
variable                           meaning
=================================  =============================================================
``KRAKEN_PRIME_API_KEY``           public API key (``PrimeClient``)
``KRAKEN_PRIME_API_SECRET``        the key's secret, base64 as Kraken issues it
``KRAKEN_PRIME_API_SECRET_FILE``   a file holding the secret instead (one trailing newline is
                                   dropped); setting both is refused
``KRAKEN_PRIME_SECRET_ENCODING``   ``base64`` (default: Kraken's secrets are base64) or ``raw``
``KRAKEN_PRIME_BASE_URL``          ``https://api.kraken.com`` when unset; plain ``http://`` only
                                   for loopback hosts (a local sandbox)
``KRAKEN_PRIME_RATE_LIMIT``        ``auto`` (default), ``none`` (or ``off``), ``starter``,
                                   ``intermediate``, ``pro``
``KRAKEN_PRIME_NONCE_WINDOW``      the key's nonce window in nonce units (integer >= 0)
``KRAKEN_OAUTH_TOKEN``             OAuth access token (``FastApiKeyClient``)
=================================  =============================================================

An empty variable counts as unset. Keyword arguments override the environment: a variable whose
setting is given as a keyword is not read at all. Errors name the variable, never its value.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from ._constants import DEFAULT_BASE_URL
from ._secret import MaskedDict
from ._validation import base_url
from .errors import ValidationError

ENV_API_KEY: Final = "KRAKEN_PRIME_API_KEY"
ENV_API_SECRET: Final = "KRAKEN_PRIME_API_SECRET"  # noqa: S105 - a variable's name
ENV_API_SECRET_FILE: Final = "KRAKEN_PRIME_API_SECRET_FILE"  # noqa: S105 - a variable's name
ENV_SECRET_ENCODING: Final = "KRAKEN_PRIME_SECRET_ENCODING"  # noqa: S105 - a variable's name
ENV_BASE_URL: Final = "KRAKEN_PRIME_BASE_URL"
ENV_RATE_LIMIT: Final = "KRAKEN_PRIME_RATE_LIMIT"
ENV_NONCE_WINDOW: Final = "KRAKEN_PRIME_NONCE_WINDOW"
ENV_SOLE_WRITER: Final = "KRAKEN_PRIME_SOLE_WRITER"
ENV_OAUTH_TOKEN: Final = "KRAKEN_OAUTH_TOKEN"  # noqa: S105 - a variable's name

#: ``KRAKEN_PRIME_RATE_LIMIT`` spellings and the ``rate_limit=`` they stand for.
RATE_LIMIT_VALUES: Final[Mapping[str, str | None]] = {
    "auto": "auto",
    "none": None,
    "off": None,
    "starter": "starter",
    "intermediate": "intermediate",
    "pro": "pro",
}
_LOOPBACK_NAMES: Final = frozenset({"localhost"})


def checked_base_url(value: object, field: str = "base_url") -> str:
    """``value`` if it is an ``https://`` URL, or an ``http://`` URL of a loopback host.

    Loopback hosts are ``localhost``, ``127.0.0.0/8`` and ``::1`` (where the embedded sandbox
    listens). Plain HTTP anywhere else would send signed requests and bearer tokens in clear.

    Raises
    ------
    ValidationError
        Naming ``field``.
    """
    value = base_url(field, value)  # a str, http(s)://, a host, no whitespace or controls
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        raise ValidationError(field, "is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationError(field, "must be an http:// or https:// URL with a host")
    if parts.scheme == "http" and not is_loopback(host):
        raise ValidationError(
            field, "plain http:// is allowed only for loopback hosts (127.0.0.1, ::1, localhost)"
        )
    return value


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, without brackets) is a loopback host."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _get(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    return value or None


def _required(environ: Mapping[str, str], name: str, what: str) -> str:
    value = _get(environ, name)
    if value is None:
        raise ValidationError(name, f"not set: put the {what} in the environment")
    return value


def _read_secret_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ValidationError(ENV_API_SECRET_FILE, f"cannot read the file: {reason}") from None
    for ending in ("\r\n", "\n"):
        if text.endswith(ending):
            text = text[: -len(ending)]
            break
    if not text:
        raise ValidationError(ENV_API_SECRET_FILE, "the file is empty")
    return text


def _both_missing(environ: Mapping[str, str], overrides: Mapping[str, Any]) -> None:
    """Name both variables when neither the key nor its secret is set (one round of fixing)."""
    secret_set = any(_get(environ, name) for name in (ENV_API_SECRET, ENV_API_SECRET_FILE))
    if _get(environ, ENV_API_KEY) is None and not secret_set and "api_secret" not in overrides:
        raise ValidationError(
            ENV_API_KEY,
            f"not set, nor {ENV_API_SECRET} (or {ENV_API_SECRET_FILE}): put the public API key "
            "and its secret in the environment",
        )


def secret_from(environ: Mapping[str, str]) -> str:
    """The API secret from ``KRAKEN_PRIME_API_SECRET`` or ``KRAKEN_PRIME_API_SECRET_FILE``."""
    inline, path = _get(environ, ENV_API_SECRET), _get(environ, ENV_API_SECRET_FILE)
    if inline is not None and path is not None:
        raise ValidationError(
            ENV_API_SECRET, f"set either {ENV_API_SECRET} or {ENV_API_SECRET_FILE}, not both"
        )
    if path is not None:
        return _read_secret_file(path)
    if inline is None:
        raise ValidationError(
            ENV_API_SECRET, f"not set: set {ENV_API_SECRET} or {ENV_API_SECRET_FILE}"
        )
    return inline


def base_url_from(environ: Mapping[str, str]) -> str:
    """``KRAKEN_PRIME_BASE_URL``, or Kraken's when it is unset (not checked here)."""
    return _get(environ, ENV_BASE_URL) or DEFAULT_BASE_URL


def rate_limit_from(environ: Mapping[str, str]) -> str | None:
    """The ``rate_limit=`` that ``KRAKEN_PRIME_RATE_LIMIT`` stands for (``auto`` when unset)."""
    text = _get(environ, ENV_RATE_LIMIT)
    if text is None:
        return "auto"
    try:
        return RATE_LIMIT_VALUES[text.strip().lower()]
    except KeyError:
        options = ", ".join(RATE_LIMIT_VALUES)
        raise ValidationError(ENV_RATE_LIMIT, f"must be one of {options}") from None


def secret_encoding_from(environ: Mapping[str, str]) -> str | None:
    """``KRAKEN_PRIME_SECRET_ENCODING`` (``base64`` or ``raw``), or ``None`` when unset."""
    text = _get(environ, ENV_SECRET_ENCODING)
    if text is None:
        return None
    if text.lower() not in ("base64", "raw"):
        raise ValidationError(ENV_SECRET_ENCODING, "must be base64 or raw")
    return text.lower()


def _nonce_window(environ: Mapping[str, str]) -> int | None:
    text = _get(environ, ENV_NONCE_WINDOW)
    if text is None:
        return None
    try:
        window = int(text.strip(), 10)
    except ValueError:
        raise ValidationError(ENV_NONCE_WINDOW, "must be an integer >= 0") from None
    if window < 0:
        raise ValidationError(ENV_NONCE_WINDOW, "must be an integer >= 0")
    return window


#: ``KRAKEN_PRIME_SOLE_WRITER`` spellings.
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


def sole_writer_from(environ: Mapping[str, str]) -> bool | None:
    """``KRAKEN_PRIME_SOLE_WRITER`` (true/false, 1/0, yes/no, on/off), ``None`` when unset.

    Raises
    ------
    ValidationError
        If the variable holds anything else (named, with the spellings it takes).
    """
    text = _get(environ, ENV_SOLE_WRITER)
    if text is None:
        return None
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValidationError(ENV_SOLE_WRITER, "must be true or false (1/0, yes/no, on/off)")


def _sole_writer(
    overrides: Mapping[str, Any], env: Mapping[str, str], taken: dict[str, Any]
) -> None:
    if "sole_writer" not in overrides:
        sole = sole_writer_from(env)
        if sole is not None:
            taken["sole_writer"] = sole


def prime_settings(
    overrides: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """``PrimeClient`` keyword arguments from the environment, with ``overrides`` on top.

    Returns
    -------
    kwargs : dict
        Everything to pass to ``PrimeClient`` (``api_key`` and ``api_secret`` included).
    sources : dict
        For each argument taken from the environment, the variable it came from (so a later
        constructor error can name the variable the user set).
    """
    env = os.environ if environ is None else environ
    taken: dict[str, Any] = MaskedDict()
    sources: dict[str, str] = {}
    if "api_key" not in overrides:
        _both_missing(env, overrides)
        taken["api_key"] = _required(env, ENV_API_KEY, "public API key")
        sources["api_key"] = ENV_API_KEY
    if "api_secret" not in overrides:
        taken["api_secret"] = secret_from(env)
        from_file = _get(env, ENV_API_SECRET_FILE) is not None
        sources["api_secret"] = ENV_API_SECRET_FILE if from_file else ENV_API_SECRET
    if "secret_encoding" not in overrides:
        encoding = secret_encoding_from(env)
        if encoding is not None:
            taken["secret_encoding"] = encoding
    if "base_url" not in overrides:
        taken["base_url"] = base_url_from(env)
        sources["base_url"] = ENV_BASE_URL
    if "rate_limit" not in overrides:
        taken["rate_limit"] = rate_limit_from(env)
    if "nonce_window" not in overrides:
        window = _nonce_window(env)
        if window is not None:
            taken["nonce_window"] = window
            sources["nonce_window"] = ENV_NONCE_WINDOW
    _sole_writer(overrides, env, taken)
    return MaskedDict({**taken, **overrides}), sources


def fast_api_settings(
    overrides: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """``FastApiKeyClient`` keyword arguments from the environment, with ``overrides`` on top.

    The token is not required when ``access_token`` or ``token_provider`` is given.
    """
    env = os.environ if environ is None else environ
    taken: dict[str, Any] = MaskedDict()
    sources: dict[str, str] = {}
    if "access_token" not in overrides and overrides.get("token_provider") is None:
        taken["access_token"] = _required(env, ENV_OAUTH_TOKEN, "OAuth access token")
        sources["access_token"] = ENV_OAUTH_TOKEN
    if "base_url" not in overrides:
        taken["base_url"] = base_url_from(env)
        sources["base_url"] = ENV_BASE_URL
    _sole_writer(overrides, env, taken)
    return MaskedDict({**taken, **overrides}), sources


def renamed(exc: ValidationError, sources: Mapping[str, str]) -> ValidationError:
    """``exc`` naming the environment variable its field came from (if it came from one)."""
    variable = sources.get(exc.field)
    if variable is None:
        return exc
    message = str(exc).partition(": ")[2] or str(exc)
    return ValidationError(variable, message)
