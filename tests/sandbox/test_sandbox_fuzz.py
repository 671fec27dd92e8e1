"""A bounded hypothesis fuzz of the sandbox over HTTP: no 5xx, and every answer is a Kraken
envelope whose error strings are well formed (a code, a printable non-empty detail)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import itertools
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kraken_prime_async.sandbox._operations import PRIME_OPERATIONS
from tests.cli._support import ThreadedSandbox

pytestmark = pytest.mark.integration

ERROR = re.compile(r"^E[A-Za-z]+:\s?[^\x00-\x1f\x7f]+$")
_NONCES = itertools.count(1_000_000)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
arguments = st.dictionaries(
    st.sampled_from(["user_id", "key_id", "batch_id", "asset", "name", "role", "status"])
    | st.text(max_size=12),
    json_values,
    max_size=4,
)
nonces = st.one_of(
    st.none(),
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**64 + 2),
    st.text(max_size=5),
    st.just("next"),
)
bodies = st.one_of(
    st.builds(lambda args, nonce: {**args, "nonce": nonce}, arguments, nonces),
    json_values,
    st.binary(max_size=64),
    st.integers(min_value=1, max_value=3000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(min_value=1, max_value=3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
)
paths = st.one_of(
    st.sampled_from([f"/0/private/{name}" for name in PRIME_OPERATIONS]),
    st.sampled_from(["/oauth/fast-api-key", "/0/public/Time", "/_sandbox/requests"]),
    st.sampled_from(["/_sandbox/trades", "/_sandbox/faults", "/_sandbox/tokens"]),
    st.sampled_from(["/_sandbox/transfers/complete", "/_sandbox/batches/B_X/confirm"]),
    st.text(max_size=20).map(lambda text: "/0/private/" + quote(text, safe="")),
    st.text(max_size=20).map(lambda text: "/" + quote(text, safe="/")),
)
verbs = st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "DELETE", "PATCH", "HEAD"])
signing = st.sampled_from(["valid", "none", "garbage", "other-key", "admin"])


@pytest.fixture(scope="module")
def threaded() -> Iterator[ThreadedSandbox]:
    with ThreadedSandbox(lockout_after=10**6, seed=5).running() as running:
        running.sync(lambda: running.sandbox.add_trade("BTC", "1"))
        yield running


def _encode(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, dict) and body.get("nonce") == "next":
        body = {**body, "nonce": next(_NONCES)}
    return json.dumps(body).encode()


def _headers(sb: Any, path: str, body: bytes, how: str) -> dict[str, str]:
    token = {"valid": sb.issue_token(), "admin": sb.admin_token}.get(how, "not-a-token")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if how == "none":
        return {}
    headers["API-Key"] = sb.api_key if how != "other-key" else "KRA-UNKNOWN"
    try:
        nonce = json.loads(body)["nonce"]
    except (ValueError, TypeError, KeyError, RecursionError):
        nonce = 0
    inner = hashlib.sha256(str(nonce).encode() + body).digest()
    mac = hmac.new(base64.b64decode(sb.api_secret), path.encode() + inner, hashlib.sha512)
    headers["API-Sign"] = base64.b64encode(mac.digest()).decode() if how == "valid" else "x=="
    return headers


@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(verb=verbs, path=paths, body=bodies, how=signing)
def test_every_answer_is_a_well_formed_envelope(
    threaded: ThreadedSandbox, verb: str, path: str, body: Any, how: str
) -> None:
    payload = _encode(body)
    headers = threaded.sync(lambda: _headers(threaded.sandbox, path, payload, how))
    address = urlsplit(threaded.sandbox.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
    try:
        connection.request(verb, path, body=None if verb == "HEAD" else payload, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    assert response.status < 500, (response.status, raw[:200])
    if verb == "HEAD":
        return
    assert response.getheader("Content-Type", "").startswith("application/json"), raw[:200]
    answer = json.loads(raw)
    assert isinstance(answer, dict)
    errors = answer.get("error", [])
    assert isinstance(errors, list)
    for error in errors:
        assert isinstance(error, str) and ERROR.match(error) and error.isprintable(), error
    if not errors:
        assert "result" in answer
