"""MockTransport: the whole pipeline runs on a handler's answers (retries, error mapping,
read-backs), and the handler sees each request as sent."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kraken_prime_async import (
    APIConnectionError,
    APITimeoutError,
    ApiUser,
    AuthenticationError,
    FastApiKeyClient,
    PrimeClient,
    RetryPolicy,
)
from kraken_prime_async._signing import decode_secret, verify
from kraken_prime_async.testing import MockRequest, MockTransport, answer, answer_payload
from tests._fakes import FAKE_SECRET, USER, FakeClock, unique_key

BASE = "https://prime.test"


def _client(handler: Any, **kwargs: Any) -> tuple[PrimeClient, MockTransport]:
    clock = FakeClock()
    transport = MockTransport(handler)
    client = PrimeClient(
        unique_key(),
        FAKE_SECRET,
        base_url=BASE,
        transport=transport,
        sleep=clock.sleep,
        clock=clock,
        **kwargs,
    )
    return client, transport


async def test_a_5xx_then_a_result_is_retried_into_a_typed_result() -> None:
    answers = iter([answer(status=502, body="<html>Bad Gateway</html>"), answer({"data": [USER]})])
    client, transport = _client(lambda request: next(answers))
    async with client:
        users = await client.api_users.list()
    assert users == [
        ApiUser(id="2T0RXL9B8K5D6", name="Test User", status="Enabled", roles=("Trader",))
    ]
    assert [r.operation for r in transport.requests] == ["ListPrimeApiUsers"] * 2
    first, second = (r.params["nonce"] for r in transport.requests)
    assert second > first  # every attempt is signed again with a fresh nonce
    assert client.stats.retries == 1
    assert transport.closed


async def test_an_invalid_key_is_a_typed_error_after_one_request() -> None:
    client, transport = _client(lambda request: answer(errors=["EAPI:Invalid key"]))
    async with client:
        with pytest.raises(AuthenticationError) as info:
            await client.api_users.list()
    assert list(info.value.errors) == ["EAPI:Invalid key"]
    assert len(transport.requests) == 1


async def test_a_lost_create_is_read_back_from_the_handler_and_resolved() -> None:
    """The first create is lost before it took effect: the read-back (served by the handler)
    proves it, and the create is sent again; the user exists once."""
    users: list[dict[str, Any]] = []
    creates = 0

    def handler(request: MockRequest) -> Any:
        nonlocal creates
        if request.operation == "ListPrimeApiUsers":
            return answer({"data": list(users)})
        assert request.operation == "CreatePrimeApiUser"
        creates += 1
        if creates == 1:
            return answer.lost()  # the connection dropped; the server never processed it
        user = {**USER, "name": request.params["name"], "roles": [request.params["role"]]}
        users.append(user)
        return answer(user)

    client, transport = _client(handler)
    async with client:
        user = await client.api_users.create(name="Desk A", role="Trader")
    assert user.name == "Desk A" and len(users) == 1
    assert [r.operation for r in transport.requests] == [
        "ListPrimeApiUsers",  # the users before
        "CreatePrimeApiUser",  # lost
        "ListPrimeApiUsers",  # the read-back: no new user, so it did not take effect
        "CreatePrimeApiUser",  # sent again
    ]


async def test_invalid_nonce_is_retried_with_a_fresh_nonce() -> None:
    seen: list[int] = []

    def handler(request: MockRequest) -> Any:
        seen.append(request.params["nonce"])
        if len(seen) == 1:
            return answer(errors="EAPI:Invalid nonce")
        return answer({"data": []})

    client, _ = _client(handler)
    async with client:
        assert await client.api_users.list() == []
    assert len(seen) == 2 and seen[1] > seen[0]
    assert client.stats.nonce_rejections == 1


async def test_the_handler_sees_the_request_as_signed_and_sent() -> None:
    async def handler(request: MockRequest) -> Any:  # a coroutine function works too
        await asyncio.sleep(0)
        return answer({"data": USER})

    client, transport = _client(handler)
    async with client:
        await client.api_users.get("2T0RXL9B8K5D6")
    (request,) = transport.requests
    assert (request.operation, request.http_method) == ("GetPrimeApiUser", "POST")
    assert request.path == "/0/private/GetPrimeApiUser"
    assert str(request.url) == f"{BASE}/0/private/GetPrimeApiUser"
    assert request.params == {"nonce": request.params["nonce"], "user_id": "2T0RXL9B8K5D6"}
    assert request.body is not None
    assert verify(
        request.path.encode(),
        request.params["nonce"],
        request.body,
        decode_secret(FAKE_SECRET),
        request.headers["API-Sign"],
    )
    assert request.timeout is not None and request.timeout > 0
    shown = repr(request)
    assert "GetPrimeApiUser" in shown and request.headers["API-Sign"] not in shown
    assert request.headers["API-Key"] not in shown and FAKE_SECRET not in shown


@pytest.mark.parametrize(
    ("make", "cls", "sent"),
    [
        (answer.lost, APIConnectionError, True),
        (answer.timeout, APITimeoutError, True),
        (answer.refused, APIConnectionError, False),
    ],
)
async def test_no_answer_reaches_the_caller_as_the_network_would_fail(
    make: Any, cls: type[APIConnectionError], sent: bool
) -> None:
    client, _ = _client(lambda request: make(), retry=RetryPolicy.disabled())
    async with client:
        with pytest.raises(cls) as info:
            await client.api_users.list()
    assert type(info.value) is cls and info.value.sent is sent
    assert f"[POST {BASE}/0/private/ListPrimeApiUsers]" in str(info.value)


async def test_a_read_whose_answer_timed_out_is_retried() -> None:
    answers = iter([answer.timeout(), answer({"data": []})])
    client, transport = _client(lambda request: next(answers), abandon_hold=0)
    async with client:
        assert await client.api_users.list() == []
    assert len(transport.requests) == 2


async def test_fast_api_key_client_runs_on_it_too() -> None:
    listed = [{"api_key_name": "desk-bot", "api_key": "AK", "permissions": {}}]

    def handler(request: MockRequest) -> Any:
        assert request.headers["Authorization"] == "Bearer token-123"
        return answer(listed)

    transport = MockTransport(handler)
    async with FastApiKeyClient("token-123", BASE, transport=transport) as oauth:
        keys = await oauth.fast_api_keys.list()
    assert [k.api_key_name for k in keys] == ["desk-bot"]
    (request,) = transport.requests
    assert (request.http_method, request.path, request.params) == (
        "GET",
        "/oauth/fast-api-key",
        {},
    )
    assert "token-123" not in repr(request)


async def test_what_the_handler_raises_reaches_the_test_unchanged() -> None:
    def handler(request: MockRequest) -> Any:
        raise AssertionError("unexpected request")

    client, _ = _client(handler)
    async with client:
        with pytest.raises(AssertionError, match="unexpected request"):
            await client.api_users.list()


async def test_a_handler_that_forgets_to_answer_is_told_what_to_return() -> None:
    client, _ = _client(lambda request: {"error": [], "result": {}})
    async with client:
        with pytest.raises(TypeError, match=r"returned dict for ListPrimeApiUsers.*answer\("):
            await client.api_users.list()


def test_answers_and_envelopes() -> None:
    assert answer_payload({"data": []}) == {"error": [], "result": {"data": []}}
    assert answer_payload(errors="EAPI:Invalid key") == {
        "error": ["EAPI:Invalid key"],
        "result": {},
    }
    assert answer_payload(errors=["EGeneral:Internal error"], status=500) == {
        "error": ["EGeneral:Internal error"]
    }
    assert answer(True).body == b'{"error":[],"result":true}'
    assert answer(status=502, body="<html/>").body == b"<html/>"
    assert answer(headers={"Retry-After": "1"}).headers == {"Retry-After": "1"}
    assert repr(answer({"api_secret": "s3cr3t"})) == "Answer(status=200, body=<45 bytes>)"
    with pytest.raises(ValueError, match="not both"):
        answer({"a": 1}, body=b"x")
    with pytest.raises(ValueError, match="HTTP status"):
        answer(status=42)
    with pytest.raises(TypeError, match="strings"):
        answer_payload(errors=[1])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="callable"):
        MockTransport(answer())  # type: ignore[arg-type]
