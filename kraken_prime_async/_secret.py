"""A string that never shows its value by accident."""

from __future__ import annotations

import hmac
from typing import Any, Final

_MASK: Final = "**********"


class SecretStr:
    """Hold a secret string; ``repr``/``str``/``format`` show a mask.

    Follows the pydantic convention: call :meth:`get_secret_value` to read the value.
    Equality is constant-time; the object is deliberately unhashable and unpicklable so it does not
    end up as a dict key in a log or in a cache on disk.
    """

    __slots__ = ("_value",)

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


class MaskedHeaders(dict[str, str]):
    """Request headers whose ``repr`` hides the credential headers.

    The dict itself is what is sent; only its representation (in captured frame locals, in a
    debugger) is masked.
    """

    __slots__ = ()

    #: Headers whose value is a credential.
    SENSITIVE: Final = frozenset({"api-key", "api-sign", "authorization"})

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={'<redacted>' if name.lower() in self.SENSITIVE else value}"
            for name, value in self.items()
        )
        return f"MaskedHeaders({shown})"
