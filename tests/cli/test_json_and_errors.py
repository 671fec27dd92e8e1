"""``--json`` anywhere on the line, errors as JSON, and messages that name what to fix.

These run ``main`` in this process (fast); the subprocess tests cover the installed script.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from kraken_prime_async.cli import main
from kraken_prime_async.cli._errors import describe
from kraken_prime_async.cli._main import join_values
from kraken_prime_async.errors import APIConnectionError, APITimeoutError, InvalidNonceError
from tests.cli._support import ThreadedSandbox

pytestmark = pytest.mark.integration

WRONG_SECRET = "QUFBQUFBQUFBQUFBQUFBQQ=="


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadedSandbox]:
    with ThreadedSandbox().running() as threaded:
        for name, value in threaded.env.items():
            monkeypatch.setenv(name, value)
        yield threaded


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "argv",
    [
        ("--json", "users", "list"),
        ("users", "--json", "list"),
        ("users", "list", "--json"),
        ("--timeout", "5", "users", "list", "--json", "--rate-limit", "pro"),
    ],
)
def test_json_is_accepted_anywhere(
    sandbox: ThreadedSandbox, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    sandbox.sync(lambda: sandbox.sandbox.add_api_user("Desk A", "Viewer"))
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    assert [user["name"] for user in json.loads(out)] == ["Desk A"]


def test_errors_are_json_on_stderr_under_json(
    sandbox: ThreadedSandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = _run(capsys, "users", "list", "--json", "--limit", "3")
    assert (code, out) == (2, "")
    usage = json.loads(err)["error"]
    assert usage["type"] == "UsageError" and "--limit" in usage["message"]

    monkeypatch.setenv("KRAKEN_PRIME_API_SECRET", WRONG_SECRET)
    code, out, err = _run(capsys, "batches", "list", "--json")
    assert (code, out) == (1, "")
    error = json.loads(err)["error"]
    assert error["type"] == "AuthenticationError"
    assert "EAPI:Invalid signature" in error["message"]
    assert "check KRAKEN_PRIME_API_SECRET" in error["message"]
    assert set(error) <= {"type", "message", "request_id"}
    assert WRONG_SECRET not in err

    monkeypatch.delenv("KRAKEN_PRIME_API_KEY")
    monkeypatch.delenv("KRAKEN_PRIME_API_SECRET")
    code, out, err = _run(capsys, "--json", "users", "list")
    assert (code, out) == (2, "")
    assert json.loads(err) == {
        "error": {
            "type": "ValidationError",
            "message": "KRAKEN_PRIME_API_KEY: not set, nor KRAKEN_PRIME_API_SECRET (or "
            "KRAKEN_PRIME_API_SECRET_FILE): put the public API key and its secret in the "
            "environment (`kraken-prime sandbox` prints them for a local sandbox)",
        }
    }


def test_unsetting_only_the_secret_names_the_secret(
    sandbox: ThreadedSandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KRAKEN_PRIME_API_SECRET")
    code, _, err = _run(capsys, "users", "list")
    assert code == 2
    assert err.startswith("error: KRAKEN_PRIME_API_SECRET: not set")
    assert "KRAKEN_PRIME_API_KEY" not in err

    monkeypatch.setenv("KRAKEN_PRIME_API_SECRET", "not base64!")
    code, _, err = _run(capsys, "users", "list")
    assert code == 2 and "check KRAKEN_PRIME_API_SECRET" in err and "not base64!" not in err


def test_messages_name_the_option_and_the_variable(
    sandbox: ThreadedSandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = _run(capsys, "keys", "update", "U1", "K1", "--ip", "10.0.0.1/8")
    assert code == 2 and "whitelisted_ips[0]" in err and "(fix --ip)" in err

    code, _, err = _run(capsys, "batches", "list", "--limit", "500")
    assert code == 2 and "(fix --limit)" in err

    monkeypatch.setenv("KRAKEN_PRIME_API_SECRET", WRONG_SECRET)
    code, out, err = _run(capsys, "users", "list")
    assert (code, out) == (1, "")
    assert err.startswith("error: AuthenticationError: ")
    assert re.search(
        r"check KRAKEN_PRIME_API_SECRET: it must be the secret issued with KRAKEN_PRIME_API_KEY"
        r" \(request id [0-9a-f]{32}\)$",
        err.rstrip(),
    )


def _args(**values: object) -> argparse.Namespace:
    return argparse.Namespace(**{"base_url": None, "group": "users", **values})


def test_connection_failures_name_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRAKEN_PRIME_BASE_URL", "https://prime.example:8443")
    refused = describe(
        APIConnectionError("ListPrimeApiUsers: could not connect", sent=False), _args()
    )
    assert refused is not None and refused.code == 1
    assert refused.message.startswith("could not reach https://prime.example:8443 (")
    assert "from KRAKEN_PRIME_BASE_URL" in refused.message

    slow = describe(APITimeoutError("no answer in time", sent=True), _args(base_url="http://x"))
    assert slow is not None and "no answer from http://x in time" in slow.message
    assert "raise --timeout" in slow.message and "from --base-url" in slow.message


def test_request_id_is_reported_only_when_the_exception_has_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plain = InvalidNonceError("EAPI:Invalid nonce", errors=["EAPI:Invalid nonce"])
    failure = describe(plain, _args())
    assert failure is not None and failure.request_id is None
    failure.emit(as_json=True)
    assert "request_id" not in json.loads(capsys.readouterr().err)["error"]

    tagged = InvalidNonceError("EAPI:Invalid nonce", errors=["EAPI:Invalid nonce"])
    tagged.request_id = "req-7"
    failure = describe(tagged, _args())
    assert failure is not None
    failure.emit(as_json=True)
    assert json.loads(capsys.readouterr().err)["error"]["request_id"] == "req-7"
    failure.emit(as_json=False)
    assert "(request id req-7)" in capsys.readouterr().err


def test_log_records_go_through_the_console_and_an_sdk_handler_is_set_aside(
    sandbox: ThreadedSandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    logger = logging.getLogger("kraken_prime_async")
    elsewhere = io.StringIO()
    direct = logging.StreamHandler(elsewhere)  # what KRAKEN_PRIME_LOG may have installed
    logger.addHandler(direct)
    try:
        monkeypatch.setenv("KRAKEN_PRIME_LOG", "debug")
        code, _, err = _run(capsys, "users", "list")
        assert code == 0
        assert "DEBUG kraken_prime_async" in err and "ListPrimeApiUsers attempt=1 status=200" in err
        assert elsewhere.getvalue() == ""  # nothing bypassed the console
        assert direct in logger.handlers  # and it is back once the command is done
    finally:
        logger.removeHandler(direct)
    assert sandbox.sandbox.api_secret not in err


def test_settle_one_asset_and_the_verdict_in_json(
    sandbox: ThreadedSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    def book() -> None:
        sandbox.sandbox.add_trade("BTC", "1.5")
        sandbox.sandbox.add_trade("ETH", "-3")

    sandbox.sync(book)
    code, out, _ = _run(capsys, "batches", "create", "--json")
    batch_id = json.loads(out)["id"]
    sandbox.sync(lambda: sandbox.sandbox.confirm_batch(batch_id))

    code, out, err = _run(capsys, "settle", batch_id, "--asset", "BTC")
    assert code == 0, err
    header, row = out.splitlines()
    assert header.split() == ["TRANSFER", "ASSET", "AMOUNT", "STATUS"]
    assert row.split()[1:] == ["BTC", "1.5", "pending"]

    code, out, err = _run(capsys, "--json", "settle", batch_id)
    assert code == 0, err
    report = json.loads(out)
    assert [(leg["asset"], leg["result"]) for leg in report["legs"]] == [
        ("BTC", "skipped"),
        ("ETH", "settled"),
    ]
    assert report["verdict"] == (
        "2 legs: 1 settled exactly once, 1 skipped (already settling), 0 failed, 0 unknown"
    )
    assert err == ""  # no progress output under --json


def test_the_word_after_token_is_its_value_whatever_it_looks_like() -> None:
    assert join_values(["fast-keys", "list", "--token", "-abc", "--json"]) == [
        "fast-keys",
        "list",
        "--token=-abc",
        "--json",
    ]
    assert join_values(["--token=-abc", "--", "--token", "x"]) == [
        "--token=-abc",
        "--",
        "--token",
        "x",
    ]
    assert join_values(["fast-keys", "list", "--token"]) == ["fast-keys", "list", "--token"]
