"""API-Sign: the official vector, the derived JSON vectors, and secret handling."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random

import pytest

from kraken_prime_async import PrimeClient, ValidationError
from kraken_prime_async._signing import Signer, decode_secret, sign, verify

OFFICIAL_SECRET = (
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
)
NONCE = 1616492376594


def test_official_form_encoded_vector() -> None:
    body = b"nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
    assert sign("/0/private/AddOrder", NONCE, body, OFFICIAL_SECRET) == (
        "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
    )


def test_never_keys_the_hmac_with_the_undecoded_secret() -> None:
    body = b"nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
    wrong = (
        "zA0LsmBEQjAhiVXDC0d286hCa9i387Mf1ZKLsYKEAfzW+x3m5FeiAkR7eoNxQ7ykM1KedtbCWKAZ4wyKRSmgfQ=="
    )
    assert sign("/0/private/AddOrder", NONCE, body, OFFICIAL_SECRET) != wrong
    raw_keyed = Signer(OFFICIAL_SECRET.encode()).sign(b"/0/private/AddOrder", NONCE, body)
    assert raw_keyed == wrong  # the negative vector is what the raw-bytes mistake produces


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        (
            "/0/private/ListPrimeApiUserKeys",
            b'{"nonce":1616492376594,"user_id":"2T0RXL9B8K5D6"}',
            "s00Io6+kbAPuXdf7KzWXFJ5chhMUZ1ZaMoPErjs7hNK4A627qn2KzZ3s1slpwAI7RTzgH8T6o0uYKPSgkvgpfQ==",
        ),
        (
            "/0/private/ListPrimeApiUserKeys",
            b'{"nonce": 1616492376594, "user_id": "2T0RXL9B8K5D6"}',
            "uXl7DriVk3qmGk2AwmZSpdIR51v4Rx7moQbmFGFr4TMAkaUlS4+p15guruY/rMyrJcPTOx+FwroJVxPf9tQ6TQ==",
        ),
        (
            "/0/private/ListPrimeApiUsers",
            b'{"nonce":1616492376594}',
            "XLGGWFb8g4TYNzuMWfmVvGq3JYiEgSzvedsR/lx5nl9jqHaoC2N+7SOskLPeleiprOlb0kaflZUIDvB5JlMvEQ==",
        ),
        (
            "/0/private/CreatePrimeSettlementBatch",
            b'{"nonce":1616492376594,"asset_kind":"currency"}',
            "RaXP8UJXsbILlXwJBlAPOLCzwawOXLpBn3dGNIcPKgTvCD71ilxdciQZSClMvun0mMABMD66CdP4NxUlBQaNUg==",
        ),
        (
            "/0/private/AddOrder",
            b'{"nonce":1616492376594,"ordertype":"limit","pair":"XBTUSD","price":37500,'
            b'"type":"buy","volume":1.25}',
            "kt1BXzwIvefKvBv6KKk2EDnbrxEGNWetNmjmXyYDHXIJYlIwvW0mQvC/OkeGzEt4OUvVS49Qd9gSBNMfE3iZ7Q==",
        ),
    ],
    ids=["D1", "D2", "D3", "D4", "D5"],
)
def test_json_body_vectors(path: str, body: bytes, expected: str) -> None:
    assert sign(path, NONCE, body, OFFICIAL_SECRET) == expected


def test_verify_is_the_inverse_of_sign() -> None:
    key = decode_secret(OFFICIAL_SECRET)
    body = b'{"nonce":1616492376594}'
    signature = sign("/0/private/ListPrimeApiUsers", NONCE, body, OFFICIAL_SECRET)
    assert verify(b"/0/private/ListPrimeApiUsers", NONCE, body, key, signature)
    assert not verify(b"/0/private/ListPrimeApiUsers", NONCE + 1, body, key, signature)
    assert not verify(b"/0/private/ListPrimeApiUsers", NONCE, body + b" ", key, signature)


def test_decoded_secret_is_64_bytes() -> None:
    assert len(decode_secret(OFFICIAL_SECRET)) == 64


@pytest.mark.parametrize(
    "bad",
    [
        "6xq8p1mvk9r3n7swt2l5cj4eaydhzbf",  # the documentation's placeholder: not base64
        "not base64 at all!!",
        "QUJD$",
        "",
    ],
)
def test_invalid_secret_fails_at_construction_without_echoing_it(bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        PrimeClient("KEY", bad)
    assert info.value.field == "api_secret"
    if bad:
        assert bad not in str(info.value)
        assert bad not in repr(info.value)
    # nothing chained at all: the decoding error (whose frames held the secret) is not kept
    assert info.value.__cause__ is None and info.value.__context__ is None
    chained = info.value.__context__
    while chained is not None:  # nothing in the chain may carry the secret either
        assert not bad or bad not in str(chained)
        chained = chained.__context__


def test_raw_secret_encoding_is_an_explicit_opt_in() -> None:
    client = PrimeClient("KEY-RAW", "6xq8p1mvk9r3n7swt2l5cj4eaydhzbf", secret_encoding="raw")
    assert "6xq8p1mvk9r3n7swt2l5cj4eaydhzbf" not in repr(client)


def test_signer_reuses_its_keyed_state() -> None:
    signer = Signer(decode_secret(OFFICIAL_SECRET))
    body = b'{"nonce":1616492376594}'
    first = signer.sign(b"/0/private/ListPrimeApiUsers", NONCE, body)
    assert signer.sign(b"/0/private/ListPrimeApiUsers", NONCE, body) == first
    assert base64.b64decode(first) and "hidden" in repr(signer)


@pytest.mark.parametrize(
    "length", [0, 1, 31, 32, 63, 64, 65, 111, 112, 127, 128, 129, 200, 256, 300]
)
def test_the_kept_keyed_states_compute_stdlib_hmac_for_every_key_length(length: int) -> None:
    """The signer keeps RFC 2104's padded-key SHA-512 states; ``hmac`` is the reference: keys
    shorter than, equal to and longer than SHA-512's 128-byte block (hashed first)."""
    rng = random.Random(length)
    key = bytes(rng.randrange(256) for _ in range(length))
    signer = Signer(key)
    for nonce in (0, 1, NONCE, 2**63 - 1):
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
        inner = hashlib.sha256(str(nonce).encode() + body).digest()
        expected = hmac.new(key, b"/0/private/X" + inner, hashlib.sha512).digest()
        assert base64.b64decode(signer.sign(b"/0/private/X", nonce, body)) == expected


def test_signing_does_not_consume_the_kept_states() -> None:
    """Each request copies the keyed states: signing one body never changes the next signature."""
    signer = Signer(decode_secret(OFFICIAL_SECRET))
    first = signer.sign(b"/0/private/A", NONCE, b"{}")
    signer.sign(b"/0/private/B", NONCE + 1, b'{"x":1}' * 100)
    assert signer.sign(b"/0/private/A", NONCE, b"{}") == first
