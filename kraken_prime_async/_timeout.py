"""``timeout=`` as seconds, an ``aiohttp.ClientTimeout`` or a ``RequestTimeout``, and
the record every ``Transport`` receives: ``RequestTimeout``."""

from __future__ import annotations

import math
from typing import Final, NamedTuple

import aiohttp

from ._constants import DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT
from .errors import ValidationError


class RequestTimeout(NamedTuple):
    """One attempt's time budgets, in seconds (``None``: no limit).

    What a ``Transport`` receives, whatever form ``timeout=`` took:
    ``total`` bounds the whole request (connection, sending, answer), ``connect`` getting a
    connection (from the pool or a new one), ``sock_connect`` the TCP/TLS connect alone and
    ``sock_read`` the gap between two reads of the answer.
    """

    total: float | None
    connect: float | None = None
    sock_read: float | None = None
    sock_connect: float | None = None


#: ``timeout=`` accepts seconds, an ``aiohttp.ClientTimeout`` or a ``RequestTimeout``.
TimeoutLike = float | aiohttp.ClientTimeout | RequestTimeout

#: The budgets a client uses when given no ``timeout=``.
DEFAULT_REQUEST_TIMEOUT: Final = RequestTimeout(DEFAULT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT)


def coerce_timeout(value: object) -> RequestTimeout:
    """Seconds become a whole-request budget (connect capped at the default connect budget).

    Seconds must be a finite number > 0 (not ``bool``); each budget of a ``ClientTimeout`` (or a
    ``RequestTimeout``) must be ``None`` (no limit) or such a number.
    """
    if isinstance(value, (aiohttp.ClientTimeout, RequestTimeout)):
        kind = type(value).__name__
        budgets = RequestTimeout(value.total, value.connect, value.sock_read, value.sock_connect)
        for budget, given in zip(RequestTimeout._fields, budgets, strict=True):
            if given is not None and not _positive_finite(given):
                raise ValidationError(
                    "timeout", f"{kind}.{budget} must be None or a finite number > 0"
                )
        return budgets
    if not _positive_finite(value):
        raise ValidationError(
            "timeout", "must be a finite number of seconds > 0 or an aiohttp.ClientTimeout"
        )
    seconds = float(value)  # type: ignore[arg-type]  # a real number, checked above
    return RequestTimeout(seconds, min(seconds, DEFAULT_CONNECT_TIMEOUT))


def _positive_finite(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value) and value > 0
    except OverflowError:  # an int too large for a float
        return False
