"""Every script in examples/ runs: on its own sandbox, and against given settings."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from kraken_prime_async import PrimeClient
from kraken_prime_async.sandbox import PrimeSandbox

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
TIMEOUT = 120.0

pytestmark = pytest.mark.integration


def _env(**settings: str) -> dict[str, str]:
    """The test's environment without any KRAKEN_ setting, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRAKEN_")}
    env["PYTHONPATH"] = str(ROOT)
    return {**env, **settings}


async def _run(script: Path, *args: str, env: dict[str, str]) -> tuple[int, str, str]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "error",
        str(script),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(child.communicate(), TIMEOUT)
    assert child.returncode is not None
    return child.returncode, out.decode(), err.decode()


def test_there_are_examples() -> None:
    names = {path.name for path in EXAMPLES}
    assert {"settle_batch.py", "fleet_worker.py", "error_handling.py"} <= names


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
async def test_each_example_runs_on_its_own_sandbox(script: Path) -> None:
    code, out, err = await _run(script, env=_env())
    assert code == 0, f"{script.name} exited {code}\n{out}\n{err}"
    assert out.strip()


def _settings(sandbox: PrimeSandbox) -> dict[str, str]:
    return _env(
        KRAKEN_PRIME_BASE_URL=sandbox.url,
        KRAKEN_PRIME_API_KEY=sandbox.api_key,
        KRAKEN_PRIME_API_SECRET=sandbox.api_secret,
    )


async def test_settle_batch_settles_the_given_batch_and_is_safe_to_run_again() -> None:
    async with PrimeSandbox(rate_limit=False) as sandbox:
        sandbox.add_trade("BTC", "2")
        sandbox.add_trade("ETH", "-5")
        async with PrimeClient(sandbox.api_key, sandbox.api_secret, base_url=sandbox.url) as c:
            batch_id = (await c.settlement.create_batch()).id
        script = ROOT / "examples/settle_batch.py"
        code, out, _ = await _run(
            script, batch_id, "--wait-confirmation", "0", env=_settings(sandbox)
        )
        assert code == 4 and "confirmed=False" in out  # not confirmed, no wait: incomplete
        sandbox.confirm_batch(batch_id)
        code, out, _ = await _run(script, batch_id, env=_settings(sandbox))
        assert code == 0 and "2 settled" in out
        code, out, _ = await _run(script, batch_id, env=_settings(sandbox))
        assert code == 0 and "2 skipped" in out  # run again: nothing settled twice
        assert len(sandbox.calls("SettlePrimeSettlementBatchAsset")) == 2


async def test_error_handling_against_given_settings_only_reads() -> None:
    async with PrimeSandbox(rate_limit=False) as sandbox:
        code, out, err = await _run(ROOT / "examples/error_handling.py", env=_settings(sandbox))
        assert code == 0, out + err
        assert "AuthenticationError" in out and "InvalidArgumentsError" in out
        assert all(record.operation.startswith(("List", "Get")) for record in sandbox.requests)


async def test_fleet_worker_needs_the_fleet_directory() -> None:
    async with PrimeSandbox(rate_limit=False) as sandbox:
        code, _, err = await _run(ROOT / "examples/fleet_worker.py", env=_settings(sandbox))
        assert code == 1 and "KRAKEN_PRIME_FLEET_DIR" in err
