"""A client-side model of Kraken's per-key call counter, so callers wait instead of being refused.

Kraken keeps a counter per key: each call adds its cost (1 for every Prime endpoint), the counter
decays continuously at the tier's rate, and a call that would take it above the tier's maximum is
refused (``EAPI:Rate limit exceeded``); refused calls still count. The model here charges each
attempt before it is sent and waits while the call would come within half a call of the maximum.

``rate_limit="auto"`` (the default) paces nothing until Kraken refuses a call for rate
(``EAPI:Rate limit exceeded``), then paces as the *fastest* documented tier that explains the
refusal: the key's recent calls (their times are kept) are replayed on each tier's counter, fastest
first, and the first tier whose counter would have been full then is taken (``explaining()``;
starter when none is). A refusal while paced at a tier proves that tier too fast: pacing steps
down one tier. After ``AUTO_RATE_LIMIT_QUIET`` seconds without another refusal it paces nothing
again (the next refusal starts over). ``EService: Throttled: <ts>`` ("too many concurrent
requests") says nothing about the counter: it holds every call on the key until ``<ts>`` and no
longer (each call waits at most its ``max_throttle_wait``, then raises). One limiter per API key
and event loop is shared by every client, until the last of them closes.
"""

from __future__ import annotations

import asyncio
import datetime
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Final, Literal, Protocol, runtime_checkable

import msgspec

from .._constants import AUTO_RATE_LIMIT_QUIET
from ..errors import ValidationError


class RateLimit(msgspec.Struct, frozen=True):
    """A call-counter tier: the maximum counter and its decay per second."""

    max_counter: float
    decay_per_second: float

    def __post_init__(self) -> None:
        if self.max_counter < 1:
            raise ValidationError("rate_limit", "max_counter must be >= 1")
        if self.decay_per_second <= 0:
            raise ValidationError("rate_limit", "decay_per_second must be > 0")


#: Kraken's published REST tiers (Prime's own limits are not documented).
#: Counter units kept free below the tier's maximum: absorbs rounding and the difference between
#: our clock and Kraken's (half a call is 1.5 s on the starter tier, 0.5 s on pro).
HEADROOM: Final = 0.5

#: Counter units and seconds below this are rounding, not a reason to wait (a sleep that short
#: does not move a wall clock near 1.7e9).
_TOLERANCE: Final = 1e-6

TIERS: Final[dict[str, RateLimit]] = {
    "starter": RateLimit(15, 0.33),
    "intermediate": RateLimit(20, 0.5),
    "pro": RateLimit(20, 1.0),
}

RateLimitSetting = Literal["auto", "starter", "intermediate", "pro"] | RateLimit | None

#: ``auto``'s tiers, fastest first (it steps down this list on refusals).
_FASTEST_FIRST: Final = ("pro", "intermediate", "starter")
#: Calls of a key whose send times ``auto`` keeps to explain a refusal.
_CALL_HISTORY: Final = 64


def explaining(calls: Iterable[float], now: float, cost: float = 1.0) -> str:
    """The fastest tier whose counter, charged ``cost`` by each of ``calls`` (send times, oldest
    first, this refused one included) and decaying in between, is full at ``now``: a refusal
    after N calls in T seconds bounds the counter. ``"starter"`` when no tier's is (other
    clients of the key spent the rest)."""
    times = list(calls)
    for name in _FASTEST_FIRST:
        limits = TIERS[name]
        value, updated = 0.0, times[0] if times else now
        for sent in times:
            value, updated = decayed(value, updated, sent, limits)
            value += cost
        value, _ = decayed(value, updated, now, limits)
        if value >= limits.max_counter - HEADROOM:
            return name
    return "starter"


def slower(limits: RateLimit) -> RateLimit:
    """The documented tier below ``limits`` (the slowest stays)."""
    names = [name for name in _FASTEST_FIRST if TIERS[name] == limits]
    if not names:
        return TIERS["starter"]
    index = _FASTEST_FIRST.index(names[0])
    return TIERS[_FASTEST_FIRST[min(index + 1, len(_FASTEST_FIRST) - 1)]]


def tier_name(limits: RateLimit | None) -> str:
    """``"intermediate"``, ..., or the custom limits' repr."""
    for name, tier in TIERS.items():
        if tier == limits:
            return name
    return repr(limits)


def resolve(setting: RateLimitSetting) -> tuple[RateLimit | None, bool]:
    """``(limits, auto)`` for a ``rate_limit=`` value."""
    if setting is None:
        return None, False
    if setting == "auto":
        return None, True
    if isinstance(setting, RateLimit):
        return setting, False
    if isinstance(setting, str) and setting in TIERS:
        return TIERS[setting], False
    raise ValidationError(
        "rate_limit", "must be 'auto', 'starter', 'intermediate', 'pro', a RateLimit or None"
    )


def decayed(
    value: float, updated: float, now: float, limits: RateLimit | None
) -> tuple[float, float]:
    """``(value, updated)`` after decaying ``value`` from ``updated`` to ``now``."""
    if limits is not None and now > updated:
        value = max(0.0, value - (now - updated) * limits.decay_per_second)
    return value, max(updated, now)


def wait_for_room(
    value: float, blocked_until: float, now: float, cost: float, limits: RateLimit | None
) -> float:
    """Seconds until a call of ``cost`` fits a counter at ``value`` (already decayed to ``now``).

    0.0 when it fits now. Shared by the in-process model and the fleet's file-backed one (the
    Redis one runs the same rule as a Lua script).
    """
    delay = max(0.0, blocked_until - now)
    if limits is not None:
        excess = value + cost - (limits.max_counter - HEADROOM)
        if excess > _TOLERANCE:
            delay = max(delay, excess / limits.decay_per_second)
    return delay if delay > _TOLERANCE else 0.0


def describe_pacing(
    limits: RateLimit | None, learnt: bool, blocked_until: float, now: float
) -> str:
    """Why a key's calls wait (a ``Throttled`` hold until ``blocked_until``, a tier ``auto``
    ``learnt`` from refusals, or a given one) and what would make them faster: the reason in
    the WARNING of a call that waited long, for the process's model and a fleet's alike."""
    if blocked_until > now:
        try:
            until = datetime.datetime.fromtimestamp(blocked_until, datetime.timezone.utc)
            when = f"{until:%H:%M:%S} UTC"
        except (OverflowError, OSError, ValueError):  # a timestamp no calendar holds
            when = f"{blocked_until - now:.0f} s from now"
        return (
            "Kraken answered EService:Throttled (too many concurrent requests) until "
            f"{when}; fewer concurrent calls on the key avoid it"
        )
    if learnt:
        return (
            f"rate_limit='auto' paces the key as the {tier_name(limits)} tier since "
            "Kraken refused calls for rate; give the key's tier (rate_limit='pro', ...) if "
            "it is faster, spread the calls over several keys, or rate_limit=None to pace "
            "nothing (a sandbox: PrimeSandbox(rate_limit=False))"
        )
    return (
        f"rate_limit={tier_name(limits)!r} paces the key; a faster tier on the key (or "
        "several keys) makes it faster, rate_limit=None paces nothing"
    )


@runtime_checkable
class RateCounter(Protocol):
    """What the pipeline needs from a call-counter model: the process-local
    ``CallCounter`` or a fleet's shared one."""

    @property
    def active(self) -> bool:
        """Whether calls are being paced (a retry then leaves rate-limit waits to the model)."""
        ...

    async def acquire(self, cost: float, sleep: Callable[[float], Awaitable[None]]) -> float:
        """Wait until a call of ``cost`` fits, charge it, return the seconds waited."""
        ...

    async def refused(self, retry_at: float | None, cost: float) -> None:
        """Kraken refused a call for rate (``retry_at``: a ``Throttled`` hold, Unix seconds)."""
        ...


class CallCounter:
    """The model of one key's counter.

    Parameters
    ----------
    limits : RateLimit or None
        The tier; ``None`` paces nothing until ``on_rate_limited()`` (when ``auto``).
    auto : bool
        On a rate-limit refusal, pace as the fastest tier that explains it (see
        ``explaining()``), one tier slower on each further one.
    clock : callable
        Wall clock in seconds (``EService: Throttled`` timestamps are Unix times).
    """

    def __init__(self, limits: RateLimit | None, *, auto: bool, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.auto = auto
        self._clock = clock
        self._value = 0.0
        self._updated = clock()
        self._blocked_until = 0.0
        self._lock = asyncio.Lock()
        #: When ``auto`` chose the tier: the last refusal (``None``: not chosen by ``auto``).
        self._auto_refused: float | None = None
        #: ``auto``: the send times of the key's recent calls (to explain a refusal).
        self._calls: deque[float] = deque(maxlen=_CALL_HISTORY)
        #: Clients sharing this model (the last to close releases it).
        self.users = 0

    @property
    def active(self) -> bool:
        """Whether calls are being paced."""
        if self._auto_refused is not None:
            self._relax()
        return self.limits is not None or self._blocked_until > self._clock()

    def _relax(self) -> None:
        assert self._auto_refused is not None
        if self._clock() - self._auto_refused >= AUTO_RATE_LIMIT_QUIET:
            self.limits = None
            self._auto_refused = None
            self._value = 0.0

    def set_limits(self, limits: RateLimit) -> None:
        """An explicit tier (it is kept: ``auto`` relaxes only the tier it chose itself)."""
        self.limits = limits
        self._auto_refused = None

    def value(self) -> float:
        """The modelled counter now."""
        self._decay()
        return self._value

    def _decay(self) -> None:
        self._value, self._updated = decayed(self._value, self._updated, self._clock(), self.limits)

    def _delay(self, cost: float) -> float:
        if self._auto_refused is not None:
            self._relax()
        self._decay()
        return wait_for_room(self._value, self._blocked_until, self._clock(), cost, self.limits)

    def describe(self) -> str:
        """Why calls of the key wait now, and what would make them faster (for the WARNING of
        a call that waited long)."""
        return describe_pacing(
            self.limits, self._auto_refused is not None, self._blocked_until, self._clock()
        )

    async def acquire(self, cost: float, sleep: Callable[[float], Awaitable[None]]) -> float:
        """Wait until a call of ``cost`` fits, charge it, and return the seconds waited."""
        if self.auto:
            self._calls.append(self._clock())
        if not self.active:
            return 0.0
        waited = 0.0
        async with self._lock:  # first come, first served
            delay = self._delay(cost)
            while delay > 0:
                await sleep(delay)
                waited += delay
                delay = self._delay(cost)
            if self.limits is not None:
                self._value += cost
        return waited

    def on_rate_limited(self, retry_at: float | None, cost: float = 1.0) -> None:
        """Kraken refused a call for rate: model its counter, or a ``Throttled`` hold until
        ``retry_at``.

        ``Throttled`` ("too many concurrent requests") is honoured to its timestamp and says
        nothing about the counter. A counter refusal: Kraken adds the refused call's cost before
        refusing, so its counter is now above the maximum by at least ``cost``; ``auto`` takes
        the fastest tier that explains it, or, when already pacing, the next slower one.
        """
        if retry_at is not None:
            self._blocked_until = max(self._blocked_until, retry_at)
            return
        now = self._clock()
        if self.limits is None and self.auto:
            self._decay()
            self.limits = TIERS[explaining(self._calls, now, cost)]
            self._updated = self._auto_refused = now
        elif self._auto_refused is not None and self.limits is not None:
            self._decay()
            self.limits = slower(self.limits)  # paced at it and still refused: too fast
            self._updated = self._auto_refused = now  # the quiet period starts over
        if self.limits is not None:
            self._decay()
            self._value = max(self._value, self.limits.max_counter + cost)

    async def refused(self, retry_at: float | None, cost: float) -> None:
        """``RateCounter`` form of ``on_rate_limited()``."""
        self.on_rate_limited(retry_at, cost)

    def __repr__(self) -> str:
        return f"CallCounter(limits={self.limits}, auto={self.auto}, value={self._value:.2f})"


_counters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, CallCounter]] = (
    weakref.WeakKeyDictionary()
)


def shared_counter(
    api_key: str, setting: RateLimitSetting, clock: Callable[[], float]
) -> CallCounter | None:
    """The counter model for ``api_key`` on the running loop (``None`` when ``setting`` is None).

    The first client on a key fixes its tier; a later client with an explicit other tier replaces
    ``auto``.
    """
    limits, auto = resolve(setting)
    if limits is None and not auto:
        return None
    per_loop = _counters.setdefault(asyncio.get_running_loop(), {})
    counter = per_loop.get(api_key)
    if counter is None:
        counter = per_loop[api_key] = CallCounter(limits, auto=auto, clock=clock)
    elif limits is not None and counter.limits != limits:
        counter.set_limits(limits)
    counter.users += 1
    return counter


def release_counter(api_key: str, counter: CallCounter, loop: asyncio.AbstractEventLoop) -> None:
    """One client of ``counter`` closed; the last one removes it, so the next client starts from
    its own setting."""
    per_loop = _counters.get(loop, {})
    if per_loop.get(api_key) is not counter:
        return
    counter.users -= 1
    if counter.users <= 0:
        del per_loop[api_key]
