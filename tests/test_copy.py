"""``PrimeClient.copy(**overrides)``: a client sharing the transport (never closing it) with some
settings changed; the one way the SDK derives a client (key rotation's verifying client too)."""

from __future__ import annotations

import pytest

from kraken_prime_async import (
    ClientStateError,
    OutcomeUnknownError,
    PrimeClient,
    RetryPolicy,
    ValidationError,
)
from kraken_prime_async.events import Event
from kraken_prime_async.models import CreatedFastApiKey, SecretStr
from tests._fakes import FAKE_SECRET, ScriptedTransport, lost, make_client, ok, unique_key

OTHER_SECRET = "T1RIRVItU0VDUkVULW5ldmVyLXByaW50LW1lLTAxMjM0NTY3ODlhYmNkZWY="


async def test_a_copy_sends_through_the_same_transport_and_never_closes_it(
    transport: ScriptedTransport,
) -> None:
    transport.queue(ok({"data": []}), ok({"data": []}))
    client, _ = make_client(transport, timeout=7)
    copy = client.copy(timeout=3)
    assert copy is not client and copy.base_url == client.base_url
    await client.api_users.list()
    await copy.api_users.list()
    assert [r.timeout.total for r in transport.requests] == [7.0, 3.0]
    assert transport.requests[0].headers["API-Key"] == transport.requests[1].headers["API-Key"]
    await copy.close()
    assert not transport.closed  # the copy borrows the transport
    await client.close()
    assert transport.closed


async def test_a_copy_of_a_closed_client_refuses_to_send(transport: ScriptedTransport) -> None:
    client, _ = make_client(transport)
    copy = client.copy()
    await client.close()
    with pytest.raises(ClientStateError, match="copied from is closed"):
        await copy.api_users.list()
    assert transport.requests == []
    await copy.close()


async def test_settings_not_overridden_are_carried_over(transport: ScriptedTransport) -> None:
    seen: list[Event] = []
    transport.queue(ok({"data": []}))
    client, clock = make_client(transport, on_event=seen.append, retry=RetryPolicy(max_attempts=7))
    copy = client.copy(base_url="https://other.test")
    await copy.api_users.list()
    assert copy.base_url == "https://other.test"
    assert str(transport.requests[0].url).startswith("https://other.test/")
    assert [event.name for event in seen][:1] == ["call_started"]  # the same on_event
    assert copy._pipeline.retry.max_attempts == 7 and copy._pipeline.clock is clock
    await copy.close()
    await client.close()


async def test_a_copy_with_another_key_signs_with_it_and_drops_the_keys_settings(
    transport: ScriptedTransport,
) -> None:
    transport.queue(ok({"data": []}))
    client, _ = make_client(transport, nonce_window=5000, max_in_flight=3)
    other = unique_key()
    copy = client.copy(api_key=other, api_secret=SecretStr(OTHER_SECRET))
    await copy.api_users.list()
    assert transport.requests[0].headers["API-Key"] == other
    assert client._gate.window_seconds == 5.0 and copy._gate.window_seconds == 0.0
    same_key = client.copy(max_in_flight=2)
    assert same_key._gate.window_seconds == 5.0  # the key's own settings stay with the key
    for made in (copy, same_key, client):
        await made.close()


async def test_bad_overrides_are_refused(transport: ScriptedTransport) -> None:
    client, _ = make_client(transport)
    for shared in ("session", "transport", "max_response_bytes"):
        with pytest.raises(ValidationError) as info:
            client.copy(**{shared: None})
        assert info.value.field == shared
    with pytest.raises(ValidationError) as info:
        client.copy(api_key=unique_key())
    assert info.value.field == "api_secret"
    with pytest.raises(ValidationError) as info:
        client.copy(timeout=-1)
    assert info.value.field == "timeout"
    with pytest.raises(TypeError, match="bogus"):
        client.copy(bogus=1)
    await client.close()


def test_a_copy_keeps_the_fence_window_of_a_fast_api_key() -> None:
    created = CreatedFastApiKey(
        api_key=unique_key(), secret=SecretStr(FAKE_SECRET), nonce_window=5000
    )
    lowered = PrimeClient.from_fast_api_key(created, nonce_window=0, rate_limit=None)
    assert lowered._auth.fence_window == 5000 and lowered._gate.window_seconds == 0.0
    assert lowered.copy(timeout=5)._auth.fence_window == 5000


def test_no_secret_shows_in_a_copy(transport: ScriptedTransport) -> None:
    client, _ = make_client(transport)
    copy = client.copy(api_key=unique_key(), api_secret=OTHER_SECRET)
    for made in (client, copy):
        for text in (repr(made), repr(made._settings), repr(made._credentials)):
            assert FAKE_SECRET not in text and OTHER_SECRET not in text


async def test_a_copy_writes_to_the_same_journal(transport: ScriptedTransport) -> None:
    # The default journal is in memory: without sharing it, an idempotency key used on the
    # client and then on a copy would send the write twice.
    user = {"id": "U1", "name": "Desk A", "status": "Enabled", "roles": ["Trader"]}
    transport.queue(ok({"data": []}), ok(user))
    client, _ = make_client(transport)
    copy = client.copy(timeout=5)
    first = await client.api_users.create(name="Desk A", role="Trader", idempotency_key="k1")
    again = await copy.api_users.create(name="Desk A", role="Trader", idempotency_key="k1")
    assert again == first
    assert [r.url.path.rsplit("/", 1)[-1] for r in transport.requests] == [
        "ListPrimeApiUsers",
        "CreatePrimeApiUser",
    ]
    assert copy.journal is client.journal
    await copy.close()
    assert client.journal is copy.journal  # closing the copy leaves its client's journal open
    await client.api_users.create(name="Desk A", role="Trader", idempotency_key="k1")
    assert len(transport.requests) == 2
    await client.close()


async def test_a_write_a_copy_abandons_is_settled_by_its_client(
    transport: ScriptedTransport,
) -> None:
    # One journal, one owner: the client settles what the copy left in flight (with a store of
    # its own per copy, the client would take it for another live writer's and wait for it).
    user = {"id": "U1", "name": "Desk A", "status": "Enabled", "roles": ["Trader"]}
    transport.queue(ok({"data": []}), lost())
    transport.queue(ok({"data": [user]}), ok({"data": [user]}))
    client, _ = make_client(transport)
    copy = client.copy()
    with pytest.raises(OutcomeUnknownError):
        await copy.api_users.create(name="Desk A", role="Trader", idempotency_key="k2")
    await copy.close()
    resolved = await client.journal.resolve_pending()
    # Read back by the client, not left "in_flight" as another live owner's: without
    # ``sole_writer`` the new user stays a candidate.
    assert [r.status for r in resolved] == ["unknown"]
    assert "U1" in (resolved[0].error or "")
    await client.close()
