"""A string that never shows its value by accident."""

from __future__ import annotations

import hashlib
import hmac
import re
import urllib.parse
from typing import Any, Final

_MASK: Final = "**********"


class SecretStr:
    """Hold a secret string; ``repr``/``str``/``format`` show a mask.

    Follows the pydantic convention: call
    [`get_secret_value()`][kraken_prime_async.SecretStr.get_secret_value] to read the value.
    Equality is constant-time; the object is deliberately unhashable and unpicklable so it does not
    end up as a dict key in a log or in a cache on disk.
    """

    __slots__ = ("_value",)

    #: ``True`` on the key a repeated create returns from the write journal: the secret went
    #: to the first call only and reading it raises ``SecretWithheldError``.
    withheld = False

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("SecretStr holds a str")
        self._value = value

    def get_secret_value(self) -> str:
        """Return the secret itself."""
        return self._value

    def __repr__(self) -> str:
        return f"SecretStr('{_MASK}')"

    def __str__(self) -> str:
        return _MASK

    def __format__(self, spec: str) -> str:
        return _MASK

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SecretStr):
            return hmac.compare_digest(self._value.encode(), other._value.encode())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> Any:
        raise TypeError("SecretStr cannot be pickled")


class Credential:
    """An API key, secret or bearer token on its way into a client: ``repr`` shows a mask.

    Constructors wrap their credential arguments in this first thing, so a frame captured with
    its locals (error trackers do that) never shows them. Holds any object: checking the value
    is the caller's job, done without raising while the raw value is a local.
    """

    __slots__ = ("_value",)

    def __init__(self, value: object) -> None:
        self._value = value

    def reveal(self) -> object:
        """The wrapped value."""
        return self._value

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("Credential cannot be pickled")


class MaskedDict(dict[str, Any]):
    """A dict whose ``repr`` hides the values of credential keys.

    Used for request headers (``API-Key``, ``API-Sign``, ``Authorization``) and for constructor
    keyword arguments (``api_key``, ``api_secret``, ``access_token``): the dict itself is what is
    used; only its representation (in captured frame locals, in a debugger) is masked.
    """

    __slots__ = ()

    #: Keys (lower case) whose value is a credential.
    SENSITIVE: Final = frozenset(
        {"api-key", "api-sign", "authorization", "api_key", "api_secret", "access_token"}
    )

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{key}={'<redacted>' if str(key).lower() in self.SENSITIVE else repr(value)}"
            for key, value in self.items()
        )
        return f"{{{shown}}}"


def fingerprint(value: str, length: int = 8) -> str:
    """A short SHA-256 fingerprint of a credential, safe to show or to name stored state by."""
    return hashlib.sha256(value.encode()).hexdigest()[:length]


def spellings(value: str) -> tuple[str, ...]:
    """The ways a server may echo ``value`` back: as sent, JSON-escaped (``/`` as ``\\/``),
    and percent-encoded with upper- and lower-case hex digits (longest first, so a replacement
    never leaves part of a longer spelling behind)."""
    escaped = value.replace("/", "\\/")
    upper = urllib.parse.quote(value, safe="")
    lower = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), upper)
    found = {value, escaped, upper, lower, upper.replace("/", "\\/")}
    return tuple(sorted(found, key=len, reverse=True))


def redact(text: str, *values: str) -> str:
    """``text`` with every spelling (``spellings()``) of each of ``values`` replaced by
    ``<redacted>``."""
    for value in values:
        if value:
            for spelling in spellings(value):
                if spelling in text:
                    text = text.replace(spelling, "<redacted>")
    return text


#: Request headers with credentials masked in ``repr``.
MaskedHeaders = MaskedDict


def repr_hiding(*names: str) -> Any:
    """A ``__repr__`` for a msgspec Struct that shows ``names`` as a short fingerprint.

    For public API keys in results: enough to tell keys apart in a log or a debugger, never the
    key itself (a frame captured with its locals must not carry a credential).
    """
    hidden = frozenset(names)

    def __repr__(self: Any) -> str:
        parts = []
        for field in self.__struct_fields__:
            value = getattr(self, field)
            if field in hidden and isinstance(value, str):
                parts.append(f"{field}=<sha256:{fingerprint(value)}>")
            else:
                parts.append(f"{field}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    return __repr__
