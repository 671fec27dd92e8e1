"""Kraken's per-key rules: nonce tracking, the REST call counter and temporary lockouts.

Each class is pure bookkeeping: it is handed the current time (seconds, from the sandbox clock)
and never reads a clock itself, so tests drive it deterministically.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field
from typing import Final, Literal

from kraken_prime_async._signing import decode_secret

Tier = Literal["starter", "intermediate", "pro"]


@dataclass(frozen=True)
class TierLimits:
    """Maximum counter value and decay per second of one verification tier.

    Attributes
    ----------
    max_counter : float
        A call that takes the counter above this value is rejected.
    decay_per_second : float
        How much the counter drops per second.
    """

    max_counter: float
    decay_per_second: float


#: Kraken's REST call-counter tiers (Spot REST rate-limit guide; assumed for Prime).
TIERS: Final[dict[str, TierLimits]] = {
    "starter": TierLimits(15.0, 0.33),
    "intermediate": TierLimits(20.0, 0.5),
    "pro": TierLimits(20.0, 1.0),
}


@dataclass
class NonceTracker:
    """Highest accepted nonce of one key plus the nonces seen inside its window.

    A nonce is accepted when it is strictly greater than the highest accepted one, or when it
    lies at most ``window`` below the highest and has not been accepted before. An exact repeat
    is never accepted, whatever the window.
    """

    window: int = 0
    highest: int | None = None
    _seen: set[int] = field(default_factory=set)

    def accept(self, nonce: int) -> bool:
        """Record ``nonce`` and return ``True`` if Kraken's rule lets it through."""
        if self.highest is None or nonce > self.highest:
            self.highest = nonce
            self._seen.add(nonce)
            self._prune()
            return True
        if self.highest - nonce <= self.window and nonce not in self._seen:
            self._seen.add(nonce)
            return True
        return False

    def set_window(self, window: int) -> None:
        """Change the window (in nonce units, ``>= 0``)."""
        if window < 0:
            raise ValueError("nonce window must be >= 0")
        self.window = window
        self._prune()

    def _prune(self) -> None:
        if self.highest is None:
            return
        floor = self.highest - self.window
        self._seen = {n for n in self._seen if n >= floor}


@dataclass
class SandboxCallCounter:
    """Kraken's per-key call counter: +cost per call, continuous decay, reject above the max.

    Rejected calls still add their cost (Kraken: limits last "possibly longer if calls continue to
    be made while the rate limits are active").
    """

    limits: TierLimits
    value: float = 0.0
    updated: float | None = None

    def charge(self, now: float, cost: float = 1.0) -> bool:
        """Add ``cost`` at time ``now``; return ``False`` if the counter is now above the max."""
        self._decay(now)
        self.value += cost
        return self.value <= self.limits.max_counter

    def current(self, now: float) -> float:
        """Counter value at ``now`` after decay."""
        self._decay(now)
        return self.value

    def _decay(self, now: float) -> None:
        if self.updated is not None and now > self.updated:
            self.value = max(0.0, self.value - (now - self.updated) * self.limits.decay_per_second)
        if self.updated is None or now > self.updated:
            self.updated = now


@dataclass
class Lockout:
    """Counts one key's sequential authentication failures and locks it after too many.

    Kraken's errors guide: too many *sequential* failures lock the key, and during the lockout
    "each retry resets the timer". So a success clears the count (there is no time window), and
    every request refused by the lockout starts its ``duration`` again.

    Parameters
    ----------
    after : int
        Failures in a row (no success between them) that trigger a lockout.
    duration : float
        Seconds the lockout lasts after the last request made during it.
    """

    after: int
    duration: float
    locked_until: float = 0.0
    failures: int = 0

    def is_locked(self, now: float) -> bool:
        """``True`` while a lockout is running."""
        return now < self.locked_until

    def refuse(self, now: float) -> None:
        """A request arrived during the lockout: the timer starts again from ``now``."""
        self.locked_until = now + self.duration

    def record_failure(self, now: float) -> None:
        """Count one failure and start a lockout if it is the ``after``-th in a row."""
        self.failures += 1
        if self.failures >= self.after:
            self.locked_until = now + self.duration
            self.failures = 0

    def record_success(self) -> None:
        """The key proved itself: the failures before do not count any more."""
        self.failures = 0


def check_credentials(api_key: str, api_secret: str, *, taken: Container[str] = ()) -> None:
    """Refuse a fixed key pair that could not sign: ``ValueError`` (never quoting the secret)."""
    if not isinstance(api_key, str) or not api_key or not api_key.isprintable() or " " in api_key:
        raise ValueError("api_key must be a non-empty printable string without spaces")
    if api_key in taken:
        raise ValueError("api_key is already in use")
    try:
        decode_secret(api_secret)
    except ValueError:
        raise ValueError("api_secret must be base64") from None


def check_options(
    tier: Tier | TierLimits,
    nonce_window: int,
    latency: tuple[float, float] | None,
    lockout_after: int,
    auto_confirm_after: float | None,
) -> None:
    """Refuse sandbox options outside their range (``ValueError`` naming the option)."""
    if not isinstance(tier, TierLimits) and tier not in TIERS:
        raise ValueError(f"tier must be one of {sorted(TIERS)} or a TierLimits")
    if nonce_window < 0:
        raise ValueError("nonce_window must be >= 0")
    if latency is not None and not 0 <= latency[0] <= latency[1]:
        raise ValueError("latency must be (low, high) with 0 <= low <= high")
    if lockout_after < 1:
        raise ValueError("lockout_after must be >= 1")
    if auto_confirm_after is not None and auto_confirm_after < 0:
        raise ValueError("auto_confirm_after must be >= 0")
