"""OpenTelemetry traces and metrics of a client's calls (the ``otel`` extra: ``opentelemetry-api``).

Imported only when a client uses it (``build_observer``, in the wing's ``__init__``): with
``tracer_provider=`` or ``meter_provider=``, or when the application has set global providers.

Traces (HTTP client semantic conventions):

* one ``INTERNAL`` span per call, named for the operation, child of the span current when the call
  began, current while the call runs: ``kraken.operation``, ``kraken.request_id``,
  ``kraken.outcome`` (``ok``, ``error``, ``outcome_unknown``, ``cancelled``), ``kraken.attempts``,
  ``error.type``; span events for retries, rate-limit waits and abandoned requests;
* one ``CLIENT`` child span per request sent, named ``{method} {path}``:
  ``http.request.method``, ``server.address``, ``server.port``, ``url.full``, ``url.template``,
  ``http.response.status_code``, ``http.request.resend_count`` (from the second request of a
  call), ``error.type`` (Kraken's error code, ``HTTP <status>`` or the exception's class),
  ``kraken.operation``, ``kraken.request_id``; written when the request ends, with its real start
  and end times;
* one ``INTERNAL`` span ``reconcile {operation}`` around the read-back after a lost answer, parent
  of the reads: ``kraken.request_id`` (the write's), ``kraken.reconcile.how``,
  ``kraken.reconcile.resolved``.

Metrics: ``http.client.request.duration`` (histogram, s) per request; counters
``kraken.client.retries``, ``kraken.client.rate_limit.waits`` (and ``.wait_time`` in s),
``kraken.client.outcome_unknown``, ``kraken.client.abandoned_requests`` and
``kraken.client.reconciliations``. Metric attributes are low-cardinality (no request id).

Nothing secret is recorded: no header, body, nonce, key or token; ``url.full`` is built from the
scheme, host, port and path only.
"""

from __future__ import annotations

import asyncio
import time
from contextvars import Token
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from yarl import URL

from .._error_map import error_code
from .._version import __version__
from ..errors import OutcomeUnknownError

if TYPE_CHECKING:
    from .context import CallState, Reconciling

INSTRUMENTATION_NAME: Final = "kraken_prime_async"
#: The HTTP semantic conventions' advisory buckets for ``http.client.request.duration``.
DURATION_BUCKETS: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)


def global_providers_set() -> bool:
    """Whether the application has set a global tracer or meter provider."""
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return True
    return type(metrics.get_meter_provider()).__name__ != "_ProxyMeterProvider"


class _CallTrace(NamedTuple):
    span: trace.Span
    context: otel_context.Context
    token: Token[otel_context.Context]


class _Target(NamedTuple):
    """Per operation: the CLIENT span's name and attributes that never change."""

    name: str
    span: dict[str, Any]
    metric: dict[str, Any]


class OtelSink:
    """Spans and metrics of one client's calls (see the module docstring)."""

    def __init__(self, tracer_provider: Any, meter_provider: Any, base_url: str) -> None:
        tracer_provider = tracer_provider or trace.get_tracer_provider()
        meter_provider = meter_provider or metrics.get_meter_provider()
        self._tracer = tracer_provider.get_tracer(INSTRUMENTATION_NAME, __version__)
        meter = meter_provider.get_meter(INSTRUMENTATION_NAME, __version__)
        url = URL(base_url)
        self._origin = URL.build(scheme=url.scheme, host=url.host or "", port=url.explicit_port)
        self._server = {"server.address": url.host or "", "server.port": url.port or 0}
        self._targets: dict[str, _Target] = {}
        self._duration = meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._retries = meter.create_counter(
            "kraken.client.retries", unit="{retry}", description="Retries scheduled by the policy."
        )
        self._waits = meter.create_counter(
            "kraken.client.rate_limit.waits",
            unit="{wait}",
            description="Waits for a key's rate limit (pacing, or after a rate-limit answer).",
        )
        self._wait_time = meter.create_counter(
            "kraken.client.rate_limit.wait_time",
            unit="s",
            description="Seconds waited for a key's rate limit.",
        )
        self._outcome_unknown = meter.create_counter(
            "kraken.client.outcome_unknown",
            unit="{write}",
            description="Writes sent whose effect is unknown (OutcomeUnknownError).",
        )
        self._abandoned = meter.create_counter(
            "kraken.client.abandoned_requests",
            unit="{request}",
            description="Requests sent and left without an answer (timeout, cancel, lost).",
        )
        self._reconciled = meter.create_counter(
            "kraken.client.reconciliations",
            unit="{write}",
            description="Writes whose lost answer was read back.",
        )

    def _target(self, call: CallState) -> _Target:
        endpoint = call.endpoint
        target = self._targets.get(endpoint.operation)
        if target is None:
            method = endpoint.http_method
            common = {
                "http.request.method": method,
                **self._server,
                "kraken.operation": endpoint.operation,
            }
            target = self._targets[endpoint.operation] = _Target(
                f"{method} {endpoint.path}",
                {
                    **common,
                    "url.full": str(self._origin.with_path(endpoint.path)),
                    "url.template": endpoint.path,
                },
                common,
            )
        return target

    # -- one call -------------------------------------------------------------------------------

    def call_started(self, call: CallState) -> None:
        operation = call.endpoint.operation
        span = self._tracer.start_span(
            operation,
            kind=SpanKind.INTERNAL,
            attributes={"kraken.operation": operation, "kraken.request_id": call.request_id},
        )
        context = trace.set_span_in_context(span)
        call.trace = _CallTrace(span, context, otel_context.attach(context))

    def attempt_finished(
        self, call: CallState, status: int | None, latency: float, error: str | None
    ) -> None:
        target = self._target(call)
        end = time.time_ns()
        attributes = dict(target.span)
        attributes["kraken.request_id"] = call.request_id
        if call.attempts > 1:
            attributes["http.request.resend_count"] = call.attempts - 1
        metric = dict(target.metric)
        if status is not None:
            attributes["http.response.status_code"] = metric["http.response.status_code"] = status
        if error is not None:
            attributes["error.type"] = metric["error.type"] = error
        traced: _CallTrace = call.trace
        span = self._tracer.start_span(
            target.name,
            context=traced.context,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            start_time=end - int(latency * 1e9),
        )
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=end)
        self._duration.record(latency, metric)

    def retry_scheduled(self, call: CallState, attempt: int, delay: float, reason: str) -> None:
        operation = call.endpoint.operation
        self._retries.add(1, {"kraken.operation": operation, "error.type": reason})
        traced: _CallTrace = call.trace
        traced.span.add_event(
            "retry_scheduled",
            {"kraken.retry.attempt": attempt, "kraken.retry.delay": delay, "error.type": reason},
        )

    def rate_limit_wait(self, call: CallState, seconds: float, reason: str) -> None:
        attributes = {"kraken.operation": call.endpoint.operation, "kraken.wait.reason": reason}
        self._waits.add(1, attributes)
        self._wait_time.add(seconds, attributes)
        traced: _CallTrace = call.trace
        traced.span.add_event(
            "rate_limit_wait", {"kraken.wait.seconds": seconds, "kraken.wait.reason": reason}
        )

    def request_abandoned(self, call: CallState, reason: str) -> None:
        self._abandoned.add(
            1, {"kraken.operation": call.endpoint.operation, "kraken.abandon.reason": reason}
        )
        traced: _CallTrace = call.trace
        traced.span.add_event(
            "request_abandoned",
            {"kraken.abandon.reason": reason, "http.request.resend_count": call.attempts - 1},
        )

    def outcome_unknown(self, call: CallState) -> None:
        self._outcome_unknown.add(1, {"kraken.operation": call.endpoint.operation})

    def call_finished(self, call: CallState, exc: BaseException | None) -> None:
        traced: _CallTrace = call.trace
        span = traced.span
        span.set_attribute("kraken.attempts", call.attempts)
        if exc is None:
            span.set_attribute("kraken.outcome", "ok")
        else:
            if isinstance(exc, OutcomeUnknownError):
                outcome = "outcome_unknown"
            elif isinstance(exc, asyncio.CancelledError):
                outcome = "cancelled"
            else:
                outcome = "error"
            kind = error_code(exc)
            span.set_attribute("kraken.outcome", outcome)
            span.set_attribute("error.type", kind)
            span.set_status(Status(StatusCode.ERROR, kind))
        span.end()
        otel_context.detach(traced.token)

    # -- reading back a lost answer ---------------------------------------------------------------

    def reconcile_started(self, step: Reconciling) -> _CallTrace:
        span = self._tracer.start_span(
            f"reconcile {step.operation}",
            kind=SpanKind.INTERNAL,
            attributes={"kraken.operation": step.operation, "kraken.request_id": step.request_id},
        )
        context = trace.set_span_in_context(span)
        return _CallTrace(span, context, otel_context.attach(context))

    def reconcile_finished(
        self, traced: Any, step: Reconciling, resolved: bool, exc: BaseException | None
    ) -> None:
        span = traced.span
        span.set_attribute("kraken.reconcile.how", step.how)
        span.set_attribute("kraken.reconcile.resolved", resolved)
        if exc is not None:
            kind = error_code(exc)
            span.set_attribute("error.type", kind)
            span.set_status(Status(StatusCode.ERROR, kind))
        span.end()
        otel_context.detach(traced.token)
        self._reconciled.add(
            1,
            {
                "kraken.operation": step.operation,
                "kraken.reconcile.how": step.how,
                "kraken.reconcile.resolved": resolved,
            },
        )
