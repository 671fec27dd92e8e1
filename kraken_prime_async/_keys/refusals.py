"""A poisoned key fails fast: at most ``NONCE_REFUSAL_LIMIT`` invalid-nonce refusals per key in any
``NONCE_REFUSAL_PERIOD``.

Kraken locks a key out after repeated invalid nonces. When another client on the same key sends
larger nonces (a larger nonce unit such as ns vs ms, or a clock far ahead), every request of this
client is refused, and retrying only brings the lockout closer. ``NonceRefusals`` remembers
the key's recent refusals (one per key and event loop, inside the key's in-process gate): while
it holds ``NONCE_REFUSAL_LIMIT`` refusals younger than ``NONCE_REFUSAL_PERIOD``, nothing is sent
on the key and every attempt raises
[`InvalidNonceError`][kraken_prime_async.errors.InvalidNonceError] at once
(not retried) naming the causes and the fix. The cool-down ends when the oldest of those refusals
is older than the period; the next request is then a probe. While the key has recent refusals,
its gate admits a request only while refusals plus requests in flight stay below the limit, so
the limit also holds with a nonce window (after the first refusal: requests already in flight
when it came can each still be refused).
"""

from __future__ import annotations

import datetime
from collections import deque
from collections.abc import Callable

from .._constants import NONCE_REFUSAL_LIMIT, NONCE_REFUSAL_PERIOD
from ..errors import InvalidNonceError


class NonceRefusals:
    """The recent invalid-nonce refusals of one key.

    Parameters
    ----------
    clock : callable
        Seconds (the first client's injected clock); only differences are used.
    limit, period : int, float
        At most ``limit`` refusals in any ``period`` seconds.
    """

    __slots__ = ("_clock", "_times", "limit", "period")

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        limit: int = NONCE_REFUSAL_LIMIT,
        period: float = NONCE_REFUSAL_PERIOD,
    ) -> None:
        self._clock = clock
        self._times: deque[float] = deque()
        self.limit = limit
        self.period = period

    def recent(self) -> int:
        """Refusals within the period."""
        horizon = self._clock() - self.period
        times = self._times
        while times and times[0] <= horizon:
            times.popleft()
        return len(times)

    @property
    def suspect(self) -> bool:
        """Whether the key had a refusal within the period (its requests then go one by one)."""
        return bool(self._times) and self.recent() > 0

    def record(self) -> None:
        """Kraken refused one of the key's requests with ``EAPI:Invalid nonce``."""
        self._times.append(self._clock())

    def check(self, operation: str) -> None:
        """Raise the cool-down [`InvalidNonceError`][kraken_prime_async.InvalidNonceError] if
        nothing may be sent on the key now."""
        if not self._times or self.recent() < self.limit:
            return
        until = self._times[0] + self.period
        wait = max(0.0, until - self._clock())
        error = InvalidNonceError(
            f"{operation}: not sent: this API key had {len(self._times)} invalid-nonce refusals "
            f"in the last {self.period:g} s, so it rests for {wait:.0f} s more (until "
            f"{_iso(until)}) before Kraken locks it out. Likely causes: another client on this "
            "key sends larger nonces (a larger nonce unit, e.g. ns vs ms, or a clock far ahead), "
            "or requests reach Kraken out of order. Fix: use one nonce unit for the key everywhere "
            "(nonce_unit=), set a nonce window on the key and pass nonce_window=, or rotate the "
            "key (a key that has seen larger nonces cannot go back).",
            operation=operation,
        )
        error.retryable = False
        error.cooldown_until = until
        raise error

    def __repr__(self) -> str:
        return f"NonceRefusals(recent={len(self._times)}, limit={self.limit})"


def _iso(seconds: float) -> str:
    try:
        moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return f"{seconds:.0f}"
    return moment.isoformat(timespec="seconds")
