"""A user's test file using each of the three ways (the sandbox through the pytest plugin,
MockTransport, aioresponses), run by pytest in a subprocess on a fresh project, under
``-W error``, in pytest-asyncio's strict and auto modes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

USER_TESTS = """
import base64

import pytest

from kraken_prime_async import AuthenticationError, PrimeClient
from kraken_prime_async.testing import MockTransport, aioresponses, answer, answer_payload

SECRET = base64.b64encode(b"a test secret").decode()
USER = {"id": "U1", "name": "Desk A", "status": "Enabled", "roles": ["Trader"]}


async def no_wait(seconds):
    pass


def test_a_plain_test_beside_async_ones():
    assert answer_payload({"data": []}) == {"error": [], "result": {"data": []}}


@pytest.mark.asyncio
@pytest.mark.prime_sandbox(seed=3)
async def test_the_sandbox(prime_sandbox, prime_client):
    created = await prime_client.api_users.create(name="Desk A", role="Trader")
    assert [u.id for u in await prime_client.api_users.list()] == [created.id]
    assert prime_sandbox.calls("CreatePrimeApiUser")[0].changed


@pytest.mark.asyncio
async def test_mock_transport():
    answers = iter([answer(status=503, body="<html>busy</html>"), answer({"data": [USER]})])
    transport = MockTransport(lambda request: next(answers))
    async with PrimeClient("KEY-A", SECRET, transport=transport, sleep=no_wait) as client:
        (user,) = await client.api_users.list()
    assert user.name == "Desk A" and len(transport.requests) == 2
    refusing = MockTransport(lambda request: answer(errors="EAPI:Invalid key"))
    async with PrimeClient("KEY-B", SECRET, transport=refusing) as client:
        with pytest.raises(AuthenticationError):
            await client.api_users.list()


@pytest.mark.asyncio
async def test_aioresponses():
    url = "https://api.kraken.com/0/private/ListPrimeApiUsers"
    with aioresponses() as mocked:
        failed = answer_payload(errors=["EGeneral:Internal error"], status=500)
        mocked.post(url, status=500, payload=failed)
        mocked.post(url, payload=answer_payload({"data": [USER]}))
        async with PrimeClient("KEY-C", SECRET, sleep=no_wait) as client:
            (user,) = await client.api_users.list()
    assert user.id == "U1" and client.stats.retries == 1
"""


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_each_way_in_one_user_file(tmp_path: Path, mode: str) -> None:
    (tmp_path / "pytest.ini").write_text(
        textwrap.dedent(
            f"""\
            [pytest]
            asyncio_mode = {mode}
            asyncio_default_fixture_loop_scope = function
            addopts = --strict-markers -p no:cacheprovider
            """
        )
    )
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["kraken_prime_async.testing"]\n')
    (tmp_path / "test_my_code.py").write_text(USER_TESTS)
    done = subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [sys.executable, "-m", "pytest", "-q", "-W", "error", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout, done.stdout
