"""Hostile or broken answers stay inside the error tree (deterministic cases; see also
``test_fuzz_answers.py``)."""

from __future__ import annotations

import logging
import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest

from kraken_prime_async import (
    AiohttpTransport,
    InternalServerError,
    OutcomeUnknownError,
    PrimeClient,
    RawResponse,
    ResponseValidationError,
    RetryPolicy,
    ValidationError,
)
from kraken_prime_async._constants import DEFAULT_MAX_RESPONSE_BYTES
from kraken_prime_async.models import BatchAttributes, FastApiKeyInfo, Leg
from tests._fakes import BATCH, FAKE_SECRET, ScriptedTransport, make_client, ok, unique_key
from tests._loopback_raw import raw_http_server


def _deep(depth: int = 5_000) -> bytes:
    """A batch whose leg's ``latest_spot_transfer`` (free-form JSON) nests ``depth`` levels."""
    nest = b"[" * depth + b"]" * depth
    return (
        b'{"error":[],"result":{"batch":{"id":"B","legs":[{"asset":"A",'
        b'"latest_spot_transfer":{"id":' + nest + b"}}]}}}"
    )


async def test_a_deeply_nested_answer_to_a_read_is_a_response_validation_error(
    transport: ScriptedTransport,
) -> None:
    transport.queue(RawResponse(200, _deep()))
    client, _ = make_client(transport)
    with pytest.raises(ResponseValidationError, match="nested too deeply"):
        await client.settlement.get_batch("B")


async def test_a_deeply_nested_answer_to_a_write_is_an_unknown_outcome(
    transport: ScriptedTransport,
) -> None:
    transport.queue(RawResponse(200, _deep()), RawResponse(200, _deep()))
    client, _ = make_client(transport)
    with pytest.raises(OutcomeUnknownError, match="could not be read back") as info:
        await client.settlement.settle_asset("B", "A")
    lost = info.value.__cause__  # the lost write, then why it was lost
    assert isinstance(lost, OutcomeUnknownError)
    assert isinstance(lost.__cause__, ResponseValidationError)
    assert [r.operation for r in transport.requests] == [
        "SettlePrimeSettlementBatchAsset",  # not re-sent: the batch is read back instead
        "GetPrimeSettlementBatch",
    ]


async def test_a_deeply_nested_error_body_is_mapped_by_its_status(
    transport: ScriptedTransport,
) -> None:
    transport.queue(RawResponse(500, b'{"error":' + b"[" * 5_000 + b"]" * 5_000 + b"}"))
    client, _ = make_client(transport, retry=RetryPolicy.disabled())
    with pytest.raises(InternalServerError):
        await client.api_users.list()


@pytest.mark.parametrize("text", ["NaN", "sNaN", "-sNaN", "Infinity", "-Infinity", "inf"])
async def test_a_non_finite_amount_is_a_malformed_answer(
    transport: ScriptedTransport, text: str
) -> None:
    assert Leg(asset="BTC", amount_text="1.5").amount == Decimal("1.5")
    with pytest.raises(ResponseValidationError, match="finite"):
        _ = Leg(asset="BTC", amount_text=text).amount
    transfer = {"id": "1", "attributes": {"transfer_amount": text}}
    good = {"id": "2", "attributes": {"transfer_amount": "1.5"}}
    transport.queue(ok({"transfer": transfer}), ok({"batch": BATCH}), ok({"transfer": good}))
    client, _ = make_client(transport)
    # Decoding refuses it; the lost-answer handling then reads the batch back: the leg is
    # unsettled, so the settle certainly did not happen and is sent again.
    settled = await client.settlement.settle_asset("B_Y7T2LPVX", "BTC")
    assert settled.id == "2"
    assert [r.operation for r in transport.requests] == [
        "SettlePrimeSettlementBatchAsset",
        "GetPrimeSettlementBatch",
        "SettlePrimeSettlementBatchAsset",
    ]


@pytest.mark.parametrize("value", [10**30, -(10**30), 10**17, -(10**17), 10**400])
def test_an_impossible_timestamp_fails_inside_the_error_tree(value: int) -> None:
    attributes = BatchAttributes(created_at=value, updated_at=value)
    with pytest.raises(ResponseValidationError, match="created_at"):
        _ = attributes.created_at_datetime
    with pytest.raises(ResponseValidationError, match="updated_at"):
        _ = attributes.updated_at_datetime


async def test_a_huge_timestamp_decodes_and_fails_only_when_converted(
    transport: ScriptedTransport,
) -> None:
    batch = {**BATCH, "attributes": {**BATCH["attributes"], "created_at": 10**40}}  # type: ignore[dict-item]
    transport.queue(ok({"batch": batch}))
    client, _ = make_client(transport)
    got = await client.settlement.get_batch("B_Y7T2LPVX")
    assert got.attributes.created_at == 10**40
    with pytest.raises(ResponseValidationError):
        _ = got.attributes.created_at_datetime


@pytest.mark.parametrize(("wire", "expected"), [(1.0, 1.0), (1, 1), (1.5, 1.5), (None, None)])
async def test_a_fast_api_key_nonce_is_a_number(wire: Any, expected: Any) -> None:
    import msgspec

    info = msgspec.json.decode(
        msgspec.json.encode([{"api_key_name": "k", "nonce": wire}]), type=list[FastApiKeyInfo]
    )[0]
    assert info.nonce == expected and type(info.nonce) is type(expected)


# max_response_bytes ---------------------------------------------------------------------------


def test_the_default_cap_is_4_mib() -> None:
    assert DEFAULT_MAX_RESPONSE_BYTES == 4 * 1024 * 1024
    assert AiohttpTransport()._max_response_bytes == DEFAULT_MAX_RESPONSE_BYTES
    with pytest.raises(ValidationError, match="max_response_bytes"):
        AiohttpTransport(max_response_bytes=0)


async def test_a_foreign_transport_is_size_checked_too(transport: ScriptedTransport) -> None:
    transport.queue(ok({"data": []}), RawResponse(200, b'{"result":"' + b"x" * 2000 + b'"}'))
    client, _ = make_client(transport, max_response_bytes=1000)
    assert await client.api_users.list() == []
    with pytest.raises(ResponseValidationError, match="max_response_bytes=1000"):
        await client.api_users.list()


async def test_an_oversized_answer_to_a_write_is_an_unknown_outcome() -> None:
    async with raw_http_server(200, "chunked", b"x" * 100_000) as base_url:
        client = PrimeClient(unique_key(), FAKE_SECRET, base_url=base_url, max_response_bytes=1000)
        async with client:
            with pytest.raises(OutcomeUnknownError, match="could not be read back") as info:
                await client.settlement.settle_asset("B", "BTC")  # no read before sending
    lost = info.value.__cause__  # the lost write (its read-back was oversized too)
    assert isinstance(lost, OutcomeUnknownError)
    assert isinstance(lost.__cause__, ResponseValidationError)
    assert "max_response_bytes=1000" in str(lost.__cause__)


@pytest.mark.parametrize("framing", ["length", "chunked"])
async def test_an_oversized_error_page_is_cut_and_mapped_by_status(framing: str) -> None:
    async with raw_http_server(500, framing, b"<html>" + b"x" * 100_000) as base_url:
        client = PrimeClient(
            unique_key(),
            FAKE_SECRET,
            base_url=base_url,
            max_response_bytes=1000,
            retry=RetryPolicy.disabled(),
        )
        async with client:
            with pytest.raises(InternalServerError):
                await client.api_users.list()


async def test_an_answer_exactly_at_the_cap_is_read() -> None:
    body = b'{"error":[],"result":{"data":[]}}'
    async with raw_http_server(200, "length", body) as base_url:
        client = PrimeClient(
            unique_key(), FAKE_SECRET, base_url=base_url, max_response_bytes=len(body)
        )
        async with client:
            assert await client.api_users.list() == []


# The package logger ---------------------------------------------------------------------------


def test_the_package_logger_has_a_null_handler() -> None:
    handlers = logging.getLogger("kraken_prime_async").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


def test_a_library_warning_does_not_reach_stderr_unconfigured() -> None:
    code = (
        "import logging, kraken_prime_async\n"
        "logging.getLogger('kraken_prime_async').warning('should stay silent')\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "should stay silent" not in done.stderr


@pytest.mark.parametrize("secret", [5, 1e308, None, [], {}])
def test_a_secret_of_the_wrong_type_is_a_malformed_answer(secret: Any) -> None:
    from kraken_prime_async._resources import api_user_keys

    answer = ok({"id": "K", "api_key": "A", "api_secret": secret, "user_id": "U"})
    with pytest.raises(ResponseValidationError, match="unexpected answer shape"):
        api_user_keys.CREATE.decode(answer, redact=lambda text: text)
