"""OpenTelemetry spans and metrics, checked with the SDK's in-memory exporter and metric reader."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from kraken_prime_async import OutcomeUnknownError, events, last_request_id
from kraken_prime_async.errors import InvalidArgumentsError
from tests._fakes import ScriptedTransport, html, kraken_error, lost, make_client, ok
from tests.integration._env import sandbox_and_client


@dataclasses.dataclass
class Otel:
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    @property
    def kwargs(self) -> dict[str, Any]:
        return {"tracer_provider": self.tracer_provider, "meter_provider": self.meter_provider}

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def metrics(self) -> dict[str, list[Any]]:
        """Every metric's data points by name."""
        data = self.reader.get_metrics_data()
        found: dict[str, list[Any]] = {}
        assert data is not None
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                assert scope.scope.name == "kraken_prime_async"
                for metric in scope.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found


@pytest.fixture
def otel() -> Otel:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    return Otel(exporter, reader, tracer_provider, MeterProvider(metric_readers=[reader]))


def _attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_a_call_is_an_internal_span_with_one_client_span_per_attempt(
    otel: Otel, transport: ScriptedTransport
) -> None:
    seen: list[events.Event] = []
    transport.queue(html(503), ok({"data": []}))
    client, clock = make_client(transport, on_event=seen.append, **otel.kwargs)
    tracer = otel.tracer_provider.get_tracer("the-users-app")
    with tracer.start_as_current_span("settle-job") as parent:
        assert await client.api_users.list() == []
    request_id = last_request_id()
    assert request_id == seen[0].request_id
    first, second, call, user = otel.spans()  # in the order they ended
    assert user is not None and user.context.span_id == parent.get_span_context().span_id
    assert (call.name, call.kind) == ("ListPrimeApiUsers", SpanKind.INTERNAL)
    assert call.parent is not None and call.parent.span_id == user.context.span_id
    assert _attributes(call) == {
        "kraken.operation": "ListPrimeApiUsers",
        "kraken.request_id": request_id,
        "kraken.attempts": 2,
        "kraken.outcome": "ok",
    }
    assert call.status.status_code is StatusCode.UNSET
    assert [e.name for e in call.events] == ["retry_scheduled"]
    retry = dict(call.events[0].attributes or {})
    assert retry == {
        "kraken.retry.attempt": 1,
        "kraken.retry.delay": clock.sleeps[0],
        "error.type": "HTTP 503",
    }
    common = {
        "http.request.method": "POST",
        "server.address": "prime.test",
        "server.port": 443,
        "url.full": "https://prime.test/0/private/ListPrimeApiUsers",
        "url.template": "/0/private/ListPrimeApiUsers",
        "kraken.operation": "ListPrimeApiUsers",
        "kraken.request_id": request_id,
    }
    for attempt in (first, second):
        assert attempt.kind is SpanKind.CLIENT
        assert attempt.name == "POST /0/private/ListPrimeApiUsers"
        assert attempt.parent is not None and attempt.parent.span_id == call.context.span_id
        assert attempt.context.trace_id == user.context.trace_id
        assert call.start_time is not None and attempt.start_time is not None
        assert attempt.end_time is not None and call.end_time is not None
        assert call.start_time <= attempt.start_time <= attempt.end_time <= call.end_time
    assert _attributes(first) == {
        **common,
        "http.response.status_code": 503,
        "error.type": "HTTP 503",
    }
    assert first.status.status_code is StatusCode.ERROR
    assert _attributes(second) == {
        **common,
        "http.response.status_code": 200,
        "http.request.resend_count": 1,
    }
    assert second.status.status_code is StatusCode.UNSET


async def test_a_failed_call_sets_error_type_and_status(
    otel: Otel, transport: ScriptedTransport
) -> None:
    transport.queue(kraken_error("EGeneral:Invalid arguments:name"))
    client, _ = make_client(transport, **otel.kwargs)
    with pytest.raises(InvalidArgumentsError) as caught:
        await client.api_users.create("bot", "Trader")
    attempt, call = otel.spans()
    assert _attributes(attempt)["error.type"] == "EGeneral:Invalid arguments"
    assert "http.request.resend_count" not in _attributes(attempt)
    assert _attributes(call)["error.type"] == "EGeneral:Invalid arguments"
    assert _attributes(call)["kraken.outcome"] == "error"
    assert _attributes(call)["kraken.request_id"] == caught.value.request_id
    assert call.status.status_code is StatusCode.ERROR


async def test_metrics_duration_retries_waits_and_unknown_outcomes(
    otel: Otel, transport: ScriptedTransport
) -> None:
    transport.queue(
        kraken_error("EAPI:Rate limit exceeded"),
        ok({"data": []}),
        lost("SettlePrimeSettlementBatchAsset"),
        kraken_error("EGeneral:Invalid arguments"),  # the read-back fails: outcome unknown
    )
    client, clock = make_client(transport, **otel.kwargs)
    await client.api_users.list()
    with pytest.raises(OutcomeUnknownError):
        await client.settlement.settle_asset("B_1", "BTC")
    found = otel.metrics()
    durations = found["http.client.request.duration"]
    by_error = {p.attributes.get("error.type"): p for p in durations}
    assert set(by_error) == {
        "EAPI:Rate limit exceeded",
        None,
        "APIConnectionError",
        "EGeneral:Invalid arguments",
    }
    refused = by_error["EAPI:Rate limit exceeded"]
    assert refused.count == 1 and refused.attributes == {
        "http.request.method": "POST",
        "server.address": "prime.test",
        "server.port": 443,
        "kraken.operation": "ListPrimeApiUsers",
        "http.response.status_code": 200,
        "error.type": "EAPI:Rate limit exceeded",
    }
    assert "kraken.request_id" not in str(durations)  # no per-call ids in metric attributes
    (retries,) = found["kraken.client.retries"]
    assert retries.value == 1 and retries.attributes["error.type"] == "EAPI:Rate limit exceeded"
    waits = {
        (p.attributes["kraken.operation"], p.attributes["kraken.wait.reason"]): p.value
        for p in found["kraken.client.rate_limit.waits"]
    }
    # after the refusal the retry is due at once and the key's pacing holds it back (then the
    # next call too): the waits the log used to be silent about
    assert waits[("ListPrimeApiUsers", "pacing")] == 1
    assert {reason for _, reason in waits} == {"pacing"}
    wait_time = sum(p.value for p in found["kraken.client.rate_limit.wait_time"])
    assert wait_time == pytest.approx(sum(clock.sleeps))
    (unknown,) = found["kraken.client.outcome_unknown"]
    assert unknown.value == 1
    assert unknown.attributes == {"kraken.operation": "SettlePrimeSettlementBatchAsset"}
    (abandoned,) = found["kraken.client.abandoned_requests"]
    assert abandoned.attributes["kraken.abandon.reason"] == "connection_lost"
    write = next(s for s in otel.spans() if s.name == "SettlePrimeSettlementBatchAsset")
    assert _attributes(write)["kraken.outcome"] == "outcome_unknown"
    reconcile = otel.spans()[-1]
    assert reconcile.name == "reconcile SettlePrimeSettlementBatchAsset"
    assert _attributes(reconcile)["kraken.reconcile.how"] == "unresolved"
    assert _attributes(reconcile)["kraken.reconcile.resolved"] is False


@pytest.mark.integration
async def test_the_read_back_of_a_lost_answer_is_a_reconcile_span(otel: Otel) -> None:
    async with sandbox_and_client(client_kwargs=otel.kwargs) as (sb, client, _):
        sb.add_trade("BTC", "2")
        batch = await client.settlement.create_batch()
        sb.confirm_batch(batch.id)
        sb.faults.add("SettlePrimeSettlementBatchAsset", "drop_after")
        otel.exporter.clear()
        await client.settlement.settle_asset(batch.id, "BTC")
    request_id = last_request_id()
    spans = otel.spans()
    write = next(s for s in spans if s.name == "SettlePrimeSettlementBatchAsset")
    reconcile = next(s for s in spans if s.name == "reconcile SettlePrimeSettlementBatchAsset")
    assert _attributes(write)["kraken.request_id"] == request_id
    assert _attributes(write)["kraken.outcome"] == "outcome_unknown"
    assert [e.name for e in write.events] == ["request_abandoned"]
    assert _attributes(reconcile) == {
        "kraken.operation": "SettlePrimeSettlementBatchAsset",
        "kraken.request_id": request_id,
        "kraken.reconcile.how": "leg_started",
        "kraken.reconcile.resolved": True,
    }
    reads = [s for s in spans if s.name == "GetPrimeSettlementBatch"]
    assert reads and all(
        s.parent is not None and s.parent.span_id == reconcile.context.span_id for s in reads
    )
    (reconciled,) = otel.metrics()["kraken.client.reconciliations"]
    assert reconciled.attributes["kraken.reconcile.how"] == "leg_started"


async def test_without_providers_or_global_ones_the_client_has_no_observer(
    transport: ScriptedTransport,
) -> None:
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)  # none set here
    client, _ = make_client(transport)
    assert client._pipeline.observer is None


def test_global_providers_are_used_by_default_and_the_current_span_is_the_parent() -> None:
    code = """
import asyncio, base64
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from kraken_prime_async import PrimeClient, RawResponse

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

class Answer:
    async def request(self, *args, **kwargs):
        return RawResponse(200, b'{"error": [], "result": {"data": []}}')
    async def close(self):
        pass

async def main():
    client = PrimeClient("K", base64.b64encode(b"x" * 32).decode(),
                         base_url="https://prime.test", transport=Answer())
    with trace.get_tracer("app").start_as_current_span("job"):
        await client.api_users.list()

asyncio.run(main())
names = [(s.name, s.parent.span_id if s.parent else None, s.context.span_id)
         for s in exporter.get_finished_spans()]
(attempt, a_parent, _), (call, c_parent, c_id), (job, _, j_id) = names
assert (attempt, call, job) == ("POST /0/private/ListPrimeApiUsers", "ListPrimeApiUsers", "job")
assert a_parent == c_id and c_parent == j_id
print("ok")
"""
    done = subprocess.run(  # noqa: S603 - our interpreter, our code
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_a_provider_without_the_otel_extra_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kraken_prime_async import ValidationError

    monkeypatch.setitem(sys.modules, "kraken_prime_async._observability.otel", None)  # import fails
    with pytest.raises(ValidationError, match=r"tracer_provider.*otel"):
        make_client(ScriptedTransport(), tracer_provider=object())
