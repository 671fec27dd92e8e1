"""``timeout=`` as seconds or :class:`aiohttp.ClientTimeout`."""

from __future__ import annotations

import aiohttp

from ._constants import DEFAULT_CONNECT_TIMEOUT
from .errors import ValidationError


def coerce_timeout(value: float | aiohttp.ClientTimeout) -> aiohttp.ClientTimeout:
    """Seconds become a whole-request budget (connect capped at the default connect budget)."""
    if isinstance(value, aiohttp.ClientTimeout):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValidationError("timeout", "must be a positive number of seconds or a ClientTimeout")
    return aiohttp.ClientTimeout(
        total=float(value), connect=min(float(value), DEFAULT_CONNECT_TIMEOUT)
    )
