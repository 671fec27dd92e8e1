"""The pytest plugin as a user meets it: a throwaway project run by pytest in a subprocess."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

USER_TESTS = """
import pytest

from kraken_prime_async import PermissionDeniedError

pytestmark = pytest.mark.asyncio  # strict mode needs it; every test in this module is async

SETTLE = "SettlePrimeSettlementBatchAsset"


async def test_lost_settle_answer_is_read_back_not_resent(prime_sandbox, prime_client):
    prime_sandbox.add_trade("BTC", "1.5")
    batch = await prime_client.settlement.create_batch()
    prime_sandbox.confirm_batch(batch.id)
    prime_sandbox.faults.drop_after(SETTLE)
    transfer = await prime_client.settlement.settle_asset(batch.id, "BTC")
    assert transfer.id
    (record,) = prime_sandbox.calls(SETTLE)
    assert record.changed and record.fault == "drop_after"


async def test_an_error_fault_reaches_the_caller(prime_sandbox, prime_client):
    prime_sandbox.faults.error("ListPrimeApiUsers", "EGeneral:Permission denied")
    with pytest.raises(PermissionDeniedError):
        await prime_client.api_users.list()
    assert await prime_client.api_users.list() == []


async def test_rate_limit_is_off_by_default(prime_sandbox, prime_client):
    for _ in range(25):
        await prime_client.api_users.list()
    assert prime_sandbox.call_counter(prime_sandbox.api_key) == 0


@pytest.mark.prime_sandbox(rate_limit=True, tier="pro", seed=1)
class TestMarker:
    async def test_class_marker_applies(self, prime_sandbox, prime_client):
        await prime_client.api_users.list()
        assert prime_sandbox.call_counter(prime_sandbox.api_key) > 0

    @pytest.mark.prime_sandbox(rate_limit=False)
    async def test_closest_marker_wins(self, prime_sandbox, prime_client):
        await prime_client.api_users.list()
        assert prime_sandbox.call_counter(prime_sandbox.api_key) == 0


@pytest.mark.prime_sandbox(nonce_window=5000)
async def test_marker_options_reach_the_client(prime_sandbox, prime_client):
    users = [prime_client.api_users.create(name=f"u{i}", role="Viewer") for i in range(5)]
    import asyncio

    await asyncio.gather(*users)
    assert len(await prime_client.api_users.list()) == 5


class FakeClock:
    def __init__(self):
        self.now = 1_700_000_000.0

    def __call__(self):
        return self.now

    async def sleep(self, seconds):
        self.now += seconds


CLOCK = FakeClock()


@pytest.mark.prime_sandbox(clock=CLOCK, rate_limit=True, tier="starter")
async def test_a_fake_clock_is_shared_with_the_client(prime_sandbox, prime_client):
    started = CLOCK.now
    for _ in range(20):  # more than the starter tier's 15: someone has to wait
        await prime_client.api_users.list()
    assert all(record.timestamp >= started for record in prime_sandbox.requests)
    assert CLOCK.now > started  # the waiting happened on the fake clock


async def test_fast_api_client(prime_sandbox, fast_api_client):
    created = await fast_api_client.fast_api_keys.create("desk-bot")
    listed = await fast_api_client.fast_api_keys.list()
    assert [k.api_key_name for k in listed] == ["desk-bot"]
    assert created.api_key == listed[0].api_key
    assert [r.operation for r in prime_sandbox.calls("CreateFastApiKey")] == ["CreateFastApiKey"]

"""

PLAIN_TESTS = """
def test_a_plain_test_is_untouched():
    assert True
"""


def _project(tmp_path: Path, mode: str, *, via_conftest: bool) -> Path:
    (tmp_path / "pytest.ini").write_text(
        textwrap.dedent(
            f"""\
            [pytest]
            asyncio_mode = {mode}
            asyncio_default_fixture_loop_scope = function
            addopts = --strict-markers -p no:cacheprovider
            filterwarnings = error
            """
        )
    )
    conftest = 'pytest_plugins = ["kraken_prime_async.testing"]\n' if via_conftest else ""
    (tmp_path / "conftest.py").write_text(conftest)
    (tmp_path / "test_my_settlement.py").write_text(USER_TESTS)
    (tmp_path / "test_plain.py").write_text(PLAIN_TESTS)
    return tmp_path


@pytest.mark.parametrize(
    ("mode", "via_conftest"), [("auto", True), ("strict", False)], ids=["auto", "strict"]
)
def test_user_project_runs_with_the_plugin(tmp_path: Path, mode: str, via_conftest: bool) -> None:
    project = _project(tmp_path, mode, via_conftest=via_conftest)
    plugin = [] if via_conftest else ["-p", "kraken_prime_async.testing"]
    done = subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [sys.executable, "-m", "pytest", "-q", *plugin, str(project)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "9 passed" in done.stdout, done.stdout


def test_without_the_plugin_the_marker_is_unknown(tmp_path: Path) -> None:
    """Opt-in: no entry point loads the plugin behind a project's back."""
    project = _project(tmp_path, "auto", via_conftest=False)
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pytest", "-q", str(project)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode != 0
    assert "'prime_sandbox' not found in `markers`" in done.stdout + done.stderr


def test_the_example_project_runs_in_strict_mode() -> None:
    example = Path(__file__).parents[2] / "examples" / "sandbox_pytest"
    done = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=strict",
            str(example),
        ],
        cwd=example.parents[1],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout, done.stdout
