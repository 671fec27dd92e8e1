"""Argument checks run before anything is sent. Every failure names the argument."""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable
from datetime import datetime
from typing import TypeVar

from .errors import ValidationError

E = TypeVar("E", bound=enum.Enum)


def _printable(field: str, value: str) -> None:
    if any(ch < " " or ch == "\x7f" for ch in value):
        raise ValidationError(field, "must not contain control characters")


def identifier(field: str, value: object) -> str:
    """A non-empty id without whitespace (``user_id``, ``key_id``, ``batch_id``, ``asset``)."""
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a str, got {type(value).__name__}")
    if not value:
        raise ValidationError(field, "must not be empty")
    if any(ch.isspace() for ch in value):
        raise ValidationError(field, "must not contain whitespace")
    _printable(field, value)
    return value


def identifier_problem(value: object) -> str | None:
    """What :func:`identifier` refuses in ``value`` (``None``: nothing), without raising.

    For credentials: the caller raises from a frame that holds the value only masked.
    """
    try:
        identifier("value", value)
    except ValidationError as exc:
        return exc.reason
    return None


def name(field: str, value: object, *, max_length: int) -> str:
    """A display name: non-blank, at most ``max_length`` characters, no control characters."""
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ValidationError(field, "must not be blank")
    if len(value) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters, got {len(value)}")
    _printable(field, value)
    return value


def choice(field: str, value: object, allowed: type[E]) -> str:
    """An enum member or its plain string value; returns the wire string."""
    if isinstance(value, allowed):
        return str(value.value)
    if isinstance(value, str):
        for member in allowed:
            if member.value == value:
                return value
    options = ", ".join(repr(m.value) for m in allowed)
    raise ValidationError(field, f"must be one of {options}, got {value!r}")


def choices(field: str, values: object, allowed: type[E]) -> list[str]:
    """A non-empty list of :func:`choice` values, without duplicates."""
    if isinstance(values, (str, enum.Enum)) or not isinstance(values, Iterable):
        raise ValidationError(field, "must be a list of values")
    result = [choice(field, v, allowed) for v in values]
    if not result:
        raise ValidationError(field, "must not be empty (omit it to match every value)")
    if len(set(result)) != len(result):
        raise ValidationError(field, "must not repeat a value")
    return result


def open_string(field: str, value: object) -> str:
    """A free-form vocabulary value (enum member or non-empty str), not checked against a list."""
    if isinstance(value, enum.Enum):
        value = value.value
    if not isinstance(value, str) or not value:
        raise ValidationError(field, "must be a non-empty str")
    return identifier(field, value)


def ip_list(field: str, values: object) -> list[str]:
    """IPv4/IPv6 addresses or CIDR networks (host bits clear); ``[]`` is allowed."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ValidationError(field, "must be a list of IP addresses or CIDR networks")
    result: list[str] = []
    for index, raw in enumerate(values):
        item = str(raw) if isinstance(raw, (ipaddress.IPv4Address, ipaddress.IPv6Address)) else raw
        if isinstance(raw, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            item = str(raw)
        if not isinstance(item, str):
            raise ValidationError(f"{field}[{index}]", f"must be a str, got {type(raw).__name__}")
        try:
            if "/" in item:
                ipaddress.ip_network(item, strict=True)
            else:
                ipaddress.ip_address(item)
        except ValueError as exc:
            raise ValidationError(f"{field}[{index}]", str(exc)) from None
        result.append(item)
    if len(set(result)) != len(result):
        raise ValidationError(field, "must not repeat an address")
    return result


def integer(field: str, value: object, *, minimum: int, maximum: int | None = None) -> int:
    """An ``int`` (not ``bool``) within ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, f"must be an int, got {type(value).__name__}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ValidationError(field, f"must be {bound}, got {value}")
    return value


def epoch_ms(field: str, value: object) -> int:
    """Epoch milliseconds from an ``int`` or a timezone-aware ``datetime``."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValidationError(field, "datetime must be timezone-aware")
        return int(value.timestamp() * 1000)
    return integer(field, value, minimum=0)


def epoch_seconds(field: str, value: object) -> int:
    """Unix seconds (``0``: none) from an ``int`` or a timezone-aware ``datetime``.

    Naive datetimes are refused rather than guessed (local time or UTC?); fractions of a second
    are dropped.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValidationError(field, "datetime must be timezone-aware (e.g. tzinfo=UTC)")
        seconds = int(value.timestamp())
        if seconds < 0:
            raise ValidationError(field, "must not be before 1970-01-01")
        return seconds
    return integer(field, value, minimum=0)
