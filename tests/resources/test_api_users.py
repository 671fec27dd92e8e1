"""Tag "API Users": bodies on the wire, typed results, validation before sending."""

from __future__ import annotations

from typing import Any

import pytest

from kraken_prime_async import ApiUser, Role, UserStatus, ValidationError
from tests._fakes import USER, ScriptedTransport, listed, make_client, ok


async def test_create(transport: ScriptedTransport) -> None:
    transport.queue(listed(), ok(USER))  # the users before, then the create
    client, _ = make_client(transport)
    user = await client.api_users.create(name="Test User", role=Role.TRADER)
    assert user == ApiUser(
        id="2T0RXL9B8K5D6", name="Test User", status="Enabled", roles=("Trader",)
    )
    assert transport.requests[0].operation == "ListPrimeApiUsers"
    sent = transport.requests[1]
    assert sent.operation == "CreatePrimeApiUser"
    assert str(sent.url) == "https://prime.test/0/private/CreatePrimeApiUser"
    assert sent.json == {"nonce": sent.json["nonce"], "name": "Test User", "role": "Trader"}


async def test_get_unwraps_data(transport: ScriptedTransport) -> None:
    transport.queue(ok({"data": USER}))
    client, _ = make_client(transport)
    user = await client.api_users.get("2T0RXL9B8K5D6")
    assert user.id == "2T0RXL9B8K5D6" and user.roles == ("Trader",)
    assert transport.requests[0].json["user_id"] == "2T0RXL9B8K5D6"


async def test_list_sends_only_the_nonce(transport: ScriptedTransport) -> None:
    transport.queue(ok({"data": [USER, {**USER, "id": "X2", "status": "Suspended?"}]}))
    client, _ = make_client(transport)
    users = await client.api_users.list()
    assert [u.id for u in users] == ["2T0RXL9B8K5D6", "X2"]
    assert users[1].status == "Suspended?"  # an undocumented status still decodes
    assert list(transport.requests[0].json) == ["nonce"]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"name": "Renamed"}, {"name": "Renamed"}),
        ({"status": UserStatus.DISABLED}, {"status": "Disabled"}),
        ({"name": "R", "status": "Enabled"}, {"name": "R", "status": "Enabled"}),
    ],
)
async def test_update_sends_only_what_was_given(
    transport: ScriptedTransport, kwargs: dict[str, Any], expected: dict[str, str]
) -> None:
    transport.queue(ok(USER))
    client, _ = make_client(transport)
    await client.api_users.update("2T0RXL9B8K5D6", **kwargs)
    body = transport.requests[0].json
    body.pop("nonce")
    assert body == {"user_id": "2T0RXL9B8K5D6", **expected}


async def test_update_roles(transport: ScriptedTransport) -> None:
    transport.queue(ok({**USER, "roles": ["Viewer"]}))
    client, _ = make_client(transport)
    user = await client.api_users.update_roles("2T0RXL9B8K5D6", role="Viewer")
    assert user.roles == ("Viewer",)
    assert transport.requests[0].json["role"] == "Viewer"


async def test_unknown_fields_in_answers_are_ignored(transport: ScriptedTransport) -> None:
    transport.queue(listed(), ok({**USER, "created": 1, "team": {"x": 1}}))
    client, _ = make_client(transport)
    assert (await client.api_users.create("Test User", "Trader")).name == "Test User"


BAD_CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("create", "name", {"name": "", "role": "Trader"}),
    ("create", "name", {"name": "   ", "role": "Trader"}),
    ("create", "name", {"name": "x" * 257, "role": "Trader"}),
    ("create", "name", {"name": "bad\nname", "role": "Trader"}),
    ("create", "name", {"name": 5, "role": "Trader"}),
    ("create", "role", {"name": "A", "role": "Admin"}),
    ("create", "role", {"name": "A", "role": "trader"}),
    ("get", "user_id", {"user_id": ""}),
    ("get", "user_id", {"user_id": "a b"}),
    ("get", "user_id", {"user_id": None}),
    ("update", "name", {"user_id": "U"}),
    ("update", "status", {"user_id": "U", "status": "Deleted"}),
    ("update_roles", "role", {"user_id": "U", "role": "Owner"}),
]


@pytest.mark.parametrize(("method", "field", "kwargs"), BAD_CALLS)
async def test_bad_input_names_the_field_and_sends_nothing(
    transport: ScriptedTransport, method: str, field: str, kwargs: dict[str, Any]
) -> None:
    client, _ = make_client(transport)
    with pytest.raises(ValidationError) as info:
        await getattr(client.api_users, method)(**kwargs)
    assert info.value.field == field
    assert transport.requests == []


async def test_unknown_arguments_are_refused_before_sending(transport: ScriptedTransport) -> None:
    client, _ = make_client(transport)
    with pytest.raises(TypeError, match="colour"):
        await client.api_users.create(name="A", role="Trader", colour="red")  # type: ignore[call-arg]
    assert transport.requests == []
