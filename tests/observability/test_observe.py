"""Request ids on every error, the event callback's contract, pacing and cancellation events,
``KRAKEN_PRIME_LOG`` and the import staying free of OpenTelemetry."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import subprocess
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec
import pytest

from kraken_prime_async import (
    CoordinationError,
    NonceSource,
    PrimeClient,
    RateLimit,
    RawResponse,
    RetryPolicy,
    ValidationError,
    errors,
    events,
    last_request_id,
)
from kraken_prime_async._observability.log_env import LOG_FORMAT, configure_logging_from_env
from tests._fakes import (
    FakeClock,
    ScriptedTransport,
    html,
    kraken_error,
    lost,
    make_client,
    ok,
    refused,
    timed_out,
)

HEX32 = re.compile(r"[0-9a-f]{32}")
NO_RETRY = RetryPolicy.disabled()

Call = Callable[[PrimeClient], Coroutine[Any, Any, Any]]


def _list(client: PrimeClient) -> Coroutine[Any, Any, Any]:
    return client.api_users.list()


def _settle(client: PrimeClient) -> Coroutine[Any, Any, Any]:
    return client.settlement.settle_asset("B_1", "BTC")


class _BrokenNonces(NonceSource):
    async def next_nonce(self) -> int:
        raise CoordinationError("the store is down", store="redis 127.0.0.1:1")


#: Every error class a call can raise through the pipeline: the answer that makes it, the call.
THROUGH_THE_PIPELINE: dict[str, tuple[tuple[RawResponse | BaseException, ...], Call]] = {
    "APIError": ((kraken_error("EFoo:Bar"),), _list),
    "AuthenticationError": ((kraken_error("EAPI:Invalid key"),), _list),
    "PermissionDeniedError": ((kraken_error("EGeneral:Permission denied"),), _list),
    "InvalidNonceError": ((kraken_error("EAPI:Invalid nonce"),), _list),
    "RateLimitError": ((kraken_error("EAPI:Rate limit exceeded"),), _list),
    "TemporaryLockoutError": ((kraken_error("EGeneral:Temporary lockout"),), _list),
    "InvalidArgumentsError": ((kraken_error("EGeneral:Invalid arguments"),), _list),
    "ServiceUnavailableError": ((kraken_error("EService:Unavailable"),), _list),
    "DeadlineElapsedError": ((kraken_error("EService:Deadline elapsed"),), _list),
    "InternalServerError": ((html(500),), _list),
    "APIConnectionError": ((refused(),), _list),
    "APITimeoutError": ((timed_out(),), _list),
    # lost, and the read-back fails: the write's own id, not the read's
    "OutcomeUnknownError": ((lost(), html(500)), _settle),
    "ResponseValidationError": ((RawResponse(200, b"not json"),), _list),
}


@pytest.mark.parametrize("name", sorted(THROUGH_THE_PIPELINE))
async def test_every_error_a_call_raises_carries_the_calls_request_id(
    name: str, transport: ScriptedTransport
) -> None:
    answers, call = THROUGH_THE_PIPELINE[name]
    seen: list[events.Event] = []
    transport.queue(*answers)
    client, _ = make_client(transport, retry=NO_RETRY, on_event=seen.append)
    with pytest.raises(getattr(errors, name)) as caught:
        await call(client)
    assert type(caught.value).__name__ == name
    request_id = caught.value.request_id
    assert request_id == seen[0].request_id == last_request_id()
    assert request_id is not None and HEX32.fullmatch(request_id)
    finished = [e for e in seen if isinstance(e, events.CallFinished)]
    assert [e.error for e in finished if e.request_id == request_id] == [name]


async def test_errors_raised_outside_a_call_have_none_and_chained_ones_inherit(
    transport: ScriptedTransport,
) -> None:
    seen: list[events.Event] = []
    client, _ = make_client(transport, on_event=seen.append)
    # rejected before anything was built: no call started, no id, no event
    with pytest.raises(ValidationError) as invalid:
        await client.api_users.get("")
    assert invalid.value.request_id is None and not seen
    # inside a call: the call's id (a fleet's store failing, a closed client)
    nonce_client, _ = make_client(transport, nonce_source=_BrokenNonces(), on_event=seen.append)
    with pytest.raises(CoordinationError) as store:
        await nonce_client.api_users.list()
    assert store.value.request_id == seen[-1].request_id
    await client.close()
    with pytest.raises(errors.ClientStateError) as closed:
        await client.api_users.list()
    assert closed.value.request_id == seen[-1].request_id != store.value.request_id
    # chained: a composite error carries the id of the call that failed under it
    api_error = errors.APIError("no")
    api_error.request_id = "a" * 32
    rotation = errors.KeyRotationError("stopped", stage="create", user_id="U", old_key_id="K")
    rotation.__cause__ = api_error  # as ``raise ... from api_error`` sets it
    assert rotation.request_id == "a" * 32
    assert transport.requests == []


async def test_a_raising_callback_is_logged_once_and_ignored(
    transport: ScriptedTransport, captured_logs: pytest.LogCaptureFixture
) -> None:
    def broken(event: events.Event) -> None:
        raise RuntimeError("callback bug")

    transport.queue(ok({"data": []}), ok({"data": []}))
    client, _ = make_client(transport, on_event=broken)
    assert await client.api_users.list() == []
    assert await client.api_users.list() == []
    warnings = [r for r in captured_logs.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "on_event callback raised RuntimeError" in warnings[0].message
    assert warnings[0].exc_info is not None
    later = [r for r in captured_logs.records if "on_event callback raised" in r.message]
    assert len(later) == 6  # 3 events per call, the later ones at DEBUG


def test_on_event_must_be_callable() -> None:
    with pytest.raises(ValidationError, match="on_event"):
        make_client(ScriptedTransport(), on_event="print")


async def test_a_pacing_wait_is_logged_and_reported_before_it_is_waited(
    transport: ScriptedTransport, captured_logs: pytest.LogCaptureFixture
) -> None:
    seen: list[events.Event] = []
    sleeps_before: list[int] = []  # how many sleeps had happened when each event came
    clock = FakeClock()

    def listen(event: events.Event) -> None:
        seen.append(event)
        sleeps_before.append(len(clock.sleeps))

    transport.queue(ok({"data": []}), ok({"data": []}))
    client, _ = make_client(
        transport,
        clock=clock,
        rate_limit=RateLimit(max_counter=1.5, decay_per_second=1.0),
        on_event=listen,
    )
    await client.api_users.list()
    await client.api_users.list()
    assert clock.sleeps == [1.0]
    waits = [e for e in seen if isinstance(e, events.RateLimitWait)]
    assert len(waits) == 1 and waits[0].reason == "pacing" and waits[0].seconds == 1.0
    assert sleeps_before[seen.index(waits[0])] == 0  # told before the wait
    second = seen[-1].request_id
    assert waits[0].request_id == second
    paced = [r for r in captured_logs.records if "the key's rate limit" in r.message]
    assert len(paced) == 1 and paced[0].levelno == logging.INFO
    assert paced[0].request_id == second  # type: ignore[attr-defined]
    assert "waiting 1.00s" in paced[0].message
    assert client.stats.rate_limit_waits == 1


async def test_a_cancelled_call_reports_the_abandoned_request(
    transport: ScriptedTransport,
) -> None:
    seen: list[events.Event] = []
    client, _ = make_client(transport, on_event=seen.append)
    never = asyncio.get_running_loop().create_future()

    async def hang(*args: Any, **kwargs: Any) -> RawResponse:
        await never
        raise AssertionError("unreachable")

    transport.request = hang  # type: ignore[method-assign]
    task = asyncio.create_task(client.settlement.settle_asset("B_1", "BTC"))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [e.name for e in seen] == [
        "call_started",
        "attempt_finished",
        "request_abandoned",
        "call_finished",
    ]
    attempt, abandoned, finished = seen[1:]
    assert isinstance(attempt, events.AttemptFinished) and attempt.error == "CancelledError"
    assert isinstance(abandoned, events.RequestAbandoned)
    assert (abandoned.reason, abandoned.idempotent) == ("cancelled", False)
    assert isinstance(finished, events.CallFinished) and finished.error == "CancelledError"


def test_events_are_frozen_and_round_trip_as_json() -> None:
    event = events.AttemptFinished(
        request_id="r" * 32,
        operation="ListPrimeApiUsers",
        timestamp=1.5,
        attempt=2,
        status=503,
        latency=0.25,
        error="HTTP 503",
    )
    with pytest.raises(AttributeError):
        event.attempt = 3  # type: ignore[misc]
    encoded = msgspec.json.encode(event)
    assert msgspec.json.decode(encoded)["name"] == "attempt_finished"
    assert msgspec.json.decode(encoded, type=events.Event) == event


def test_kraken_prime_log_sets_up_a_stderr_handler_once() -> None:
    package = logging.getLogger("kraken_prime_async")
    level = package.level
    try:
        assert configure_logging_from_env("") is None
        assert configure_logging_from_env("loud") is None  # ignored, no crash
        handler = configure_logging_from_env("DEBUG")
        assert handler is not None and package.level == logging.DEBUG
        assert configure_logging_from_env("info") is handler and package.level == logging.INFO
        stream = io.StringIO()
        handler.setStream(stream)  # type: ignore[attr-defined]
        package.info("outside any call")
        package.info("with an id", extra={"request_id": "f" * 32})
        lines = stream.getvalue().splitlines()
        assert lines[0].endswith("INFO kraken_prime_async [-] outside any call")
        assert lines[1].endswith(f"[{'f' * 32}] with an id")
        assert "%(request_id)s" in LOG_FORMAT
    finally:
        for handler in list(package.handlers):
            if type(handler).__name__ == "_EnvHandler":
                package.removeHandler(handler)
        package.setLevel(level)


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our interpreter, our code
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        timeout=60,
        check=False,
    )


def test_a_client_without_listeners_never_loads_the_events() -> None:
    code = (
        "import sys, asyncio, base64, kraken_prime_async\n"
        "from kraken_prime_async import PrimeClient\n"
        "PrimeClient('K', base64.b64encode(b'x' * 32).decode(), base_url='https://a.test')\n"
        "print(sorted(m for m in sys.modules"
        " if m in ('kraken_prime_async.events', 'kraken_prime_async._observability.observer')))\n"
        "from kraken_prime_async import events\n"
        "assert kraken_prime_async.events is events and events.CallStarted\n"
        "PrimeClient('K2', base64.b64encode(b'x' * 32).decode(), base_url='https://a.test',"
        " on_event=print)\n"
        "print('_observability.observer' in ' '.join(sys.modules))\n"
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "True"]


def test_the_import_reads_kraken_prime_log_and_never_imports_opentelemetry() -> None:
    code = (
        "import logging, sys, kraken_prime_async\n"
        "from kraken_prime_async import PrimeClient\n"
        "import base64\n"
        "PrimeClient('K', base64.b64encode(b'x' * 32).decode(), base_url='https://a.test')\n"
        "assert not [m for m in sys.modules if m.startswith('opentelemetry')], 'imported'\n"
        "logging.getLogger('kraken_prime_async').info('hello')\n"
    )
    quiet = _run(code)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    loud = _run(code, KRAKEN_PRIME_LOG="info")
    assert loud.returncode == 0, loud.stderr
    assert loud.stderr.rstrip().endswith("INFO kraken_prime_async [-] hello")
    bogus = _run(code, KRAKEN_PRIME_LOG="verbose")
    assert bogus.returncode == 0 and bogus.stderr == ""
