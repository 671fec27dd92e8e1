"""Tag "API User Keys": the secret is masked; `key`/`api_key` land in one attribute."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from kraken_prime_async import ApiKey, SecretStr, ValidationError
from tests._fakes import ScriptedTransport, listed, make_client, ok

CREATED = {
    "id": "3RM9K4ZTC0C00",
    "api_key": "KRA5L19LAW8Z",
    "api_secret": "6xq8p1mvk9r3n7swt2l5cj4eaydhzbf",
    "user_id": "2T0RXL9B8K5D6",
    "permissions": ["read::marketdata"],
    "whitelisted_ips": ["192.168.1.1"],
}


async def test_create_masks_the_secret(transport: ScriptedTransport) -> None:
    transport.queue(listed(), ok(CREATED))  # the user's keys before, then the create
    client, _ = make_client(transport)
    key = await client.api_user_keys.create("2T0RXL9B8K5D6")
    assert isinstance(key.api_secret, SecretStr)
    assert key.api_secret.get_secret_value() == "6xq8p1mvk9r3n7swt2l5cj4eaydhzbf"
    for shown in (
        repr(key),
        str(key),
        repr(key.api_secret),
        str(key.api_secret),
        f"{key.api_secret}",
    ):
        assert "6xq8p1mvk9r3n7swt2l5cj4eaydhzbf" not in shown
    assert key.api_key == "KRA5L19LAW8Z" and key.whitelisted_ips == ("192.168.1.1",)
    assert transport.requests[0].json["user_id"] == "2T0RXL9B8K5D6"


async def test_list_maps_key_to_api_key(transport: ScriptedTransport) -> None:
    item = {
        "id": "3RM9K4ZTC0C00",
        "key": "KRA5L19LAW8Z",
        "user_id": "2T0RXL9B8K5D6",
        "updated_at": 123,
        "permissions": ["read::marketdata"],
        "whitelisted_ips": [],
    }
    transport.queue(ok({"data": [item]}))
    client, _ = make_client(transport)
    keys = await client.api_user_keys.list("2T0RXL9B8K5D6")
    assert keys == [
        ApiKey(
            id="3RM9K4ZTC0C00",
            user_id="2T0RXL9B8K5D6",
            api_key="KRA5L19LAW8Z",
            permissions=("read::marketdata",),
            whitelisted_ips=(),
            updated_at=123,
        )
    ]


async def test_update_sends_the_allow_list(transport: ScriptedTransport) -> None:
    transport.queue(ok({**CREATED, "api_secret": None, "updated_at": 5}))
    client, _ = make_client(transport)
    ips = ["192.168.1.1", "10.0.0.0/8", ipaddress.ip_address("2001:db8::1")]
    key = await client.api_user_keys.update(
        "2T0RXL9B8K5D6",
        "3RM9K4ZTC0C00",
        whitelisted_ips=ips,  # type: ignore[arg-type]
    )
    assert key.api_key == "KRA5L19LAW8Z" and key.updated_at == 5
    body = transport.requests[0].json
    assert body["whitelisted_ips"] == ["192.168.1.1", "10.0.0.0/8", "2001:db8::1"]
    assert body["key_id"] == "3RM9K4ZTC0C00"


async def test_update_can_send_an_empty_allow_list(transport: ScriptedTransport) -> None:
    transport.queue(ok({"id": "3RM9K4ZTC0C00"}))
    client, _ = make_client(transport)
    await client.api_user_keys.update("U", "K", whitelisted_ips=[])
    assert transport.requests[0].json["whitelisted_ips"] == []


@pytest.mark.parametrize("deleted", [True, False])
async def test_delete_returns_the_flag(transport: ScriptedTransport, deleted: bool) -> None:
    transport.queue(ok({"deleted": deleted}))
    client, _ = make_client(transport)
    assert await client.api_user_keys.delete("2T0RXL9B8K5D6", "3RM9K4ZTC0C00") is deleted


BAD_CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("create", "user_id", {"user_id": ""}),
    ("list", "user_id", {"user_id": 7}),
    ("update", "key_id", {"user_id": "U", "key_id": "", "whitelisted_ips": []}),
    (
        "update",
        "whitelisted_ips[1]",
        {"user_id": "U", "key_id": "K", "whitelisted_ips": ["1.2.3.4", "1.2.3"]},
    ),
    (
        "update",
        "whitelisted_ips[0]",
        {"user_id": "U", "key_id": "K", "whitelisted_ips": ["10.0.0.1/8"]},
    ),
    (
        "update",
        "whitelisted_ips[0]",
        {"user_id": "U", "key_id": "K", "whitelisted_ips": ["example.com"]},
    ),
    ("update", "whitelisted_ips[0]", {"user_id": "U", "key_id": "K", "whitelisted_ips": [None]}),
    ("update", "whitelisted_ips", {"user_id": "U", "key_id": "K", "whitelisted_ips": "1.2.3.4"}),
    (
        "update",
        "whitelisted_ips",
        {"user_id": "U", "key_id": "K", "whitelisted_ips": ["1.1.1.1", "1.1.1.1"]},
    ),
    ("delete", "key_id", {"user_id": "U", "key_id": "k 1"}),
]


@pytest.mark.parametrize(("method", "field", "kwargs"), BAD_CALLS)
async def test_bad_input_names_the_field_and_sends_nothing(
    transport: ScriptedTransport, method: str, field: str, kwargs: dict[str, Any]
) -> None:
    client, _ = make_client(transport)
    with pytest.raises(ValidationError) as info:
        await getattr(client.api_user_keys, method)(**kwargs)
    assert info.value.field == field
    assert transport.requests == []
