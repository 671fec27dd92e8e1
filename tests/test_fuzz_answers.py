"""Answer fuzzing: whatever comes back (status, headers, bytes, depth, size), every public method
ends in a result or a :class:`KrakenPrimeError`, and both render (error trackers call ``repr``).

Bounded for ``make test``; ``FUZZ_EXAMPLES=5000`` (``make fuzz``) runs a long session.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kraken_prime_async import (
    FastApiKeyClient,
    KrakenPrimeError,
    OutcomeUnknownError,
    PrimeClient,
    RawResponse,
    ResponseValidationError,
)
from tests._fakes import BATCH, FAKE_SECRET, LEG, USER, FakeClock, unique_key
from tests._loopback_raw import raw_http_server
from tests.test_bad_arguments import METHODS, Method

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
CAP = 4096  # the clients' max_response_bytes here, so oversized answers stay cheap to build
FUZZED = [m for m in METHODS if m.label != "PrimeClient.from_fast_api_key"]

HOSTILE_SCALARS: st.SearchStrategy[Any] = st.sampled_from(
    ["NaN", "sNaN", "-sNaN", "Infinity", "-Infinity", "inf", "1e999999", "", "\ud800", 1e308,
     -(10**30), 10**30, 10**400, 2**63, -1, 0, 1.0, True, None, [], {}]
)  # fmt: skip
ERRORS = st.sampled_from(
    ["EAPI:Invalid nonce", "EAPI:Rate limit exceeded", "EService: Throttled: 99999999999999",
     "EService: Throttled: 1e400", "EService: Throttled: nan", "EGeneral:Temporary lockout",
     "EService:Unavailable", "EService:Busy", "EService:Deadline elapsed",
     "EGeneral:Internal error", "EAPI:Invalid key", "EGeneral:Permission denied",
     "EGeneral:Invalid arguments", "EAuth:Invalid token", "WGeneral:Something", "E", ":", ""]
)  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
CONFIRMED = {**BATCH, "attributes": {**BATCH["attributes"], "confirmed": True}}  # type: ignore[dict-item]
TRANSFER = {"id": "100", "attributes": {"transfer_amount": "1.5"}, "relationships": {"leg": LEG}}
#: A plausible ``result`` per operation, for the fuzzer to mutate.
TEMPLATES: dict[str, Any] = {
    "CreatePrimeApiUser": USER,
    "GetPrimeApiUser": {"data": USER},
    "ListPrimeApiUsers": {"data": [USER]},
    "UpdatePrimeApiUser": USER,
    "UpdatePrimeApiUserRoles": USER,
    "CreatePrimeApiUserKey": {"id": "K", "api_key": "A", "api_secret": "S", "user_id": "U"},
    "ListPrimeApiUserKeys": {"data": [{"id": "K", "key": "A", "updated_at": 1}]},
    "UpdatePrimeApiUserKey": {"id": "K", "api_key": "A"},
    "DeletePrimeApiUserKey": {"deleted": True},
    "CreatePrimeSettlementBatch": {"batch": BATCH},
    "GetPrimeSettlementBatch": {"batch": CONFIRMED},
    "ListPrimeSettlementBatches": {
        "data": [BATCH],
        "pagination": {"has_more": True, "limit": 1, "offset": 0},
    },
    "SettlePrimeSettlementBatchAsset": {"transfer": TRANSFER},
    "CreateFastApiKey": {"api_key_name": "k", "api_key": "A", "secret": "S", "nonce": 1.0},
    "ListFastApiKeys": [{"api_key_name": "k", "nonce": 1.0, "nonce_window": 5}],
    "UpdateFastApiKey": True,
    "DeleteFastApiKey": True,
}


def _mutate(value: Any, data: st.DataObject) -> Any:
    """Replace some leaves of a template with hostile values."""
    if isinstance(value, dict):
        return {k: _mutate(v, data) for k, v in value.items()}
    if isinstance(value, list):
        return [_mutate(v, data) for v in value]
    if data.draw(st.integers(0, 5)) == 0:
        return data.draw(HOSTILE_SCALARS | JSON)
    return value


def _nested(depth: int, inner: str) -> str:
    return "[" * depth + inner + "]" * depth


@st.composite
def bodies(draw: st.DrawFn, operation: str) -> bytes:
    """An answer body for ``operation``: most often its plausible result, mutated."""
    kinds = ["template"] * 4 + ["json", "deep", "bytes", "huge", "errors"]
    kind = draw(st.sampled_from(kinds))
    if kind == "bytes":
        return draw(st.binary(max_size=64))
    if kind == "huge":
        return b'{"error":[],"result":"' + b"x" * draw(st.integers(CAP - 40, 3 * CAP)) + b'"}'
    if kind == "deep":
        depth = draw(st.integers(200, 20_000))
        where = draw(st.sampled_from(["whole", "result", "error", "extra", "leg"]))
        nest = _nested(depth, "1")
        text = {
            "whole": nest,
            "result": '{"error":[],"result":' + nest + "}",
            "error": '{"error":' + nest + "}",
            "extra": '{"error":[],"result":{"data":[]},"x":' + nest + "}",
            "leg": '{"error":[],"result":{"batch":{"id":"B","legs":[{"asset":"A",'
            '"latest_spot_transfer":{"id":' + nest + "}}]}}}",
        }[where]
        return text.encode()
    envelope: dict[str, Any] = {"error": draw(st.lists(ERRORS, max_size=2))}
    if kind == "json":
        envelope["result"] = draw(JSON)
    elif kind == "template":
        envelope["error"] = draw(st.lists(ERRORS, max_size=1)) if draw(st.booleans()) else []
        envelope["result"] = _mutate(TEMPLATES[operation], draw(st.data()))
    if draw(st.integers(0, 4)) == 0:
        envelope.pop("error")
    return json.dumps(envelope).encode("utf-8", "surrogatepass")


STATUSES = st.sampled_from([200] * 12 + [201, 204, 302, 400, 401, 403, 404, 413, 429, 500,
                            502, 503, 504]) | st.integers(100, 599)  # fmt: skip


class FuzzTransport:
    """Answers every request with a status and body drawn for its operation as it comes."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data

    async def request(self, *args: Any, operation: str, **kwargs: Any) -> RawResponse:
        await asyncio.sleep(0)
        return RawResponse(self.data.draw(STATUSES), self.data.draw(bodies(operation)))

    async def close(self) -> None:
        return None


def _touch(value: Any) -> None:
    """Read every derived field a caller might read (amounts, datetimes) and render it."""
    repr(value)
    if isinstance(value, (list, tuple)):
        for item in value:
            _touch(item)
        return
    for prop in ("amount", "created_at_datetime", "updated_at_datetime", "started"):
        if hasattr(type(value), prop):
            getattr(value, prop)
    if isinstance(value, msgspec.Struct):
        for field in value.__struct_fields__:
            _touch(getattr(value, field))
    elif hasattr(value, "legs"):  # SettlementReport
        _touch([(leg.transfer, leg.error) for leg in value.legs])


async def drive(method: Method, transport: Any, *, base_url: str = "https://prime.test") -> None:
    """Call ``method`` against ``transport`` (or ``base_url``); fail on a non-SDK exception."""
    clock = FakeClock()
    common: dict[str, Any] = {"sleep": clock.sleep, "clock": clock, "max_response_bytes": CAP}
    if transport is not None:
        common["transport"] = transport
    else:
        common["timeout"] = 2.0  # a real server that never finishes its answer
    client: Any = (
        PrimeClient(unique_key(), FAKE_SECRET, base_url=base_url, **common)
        if method.client == "prime"
        else FastApiKeyClient("TOKEN", base_url, **common)
    )
    kwargs = dict(method.good)
    try:
        async with client:
            if method.label == "settlement.iter_batches":
                seen = []
                async for batch in client.settlement.iter_batches(**kwargs):
                    seen.append(batch)
                    if len(seen) >= 5:  # a server may say has_more forever
                        break
                _touch(seen)
            else:
                _touch(await method.call(client, kwargs))
    except KrakenPrimeError as exc:
        failure: KrakenPrimeError | None = exc
    else:
        failure = None
    if failure is not None:
        assert repr(failure) and str(failure) is not None  # rendering must not raise
        if isinstance(failure, OutcomeUnknownError) and failure.__cause__ is not None:
            assert isinstance(failure.__cause__, KrakenPrimeError), repr(failure.__cause__)


SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("method", FUZZED, ids=[m.label for m in FUZZED])
def test_any_answer_ends_in_a_result_or_an_sdk_error(method: Method) -> None:
    @SETTINGS
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        asyncio.run(drive(method, FuzzTransport(data)))

    check()


# Real loopback HTTP through aiohttp: status line, headers and body as sent by a hostile server.

HEADERS = st.sampled_from(["length", "no-length", "chunked", "short-length", "long-length"])
WIRE = st.tuples(
    STATUSES,
    HEADERS,
    st.sampled_from([0, 1, CAP - 1, CAP, CAP + 1, 10 * CAP, 200 * CAP]),
    st.sampled_from([b"x", b"[", b'{"error":[],"result":{"data":[]}}']),
)
WRITES_AND_READS = [m for m in FUZZED if m.label in ("api_users.list", "api_users.create")]


@pytest.mark.parametrize("method", WRITES_AND_READS, ids=[m.label for m in WRITES_AND_READS])
def test_any_wire_answer_over_loopback_ends_in_a_result_or_an_sdk_error(method: Method) -> None:
    @settings(SETTINGS, max_examples=max(8, EXAMPLES // 2))
    @given(wire=WIRE)
    def check(wire: tuple[int, str, int, bytes]) -> None:
        status, framing, size, unit = wire
        body = (unit * (size // len(unit) + 1))[:size]

        async def run() -> None:
            async with raw_http_server(status, framing, body) as base_url:
                await drive(method, None, base_url=base_url)

        asyncio.run(run())

    check()


async def test_an_oversized_2xx_answer_is_refused_while_reading() -> None:
    """Over real loopback: never decoded, whatever the framing, and an unending body ends too."""
    for framing in ("length", "no-length", "chunked", "endless"):
        async with raw_http_server(200, framing, b"x" * (10 * CAP)) as base_url:
            client = PrimeClient(
                unique_key(), FAKE_SECRET, base_url=base_url, max_response_bytes=CAP
            )
            async with client:
                with pytest.raises(ResponseValidationError, match="max_response_bytes=4096"):
                    await client.api_users.list()
