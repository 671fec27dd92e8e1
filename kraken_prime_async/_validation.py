"""Argument checks run before anything is sent. Every failure names the argument.

Strings come back as plain ``str`` (a ``str`` subclass is copied: the JSON encoder takes only
``str`` itself); numbers are checked to be finite and within what the wire carries.
"""

from __future__ import annotations

import enum
import ipaddress
import math
import unicodedata
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
from yarl import URL

from ._constants import MAX_ID_LENGTH, MAX_WIRE_INTEGER
from .errors import ValidationError

E = TypeVar("E", bound=enum.Enum)

#: Unicode categories refused in names: controls (C0, C1 such as NEL), format characters
#: (bidirectional overrides such as U+202E, zero-width characters), lone surrogates, and the
#: line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _short(value: int | float) -> str:
    if isinstance(value, int) and not -(10**24) < value < 10**24:
        return "a number with more than 24 digits"
    return repr(value)


def text(field: str, value: object) -> str:
    """A ``str`` (a subclass is copied into a plain ``str``)."""
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a str, got {type(value).__name__}")
    return value if type(value) is str else str.__str__(value)


def identifier(field: str, value: object) -> str:
    """An id (``user_id``, ``key_id``, ``batch_id``, ``asset``, the API key): 1 to
    ``MAX_ID_LENGTH`` visible ASCII characters (no spaces, controls or non-ASCII), as every id in
    Kraken's reference is."""
    value = text(field, value)
    if not value:
        raise ValidationError(field, "must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise ValidationError(
            field, f"must be at most {MAX_ID_LENGTH} characters, got {len(value)}"
        )
    if not all("!" <= ch <= "~" for ch in value):
        raise ValidationError(
            field,
            "must contain only visible ASCII characters (no whitespace or control characters)",
        )
    return value


def identifier_problem(value: object) -> str | None:
    """What ``identifier()`` refuses in ``value`` (``None``: nothing), without raising.

    For credentials: the caller raises from a frame that holds the value only masked.
    """
    try:
        identifier("value", value)
    except ValidationError as exc:
        return exc.reason
    return None


def name(field: str, value: object, *, max_length: int) -> str:
    """A display name: non-blank, at most ``max_length`` characters, no control or format
    characters (Unicode categories Cc, Cf, Cs, Zl, Zp: NEL, U+202E, zero-width spaces, lone
    surrogates, line separators)."""
    value = text(field, value)
    if not value.strip():
        raise ValidationError(field, "must not be blank")
    if len(value) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters, got {len(value)}")
    if any(unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in value):
        raise ValidationError(field, "must not contain control or format characters")
    return value


def choice(field: str, value: object, allowed: type[E]) -> str:
    """An enum member or its plain string value; returns the wire string."""
    if isinstance(value, allowed):
        return str(value.value)
    if isinstance(value, str):
        value = str.__str__(value)
        for member in allowed:
            if member.value == value:
                return value
    options = ", ".join(repr(m.value) for m in allowed)
    raise ValidationError(field, f"must be one of {options}, got {value!r}")


def choices(field: str, values: object, allowed: type[E]) -> list[str]:
    """A non-empty list of ``choice()`` values, without duplicates."""
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
        item = text(f"{field}[{index}]", item)
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


def integer(field: str, value: object, *, minimum: int, maximum: int = MAX_WIRE_INTEGER) -> int:
    """An ``int`` (not ``bool``) within ``[minimum, maximum]`` (by default at most int64's max)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, f"must be an int, got {type(value).__name__}")
    if value < minimum or value > maximum:
        bound = (
            f">= {minimum}" if maximum == MAX_WIRE_INTEGER else f"between {minimum} and {maximum}"
        )
        raise ValidationError(field, f"must be {bound}, got {_short(value)}")
    return int(value)


def seconds(field: str, value: object, *, allow_zero: bool) -> float:
    """A finite number of seconds (``int`` or ``float``, not ``bool``), positive or, with
    ``allow_zero``, non-negative."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(field, f"must be a number of seconds, got {type(value).__name__}")
    number = float(value) if not isinstance(value, int) or abs(value) < 2**1000 else math.inf
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValidationError(
            field, f"must be a finite number of seconds {bound}, got {_short(value)}"
        )
    return number


def callback(field: str, value: object) -> Callable[..., Any] | None:
    """``None`` or a callable."""
    if value is not None and not callable(value):
        raise ValidationError(field, f"must be callable, got {type(value).__name__}")
    return value


def epoch_ms(field: str, value: object) -> int:
    """Epoch milliseconds from an ``int`` or a timezone-aware ``datetime``."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValidationError(field, "datetime must be timezone-aware")
        value = int(value.timestamp() * 1000)
    return integer(field, value, minimum=0)


def epoch_seconds(field: str, value: object) -> int:
    """Unix seconds (``0``: none) from an ``int`` or a timezone-aware ``datetime``.

    Naive datetimes are refused rather than guessed (local time or UTC?); fractions of a second
    are dropped.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValidationError(field, "datetime must be timezone-aware (e.g. tzinfo=UTC)")
        whole = int(value.timestamp())
        if whole < 0:
            raise ValidationError(field, "must not be before 1970-01-01")
        return whole
    return integer(field, value, minimum=0)


def base_url(field: str, value: object) -> str:
    """``http(s)://host[:port][/path]`` without whitespace or control characters."""
    value = text(field, value)
    if not value.startswith(("http://", "https://")):
        raise ValidationError(field, "must start with http:// or https://")
    if any(ch.isspace() or unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in value):
        raise ValidationError(field, "must not contain whitespace or control characters")
    try:
        host = URL(value).host
    except (TypeError, ValueError):
        host = None
    if not host:
        raise ValidationError(field, "must name a host")
    return value


def client_options(
    *,
    session: object,
    transport: object,
    sleep: object,
    clock: object,
    max_response_bytes: object,
) -> int:
    """The constructor arguments both clients share; returns ``max_response_bytes``."""
    if session is not None and not isinstance(session, aiohttp.ClientSession):
        raise ValidationError(
            "session", f"must be an aiohttp.ClientSession, got {type(session).__name__}"
        )
    if transport is not None and not all(
        callable(getattr(transport, m, None)) for m in ("request", "close")
    ):
        raise ValidationError("transport", "must have async request() and close() methods")
    if session is not None and transport is not None:
        raise ValidationError("transport", "give either session or transport, not both")
    for field, value in (("sleep", sleep), ("clock", clock)):
        if not callable(value):
            raise ValidationError(field, f"must be callable, got {type(value).__name__}")
    return integer("max_response_bytes", max_response_bytes, minimum=1)
