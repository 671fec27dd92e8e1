"""Scenario files: what they build, and one clear message naming the key when they are wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kraken_prime_async.sandbox import Scenario, ScenarioError, load_scenario
from tests.sandbox._support import Caller

SECRET = "c2NlbmFyaW8tc2VjcmV0LXNjZW5hcmlvLXNlY3JldA=="


async def test_a_full_scenario_builds_and_applies(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        f"""
        tier = "starter"
        nonce_window = 10
        latency = [0, 0.001]
        auto_confirm = 0
        lockout_after = 3
        seed = 1
        admin_token = "adm"

        [owner]
        api_key = "KRA-O"
        api_secret = "{SECRET}"

        [[trades]]
        asset = "BTC"
        amount = "1.5"

        [[users]]
        name = "V"
        role = "Viewer"
        keys = 2

        [[faults]]
        kind = "delay_after"
        seconds = 0.01
        times = "forever"
        """
    )
    scenario = load_scenario(path)
    assert scenario.options["latency"] == (0.0, 0.001)
    assert scenario.options["auto_confirm_after"] == 0
    sandbox = scenario.build()
    (user,) = scenario.apply(sandbox)
    assert (sandbox.api_key, sandbox.admin_token) == ("KRA-O", "adm")
    assert user.name == "V" and len(user.keys) == 2
    (fault,) = sandbox.faults.pending
    assert (fault.kind, fault.operation, fault.times, fault.seconds) == (
        "delay_after",
        None,
        None,
        0.01,
    )
    assert scenario.faults[0]["times"] == "forever"  # applying does not consume the scenario
    async with sandbox, aiohttp.ClientSession() as session:
        owner = Caller(session, sandbox.url, sandbox.api_key, sandbox.api_secret)
        batch = (await owner.ok("CreatePrimeSettlementBatch"))["batch"]
        assert [leg["asset"] for leg in batch["legs"]] == ["BTC"]
        assert sandbox.batch(batch["id"])["attributes"]["confirmed"]  # auto_confirm = 0
        viewer = owner.with_key(user.keys[0].api_key, user.keys[0].api_secret)
        denied = await viewer.call(
            "SettlePrimeSettlementBatchAsset", batch_id=batch["id"], asset="BTC"
        )
        assert denied.errors == ["EGeneral:Permission denied"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tyer": "pro"}, "tyer: unknown key"),
        ({"tier": 3}, "tier: expected str"),
        ({"rate_limit": "no"}, "rate_limit: expected bool"),
        ({"nonce_window": True}, "nonce_window: expected int"),
        ({"latency": [1]}, "latency: expected [low, high]"),
        ({"trades": {"asset": "BTC"}}, "trades: expected an array of tables"),
        ({"trades": [{"asset": "BTC", "amout": "1"}]}, "trades[0].amout: unknown key"),
        ({"trades": [{"asset": "BTC", "amount": 1.5}]}, "trades[0].amount: give a decimal"),
        ({"users": [{"role": "Trader"}]}, "users[0].name: expected a non-empty string"),
        ({"users": [{"name": "A", "keys": [{"api_key": "K"}]}]}, "api_secret"),
        ({"faults": [{"kind": "error", "times": 1.5}]}, "faults[0].times"),
        ({"owner": {"api_key": "K", "token": "x"}}, "owner.token: unknown key"),
    ],
)
def test_bad_scenarios_name_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Scenario.from_dict(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tier": "gold"}, "tier must be one of"),
        ({"owner": {"api_key": "K", "api_secret": "not base64!"}}, "api_secret must be base64"),
        ({"trades": [{"asset": "BTC", "amount": "x"}]}, "invalid amount"),
        ({"faults": [{"kind": "meteor"}]}, "unknown fault kind 'meteor'"),
        ({"users": [{"name": "A", "role": "Boss"}]}, "role must be one of"),
    ],
)
def test_scenarios_the_sandbox_refuses(data: dict[str, Any], message: str) -> None:
    scenario = Scenario.from_dict(data)
    with pytest.raises(ScenarioError, match=message):
        scenario.apply(scenario.build())


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("tier = ")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(broken)
