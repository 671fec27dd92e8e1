"""``_resources/settle_batch.py`` on its own: the orchestration over its two seams (read the
batch, settle one leg), without a client."""

from __future__ import annotations

from typing import Any, cast

import msgspec
import pytest

from kraken_prime_async import LegOutcome, models
from kraken_prime_async._resources._reconcile.base import Outcome
from kraken_prime_async._resources.settle_batch import settle_batch
from kraken_prime_async.errors import InvalidArgumentsError, OutcomeUnknownError, ValidationError
from tests._fakes import BATCH, LEG


def _batch(*legs: dict[str, Any], confirmed: bool = True) -> models.Batch:
    attributes: dict[str, Any] = {
        **cast("dict[str, Any]", BATCH["attributes"]),
        "confirmed": confirmed,
    }
    wire = msgspec.json.encode(dict(BATCH, attributes=attributes, legs=list(legs)))
    return msgspec.json.decode(wire, type=models.Batch)


async def _no_sleep(seconds: float) -> None:
    raise AssertionError("no polling expected")


async def test_each_leg_outcome_comes_from_the_settle_seam() -> None:
    batch = _batch(
        dict(LEG, asset="BTC"),
        dict(LEG, asset="ETH"),
        dict(LEG, asset="SOL"),
        dict(LEG, asset="XRP"),
        dict(LEG, asset="ADA", status="settled"),
    )
    settled: list[str] = []

    async def get_batch(batch_id: str) -> models.Batch:
        assert batch_id == batch.id
        return batch

    async def settle_leg(batch_id: str, asset: str) -> Outcome[models.Transfer | None]:
        settled.append(asset)
        if asset == "BTC":
            return Outcome(models.Transfer(id="T1"))
        if asset == "ETH":
            return Outcome(None, read_back=True)
        if asset == "SOL":
            raise OutcomeUnknownError("lost", operation="Settle", arguments={}, attempts=1)
        raise InvalidArgumentsError("no", operation="Settle", errors=("EGeneral:Invalid",))

    progress: list[tuple[int, int, LegOutcome]] = []
    report = await settle_batch(
        get_batch,
        settle_leg,
        batch.id,
        concurrency=2,
        wait_for_confirmation=0.0,
        poll_interval=2.0,
        on_progress=lambda done, total, outcome: progress.append((done, total, outcome)),
        sleep=_no_sleep,
    )
    results = {leg.asset: (leg.result, leg.reason) for leg in report.legs}
    assert results == {
        "BTC": ("settled", None),
        "ETH": ("settled", "answer lost; the batch shows it started"),
        "SOL": ("unknown", "answer lost; leg not read back"),
        "XRP": ("failed", "InvalidArgumentsError"),
        "ADA": ("skipped", "already settled"),
    }
    assert sorted(settled) == ["BTC", "ETH", "SOL", "XRP"]
    assert [done for done, _, _ in progress] == [1, 2, 3, 4, 5]
    assert report.legs[0].transfer == models.Transfer(id="T1") and not report.complete


async def test_bad_arguments_are_refused_before_reading() -> None:
    async def never(*args: Any) -> Any:
        raise AssertionError("nothing may be read or sent")

    bad: list[tuple[str, dict[str, Any]]] = [
        ("concurrency", {"concurrency": 0}),
        ("wait_for_confirmation", {"wait_for_confirmation": -1.0}),
        ("poll_interval", {"poll_interval": 0.0}),
    ]
    for field, kwargs in bad:
        arguments: dict[str, Any] = {
            "concurrency": 1,
            "wait_for_confirmation": 0.0,
            "poll_interval": 1.0,
        }
        arguments.update(kwargs)
        with pytest.raises(ValidationError, match=field):
            await settle_batch(never, never, "B1", on_progress=None, sleep=never, **arguments)
