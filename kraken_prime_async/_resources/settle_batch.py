"""Settle every eligible leg of a batch: bounded concurrency, progress, safe to run again.

Safety comes from reading state, not from memory: every run starts from the batch as Kraken
reports it, so a leg that is settling or settled (its ``status`` is no longer ``unsettled``, or it
carries a ``latest_spot_transfer``) is skipped, and a leg whose settle call ended with an unknown
outcome is read back instead of being sent again.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal

from ..errors import KrakenPrimeError, OutcomeUnknownError, ValidationError
from ..models import Batch, Leg, Transfer

if TYPE_CHECKING:
    from .settlement import Settlement

LegResult = Literal["settled", "skipped", "failed", "unknown"]


@dataclasses.dataclass(frozen=True)
class LegOutcome:
    """What happened to one leg.

    Attributes
    ----------
    asset : str
        The leg's asset.
    result : {"settled", "skipped", "failed", "unknown"}
        ``settled``: a transfer was started now (``transfer`` is set, unless it was established by
        reading the batch after a lost answer). ``skipped``: nothing to do (``reason`` says why).
        ``failed``: Kraken refused (``error``). ``unknown``: the answer was lost and the batch still
        shows the leg unsettled; run again later to retry it.
    """

    asset: str
    result: LegResult
    reason: str | None = None
    transfer: Transfer | None = None
    error: KrakenPrimeError | None = None


@dataclasses.dataclass(frozen=True)
class SettlementReport:
    """Per-leg outcomes of :meth:`Settlement.settle_batch`, in the batch's leg order.

    ``confirmed`` is whether the batch was confirmed (when it was not, every leg is skipped).
    """

    batch_id: str
    confirmed: bool
    legs: tuple[LegOutcome, ...]

    def _with(self, result: LegResult) -> tuple[LegOutcome, ...]:
        return tuple(leg for leg in self.legs if leg.result == result)

    @property
    def settled(self) -> tuple[LegOutcome, ...]:
        """Legs settled by this run."""
        return self._with("settled")

    @property
    def skipped(self) -> tuple[LegOutcome, ...]:
        """Legs with nothing to do."""
        return self._with("skipped")

    @property
    def failed(self) -> tuple[LegOutcome, ...]:
        """Legs Kraken refused."""
        return self._with("failed")

    @property
    def unknown(self) -> tuple[LegOutcome, ...]:
        """Legs whose outcome could not be established; run again to retry them."""
        return self._with("unknown")

    @property
    def complete(self) -> bool:
        """``True`` when the batch was confirmed and no leg failed or is unknown."""
        return self.confirmed and not self.failed and not self.unknown


ProgressCallback = Callable[[int, int, LegOutcome], None]


def skip_reason(leg: Leg) -> str | None:
    """Why ``leg`` must not be settled now, or ``None`` if it is eligible."""
    if leg.started:
        return f"already {leg.status or 'started'}"
    if leg.can_settle is False:
        return "not eligible (can_settle is false)"
    return None


async def wait_confirmed(
    settlement: Settlement,
    batch_id: str,
    *,
    wait: float,
    poll_interval: float,
    sleep: Callable[[float], Awaitable[None]],
) -> Batch:
    """Read the batch until it is confirmed or ``wait`` seconds of polling have passed."""
    batch = await settlement.get_batch(batch_id)
    waited = 0.0
    while not batch.attributes.confirmed and waited < wait:
        step = min(poll_interval, wait - waited)
        await sleep(step)
        waited += step
        batch = await settlement.get_batch(batch_id)
    return batch


async def settle_batch(
    settlement: Settlement,
    batch_id: str,
    *,
    concurrency: int,
    wait_for_confirmation: float,
    poll_interval: float,
    on_progress: ProgressCallback | None,
    sleep: Callable[[float], Awaitable[None]],
) -> SettlementReport:
    """See :meth:`Settlement.settle_batch`."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValidationError("concurrency", "must be an int >= 1")
    if wait_for_confirmation < 0 or poll_interval <= 0:
        field = "wait_for_confirmation" if wait_for_confirmation < 0 else "poll_interval"
        raise ValidationError(field, "must be a non-negative number of seconds")
    batch = await wait_confirmed(
        settlement, batch_id, wait=wait_for_confirmation, poll_interval=poll_interval, sleep=sleep
    )
    outcomes: dict[str, LegOutcome] = {}
    eligible: list[Leg] = []
    for leg in batch.legs:
        reason = "batch not confirmed" if not batch.attributes.confirmed else skip_reason(leg)
        if reason is None:
            eligible.append(leg)
        else:
            outcomes[leg.asset] = LegOutcome(leg.asset, "skipped", reason=reason)
    total = len(batch.legs)
    done = 0

    def report(outcome: LegOutcome) -> None:
        nonlocal done
        outcomes[outcome.asset] = outcome
        done += 1
        if on_progress is not None:
            on_progress(done, total, outcome)

    for outcome in list(outcomes.values()):
        report(outcome)
    gate = asyncio.Semaphore(concurrency)

    async def settle_one(leg: Leg) -> None:
        async with gate:
            report(await _settle_leg(settlement, batch_id, leg.asset))

    await asyncio.gather(*(settle_one(leg) for leg in eligible))
    legs = tuple(outcomes[leg.asset] for leg in batch.legs)
    return SettlementReport(batch_id, bool(batch.attributes.confirmed), legs)


async def _settle_leg(settlement: Settlement, batch_id: str, asset: str) -> LegOutcome:
    try:
        transfer, read_back = await settlement._settle_asset(
            batch_id, asset, require_transfer=False
        )
    except OutcomeUnknownError as exc:
        # The batch was read after the lost answer and does not show this leg started.
        return LegOutcome(asset, "unknown", reason="answer lost; leg not shown started", error=exc)
    except KrakenPrimeError as exc:
        return LegOutcome(asset, "failed", reason=type(exc).__name__, error=exc)
    reason = "answer lost; the batch shows it started" if read_back else None
    return LegOutcome(asset, "settled", reason=reason, transfer=transfer)
