"""Observability: request ids and the per-call context (``context``), typed events
(``observer``), OpenTelemetry spans and metrics (``otel``) and ``KRAKEN_PRIME_LOG``
(``log_env``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import ValidationError
from .context import EventCallback

if TYPE_CHECKING:
    from .observer import Observer
    from .otel import OtelSink


def build_observer(
    on_event: EventCallback | None,
    tracer_provider: object,
    meter_provider: object,
    *,
    base_url: str,
    clock: Callable[[], float],
) -> Observer | None:
    """The client's observer, or ``None`` when nothing listens (the hooks then cost nothing).

    OpenTelemetry is used when a provider is given, or when the application has set global
    providers before the client is built (``opentelemetry`` already imported and its global
    tracer or meter provider set).
    """
    if on_event is not None and not callable(on_event):
        raise ValidationError("on_event", "must be a callable taking one event, or None")
    otel: OtelSink | None = None
    if tracer_provider is not None or meter_provider is not None or _global_otel():
        try:
            from .otel import OtelSink
        except ImportError:
            field = "tracer_provider" if tracer_provider is not None else "meter_provider"
            raise ValidationError(
                field, "needs OpenTelemetry: pip install 'kraken-prime-async[otel]'"
            ) from None
        otel = OtelSink(tracer_provider, meter_provider, base_url)
    if on_event is None and otel is None:
        return None
    from .observer import Observer  # with its events: only when something listens

    return Observer(on_event, otel, clock)


def _global_otel() -> bool:
    """Whether the application set global OpenTelemetry providers (never imports it itself)."""
    if "opentelemetry.trace" not in sys.modules and "opentelemetry.metrics" not in sys.modules:
        return False
    try:
        from .otel import global_providers_set
    except ImportError:  # pragma: no cover - an API module without the rest of the API
        return False
    return global_providers_set()
