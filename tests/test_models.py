"""Result Structs: ``Leg`` keeps Kraken's amount text and parses it on access."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from kraken_prime_async import KrakenPrimeError, ResponseValidationError
from kraken_prime_async.models import Batch, Leg, Transfer
from tests._fakes import BATCH, LEG, ScriptedTransport, make_client, ok

_leg_decoder = msgspec.json.Decoder(Leg)


def _leg(amount: str) -> Leg:
    return _leg_decoder.decode(msgspec.json.encode({"asset": "BTC", "amount": amount}))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1.5", Decimal("1.5")),
        ("1.50", Decimal("1.50")),
        ("-0.5", Decimal("-0.5")),
        ("-50000.10", Decimal("-50000.10")),
        ("1E-8", Decimal("1E-8")),
        ("2.5e+3", Decimal("2500")),
        ("0", Decimal(0)),
    ],
)
def test_decode_keeps_the_wire_text_and_amount_parses_it(text: str, value: Decimal) -> None:
    leg = _leg(text)
    assert leg.amount_text == text
    assert isinstance(leg.amount, Decimal) and leg.amount == value
    assert str(leg.amount) == str(Decimal(text))  # exponent and trailing zeros kept


def test_missing_or_null_amount_stays_none() -> None:
    assert _leg_decoder.decode(b'{"asset": "ETH"}').amount is None
    assert _leg_decoder.decode(b'{"asset": "ETH", "amount": null}').amount_text is None
    assert Leg(asset="ETH").amount is None


@pytest.mark.parametrize("text", ["abc", "", "1.2.3", "1,5"])
def test_malformed_amount_raises_a_response_validation_error_naming_the_field(text: str) -> None:
    leg = _leg(text)  # decoding keeps the text; reading the amount fails
    assert leg.amount_text == text
    with pytest.raises(ResponseValidationError, match=r"Leg\.amount") as info:
        _ = leg.amount
    assert isinstance(info.value, KrakenPrimeError) and repr(text) in str(info.value)


def test_amount_is_read_only_and_not_a_constructor_keyword() -> None:
    leg = Leg(asset="BTC", amount_text="1.5")
    with pytest.raises(AttributeError):
        leg.amount = Decimal(2)  # type: ignore[misc]
    with pytest.raises(TypeError):
        Leg(asset="BTC", amount=Decimal("1.5"))  # type: ignore[call-arg]


def test_encoding_writes_the_wire_name_and_round_trips() -> None:
    leg = _leg("1E-8")
    encoded = msgspec.json.decode(msgspec.json.encode(leg))
    assert encoded["amount"] == "1E-8" and "amount_text" not in encoded
    assert msgspec.to_builtins(leg)["amount"] == "1E-8"
    assert _leg_decoder.decode(msgspec.json.encode(leg)) == leg


def test_equality_and_repr_follow_the_wire_text() -> None:
    one, one_zero = Leg(asset="BTC", amount_text="1.0"), Leg(asset="BTC", amount_text="1.00")
    assert one != one_zero and one.amount == one_zero.amount
    assert "amount_text='1.00'" in repr(one_zero)


def test_a_numeric_amount_is_not_a_decimal_string() -> None:
    """Kraken documents amounts as strings; a JSON number is a shape error at decode time."""
    with pytest.raises(msgspec.ValidationError, match=r"\$\.amount"):
        _leg_decoder.decode(b'{"asset": "BTC", "amount": 1.5}')


def test_transfer_amount_stays_a_decimal_field() -> None:
    transfer = msgspec.json.decode(
        b'{"id": "1", "attributes": {"transfer_amount": "1.50"}}', type=Transfer
    )
    assert transfer.attributes.transfer_amount == Decimal("1.50")
    assert str(transfer.attributes.transfer_amount) == "1.50"


async def test_batch_legs_through_the_client(transport: ScriptedTransport) -> None:
    legs = [LEG, {**LEG, "asset": "ETH", "amount": "-3.000"}, {**LEG, "asset": "X", "amount": "?"}]
    transport.queue(ok({"batch": {**BATCH, "legs": legs}}))
    client, _ = make_client(transport)
    batch = await client.settlement.get_batch("B_Y7T2LPVX")
    assert isinstance(batch, Batch)
    eth = batch.leg("ETH")
    assert eth is not None and eth.amount_text == "-3.000" and eth.amount == Decimal(-3)
    broken = batch.leg("X")
    assert broken is not None
    with pytest.raises(ResponseValidationError, match=r"Leg\.amount"):
        _ = broken.amount


async def test_a_numeric_amount_fails_the_first_read_of_the_legs(
    transport: ScriptedTransport,
) -> None:
    """Legs are decoded on first read: a malformed one fails that read, naming the field."""
    transport.queue(ok({"batch": {**BATCH, "legs": [{**LEG, "amount": 1.5}]}}))
    client, _ = make_client(transport)
    batch = await client.settlement.get_batch("B_Y7T2LPVX")
    for _ in range(2):  # nothing is kept of a failed read: it fails again the same way
        with pytest.raises(ResponseValidationError, match=r"Batch\.legs: .*amount") as info:
            _ = batch.legs
        assert info.value.__cause__ is None and info.value.__context__ is None
