"""Client lifecycle, settings and repr."""

from __future__ import annotations

import aiohttp
import pytest

from kraken_prime_async import ClientState, ClientStateError, PrimeClient, ValidationError
from tests._fakes import FAKE_API_KEY, FAKE_SECRET, ScriptedTransport, make_client, ok


async def test_async_with_opens_and_closes(transport: ScriptedTransport) -> None:
    client, _ = make_client(transport)
    states = [client.state]
    async with client as entered:
        assert entered is client
        states.append(client.state)
    states.append(client.state)
    assert states == [ClientState.UNOPENED, ClientState.OPEN, ClientState.CLOSED]
    assert transport.closed


async def test_works_without_async_with(transport: ScriptedTransport) -> None:
    transport.queue(ok({"data": []}))
    client, _ = make_client(transport)
    assert await client.api_users.list() == []
    opened = client.state
    await client.close()
    await client.close()  # idempotent
    assert (opened, client.state) == (ClientState.OPEN, ClientState.CLOSED)


async def test_a_closed_client_refuses_calls_before_sending(transport: ScriptedTransport) -> None:
    client, _ = make_client(transport)
    await client.close()
    with pytest.raises(ClientStateError, match="closed"):
        await client.api_users.list()
    with pytest.raises(ClientStateError):
        await client.__aenter__()
    assert transport.requests == []


async def test_entering_twice_is_refused(transport: ScriptedTransport) -> None:
    client, _ = make_client(transport)
    async with client:
        with pytest.raises(ClientStateError, match="already open"):
            await client.__aenter__()


async def test_an_owned_session_is_created_lazily_and_closed() -> None:
    client = PrimeClient(FAKE_API_KEY, FAKE_SECRET)
    transport = client._transport
    assert getattr(transport, "_session", "missing") is None
    await client.close()


def test_repr_shows_no_credentials() -> None:
    client = PrimeClient(FAKE_API_KEY, FAKE_SECRET, base_url="https://prime.test")
    text = repr(client)
    assert FAKE_API_KEY not in text and FAKE_SECRET not in text
    assert "key_fingerprint=" in text and "https://prime.test" in text


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"api_key": ""}, "api_key"),
        ({"api_key": "has space"}, "api_key"),
        ({"base_url": "api.kraken.com"}, "base_url"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": "5"}, "timeout"),
    ],
)
def test_bad_settings_name_the_field(kwargs: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {"api_key": FAKE_API_KEY, "api_secret": FAKE_SECRET, **kwargs}
    with pytest.raises(ValidationError) as info:
        PrimeClient(**arguments)  # type: ignore[arg-type]
    assert info.value.field == field


async def test_session_and_transport_are_exclusive() -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ValidationError) as info:
            PrimeClient(FAKE_API_KEY, FAKE_SECRET, session=session, transport=ScriptedTransport())
    assert info.value.field == "transport"


async def test_timeout_accepts_seconds_and_client_timeout(transport: ScriptedTransport) -> None:
    transport.queue(ok({"data": []}), ok({"data": []}))
    client, _ = make_client(transport, timeout=7)
    await client.api_users.list()
    await client.api_users.list(timeout=aiohttp.ClientTimeout(total=3, sock_read=2))
    first, second = (r.timeout for r in transport.requests)
    assert first.total == 7.0 and first.connect == 7.0
    assert second.total == 3 and second.sock_read == 2


async def test_default_timeout(transport: ScriptedTransport) -> None:
    transport.queue(ok({"data": []}))
    client, _ = make_client(transport)
    await client.api_users.list()
    assert transport.requests[0].timeout.total == 30.0
    assert transport.requests[0].timeout.connect == 10.0


async def test_stats_is_a_snapshot(transport: ScriptedTransport) -> None:
    transport.queue(ok({"data": []}))
    client, _ = make_client(transport)
    before = client.stats
    await client.api_users.list()
    assert before.calls == 0 and client.stats.calls == 1 and client.stats.successes == 1
