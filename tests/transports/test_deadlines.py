"""Per-request deadlines (``_deadlines.py``): one loop timer per transport keeps every request's
``total`` budget exactly as aiohttp's per-request timer did, over real loopback HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL

from kraken_prime_async import AiohttpTransport, RequestTimeout
from kraken_prime_async._transports._deadlines import Deadlines
from kraken_prime_async.errors import APITimeoutError
from tests._loopback_raw import serve_on_loopback

_OK = b'{"error":[],"result":{"data":[]}}'


@contextlib.asynccontextmanager
async def slow_server() -> AsyncIterator[str]:
    """Answers ``/<seconds>`` after that many seconds; ``/never`` never answers."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                if path == "/never":
                    await asyncio.Event().wait()
                await asyncio.sleep(float(path.strip("/")))
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(_OK), _OK)
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async with serve_on_loopback(handle) as url:
        yield url


async def _post(transport: AiohttpTransport, url: str, total: float | None) -> bytes:
    raw = await transport.request(URL(url), b"{}", {}, RequestTimeout(total), operation="Op")
    return raw.body


def _idle(transport: AiohttpTransport) -> bool:
    deadlines = transport._deadlines
    return deadlines is None or (not deadlines._pending and not deadlines._expired)


async def test_a_request_past_its_total_raises_a_timeout_and_leaves_the_task_usable() -> None:
    transport = AiohttpTransport()
    async with slow_server() as url:
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            await _post(transport, url + "/never", 0.2)
        elapsed = time.monotonic() - started
        assert 0.2 <= elapsed < 2.0
        assert info.value.sent is True and "no answer in time" in str(info.value)
        task = asyncio.current_task()
        assert task is not None
        if sys.version_info >= (3, 11):
            assert task.cancelling() == 0  # the deadline's cancellation was withdrawn
        await asyncio.sleep(0.01)  # no stray CancelledError reaches the caller
        assert await _post(transport, url + "/0", 5) == _OK  # and the transport goes on
        assert _idle(transport)
    await transport.close()


async def test_the_callers_cancellation_propagates_and_leaves_nothing_behind() -> None:
    transport = AiohttpTransport()
    async with slow_server() as url:
        task = asyncio.ensure_future(_post(transport, url + "/never", 30))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert _idle(transport)
    await transport.close()


async def test_each_request_keeps_its_own_deadline() -> None:
    transport = AiohttpTransport()
    async with slow_server() as url:
        results = await asyncio.gather(
            _post(transport, url + "/0.3", 5),  # armed first, expires last
            _post(transport, url + "/0.3", 0.1),  # an earlier deadline re-arms the timer
            _post(transport, url + "/0.3", None),  # no total: never timed out here
            _post(transport, url + "/0.05", 0.2),
            return_exceptions=True,
        )
        assert results[0] == _OK and results[2] == _OK and results[3] == _OK
        assert isinstance(results[1], APITimeoutError)
        assert _idle(transport)  # the timer may stay armed: it finds nothing when it fires
    await transport.close()
    assert transport._deadlines is not None and transport._deadlines._handle is None


async def test_the_timer_re_arms_for_the_next_deadline() -> None:
    transport = AiohttpTransport()
    async with slow_server() as url:
        started = time.monotonic()
        results = await asyncio.wait_for(
            asyncio.gather(
                _post(transport, url + "/never", 0.1),
                _post(transport, url + "/never", 0.3),  # due after the timer fired once
                return_exceptions=True,
            ),
            5,
        )
        assert all(isinstance(r, APITimeoutError) for r in results), results
        assert 0.3 <= time.monotonic() - started < 3
        assert _idle(transport)
    await transport.close()


async def test_many_requests_leave_one_timer_at_most() -> None:
    transport = AiohttpTransport()
    async with slow_server() as url:
        for _ in range(50):
            await _post(transport, url + "/0", 30)
        loop = asyncio.get_running_loop()
        deadlines = transport._deadlines
        assert deadlines is not None
        scheduled = loop._scheduled  # type: ignore[attr-defined]
        ours = [h for h in scheduled if h._callback == deadlines._fire and not h.cancelled()]
        assert len(ours) == 1  # the one timer, armed at the first request's deadline
        deadlines._fire()  # when it fires with nothing pending, it does not re-arm
        assert deadlines._handle is None
    await transport.close()
    assert deadlines._handle is None


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Task.uncancel is Python 3.11+")
async def test_an_outside_cancellation_at_the_deadline_wins() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop)
    entered = asyncio.Event()
    outcome: list[str] = []

    async def request() -> None:
        task = asyncio.current_task()
        assert task is not None
        deadlines.start(task, 60)
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcome.append("timeout" if deadlines.finish(task) else "cancelled")
            raise

    task = asyncio.ensure_future(request())
    await entered.wait()
    deadlines.start(task, -1)  # its deadline has passed ...
    deadlines._fire()  # ... the timer cancels it ...
    task.cancel()  # ... and the caller cancels it in the same loop iteration
    with pytest.raises(asyncio.CancelledError):
        await task
    assert outcome == ["cancelled"]
    deadlines.close()


async def test_close_stops_the_timer() -> None:
    deadlines = Deadlines(asyncio.get_running_loop())
    task = asyncio.current_task()
    assert task is not None
    deadlines.start(task, 60)
    assert deadlines._handle is not None
    handle = deadlines._handle
    deadlines.close()
    assert handle.cancelled() and deadlines._handle is None
    assert deadlines.finish(task) is False
    assert "pending=0" in repr(deadlines)


_FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))

_REQUEST = st.tuples(
    st.one_of(st.none(), st.floats(0.0, 0.12)),  # server delay (None: never answers)
    st.one_of(st.none(), st.floats(0.01, 0.15)),  # ClientTimeout.total (None: no deadline)
    st.one_of(st.none(), st.floats(0.0, 0.15)),  # the caller cancels after (None: never)
).filter(lambda r: r != (None, None, None))  # that one would wait forever, by design


async def _one(
    transport: AiohttpTransport, url: str, delay: float | None, total: float | None
) -> tuple[str, float]:
    """One request; what ended it, and when. The task must be usable afterwards."""
    path = "/never" if delay is None else f"/{delay:.3f}"
    started = time.monotonic()
    try:
        await _post(transport, url + path, total)
        outcome = "ok"
    except APITimeoutError:
        outcome = "timeout"
    await asyncio.sleep(0)  # a stray cancellation would surface here
    task = asyncio.current_task()
    assert task is not None
    if sys.version_info >= (3, 11):
        assert task.cancelling() == 0, "the deadline's cancellation was not withdrawn"
    return outcome, time.monotonic() - started


@pytest.mark.fuzz
@settings(max_examples=_FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests=st.lists(_REQUEST, min_size=1, max_size=4))
def test_deadlines_and_cancellations_at_random_points(
    requests: list[tuple[float | None, float | None, float | None]],
) -> None:
    """Concurrent requests with random answer delays, deadlines and caller cancellations: each
    ends as answered, timed out (only with a deadline, never before it) or cancelled (only by
    its caller), and nothing is left registered or cancelled afterwards."""

    async def run() -> None:
        transport = AiohttpTransport()
        async with slow_server() as url:
            tasks = [asyncio.ensure_future(_one(transport, url, d, t)) for d, t, _ in requests]
            loop = asyncio.get_running_loop()
            for task, (_, _, cancel_after) in zip(tasks, requests, strict=True):
                if cancel_after is not None:
                    loop.call_later(cancel_after, task.cancel)
            # Every request ends within 0.2 s here; a deadline never kept would hang the test.
            results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 3)
            for result, (delay, total, cancel_after) in zip(results, requests, strict=True):
                if isinstance(result, asyncio.CancelledError):
                    assert cancel_after is not None
                    continue
                assert not isinstance(result, BaseException), repr(result)
                outcome, elapsed = result
                if outcome == "timeout":
                    assert total is not None and elapsed >= total - 0.005
                else:
                    assert delay is not None
                if cancel_after is None and total is None and delay is not None:
                    assert outcome == "ok"
            assert _idle(transport)
            current = asyncio.current_task()
            assert current is not None
            if sys.version_info >= (3, 11):
                assert current.cancelling() == 0
        await transport.close()

    asyncio.run(run())
