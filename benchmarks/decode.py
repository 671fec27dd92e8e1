"""Decoding the large page (200 batches x 5 legs, ~215 kB): typed Structs vs the usual options.

Every decoder runs ``per_round`` times per round, rounds interleaved with a rotating order; CPU
time per decode is ``time.process_time()`` over the batch. Ratios are taken per round against the
SDK's typed decode and the median is reported.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

from kraken_prime_async import RawResponse
from kraken_prime_async._endpoint import Envelope
from kraken_prime_async._resources.settlement import LIST_BATCHES
from kraken_prime_async.models import BatchPage

from . import payloads, pydantic_models
from .stats import median, spread

TYPED = "msgspec typed: Envelope[BatchPage]"
ENDPOINT = "SDK LIST_BATCHES.decode (envelope checks)"


def _no_redact(text: str) -> str:
    return text


def decoders() -> dict[str, Callable[[bytes], Any]]:
    typed = msgspec.json.Decoder(Envelope[BatchPage])
    page = pydantic_models.PageEnvelope

    def endpoint(body: bytes) -> Any:
        return LIST_BATCHES.decode(RawResponse(200, body), redact=_no_redact)

    return {
        TYPED: typed.decode,
        ENDPOINT: endpoint,
        "msgspec untyped (dicts)": msgspec.json.decode,
        "json.loads": json.loads,
        "orjson.loads": orjson.loads,
        "pydantic model_validate_json": page.model_validate_json,
        "pydantic model_validate(json.loads)": lambda body: page.model_validate(json.loads(body)),
    }


@dataclass(frozen=True)
class DecodeResult:
    name: str
    us_per_decode: float
    spread_pct: float
    typed_speedup: float  # this decoder's time / typed time (>1: typed is faster)


def _check(funcs: dict[str, Callable[[bytes], Any]], body: bytes) -> None:
    typed = funcs[TYPED](body).result
    pyd = funcs["pydantic model_validate_json"](body).result
    if len(typed.data) != 200 or len(pyd.data) != 200 or typed.data[7].legs[3].amount is None:
        raise AssertionError("decoders disagree on the large page")
    if typed.data[7].legs[3].amount != pyd.data[7].legs[3].amount:
        raise AssertionError("typed and pydantic amounts differ")


def run(*, rounds: int, per_round: int) -> tuple[int, list[DecodeResult]]:
    body = payloads.large_body()
    funcs = decoders()
    _check(funcs, body)
    names = list(funcs)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            fn = funcs[name]
            fn(body)
            gc.collect()
            start = time.process_time()
            for _ in range(per_round):
                fn(body)
            times[name].append(1e6 * (time.process_time() - start) / per_round)
    typed = times[TYPED]
    results = [
        DecodeResult(
            name=n,
            us_per_decode=median(times[n]),
            spread_pct=spread(times[n]),
            typed_speedup=median([t / base for t, base in zip(times[n], typed, strict=True)]),
        )
        for n in names
    ]
    return len(body), results
