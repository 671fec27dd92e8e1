"""Settle every eligible leg of a batch: bounded concurrency, progress, safe to run again.

Safety comes from reading state, not from memory: every run starts from the batch as Kraken
reports it, so a leg that is settling or settled (its ``status`` is no longer ``unsettled``, or it
carries a ``latest_spot_transfer``) is skipped, and a leg whose settle answer was lost is read back
once the lost request is fenced off (``_reconcile.SETTLE_LEG``): settled if the batch shows it
started, settled again if it shows it not started, never sent blindly.

Structured: the legs run as tasks that never outlive the call (``_tasks.run_together``): when
``settle_batch`` returns or raises (also when its caller cancels it), none of its tasks is still
running or sending. A raising ``on_progress`` callback is logged (WARNING, once) and not called
again; settlement goes on and the report is returned whole (a broken progress display must not
leave a batch half settled).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .._constants import LOGGER_NAME
from .._tasks import run_together
from ..errors import KrakenPrimeError, OutcomeUnknownError, ValidationError
from ..models import Batch, Leg, LegOutcome, SettlementReport, Transfer
from ._reconcile.base import Outcome

ProgressCallback = Callable[[int, int, LegOutcome], None]
#: ``client.settlement.get_batch``.
GetBatch = Callable[[str], Awaitable[Batch]]
#: Settle one leg (``batch_id``, ``asset``): the transfer (``None`` when a lost answer was read
#: back from a batch that shows the leg started without naming its transfer), and whether it was
#: read back. Raises ``OutcomeUnknownError`` when the batch cannot be read back after a loss.
SettleLeg = Callable[[str, str], Awaitable[Outcome[Transfer | None]]]

logger = logging.getLogger(LOGGER_NAME)


def skip_reason(leg: Leg) -> str | None:
    """Why ``leg`` must not be settled now, or ``None`` if it is eligible."""
    if leg.started:
        return f"already {leg.status or 'started'}"
    if leg.can_settle is False:
        return "not eligible (can_settle is false)"
    return None


async def wait_confirmed(
    get_batch: GetBatch,
    batch_id: str,
    *,
    wait: float,
    poll_interval: float,
    sleep: Callable[[float], Awaitable[None]],
) -> Batch:
    """Read the batch until it is confirmed or ``wait`` seconds of polling have passed."""
    batch = await get_batch(batch_id)
    waited = 0.0
    while not batch.attributes.confirmed and waited < wait:
        step = min(poll_interval, wait - waited)
        logger.info(
            "settle_batch %s: not confirmed yet; reading it again in %.1fs (%.1fs of %.1fs waited)",
            batch_id,
            step,
            waited,
            wait,
        )
        await sleep(step)
        waited += step
        batch = await get_batch(batch_id)
    if waited:
        logger.info(
            "settle_batch %s: %s after %.1fs of polling",
            batch_id,
            "confirmed" if batch.attributes.confirmed else "still not confirmed (legs skipped)",
            waited,
        )
    return batch


async def settle_batch(
    get_batch: GetBatch,
    settle_leg: SettleLeg,
    batch_id: str,
    *,
    concurrency: int,
    wait_for_confirmation: float,
    poll_interval: float,
    on_progress: ProgressCallback | None,
    sleep: Callable[[float], Awaitable[None]],
) -> SettlementReport:
    """See
    [`Settlement.settle_batch()`][kraken_prime_async._resources.settlement.Settlement.settle_batch]."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValidationError("concurrency", "must be an int >= 1")
    if wait_for_confirmation < 0 or poll_interval <= 0:
        field = "wait_for_confirmation" if wait_for_confirmation < 0 else "poll_interval"
        raise ValidationError(field, "must be a non-negative number of seconds")
    batch = await wait_confirmed(
        get_batch, batch_id, wait=wait_for_confirmation, poll_interval=poll_interval, sleep=sleep
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
    progress = on_progress

    def report(outcome: LegOutcome) -> None:
        nonlocal done, progress
        outcomes[outcome.asset] = outcome
        done += 1
        if progress is None:
            return
        try:
            progress(done, total, outcome)
        except Exception as exc:
            progress = None  # broken: not called again; settlement goes on
            logger.warning(
                "settle_batch %s: on_progress raised %s; it is not called again and every leg "
                "is still settled and reported",
                batch_id,
                type(exc).__name__,
            )

    for outcome in list(outcomes.values()):
        report(outcome)
    gate = asyncio.Semaphore(concurrency)

    async def settle_one(leg: Leg) -> None:
        async with gate:
            report(await _settle_leg(settle_leg, batch_id, leg.asset))

    await run_together(settle_one(leg) for leg in eligible)
    legs = tuple(outcomes[leg.asset] for leg in batch.legs)
    return SettlementReport(batch_id, bool(batch.attributes.confirmed), legs)


async def _settle_leg(settle_leg: SettleLeg, batch_id: str, asset: str) -> LegOutcome:
    try:
        outcome = await settle_leg(batch_id, asset)
    except OutcomeUnknownError as exc:
        # The batch was read after the lost answer and does not show this leg started.
        return LegOutcome(asset, "unknown", reason="answer lost; leg not read back", error=exc)
    except KrakenPrimeError as exc:
        return LegOutcome(asset, "failed", reason=type(exc).__name__, error=exc)
    if outcome.replayed:
        reason: str | None = "settled by an earlier run or another process (journal)"
    else:
        reason = "answer lost; the batch shows it started" if outcome.read_back else None
    return LegOutcome(asset, "settled", reason=reason, transfer=outcome.value)
