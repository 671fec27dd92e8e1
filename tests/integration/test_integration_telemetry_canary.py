"""Nothing secret in telemetry: no API key, secret, signature, bearer token, nonce, created
secret or request body in any event, span, metric or log record, over calls that succeed, retry,
fail, time out, lose their answer and are read back, on both clients."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from typing import Any

import msgspec
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from yarl import URL

from kraken_prime_async import (
    AiohttpTransport,
    FastApiKeyClient,
    InvalidArgumentsError,
    NonceSource,
    PrimeClient,
    RawResponse,
    RequestTimeout,
    events,
)
from kraken_prime_async.sandbox import PrimeSandbox
from tests._fakes import FakeClock

pytestmark = pytest.mark.integration

CANARY_KEY = "CANARYAPIKEY0b7d4e1f9a2c6e3d8b5a0f7c4e1d9b2a6c3f8e5d0a7b4c1"
CANARY_SECRET_RAW = b"CANARY-SECRET-3f9a1c7e5b2d8f4a6c0e9b3d7f1a5c8e2b6d0f4a9c3e7b1d5"
CANARY_SECRET = base64.b64encode(CANARY_SECRET_RAW).decode()
CANARY_NAME = "canary-body-5e1c9a"


class CanaryNonces(NonceSource):
    """Nonces nothing else looks like (a wall-clock nonce is a prefix of every ns timestamp)."""

    def __init__(self) -> None:
        self.value = 918_273_645_546_372

    async def next_nonce(self) -> int:
        self.value += 7
        return self.value


class Recording(AiohttpTransport):
    """The real HTTP layer, keeping what was sent: every signature, token, nonce and body."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[dict[str, str], bytes | None]] = []

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
        self.sent.append((dict(headers), body))
        return await super().request(
            url, body, headers, timeout, operation=operation, http_method=http_method
        )

    def secrets(self) -> set[str]:
        found: set[str] = set()
        for headers, body in self.sent:
            for name in ("API-Key", "API-Sign", "Authorization"):
                if name in headers:
                    found.add(headers[name])
                    found.add(headers[name].removeprefix("Bearer "))
            if body:
                found.add(body.decode())
                nonce = json.loads(body).get("nonce")
                if nonce is not None:
                    found.add(str(nonce))
        return found


async def test_no_secret_in_any_event_span_metric_or_log_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[events.Event] = []
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    listeners: dict[str, Any] = {
        "on_event": seen.append,
        "tracer_provider": tracer_provider,
        "meter_provider": MeterProvider(metric_readers=[reader]),
    }
    clock = FakeClock()
    prime, oauth = Recording(), Recording()
    canaries = {CANARY_KEY, CANARY_SECRET, CANARY_SECRET_RAW.decode(), CANARY_NAME}
    with caplog.at_level(logging.DEBUG, logger="kraken_prime_async"):
        async with PrimeSandbox(
            rate_limit=False, clock=clock, api_key=CANARY_KEY, api_secret=CANARY_SECRET
        ) as sb:
            token = sb.issue_token()
            canaries.add(token)
            async with PrimeClient(
                CANARY_KEY,
                CANARY_SECRET,
                base_url=sb.url,
                transport=prime,
                nonce_source=CanaryNonces(),
                sleep=clock.sleep,
                clock=clock,
                **listeners,
            ) as client:
                user = await client.api_users.create(CANARY_NAME, "Trader")  # a body canary
                key = await client.api_user_keys.create(user.id)
                canaries.add(key.api_secret.get_secret_value())
                sb.faults.add("ListPrimeApiUsers", "http_503_html")
                await client.api_users.list()  # a retry
                sb.faults.add("GetPrimeApiUser", "error", message="EGeneral:Invalid arguments")
                with pytest.raises(InvalidArgumentsError):
                    await client.api_users.get(user.id)  # a failure
                sb.add_trade("BTC", "2")
                batch = await client.settlement.create_batch()
                sb.confirm_batch(batch.id)
                sb.faults.add("SettlePrimeSettlementBatchAsset", "drop_after")
                await client.settlement.settle_asset(batch.id, "BTC")  # lost and read back
                sb.faults.add("ListPrimeApiUsers", "delay", seconds=0.3)
                await client.api_users.list(timeout=0.05)  # abandoned after a timeout
            async with FastApiKeyClient(
                token, sb.url, transport=oauth, clock=clock, **listeners
            ) as fast:
                created = await fast.fast_api_keys.create(CANARY_NAME[:20])
                canaries.add(created.secret.get_secret_value())
                await fast.fast_api_keys.list()
    canaries |= prime.secrets() | oauth.secrets()
    canaries.discard("")
    assert len(seen) > 30 and len(exporter.get_finished_spans()) > 20 and caplog.records
    texts = [msgspec.json.encode(event).decode() for event in seen]
    texts += [span.to_json() for span in exporter.get_finished_spans()]
    metrics = reader.get_metrics_data()
    assert metrics is not None
    texts.append(metrics.to_json())
    texts += [record.getMessage() + repr(vars(record)) for record in caplog.records]
    leaks = sorted({c[:12] for c in canaries for text in texts if c in text})
    assert leaks == []
