"""``kraken_prime_async.testing.aioresponses``: aioresponses that works on every aiohttp the SDK
allows (upstream 0.7.x crashes on 3.14), and an optional dependency."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL as Url

from kraken_prime_async import ApiUser, PrimeClient, RetryPolicy
from kraken_prime_async.errors import APIConnectionError
from kraken_prime_async.testing import aioresponses, answer_payload
from kraken_prime_async.testing._aioresponses import INSTALL_HINT
from tests._fakes import FAKE_SECRET, USER, FakeClock, unique_key

URL = "https://prime.test/0/private/ListPrimeApiUsers"
ROOT = Path(__file__).parents[2]
LOWEST = ROOT / ".venv-lowest" / "bin" / "python"
REQUIRES_STREAM_WRITER = (
    "stream_writer" in inspect.signature(aiohttp.ClientResponse.__init__).parameters
)


def _client(**kwargs: Any) -> PrimeClient:
    clock = FakeClock()
    return PrimeClient(
        unique_key(),
        FAKE_SECRET,
        base_url="https://prime.test",
        sleep=clock.sleep,
        clock=clock,
        **kwargs,
    )


async def test_a_mocked_answer_decodes_into_a_typed_result() -> None:
    async with _client() as client:
        with aioresponses() as mocked:
            mocked.post(URL, payload=answer_payload({"data": [USER]}))
            users = await client.api_users.list()
    expected = ApiUser(id="2T0RXL9B8K5D6", name="Test User", status="Enabled", roles=("Trader",))
    assert users == [expected]


async def test_a_retry_scripted_with_a_gateway_page_then_a_result() -> None:
    async with _client() as client:
        with aioresponses() as mocked:
            mocked.post(URL, status=502, body="<html>Bad Gateway</html>")
            mocked.post(URL, payload=answer_payload({"data": []}))
            assert await client.api_users.list() == []
            assert len(mocked.requests[("POST", Url(URL))]) == 2
    assert client.stats.retries == 1


async def test_callbacks_and_own_response_classes_work_too() -> None:
    from aioresponses import CallbackResult

    class Tagged(aiohttp.ClientResponse):
        pass

    def callback(url: Any, **kwargs: Any) -> CallbackResult:
        return CallbackResult(payload=answer_payload({"data": []}))

    async with _client() as client:
        with aioresponses() as mocked:
            mocked.post(URL, callback=callback)
            mocked.post(URL, payload=answer_payload({"data": [USER]}), response_class=Tagged)
            assert await client.api_users.list() == []
            assert len(await client.api_users.list()) == 1


async def test_an_unmocked_request_names_the_verb_and_url_it_tried() -> None:
    async with _client(retry=RetryPolicy.disabled()) as client:
        with aioresponses(), pytest.raises(APIConnectionError) as info:
            await client.api_users.list()
    assert f"[POST {URL}]" in str(info.value)


@pytest.mark.skipif(not REQUIRES_STREAM_WRITER, reason="this aiohttp needs no stream_writer")
async def test_upstream_aioresponses_alone_fails_on_this_aiohttp() -> None:
    """Why the fix exists; and it patches nothing global: upstream stays as it is."""
    from aioresponses import aioresponses as upstream

    async with aiohttp.ClientSession() as session:
        with aioresponses() as ours:
            ours.post(URL, payload={})
            async with session.post(URL) as response:
                assert await response.json() == {}
        with upstream() as mocked:
            mocked.post(URL, payload={})
            with pytest.raises(TypeError, match="stream_writer"):
                await session.post(URL)


def test_without_aioresponses_importing_works_and_calling_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['aioresponses'] = None\n"
        "import kraken_prime_async.testing as t\n"
        "assert 'pytest' not in sys.modules, 'pytest imported'\n"
        "try:\n"
        "    t.aioresponses()\n"
        "except ModuleNotFoundError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(  # noqa: S603 - our interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == INSTALL_HINT
    assert "pip install 'kraken-prime-async[testing]'" in INSTALL_HINT


@pytest.mark.skipif(not LOWEST.exists(), reason="no .venv-lowest (make test creates it)")
def test_on_the_lowest_aiohttp_allowed() -> None:
    """The tests above, run by the interpreter of ``.venv-lowest`` (the lowest aiohttp)."""
    probe = subprocess.run(  # noqa: S603 - a venv of this repository, fixed code
        [str(LOWEST), "-c", "import aioresponses, pytest_asyncio, kraken_prime_async"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(".venv-lowest lacks aioresponses, pytest-asyncio or the package")
    done = subprocess.run(  # noqa: S603
        [str(LOWEST), "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-k", "not lowest"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
