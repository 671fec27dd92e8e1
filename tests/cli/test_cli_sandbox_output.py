"""What ``kraken-prime sandbox`` prints, checked in-process (no server, no subprocess)."""

from __future__ import annotations

import argparse
import json

import pytest

from kraken_prime_async.cli import _sandbox
from kraken_prime_async.sandbox import Announcement, RequestRecord, SandboxCredentials
from kraken_prime_async.sandbox._scenario import CreatedUser

ANNOUNCEMENT = Announcement("http://127.0.0.1:1", "KRA-K", "SECRET", "OAUTH", "ADMIN")
USERS = [CreatedUser("Desk A", "U1", (SandboxCredentials("K1", "KRA-D", "DSECRET"),))]


def _record(**changes: object) -> RequestRecord:
    fields: dict[str, object] = {
        "seq": 0,
        "operation": "SettlePrimeSettlementBatchAsset",
        "api_key": "KRA-K",
        "nonce": 5,
        "status": 200,
        "errors": (),
        "processed": True,
        "fault": None,
        "timestamp": 0.0,
        "changed": True,
        "arguments": {"batch_id": "B_1", "asset": "BTC"},
    }
    return RequestRecord(**{**fields, **changes})  # type: ignore[arg-type]


def test_text_announcement(capsys: pytest.CaptureFixture[str]) -> None:
    _sandbox._announce(ANNOUNCEMENT, USERS, as_json=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines[:5] == [
        "export KRAKEN_PRIME_BASE_URL=http://127.0.0.1:1",
        "export KRAKEN_PRIME_API_KEY=KRA-K",
        "export KRAKEN_PRIME_API_SECRET=SECRET",
        "export KRAKEN_OAUTH_TOKEN=OAUTH",
        "export KRAKEN_SANDBOX_ADMIN_TOKEN=ADMIN",
    ]
    assert lines[5] == "# user 'Desk A' U1: key_id=K1 api_key=KRA-D api_secret=DSECRET"
    assert lines[6].startswith("# serving until Ctrl-C")


def test_json_announcement_and_records(capsys: pytest.CaptureFixture[str]) -> None:
    _sandbox._announce(ANNOUNCEMENT, USERS, as_json=True)
    _sandbox._printer(as_json=True)(_record())
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["environment"]["KRAKEN_SANDBOX_ADMIN_TOKEN"] == "ADMIN"
    assert first["users"][0]["keys"][0]["api_key"] == "KRA-D"
    assert second["operation"] == "SettlePrimeSettlementBatchAsset"
    assert "KRA-K" not in json.dumps(second) and second["key_fingerprint"]


@pytest.mark.parametrize(
    ("changes", "tail"),
    [
        ({}, "SettlePrimeSettlementBatchAsset 200 ok key="),
        ({"status": None, "fault": "drop_before", "changed": False}, "dropped - fault=drop_before"),
        (
            {"errors": ("EAPI:Invalid nonce",), "changed": False, "api_key": None},
            "200 EAPI:Invalid nonce",
        ),
    ],
)
def test_log_lines(changes: dict[str, object], tail: str) -> None:
    line = _sandbox.log_line(_record(**changes))
    assert tail in line and "KRA-K" not in line
    assert line.split()[1] == "POST"


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("ListPrimeApiUsers:http_500", {"operation": "ListPrimeApiUsers", "kind": "http_500"}),
        ("*:drop_after:*", {"operation": None, "kind": "drop_after", "times": None}),
        (
            "*:delay_before:2:0.5",
            {"operation": None, "kind": "delay_before", "times": 2, "seconds": 0.5},
        ),
        (
            "CreatePrimeApiUser:error:1:EService:Unavailable",
            {
                "operation": "CreatePrimeApiUser",
                "kind": "error",
                "times": 1,
                "message": "EService:Unavailable",
            },
        ),
    ],
)
def test_fault_option(text: str, parsed: dict[str, object]) -> None:
    assert _sandbox._fault(text) == parsed


@pytest.mark.parametrize("text", ["X", "X:", "X:http_500:0", "X:http_500:two", "X:delay:1:soon"])
def test_bad_fault_option(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        _sandbox._fault(text)


def test_trade_and_latency_options() -> None:
    assert _sandbox._trade("ETH:-3") == ("ETH", "-3", "currency")
    assert _sandbox._trade("AAPLx:2:tokenized_equity") == ("AAPLx", "2", "tokenized_equity")
    assert _sandbox._latency("0.1:0.2") == (0.1, 0.2)
    assert _sandbox._latency("0.1") == (0.1, 0.1)
    for bad in ("BTC", "BTC:1:a:b", ":1"):
        with pytest.raises(argparse.ArgumentTypeError):
            _sandbox._trade(bad)
    for bad in ("x:y", "0.2:0.1", "-1:0"):
        with pytest.raises(argparse.ArgumentTypeError):
            _sandbox._latency(bad)


def test_help_names_every_fault_kind() -> None:
    from kraken_prime_async.sandbox import FAULT_KINDS

    assert _sandbox.FAULT_KIND_NAMES == FAULT_KINDS
    parser = argparse.ArgumentParser()
    _sandbox.configure(parser)
    assert all(kind in (parser.epilog or "") for kind in FAULT_KINDS)
    assert parser.get_default("run") is _sandbox.run
