"""Lazily decoded result fields: ``Batch.legs`` and ``Batch.trade_ids`` are kept as views of the
answer's bytes and decoded on first read (``_lazy.py``)."""

from __future__ import annotations

import array
import copy
import gc
import pickle
import weakref
from typing import Any

import msgspec
import pytest

from kraken_prime_async import PrimeClient, ResponseValidationError
from kraken_prime_async.models import Batch, BatchPage, Leg
from kraken_prime_async.models._lazy import materialized
from tests._fakes import BATCH, FAKE_SECRET, LEG, ScriptedTransport, make_client, ok, unique_key
from tests._loopback_raw import raw_http_server

WIRE = msgspec.json.encode(BATCH)


def _decoded(document: Any = BATCH) -> Batch:
    return msgspec.json.decode(msgspec.json.encode(document), type=Batch)


def _eager() -> Batch:
    """The same batch built by hand: what an eager decode produced."""
    leg = Leg(
        asset="BTC",
        amount_text="1.5",
        status="unsettled",
        can_settle=True,
        settled_at=123,
        latest_spot_transfer={},
    )
    return Batch(
        id="B_Y7T2LPVX",
        attributes=_decoded().attributes,
        legs=(leg,),
        trade_ids=_decoded().trade_ids,
    )


def test_unread_fields_stay_views_until_read_then_the_value_is_kept() -> None:
    batch = _decoded()
    fields = msgspec.structs.asdict(batch)
    assert isinstance(fields["legs"], msgspec.Raw) and isinstance(fields["trade_ids"], msgspec.Raw)
    legs = batch.legs
    assert batch.legs is legs  # decoded once, then kept
    assert msgspec.structs.asdict(batch)["legs"] is legs  # the view is replaced in the slot
    assert legs[0].latest_spot_transfer == {} and legs[0].started is False
    assert legs == _eager().legs and batch.trade_ids == _eager().trade_ids


def test_equality_hash_and_repr_match_an_eager_batch_without_reading_first() -> None:
    eager = _eager()
    assert _decoded() == eager and eager == _decoded()
    assert repr(_decoded()) == repr(eager)
    assert _decoded() != _decoded({**BATCH, "trade_ids": ["other"]})
    hashable = {**BATCH, "legs": [{**LEG, "latest_spot_transfer": None}]}
    assert hash(_decoded(hashable)) == hash(_decoded(hashable))


def test_encoding_round_trips_read_or_not() -> None:
    unread = msgspec.json.encode(_decoded())  # an unread field is written as Kraken sent it
    read = _decoded()
    _ = read.legs, read.trade_ids
    assert msgspec.json.decode(unread, type=Batch) == msgspec.json.decode(
        msgspec.json.encode(read), type=Batch
    )
    # unread, a leg is Kraken's own JSON (its keys only); read, every field of ``Leg``
    assert msgspec.json.decode(unread)["legs"] == BATCH["legs"]


def test_to_builtins_needs_the_fields_read_and_materialized_reads_a_whole_tree() -> None:
    page = msgspec.json.decode(msgspec.json.encode({"data": [BATCH, BATCH]}), type=BatchPage)
    with pytest.raises(TypeError, match="Raw"):
        msgspec.to_builtins(page)
    assert materialized(page) is page
    assert msgspec.to_builtins(page) == msgspec.to_builtins(BatchPage(data=(_eager(), _eager())))


def test_the_constructor_takes_typed_values_and_never_decodes_them() -> None:
    leg = Leg(asset="ETH")
    batch = Batch(id="B", legs=(leg,), trade_ids=None)
    assert batch.legs == (leg,) and batch.trade_ids is None and leg.latest_spot_transfer is None
    assert Batch(id="B").legs == () and Batch(id="B").trade_ids is None


def test_lazy_fields_are_read_only() -> None:
    batch = _decoded()
    with pytest.raises(AttributeError, match="immutable"):
        batch.legs = ()  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del batch.trade_ids
    assert batch.legs == _eager().legs


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({**BATCH, "trade_ids": [1, 2]}, r"Batch\.trade_ids"),
        ({**BATCH, "legs": "not a list"}, r"Batch\.legs"),
        ({**BATCH, "legs": [{**LEG, "asset": 5}]}, r"Batch\.legs: .*asset"),
    ],
)
def test_a_malformed_field_raises_on_read_naming_it(document: Any, field: str) -> None:
    batch = _decoded(document)  # the answer itself decodes
    name = field.split("\\.")[1].split(":")[0]
    for _ in range(2):  # nothing is kept of a failed read
        with pytest.raises(ResponseValidationError, match=field) as info:
            getattr(batch, name)
        assert info.value.__cause__ is None and info.value.__context__ is None


def test_a_malformed_latest_spot_transfer_fails_the_read_of_the_legs() -> None:
    batch = _decoded({**BATCH, "legs": [{**LEG, "latest_spot_transfer": [1]}]})
    with pytest.raises(ResponseValidationError, match=r"Batch\.legs: .*latest_spot_transfer"):
        _ = batch.legs


def test_the_answer_is_kept_until_every_lazy_field_is_read() -> None:
    """The retention trade-off: the views hold the answer's buffer; reading them lets it go."""
    body = array.array("B", msgspec.json.encode({"data": [BATCH]}))  # a buffer we can watch
    alive = weakref.ref(body)
    page = msgspec.json.decode(body, type=BatchPage)
    del body
    gc.collect()
    assert alive() is not None
    batch = page.data[0]
    _ = batch.trade_ids
    gc.collect()
    assert alive() is not None  # the legs are still a view
    _ = batch.legs
    gc.collect()
    assert alive() is None


def test_copies_and_pickles_keep_working_read_or_not() -> None:
    for batch in (_decoded(), materialized(_decoded())):
        assert copy.copy(batch) == _eager()
        assert pickle.loads(pickle.dumps(batch)) == _eager()  # noqa: S301 - our own bytes
        assert msgspec.structs.replace(batch, id="B2").legs == _eager().legs


async def test_through_the_client_the_page_reads_like_before(transport: ScriptedTransport) -> None:
    transport.queue(ok({"data": [BATCH, {**BATCH, "id": "B_2"}]}))
    client, _ = make_client(transport)
    page = await client.settlement.list_batches()
    assert [batch.id for batch in page.data] == ["B_Y7T2LPVX", "B_2"]
    assert page.data[0] == _eager() and page.data[1].legs == _eager().legs


@pytest.mark.parametrize("framing", ["length", "chunked", "gzip"])
async def test_a_page_read_over_http_in_any_framing_decodes_lazily(framing: str) -> None:
    """The capped read hands the decoder one buffer whatever the framing (chunked and compressed
    answers are joined once), and the lazy fields decode from it."""
    page = {"data": [BATCH, {**BATCH, "id": "B_2"}] * 200}  # over one 64 KiB read
    body = msgspec.json.encode({"error": [], "result": page})
    async with (
        raw_http_server(200, framing, body) as base_url,
        PrimeClient(unique_key(), FAKE_SECRET, base_url=base_url) as client,
    ):
        got = await client.settlement.list_batches()
    assert len(got.data) == 400 and got.data[399].id == "B_2"
    assert all(batch == _eager() for batch in got.data[::2])
