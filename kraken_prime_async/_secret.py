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
