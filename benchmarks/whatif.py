"""A/B of the package changes proposed in the benchmark report, without editing the package.

Usage: ``.venv/bin/python -m benchmarks.whatif [--rounds N]``. Variants, interleaved in rounds
against the same loopback server as ``benchmarks.run``:

* ``ours``: the package as it is.
* ``ours + lazy amount``: the same on the large answer, with ``Leg``'s wire ``amount`` kept as
  text (``amount_text``) and ``Leg.amount`` a property returning the ``Decimal`` on access (the
  proposed ``models.Leg``): the 1,000 ``Decimal`` constructions of a page are about a third of the
  typed decode.

Writes ``benchmarks/results/whatif.md``.
"""

from __future__ import annotations

import argparse
import asyncio
from decimal import Decimal
from typing import Any

import msgspec

from kraken_prime_async import models
from kraken_prime_async._endpoint import Endpoint, same
from kraken_prime_async._resources import settlement

from . import percall, report
from .clients import Ccxt, Floor, Ours, PythonKrakenSdk, Scenario
from .serverproc import ROOT, ServerProcess


class LazyLeg(models._Result, frozen=True, gc=False, kw_only=True):
    """The proposed ``models.Leg``: same wire format, ``amount`` converted on access."""

    asset: str
    amount_text: str | None = msgspec.field(default=None, name="amount")
    status: str | None = None
    can_settle: bool | None = None
    direction: str | None = None
    settled_at: int | None = None
    latest_spot_transfer: dict[str, Any] | None = None

    @property
    def amount(self) -> Decimal | None:
        """The amount as a ``Decimal`` (Kraken's sign kept)."""
        return None if self.amount_text is None else Decimal(self.amount_text)


class LazyBatch(models._Result, frozen=True, gc=False, kw_only=True):
    id: str
    attributes: models.BatchAttributes = models.BatchAttributes()
    legs: tuple[LazyLeg, ...] = ()
    trade_ids: tuple[str, ...] | None = None


class LazyBatchPage(models._Result, frozen=True, gc=False, kw_only=True):
    data: tuple[LazyBatch, ...] = ()
    pagination: models.Pagination = models.Pagination()


LIST_BATCHES_LAZY: Endpoint[LazyBatchPage, LazyBatchPage] = Endpoint(
    settlement.LIST_BATCHES.method, LazyBatchPage, same, idempotent=True
)


class OursLazy(Ours):
    name = "ours + lazy amount"

    async def call(self) -> Any:
        request = settlement._list_request(None, None, None, 200, None, None)
        return await self._client.settlement._call(
            LIST_BATCHES_LAZY, request, timeout=None, retry=None
        )


def _ratios(runs: list[percall.ClientRuns], ours: list[str], peers: list[str]) -> str:
    rows = [
        (name, *(f"{percall.pairwise(runs, name, peer):.2f}" for peer in peers)) for name in ours
    ]
    return report.table(("variant", *(f"÷ {p}" for p in peers)), rows)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.whatif")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=50, help="calls per client and round")
    args = parser.parse_args()
    peers: list[type[Floor | PythonKrakenSdk | Ccxt]] = [Floor, PythonKrakenSdk, Ccxt]
    variants: dict[Scenario, list[type[Ours]]] = {"large": [Ours, OursLazy]}
    parts = ["# What-if: a lazy `Leg.amount`, measured against the floor and peers (same run)"]
    loop = asyncio.new_event_loop()
    with ServerProcess() as urls:
        for scenario, classes in variants.items():
            url = urls.tiny if scenario == "tiny" else urls.large
            calls = args.calls
            runs = percall.run_scenario(
                loop,
                url,
                scenario,
                rounds=args.rounds,
                calls=calls,
                warmup=5,
                async_classes=[*classes, *peers],
                sync_classes=(),
            )
            parts.append(report.per_call(f"{scenario} answer", percall.summarize(runs)))
            parts.append(
                "CPU per call, median of per-round ratios (sequential):\n\n"
                + _ratios(runs, [c.name for c in classes], [p.name for p in peers])
            )
    loop.close()
    out = ROOT / "benchmarks" / "results" / "whatif.md"
    out.write_text("\n\n".join(parts) + "\n")
    print(out.read_text())


if __name__ == "__main__":
    main()
