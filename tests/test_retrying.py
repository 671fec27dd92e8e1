"""Retries in tenacity's vocabulary: the SDK's rules first, the user's strategies only narrow or
reshape them; a per-call deadline (``max_elapsed``); ``kraken_prime_async.retrying``."""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any

import pytest
import tenacity
from tenacity import (
    AsyncRetrying,
    Retrying,
    retry_always,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    stop_before_delay,
    wait_fixed,
)

from kraken_prime_async import RateLimit, RetryBudget, RetryPolicy
from kraken_prime_async import errors as e
from kraken_prime_async.retrying import retry_if_retryable, wait_kraken
from tests._fakes import (
    USER,
    ScriptedTransport,
    html,
    kraken_error,
    listed,
    make_client,
    ok,
    refused,
    timed_out,
)


def _user() -> Any:
    return ok({"data": USER})


# --- the SDK's rules come first ------------------------------------------------------------------


async def test_stop_replaces_max_attempts(transport: ScriptedTransport) -> None:
    transport.queue(*[html(500)] * 2)
    client, _ = make_client(transport, retry=RetryPolicy(stop=stop_after_attempt(2)))
    with pytest.raises(e.InternalServerError):  # the SDK's error, never tenacity.RetryError
        await client.api_users.get("2T0RXL9B8K5D6")
    assert len(transport.requests) == 2
    transport.queue(*[html(500)] * 6, _user())
    client, _ = make_client(
        transport, retry=RetryPolicy(stop=stop_after_attempt(7), budget=RetryBudget(100))
    )
    await client.api_users.get("2T0RXL9B8K5D6")  # beyond the default max_attempts (4)
    assert client.stats.attempts == 7


@pytest.mark.parametrize(
    "refusal",
    [
        kraken_error("EAPI:Invalid key"),
        kraken_error("EGeneral:Permission denied"),
        kraken_error("EGeneral:Invalid arguments"),
        kraken_error("EGeneral:Temporary lockout"),
    ],
    ids=["auth", "permission", "arguments", "lockout"],
)
async def test_retry_always_never_widens_what_is_never_retried(
    transport: ScriptedTransport, refusal: Any
) -> None:
    transport.queue(refusal)
    policy = RetryPolicy(retry=retry_always, stop=tenacity.stop_never, wait=wait_fixed(0))
    client, clock = make_client(transport, retry=policy)
    with pytest.raises(e.APIError):
        await client.api_users.get("2T0RXL9B8K5D6")
    assert len(transport.requests) == 1 and clock.sleeps == []


async def test_a_lost_write_is_not_resent_by_retry_always(transport: ScriptedTransport) -> None:
    # create reads the users first; its answer lost, it reads them back and finds the new one.
    transport.queue(listed(), timed_out(), listed(USER))
    policy = RetryPolicy(retry=retry_always, stop=tenacity.stop_never, wait=wait_fixed(0))
    client, _ = make_client(transport, retry=policy, sole_writer=True)  # the read-back proves it
    user = await client.api_users.create(name=str(USER["name"]), role="Trader")
    assert user.id == USER["id"]
    creates = [r for r in transport.requests if r.operation == "CreatePrimeApiUser"]
    assert len(creates) == 1


@pytest.mark.parametrize(("stop", "creates"), [(1, 1), (2, 2)])
async def test_stop_decides_whether_a_write_proven_not_applied_is_sent_again(
    transport: ScriptedTransport, stop: int, creates: int
) -> None:
    # The read before, the create whose answer is lost, the read-back finding nothing: the
    # create did not happen, and may be sent again within the policy's stop.
    transport.queue(listed(), timed_out(), listed(), ok(USER))
    client, _ = make_client(transport, retry=RetryPolicy(stop=stop_after_attempt(stop)))
    if creates == 1:
        with pytest.raises(e.APITimeoutError):  # the write did not take effect
            await client.api_users.create(name="Test User", role="Trader")
    else:
        assert (await client.api_users.create(name="Test User", role="Trader")).id == USER["id"]
    sent = [r for r in transport.requests if r.operation == "CreatePrimeApiUser"]
    assert len(sent) == creates


async def test_a_write_is_not_sent_again_past_its_deadline(transport: ScriptedTransport) -> None:
    # The write's deadline counts from its first step (the read before): 1.5 s of 2.0 are gone
    # when it is sent, so its timeout is 0.5 s; after the read-back none is left to resend.
    transport.queue(listed(), timed_out(), listed())
    client, clock = make_client(transport, retry=RetryPolicy(max_elapsed=2.0))
    original = transport.request

    async def request(*args: Any, **kwargs: Any) -> Any:
        clock.now += 1.5  # every request takes 1.5 s of the client's time
        return await original(*args, **kwargs)

    transport.request = request  # type: ignore[method-assign]
    with pytest.raises(e.APITimeoutError):
        await client.api_users.create(name="Test User", role="Trader")
    sent = [r for r in transport.requests if r.operation == "CreatePrimeApiUser"]
    assert len(sent) == 1 and sent[0].timeout.total == pytest.approx(0.5)


async def test_nonce_retries_and_the_budget_still_cap_retry_always(
    transport: ScriptedTransport,
) -> None:
    transport.queue(*[kraken_error("EAPI:Invalid nonce")] * 5)
    policy = RetryPolicy(retry=retry_always, stop=tenacity.stop_never, max_nonce_retries=2)
    client, _ = make_client(transport, retry=policy)
    with pytest.raises(e.InvalidNonceError):
        await client.api_users.get("2T0RXL9B8K5D6")
    assert len(transport.requests) == 3
    transport.script.clear()
    transport.requests.clear()
    transport.queue(*[html(503)] * 20)
    budget = RetryBudget(max_tokens=4)  # retries while more than 2 tokens remain
    policy = RetryPolicy(retry=retry_always, stop=tenacity.stop_never, budget=budget)
    client, _ = make_client(transport, retry=policy)
    with pytest.raises(e.ServiceUnavailableError):
        await client.api_users.get("2T0RXL9B8K5D6")
    assert len(transport.requests) == 2 and budget.tokens == 2


async def test_retry_can_only_narrow(transport: ScriptedTransport) -> None:
    transport.queue(html(500), html(503), _user())
    narrow = RetryPolicy(retry=retry_if_exception_type(e.ServiceUnavailableError))
    client, _ = make_client(transport, retry=narrow)
    with pytest.raises(e.InternalServerError):
        await client.api_users.get("2T0RXL9B8K5D6")
    assert len(transport.requests) == 1


# --- wait, stop, before_sleep and the clock ------------------------------------------------------


async def test_wait_replaces_the_backoff_but_not_a_throttled_time(
    transport: ScriptedTransport,
) -> None:
    client, clock = make_client(transport, retry=RetryPolicy(wait=wait_fixed(3)), rate_limit=None)
    transport.queue(html(500), html(502), _user())
    await client.api_users.get("2T0RXL9B8K5D6")
    assert clock.sleeps == [3, 3]
    clock.sleeps.clear()
    transport.queue(kraken_error(f"EService: Throttled: {clock.now + 10:.0f}"), _user())
    await client.api_users.get("2T0RXL9B8K5D6")
    assert clock.sleeps == [pytest.approx(10)]  # the Throttled time is a minimum wait


async def test_stop_sees_the_upcoming_sleep(transport: ScriptedTransport) -> None:
    transport.queue(*[html(500)] * 3)
    policy = RetryPolicy(wait=wait_fixed(1.5), stop=stop_before_delay(2))
    client, clock = make_client(transport, retry=policy)
    with pytest.raises(e.InternalServerError):
        await client.api_users.get("2T0RXL9B8K5D6")
    # 0 + 1.5 < 2: retried; 1.5 + 1.5 >= 2: the attempt would start too late, so stop now.
    assert len(transport.requests) == 2 and clock.sleeps == [1.5]


async def test_the_clients_clock_drives_the_state(transport: ScriptedTransport) -> None:
    transport.queue(*[html(500)] * 5)
    seen: list[tuple[int, float | None, float]] = []

    def record(state: tenacity.RetryCallState) -> None:
        assert state.next_action is not None
        seen.append((state.attempt_number, state.seconds_since_start, state.next_action.sleep))

    policy = RetryPolicy(
        wait=wait_fixed(2), stop=stop_after_delay(5), before_sleep=record, max_attempts=1
    )
    client, clock = make_client(transport, retry=policy)
    with pytest.raises(e.InternalServerError):
        await client.api_users.get("2T0RXL9B8K5D6")
    assert seen == [(1, 0.0, 2.0), (2, 2.0, 2.0), (3, 4.0, 2.0)]  # max_attempts is replaced
    assert len(transport.requests) == 4 and clock.sleeps == [2, 2, 2]


async def test_before_sleep_log_names_the_operation(
    transport: ScriptedTransport, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("house.retries")
    policy = RetryPolicy(before_sleep=tenacity.before_sleep_log(log, logging.WARNING))
    transport.queue(html(503), _user())
    client, _ = make_client(transport, retry=policy)
    with caplog.at_level(logging.WARNING, logger="house.retries"):
        await client.api_users.get("2T0RXL9B8K5D6")
    (message,) = [r.getMessage() for r in caplog.records if r.name == "house.retries"]
    assert message.startswith("Retrying kraken_prime_async.GetPrimeApiUser in ")
    assert "ServiceUnavailableError" in message


async def test_coroutine_strategies_are_awaited(transport: ScriptedTransport) -> None:
    calls: list[str] = []

    async def retry(state: tenacity.RetryCallState) -> bool:
        calls.append("retry")
        return True

    async def wait(state: tenacity.RetryCallState) -> float:
        calls.append("wait")
        return 0.25

    async def stop(state: tenacity.RetryCallState) -> bool:
        calls.append("stop")
        return False

    async def before_sleep(state: tenacity.RetryCallState) -> None:
        calls.append("before_sleep")

    transport.queue(html(500), _user())
    policy = RetryPolicy(retry=retry, wait=wait, stop=stop, before_sleep=before_sleep)
    client, clock = make_client(transport, retry=policy)
    await client.api_users.get("2T0RXL9B8K5D6")
    assert calls == ["retry", "wait", "stop", "before_sleep"] and clock.sleeps == [0.25]


async def test_a_call_that_succeeds_evaluates_nothing(
    transport: ScriptedTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kraken_prime_async._pipeline as pipeline

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("evaluated on the success path")

    monkeypatch.setattr(pipeline, "Retries", fail)  # no retry state is built either

    transport.queue(_user())
    policy = RetryPolicy(stop=fail, wait=fail, retry=fail, before_sleep=fail, max_elapsed=5)
    client, _ = make_client(transport, retry=policy)
    await client.api_users.get("2T0RXL9B8K5D6")


# --- the user's retrier --------------------------------------------------------------------------


class _NeverIterated(AsyncRetrying):
    def __iter__(self) -> Any:
        raise AssertionError("iterated")

    def __aiter__(self) -> Any:
        raise AssertionError("iterated")

    def iter(self, retry_state: Any) -> Any:
        raise AssertionError("iterated")

    def copy(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("copied")


async def test_a_retrier_is_taken_on_the_client_and_per_call(transport: ScriptedTransport) -> None:
    house = _NeverIterated(stop=stop_after_attempt(2), wait=wait_fixed(0.5))
    client, clock = make_client(transport, retry=house)  # type: ignore[arg-type]
    transport.queue(*[html(500)] * 2)
    with pytest.raises(e.InternalServerError):
        await client.api_users.get("2T0RXL9B8K5D6")
    assert len(transport.requests) == 2 and clock.sleeps == [0.5]
    transport.queue(html(500), html(500), _user())
    once = Retrying(stop=stop_after_attempt(3), wait=wait_fixed(1))  # a sync retrier too
    await client.api_users.get("2T0RXL9B8K5D6", retry=once)
    assert len(transport.requests) == 5 and clock.sleeps == [0.5, 1, 1]
    assert house.statistics == {}  # never run


def test_from_tenacity_drops_tenacitys_defaults() -> None:
    assert RetryPolicy.from_tenacity(AsyncRetrying()) == RetryPolicy()
    stop, wait = stop_after_attempt(3), wait_fixed(1)
    policy = RetryPolicy.from_tenacity(
        Retrying(stop=stop, wait=wait, retry=retry_if_retryable), max_elapsed=2.0
    )
    assert (policy.stop, policy.wait, policy.retry) == (stop, wait, retry_if_retryable)
    assert policy.max_elapsed == 2.0
    assert RetryPolicy.from_tenacity(AsyncRetrying(enabled=False)).max_attempts == 1


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("retry_error_callback", lambda state: None),
        ("before", tenacity.before_log(logging.getLogger("x"), logging.INFO)),
        ("after", tenacity.after_log(logging.getLogger("x"), logging.INFO)),
    ],
)
def test_what_the_sdk_cannot_honour_is_refused(option: str, value: Any) -> None:
    retrier = AsyncRetrying(**{option: value})
    with pytest.raises(e.ValidationError, match=option) as caught:
        RetryPolicy.from_tenacity(retrier)
    assert caught.value.field == "retry"
    with pytest.raises(e.ValidationError, match=option):
        make_client(ScriptedTransport(), retry=retrier)  # type: ignore[arg-type]


def test_bad_policy_fields_are_refused_by_name() -> None:
    with pytest.raises(e.ValidationError, match=r"^stop:"):
        RetryPolicy(stop=3)  # type: ignore[arg-type]
    with pytest.raises(e.ValidationError, match=r"^max_elapsed:"):
        RetryPolicy(max_elapsed=0)
    with pytest.raises(e.ValidationError, match=r"^max_elapsed:"):
        RetryPolicy(max_elapsed=float("inf"))
    with pytest.raises(e.ValidationError, match=r"^retry:.*tenacity"):
        make_client(ScriptedTransport(), retry=object())  # type: ignore[arg-type]


def test_importing_the_package_and_plain_policies_never_import_tenacity() -> None:
    code = (
        "import sys, asyncio, kraken_prime_async as k\n"
        "from kraken_prime_async import errors\n"
        "k.RetryPolicy(max_elapsed=1.0); k.RetryPolicy.disabled()\n"
        "print('tenacity' in sys.modules)\n"
    )
    out = subprocess.run(  # noqa: S603 - this interpreter, a fixed program
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "False"


# --- the deadline --------------------------------------------------------------------------------


async def test_the_attempts_timeout_is_cut_to_what_is_left(transport: ScriptedTransport) -> None:
    transport.queue(refused(), refused(), _user())
    policy = RetryPolicy(max_elapsed=5.0, wait=wait_fixed(1))
    client, _ = make_client(transport, retry=policy, timeout=30)
    await client.api_users.get("2T0RXL9B8K5D6")
    assert [r.timeout.total for r in transport.requests] == [5.0, 4.0, 3.0]
    assert all(
        r.timeout.connect is not None and r.timeout.connect <= 5.0 for r in transport.requests
    )


async def test_no_retry_starts_past_the_deadline(transport: ScriptedTransport) -> None:
    transport.queue(*[html(503)] * 10)
    policy = RetryPolicy(max_elapsed=2.0, wait=wait_fixed(0.75), stop=tenacity.stop_never)
    client, clock = make_client(transport, retry=policy)
    with pytest.raises(e.ServiceUnavailableError):  # the last failure, as it was
        await client.api_users.get("2T0RXL9B8K5D6")
    assert clock.sleeps == [0.75, 0.75] and len(transport.requests) == 3


@pytest.mark.parametrize(
    ("max_elapsed", "before_delay"),
    [(10.0, 3.0), (2.5, 10.0)],
    ids=["stop first", "deadline first"],
)
async def test_the_deadline_composes_with_stop_before_delay(
    transport: ScriptedTransport, max_elapsed: float, before_delay: float
) -> None:
    transport.queue(*[html(503)] * 10)
    policy = RetryPolicy(
        max_elapsed=max_elapsed, stop=stop_before_delay(before_delay), wait=wait_fixed(1)
    )
    client, clock = make_client(transport, retry=policy)
    with pytest.raises(e.ServiceUnavailableError):
        await client.api_users.get("2T0RXL9B8K5D6")
    # Attempts at 0, 1 and 2 s: at 2 s a 1 s wait would reach 3 s, past either limit.
    assert len(transport.requests) == 3 and clock.sleeps == [1, 1]


async def test_a_pacing_wait_comes_out_of_the_attempts_time(transport: ScriptedTransport) -> None:
    transport.queue(_user(), _user())
    client, clock = make_client(
        transport, retry=RetryPolicy(max_elapsed=5.0), rate_limit=RateLimit(2, 1)
    )
    await client.api_users.get("2T0RXL9B8K5D6")
    await client.api_users.get("2T0RXL9B8K5D6")  # paced: waits for the counter to decay
    waited = client.stats.rate_limit_wait_seconds
    assert 0 < waited < 5 and sum(clock.sleeps) == pytest.approx(waited)
    assert transport.requests[1].timeout.total == pytest.approx(5.0 - waited)


async def test_a_throttled_wait_past_the_deadline_raises_at_once(
    transport: ScriptedTransport,
) -> None:
    client, clock = make_client(transport, retry=RetryPolicy(max_elapsed=1.0))
    transport.queue(kraken_error(f"EService: Throttled: {clock.now + 10:.0f}"))
    with pytest.raises(e.RateLimitError, match="max_elapsed=1 s") as caught:
        await client.api_users.get("2T0RXL9B8K5D6")
    assert caught.value.retry_at == pytest.approx(clock.now + 10)
    assert caught.value.category == "rate_limit" and clock.sleeps == []
    # The key is now paced until that time: the next call's pacing wait would cross its
    # deadline too, so it is refused before anything is sent.
    with pytest.raises(e.RateLimitError, match="max_elapsed=1 s"):
        await client.api_users.get("2T0RXL9B8K5D6")
    assert len(transport.requests) == 1 and clock.sleeps == []


# --- kraken_prime_async.retrying -----------------------------------------------------------------


def _state(exc: BaseException) -> tenacity.RetryCallState:
    state = tenacity.RetryCallState(AsyncRetrying(), None, (), {})
    outcome = tenacity.Future(1)
    outcome.set_exception(exc)
    state.outcome = outcome
    return state


def test_retry_if_retryable() -> None:
    retried = [
        e.InternalServerError("x"),
        e.RateLimitError("x"),
        e.InvalidNonceError("x"),
        e.APIConnectionError("x", sent=False),
    ]
    never = [
        e.AuthenticationError("x"),
        e.TemporaryLockoutError("x"),
        e.OutcomeUnknownError("x", operation="X", arguments={}, attempts=1),
        e.ValidationError("f", "x"),
        ValueError("not ours"),
    ]
    assert all(retry_if_retryable(_state(exc)) for exc in retried)
    assert not any(retry_if_retryable(_state(exc)) for exc in never)
    success = tenacity.RetryCallState(AsyncRetrying(), None, (), {})
    success.set_result(1)
    assert not retry_if_retryable(success)
    assert (retry_if_retryable | retry_always)(_state(e.AuthenticationError("x")))


def test_wait_kraken_honours_retry_at_else_delegates() -> None:
    wait = wait_kraken(wait_fixed(2), clock=lambda: 1000.0)
    assert wait(_state(e.RateLimitError("x", retry_at=1012.5))) == 12.5
    assert wait(_state(e.RateLimitError("x", retry_at=990.0))) == 0.0
    assert wait(_state(e.RateLimitError("x"))) == 2.0
    assert wait(_state(e.InternalServerError("x"))) == 2.0


async def test_an_outer_loop_retries_only_what_is_safe(transport: ScriptedTransport) -> None:
    client, _ = make_client(transport, retry=RetryPolicy.disabled())
    transport.queue(html(503), _user())
    async for attempt in AsyncRetrying(
        retry=retry_if_retryable, wait=wait_fixed(0), stop=stop_after_attempt(3), reraise=True
    ):
        with attempt:
            user = await client.api_users.get("2T0RXL9B8K5D6")
    assert user.id == USER["id"] and len(transport.requests) == 2


def test_every_error_has_a_stable_category() -> None:
    categories = {name: getattr(e, name).category for name in e.__all__}
    assert categories["AuthenticationError"] == categories["PermissionDeniedError"] == "auth"
    assert categories["APIConnectionError"] == categories["APITimeoutError"] == "network"
    assert categories["RateLimitError"] == categories["TemporaryLockoutError"] == "rate_limit"
    assert categories["InternalServerError"] == categories["ServiceUnavailableError"] == "exchange"
    assert categories["ValidationError"] == categories["ClientStateError"] == "client"
    assert categories["OutcomeUnknownError"] == "outcome_unknown"
    documented = e.__doc__ or ""
    for category in set(categories.values()):
        assert f'``"{category}"``' in documented, category


def test_the_error_catalogue_shows_each_category_beside_retryable() -> None:
    import importlib.util
    from pathlib import Path

    hook_path = Path(__file__).resolve().parents[1] / "docs/_hooks/generate.py"
    spec = importlib.util.spec_from_file_location("docs_hook_categories", hook_path)
    assert spec is not None and spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    sections = {part.split("\n", 1)[0]: part for part in hook.render().split("\n### ")[1:]}
    for name in e.__all__:
        category = getattr(e, name).category
        assert f"* **Category** (`.category`): `{category}`" in sections[name], name


def test_the_retrying_module_has_a_small_sorted_face() -> None:
    from kraken_prime_async import retrying

    assert retrying.__all__ == sorted(retrying.__all__) == ["retry_if_retryable", "wait_kraken"]
