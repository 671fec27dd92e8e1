"""Per-call CPU of the SDK's own code with observability off, with a no-op callback, and with the
OpenTelemetry SDK exporting to memory.

A transport that answers at once (no HTTP) isolates the pipeline, so the difference between the
modes is what the hooks cost; ``--http`` sends real requests to the loopback bench server (in a
child process, so its CPU is not counted). Modes run interleaved in rounds; the median per-call
CPU of each mode and its ratio to ``off`` (per round, then the median) are printed.

    .venv/bin/python -m benchmarks.observe_cost [--calls 3000] [--rounds 7] [--http]

Run it from another checkout (``PYTHONPATH=<checkout>``) with ``--modes off`` to compare with a
version that has no hooks.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

from yarl import URL

from kraken_prime_async import LocalNonceSource, PrimeClient, RawResponse, RequestTimeout

_ANSWER = RawResponse(
    200,
    json.dumps(
        {
            "error": [],
            "result": {
                "data": [
                    {"id": f"AA{i:04d}", "name": f"bot-{i}", "status": "Enabled", "roles": []}
                    for i in range(3)
                ]
            },
        }
    ).encode(),
)
_SECRET = base64.b64encode(b"benchmark-secret-" * 4).decode()


class InstantTransport:
    """Answers every request at once with the same body."""

    async def request(
        self,
        url: URL,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: RequestTimeout,
        *,
        operation: str,
        http_method: str = "POST",
    ) -> RawResponse:
        return _ANSWER

    async def close(self) -> None:
        return None


def _otel_kwargs() -> dict[str, Any]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return {
        "tracer_provider": tracer_provider,
        "meter_provider": meter_provider,
        "_exporter": exporter,
    }


def _client(mode: str, base_url: str | None) -> tuple[PrimeClient, Callable[[], None]]:
    kwargs: dict[str, Any] = {}
    reset: Callable[[], None] = lambda: None  # noqa: E731
    if mode == "callback":
        kwargs["on_event"] = lambda event: None
    elif mode == "otel":
        otel = _otel_kwargs()
        exporter = otel.pop("_exporter")
        kwargs.update(otel)
        reset = exporter.clear
    client = PrimeClient(
        "BENCHKEY" + mode.upper(),
        _SECRET,
        base_url=base_url or "https://api.kraken.com",
        transport=None if base_url else InstantTransport(),
        nonce_source=LocalNonceSource("ns"),
        rate_limit=None,
        **kwargs,
    )
    return client, reset


async def _sample(client: PrimeClient, calls: int) -> float:
    gc.collect()
    start = time.process_time()
    for _ in range(calls):
        await client.api_users.list()
    return 1e6 * (time.process_time() - start) / calls


async def main(modes: list[str], calls: int, rounds: int, base_url: str | None) -> None:
    clients = {mode: _client(mode, base_url) for mode in modes}
    for client, _ in clients.values():
        await _sample(client, calls // 10)  # warm up
    samples: dict[str, list[float]] = {mode: [] for mode in modes}
    ratios: dict[str, list[float]] = {mode: [] for mode in modes}
    for round_ in range(rounds):
        order = modes[round_ % len(modes) :] + modes[: round_ % len(modes)]
        this_round: dict[str, float] = {}
        for mode in order:
            client, reset = clients[mode]
            this_round[mode] = await _sample(client, calls)
            reset()
        for mode in modes:
            samples[mode].append(this_round[mode])
            if "off" in this_round:
                ratios[mode].append(this_round[mode] / this_round["off"])
    for mode in modes:
        line = f"{mode:>9}: {statistics.median(samples[mode]):7.1f} us/call CPU"
        if ratios[mode]:
            line += f"  x{statistics.median(ratios[mode]):.3f} of off"
        print(line)
    for client, _ in clients.values():
        await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--modes", default="off,callback,otel")
    parser.add_argument("--http", action="store_true", help="loopback HTTP, not an instant fake")
    args = parser.parse_args()
    modes = args.modes.split(",")
    if args.http:
        from .serverproc import ServerProcess

        with ServerProcess() as urls:
            asyncio.run(main(modes, args.calls, args.rounds, urls.tiny))
    else:
        asyncio.run(main(modes, args.calls, args.rounds, None))
