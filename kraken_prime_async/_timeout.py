"""``timeout=`` as seconds or ``aiohttp.ClientTimeout``."""

from __future__ import annotations

import math

import aiohttp

from ._constants import DEFAULT_CONNECT_TIMEOUT
from .errors import ValidationError

_BUDGETS = ("total", "connect", "sock_read", "sock_connect")


def coerce_timeout(value: object) -> aiohttp.ClientTimeout:
    """Seconds become a whole-request budget (connect capped at the default connect budget).

    Seconds must be a finite number > 0 (not ``bool``); each budget of a ``ClientTimeout`` must
    be ``None`` (no limit) or such a number.
    """
    if isinstance(value, aiohttp.ClientTimeout):
        for budget in _BUDGETS:
            given = getattr(value, budget)
            if given is not None and not _positive_finite(given):
                raise ValidationError(
                    "timeout", f"ClientTimeout.{budget} must be None or a finite number > 0"
                )
        return value
    if not _positive_finite(value):
        raise ValidationError(
            "timeout", "must be a finite number of seconds > 0 or an aiohttp.ClientTimeout"
        )
    seconds = float(value)  # type: ignore[arg-type]  # a real number, checked above
    return aiohttp.ClientTimeout(total=seconds, connect=min(seconds, DEFAULT_CONNECT_TIMEOUT))


def _positive_finite(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value) and value > 0
    except OverflowError:  # an int too large for a float
        return False
