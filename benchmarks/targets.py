"""The issue's targets, evaluated on one run's numbers."""

from __future__ import annotations

from dataclasses import dataclass

from . import decode, imports
from .clients import Ccxt, Floor, Ours, PythonKrakenSdk
from .percall import ClientRuns, pairwise


@dataclass(frozen=True)
class Target:
    what: str
    measured: float
    limit: float
    at_most: bool  # True: measured <= limit passes; False: measured >= limit passes

    @property
    def passed(self) -> bool:
        return self.measured <= self.limit if self.at_most else self.measured >= self.limit

    @property
    def condition(self) -> str:
        return f"{'≤' if self.at_most else '≥'} {self.limit:g}"


def per_call(tiny: list[ClientRuns], large: list[ClientRuns]) -> list[Target]:
    out = [Target("tiny: our CPU/call ÷ floor", pairwise(tiny, Ours.name, Floor.name), 1.10, True)]
    for run in tiny:
        if run.name != Floor.name and not run.name.startswith(Ours.name):
            ratio = pairwise(tiny, Ours.name, run.name)
            out.append(Target(f"tiny: our CPU/call ÷ {run.name}", ratio, 1.0, True))
    for peer, limit in ((Floor.name, 0.90), (PythonKrakenSdk.name, 0.5), (Ccxt.name, 0.7)):
        ratio = pairwise(large, Ours.name, peer)
        out.append(Target(f"large: our CPU/call ÷ {peer}", ratio, limit, True))
    return out


def decoding(results: list[decode.DecodeResult]) -> list[Target]:
    by_name = {r.name: r for r in results}
    return [
        Target(
            "decode: pydantic model_validate_json ÷ typed",
            by_name["pydantic model_validate_json"].typed_speedup,
            3.0,
            False,
        ),
        Target("decode: json.loads ÷ typed", by_name["json.loads"].typed_speedup, 1.5, False),
    ]


def importing(results: list[imports.ImportResult]) -> list[Target]:
    ours = next(r for r in results if r.name == imports.OURS)
    return [
        Target(
            "import kraken_prime_async ÷ import aiohttp, msgspec", ours.ratio_to_baseline, 1.2, True
        )
    ]
