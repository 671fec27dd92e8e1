"""``kraken-prime sandbox`` end to end: the README walkthrough, the admin API over plain HTTP,
scenario files and one-line errors. Every process is real; the admin API is driven with urllib."""

from __future__ import annotations

import json
import socket
from http.client import RemoteDisconnected
from pathlib import Path

import pytest

from kraken_prime_async.cli import main
from tests.cli._served import READY, http, served
from tests.cli._support import run_cli

pytestmark = pytest.mark.integration

EXPORTED = (
    "KRAKEN_PRIME_BASE_URL",
    "KRAKEN_PRIME_API_KEY",
    "KRAKEN_PRIME_API_SECRET",
    "KRAKEN_OAUTH_TOKEN",
    "KRAKEN_SANDBOX_ADMIN_TOKEN",
)


def test_readme_walkthrough_with_the_admin_api() -> None:
    with served("--trade", "BTC:1.5", "--trade", "ETH:-3", "--no-rate-limit") as srv:
        assert [line.split("=")[0] for line in srv.banner[:5]] == [
            f"export {name}" for name in EXPORTED
        ]
        env = srv.env
        user = json.loads(
            run_cli(
                "--json", "users", "create", "--name", "Desk A", "--role", "Trader", env=env
            ).stdout
        )
        key = run_cli("--json", "keys", "create", user["id"], "--print-secret", env=env)
        assert key.returncode == 0, key.stderr
        created = json.loads(key.stdout)
        trader = {
            **env,
            "KRAKEN_PRIME_API_KEY": created["api_key"],
            "KRAKEN_PRIME_API_SECRET": created["api_secret"],
        }
        batch = run_cli("--json", "batches", "create", env=trader)
        assert batch.returncode == 0, batch.stderr
        batch_id = json.loads(batch.stdout)["id"]

        unconfirmed = run_cli("settle", batch_id, env=trader)
        assert unconfirmed.returncode == 4 and "batch not confirmed" in unconfirmed.stdout
        confirmed = srv.admin("POST", f"/_sandbox/batches/{batch_id}/confirm")
        assert (
            confirmed.status == 200 and confirmed.body["result"]["batch"]["attributes"]["confirmed"]
        )
        settled = run_cli("--json", "settle", batch_id, env=trader)
        assert settled.returncode == 0, settled.stderr
        assert {leg["result"] for leg in json.loads(settled.stdout)["legs"]} == {"settled"}
        completed = srv.admin("POST", "/_sandbox/transfers/complete", {"batch_id": batch_id})
        assert len(completed.body["result"]["transfer_ids"]) == 2
        shown = json.loads(run_cli("--json", "batches", "get", batch_id, env=trader).stdout)
        assert shown["attributes"]["status"] == "settled"

        fast = run_cli(
            "--json",
            "fast-keys",
            "create",
            "desk-bot",
            "--allow",
            "funds_query",
            "--print-secret",
            env=env,
        )
        assert fast.returncode == 0, fast.stderr
        assert json.loads(fast.stdout)["secret"]
        listed = run_cli("fast-keys", "list", env=env)
        assert listed.returncode == 0 and "desk-bot" in listed.stdout
        assert run_cli("fast-keys", "delete", "desk-bot", env=env).returncode == 0
    operations = [line.split()[2] for line in srv.log if not line.startswith("#")]
    assert "CreatePrimeApiUserKey" in operations and "DeleteFastApiKey" in operations
    settles = [line for line in srv.log if " SettlePrimeSettlementBatchAsset " in line]
    assert any(line.endswith("changed") for line in settles)
    assert "GetPrimeSettlementBatch" in operations
    assert created["api_secret"] not in "\n".join(srv.log)
    assert "Traceback" not in srv.stderr


def test_auto_confirm_settles_without_the_admin_api() -> None:
    with served("--trade", "BTC:1.5", "--trade", "ETH:-3", "--auto-confirm", "0") as srv:
        batch = run_cli("--json", "batches", "create", env=srv.env)
        settled = run_cli("settle", json.loads(batch.stdout)["id"], env=srv.env)
        assert settled.returncode == 0, settled.stdout + settled.stderr


def test_admin_api_over_plain_http() -> None:
    with served("--seed", "3") as srv:
        routes = [
            ("POST", "/_sandbox/trades", {"asset": "BTC", "amount": "1"}),
            ("POST", "/_sandbox/batches/B_X/confirm", None),
            ("POST", "/_sandbox/transfers/complete", {}),
            ("POST", "/_sandbox/faults", {"kind": "http_500"}),
            ("DELETE", "/_sandbox/faults", None),
            ("GET", "/_sandbox/requests", None),
            ("POST", "/_sandbox/reset", None),
            ("POST", "/_sandbox/tokens", {}),
        ]
        for verb, path, body in routes:
            for token in (None, "wrong", srv.env["KRAKEN_OAUTH_TOKEN"]):
                refused = srv.admin(verb, path, body, token=token)
                assert refused.status == 401, (verb, path, token)
                assert refused.body == {"error": ["EAuth:Invalid token"]}
                assert refused.headers["WWW-Authenticate"] == "Bearer"
        # nothing changed: no trade was booked, no fault queued
        assert srv.prime("CreatePrimeSettlementBatch").body["error"] == [
            "EGeneral:Invalid arguments:no unsettled trades"
        ]

        trade = srv.admin("POST", "/_sandbox/trades", {"asset": "BTC", "amount": "1.5"})
        assert trade.status == 200 and len(trade.body["result"]["trade_id"]) == 36
        srv.admin("POST", "/_sandbox/trades", {"asset": "ETH", "amount": -3})
        batch = srv.prime("CreatePrimeSettlementBatch").body["result"]["batch"]
        assert {leg["asset"]: leg["amount"] for leg in batch["legs"]} == {"BTC": "1.5", "ETH": "-3"}
        confirm = srv.admin("POST", f"/_sandbox/batches/{batch['id']}/confirm")
        assert confirm.body["result"]["batch"]["attributes"]["confirmed"] is True

        fault = srv.admin(
            "POST",
            "/_sandbox/faults",
            {"operation": "SettlePrimeSettlementBatchAsset", "kind": "drop_after", "times": 1},
        )
        assert fault.body["result"]["fault"]["kind"] == "drop_after"
        with pytest.raises(RemoteDisconnected):  # the answer is lost: the connection closes
            srv.prime("SettlePrimeSettlementBatchAsset", batch_id=batch["id"], asset="BTC")
        done = srv.admin("POST", "/_sandbox/transfers/complete", {})
        assert len(done.body["result"]["transfer_ids"]) == 1

        log = srv.admin("GET", "/_sandbox/requests?operation=SettlePrimeSettlementBatchAsset")
        (record,) = log.body["result"]["requests"]
        assert record["fault"] == "drop_after" and record["changed"] is True
        assert record["arguments"] == {"batch_id": batch["id"], "asset": "BTC"}
        dumped = json.dumps(srv.admin("GET", "/_sandbox/requests").body)
        for secret in ("KRAKEN_PRIME_API_KEY", "KRAKEN_PRIME_API_SECRET", "KRAKEN_OAUTH_TOKEN"):
            assert srv.env[secret] not in dumped

        issued = srv.admin("POST", "/_sandbox/tokens", {"scopes": ["account.fast-api-key:read"]})
        bearer = {"Authorization": f"Bearer {issued.body['result']['token']}"}
        assert http("GET", srv.url + "/oauth/fast-api-key", headers=bearer).body == {"result": []}
        denied = http("POST", srv.url + "/oauth/fast-api-key", {"api_key_name": "x"}, bearer)
        assert denied.status == 403

        bad = srv.admin("POST", "/_sandbox/faults", {"kind": "meteor"})
        assert bad.status == 400 and bad.body["error"][0].startswith("EGeneral:Invalid arguments:")
        assert srv.admin("POST", "/_sandbox/trades", {"asset": "BTC", "amount": 1.5}).status == 400
        assert srv.admin("POST", "/_sandbox/batches/B_NOPE/confirm").status == 400
        assert srv.admin("POST", "/_sandbox/trades", b"[" * 1000).status == 400

        assert srv.admin("POST", "/_sandbox/reset").body["result"] == {"reset": True}
        assert srv.admin("GET", "/_sandbox/requests").body["result"]["requests"] == []
        assert srv.prime("ListPrimeSettlementBatches").body["result"]["data"] == []
        time_reply = http("GET", srv.url + "/0/public/Time")
        assert time_reply.body["error"] == [] and time_reply.body["result"]["unixtime"] > 0


def test_scenario_file(tmp_path: Path) -> None:
    secret = "c2NlbmFyaW8tc2VjcmV0LXNjZW5hcmlvLXNlY3JldA=="
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(
        f"""
        tier = "pro"
        seed = 7
        admin_token = "team-admin"

        [owner]
        api_key = "KRA-TEAM-OWNER"
        api_secret = "{secret}"

        [[trades]]
        asset = "BTC"
        amount = "1.5"

        [[trades]]
        asset = "AAPLx"
        amount = 2
        asset_kind = "tokenized_equity"

        [[users]]
        name = "Desk A"
        role = "Viewer"
        keys = [{{ api_key = "KRA-DESK-A", api_secret = "{secret}" }}, {{}}]

        [[faults]]
        operation = "ListPrimeApiUsers"
        kind = "error"
        message = "EService:Unavailable"
        times = "forever"
        """
    )
    with served("--scenario", str(scenario), "--trade", "ETH:-3") as srv:
        assert srv.env["KRAKEN_PRIME_API_KEY"] == "KRA-TEAM-OWNER"
        assert srv.env["KRAKEN_SANDBOX_ADMIN_TOKEN"] == "team-admin"
        users = [line for line in srv.banner if line.startswith("# user 'Desk A'")]
        assert len(users) == 2 and "api_key=KRA-DESK-A" in users[0]
        assert srv.prime("ListPrimeApiUsers").body["error"] == ["EService:Unavailable"]
        batch = srv.prime("CreatePrimeSettlementBatch").body["result"]["batch"]
        assert sorted(leg["asset"] for leg in batch["legs"]) == ["BTC", "ETH"]
        kinds = srv.prime("CreatePrimeSettlementBatch", asset_kind="tokenized_equity")
        assert [leg["asset"] for leg in kinds.body["result"]["batch"]["legs"]] == ["AAPLx"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "error: port 70000 is out of range (0-65535)"),
        (["--port", "-1"], "error: port -1 is out of range (0-65535)"),
        (["--fault", "Nope:http_500"], "error: unknown operation 'Nope'"),
        (["--fault", "ListPrimeApiUsers:meteor"], "error: unknown fault kind 'meteor'"),
        (["--trade", "BTC:abc"], "error: invalid amount: 'abc'"),
        (["--scenario", "/nonexistent.toml"], "error: cannot read /nonexistent.toml"),
    ],
)
def test_bad_options_are_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sandbox", *args]) == 2
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and stderr.startswith(message), stderr


def test_port_in_use_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["sandbox", "--port", str(port)]) == 1
    stderr = capsys.readouterr().err
    assert stderr == f"error: cannot listen on 127.0.0.1:{port}: address already in use\n"


def test_json_output_and_a_client_that_disconnects() -> None:
    with served("--latency", "0.3:0.3") as srv:
        assert srv.banner[-1].startswith(READY)
        with socket.create_connection(("127.0.0.1", int(srv.url.rsplit(":", 1)[1]))) as raw:
            raw.sendall(b"POST /0/private/ListPrimeApiUsers HTTP/1.1\r\nHost: x\r\n")
            raw.sendall(b"Content-Length: 50\r\n\r\n{")  # then hang up mid-body
        with socket.create_connection(("127.0.0.1", int(srv.url.rsplit(":", 1)[1]))) as raw:
            raw.sendall(b"POST /0/private/ListPrimeApiUsers HTTP/1.1\r\nHost: x\r\n")
            raw.sendall(b"Content-Length: 2\r\n\r\n{}")  # whole request, then hang up
        assert srv.prime("ListPrimeApiUsers").status == 200
    assert "Traceback" not in srv.stderr and "Error handling" not in srv.stderr, srv.stderr
    requests = [line for line in srv.log if "ListPrimeApiUsers" in line]
    assert any(" dropped " in line for line in requests)
    assert any("EAPI:Invalid key" in line for line in requests)
