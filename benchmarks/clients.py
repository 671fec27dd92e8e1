"""One adapter per client library, each making the same signed private call.

Every adapter is built for one base URL and one scenario (``"tiny"`` calls ``ListPrimeApiUsers``
without arguments, ``"large"`` calls ``ListPrimeSettlementBatches`` with ``limit=200``) and
returns what its library returns. ``items`` counts the entries of such a result, so a run can check
that every client really decoded the answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import inspect
import itertools
import time
from typing import Any, Literal, Protocol

import aiohttp
import msgspec
from yarl import URL

from .payloads import LARGE_BATCHES, LARGE_METHOD, TINY_METHOD

Scenario = Literal["tiny", "large"]

SECRET = base64.b64encode(hashlib.sha512(b"kraken-prime-bench").digest()).decode()
_key_counter = itertools.count(1)


def fresh_key(name: str) -> str:
    """A distinct API key per client instance (our nonce source is per key and process-wide)."""
    return f"bench-{name}-{next(_key_counter)}"


def method_of(scenario: Scenario) -> str:
    return TINY_METHOD if scenario == "tiny" else LARGE_METHOD


def params_of(scenario: Scenario) -> dict[str, Any]:
    return {} if scenario == "tiny" else {"limit": LARGE_BATCHES}


class AsyncClient(Protocol):
    name: str

    async def open(self) -> None: ...

    async def call(self) -> Any: ...

    async def close(self) -> None: ...


class SyncClient(Protocol):
    name: str

    def open(self) -> None: ...

    def call(self) -> Any: ...

    def close(self) -> None: ...


class Ours:
    """``kraken_prime_async.PrimeClient`` through its public methods."""

    name = "kraken_prime_async"

    def __init__(self, base_url: str, scenario: Scenario) -> None:
        self._base_url = base_url
        self._scenario = scenario
        self._client: Any = None

    async def open(self) -> None:
        from kraken_prime_async import PrimeClient

        self._client = PrimeClient(fresh_key("ours"), SECRET, base_url=self._base_url)
        await self._client.__aenter__()

    async def call(self) -> Any:
        if self._scenario == "tiny":
            return await self._client.api_users.list()
        return await self._client.settlement.list_batches(limit=LARGE_BATCHES)

    async def close(self) -> None:
        await self._client.close()


class OursUnwatched(Ours):
    """Ours with ``abandon_hold=0``: an abandoned request is neither watched nor held, so the
    exchange runs in the caller's task. Beside ``Ours`` it prices the watch (the exchange's
    task of its own) that the default keeps."""

    name = "kraken_prime_async (abandon_hold=0: no watch)"

    async def open(self) -> None:
        from kraken_prime_async import PrimeClient

        self._client = PrimeClient(
            fresh_key("ours-unwatched"), SECRET, base_url=self._base_url, abandon_hold=0
        )
        await self._client.__aenter__()


class OursWindowed(Ours):
    """Ours with a nonce window on the key, so up to 50 requests may overlap.

    With Kraken's default window of 0 our client sends one request per key at a time (an
    overtaken nonce would be rejected), so at concurrency 50 it queues where the floor and the
    peers do not; this variant is the like-for-like concurrent comparison. Skipped when the
    installed ``PrimeClient`` has no ``nonce_window`` parameter.
    """

    name = "kraken_prime_async (nonce_window, 50 in flight)"

    @staticmethod
    def available() -> bool:
        from kraken_prime_async import PrimeClient

        return "nonce_window" in inspect.signature(PrimeClient).parameters

    async def open(self) -> None:
        from kraken_prime_async import PrimeClient

        self._client = PrimeClient(
            fresh_key("ours-window"),
            SECRET,
            base_url=self._base_url,
            nonce_window=60_000,  # ms: a minute, far longer than any request here
            max_in_flight=50,
        )
        await self._client.__aenter__()


class Floor:
    """The least a correct caller must do: nonce, JSON body, signature, POST, decode to dicts.

    One shared ``ClientSession`` configured like ours (no cookie jar, 100 connections), URL built
    once, HMAC keyed once and copied per call, ``msgspec.json.decode`` into plain dicts, and the
    ``error`` array checked. No validation, retries, stats or typed models.
    """

    name = "bare aiohttp (floor)"

    def __init__(self, base_url: str, scenario: Scenario) -> None:
        method = method_of(scenario)
        self._path = f"/0/private/{method}".encode()
        self._url = URL(f"{base_url}/0/private/{method}")
        params = msgspec.json.encode(params_of(scenario))
        self._tail = b"}" if params == b"{}" else b"," + params[1:]
        self._key = fresh_key("floor")
        self._mac = hmac.new(base64.b64decode(SECRET), digestmod=hashlib.sha512)
        self._last_nonce = 0
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(
            cookie_jar=aiohttp.DummyCookieJar(), connector=aiohttp.TCPConnector(limit=100)
        )

    def _nonce(self) -> int:
        nonce = max(int(time.time() * 1000), self._last_nonce + 1)
        self._last_nonce = nonce
        return nonce

    def sign(self, nonce: int, body: bytes) -> str:
        """``API-Sign``: HMAC-SHA512(secret, path + SHA256(nonce + body)), base64."""
        mac = self._mac.copy()
        mac.update(self._path + hashlib.sha256(b"%d" % nonce + body).digest())
        return base64.b64encode(mac.digest()).decode()

    def body(self, nonce: int) -> bytes:
        return b'{"nonce":%d' % nonce + self._tail

    async def call(self) -> Any:
        assert self._session is not None
        nonce = self._nonce()
        body = b'{"nonce":%d' % nonce + self._tail
        headers = {
            "API-Key": self._key,
            "API-Sign": self.sign(nonce, body),
            "Content-Type": "application/json",
        }
        async with self._session.post(self._url, data=body, headers=headers) as response:
            raw = await response.read()
        decoded = msgspec.json.decode(raw)
        if response.status != 200 or decoded["error"]:
            raise RuntimeError(f"floor: HTTP {response.status} {decoded.get('error')}")
        return decoded["result"]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class AiohttpAlone(Floor):
    """A bound, not a client: what aiohttp's request path costs with nothing else to do.

    The floor's session, but the body and headers are built and signed once at start-up (the
    server checks neither nonce nor signature), no per-request timer is set
    (``ClientTimeout()``), the request goes through ``ClientSession._request`` without the
    context-manager wrapper, and the answer is read but not decoded. A client that signs each
    request and decodes each answer cannot cost less than this while it sends with aiohttp; the
    targets table shows this row's ratio to the floor as the *bound* beside each target.
    """

    name = "aiohttp alone (bound)"

    async def open(self) -> None:
        await super().open()
        nonce = self._nonce()
        self._body = self.body(nonce)
        self._headers = {
            "API-Key": self._key,
            "API-Sign": self.sign(nonce, self._body),
            "Content-Type": "application/json",
        }
        self._no_timer = aiohttp.ClientTimeout()

    async def call(self) -> Any:
        assert self._session is not None
        response = await self._session._request(
            "POST",
            self._url,
            data=self._body,
            headers=self._headers,
            timeout=self._no_timer,
            allow_redirects=False,
        )
        async with response:
            return await response.read()


class PythonKrakenSdk:
    """python-kraken-sdk: ``SpotAsyncClient(url=...)`` and its generic signed ``request``.

    It has no Prime methods; ``request("POST", "/0/private/<Method>", do_json=True)`` signs and
    sends any private method (``url=`` points it at the loopback server, no monkeypatching).
    """

    name = "python-kraken-sdk"

    def __init__(self, base_url: str, scenario: Scenario) -> None:
        self._base_url = base_url
        self._uri = f"/0/private/{method_of(scenario)}"
        self._params = params_of(scenario)
        self._client: Any = None

    async def open(self) -> None:
        from kraken.base_api import SpotAsyncClient

        self._client = SpotAsyncClient(fresh_key("pks"), SECRET, url=self._base_url)

    async def call(self) -> Any:
        return await self._client.request(
            "POST", self._uri, params=dict(self._params), do_json=True
        )

    async def close(self) -> None:
        await self._client.close()


class Ccxt:
    """ccxt's async ``kraken`` with ``urls['api']`` pointed at the loopback server.

    ccxt has no Prime methods; ``request(<Method>, "private", "POST", params)`` is the generic
    signed call behind ``privatePostBalance`` and friends (form-encoded body). Its client-side rate
    limiter is switched off, or it would sleep between calls.
    """

    name = "ccxt (async)"

    def __init__(self, base_url: str, scenario: Scenario) -> None:
        self._base_url = base_url
        self._method = method_of(scenario)
        self._params = params_of(scenario)
        self._exchange: Any = None

    async def open(self) -> None:
        import ccxt.async_support as ccxt_async

        self._exchange = ccxt_async.kraken(
            {"apiKey": fresh_key("ccxt"), "secret": SECRET, "enableRateLimit": False}
        )
        self._exchange.urls["api"] = {"public": self._base_url, "private": self._base_url}

    async def call(self) -> Any:
        response = await self._exchange.request(
            self._method, ["private"], "POST", dict(self._params)
        )
        return response["result"]

    async def close(self) -> None:
        await self._exchange.close()


class Krakenex:
    """krakenex (synchronous, requests): ``uri`` set to the loopback server."""

    name = "krakenex (sync)"

    def __init__(self, base_url: str, scenario: Scenario) -> None:
        self._base_url = base_url
        self._method = method_of(scenario)
        self._params = params_of(scenario)
        self._api: Any = None

    def open(self) -> None:
        import krakenex

        self._api = krakenex.API(fresh_key("krakenex"), SECRET)
        self._api.uri = self._base_url

    def call(self) -> Any:
        response = self._api.query_private(self._method, dict(self._params))
        if response["error"]:
            raise RuntimeError(f"krakenex: {response['error']}")
        return response["result"]

    def close(self) -> None:
        self._api.close()


ASYNC_CLIENTS: tuple[type[Ours | Floor | PythonKrakenSdk | Ccxt], ...] = (
    Ours,
    *((OursWindowed,) if OursWindowed.available() else ()),
    Floor,
    AiohttpAlone,
    PythonKrakenSdk,
    Ccxt,
)
SYNC_CLIENTS: tuple[type[Krakenex], ...] = (Krakenex,)
FLOOR_NAME = Floor.name
OURS_NAME = Ours.name


def check_floor_signature() -> None:
    """The floor's hand-made signature must equal the SDK's, or the comparison is meaningless."""
    from kraken_prime_async._signing import sign

    floor = Floor("http://127.0.0.1:1", "large")
    nonce = 1_700_000_000_000
    body = floor.body(nonce)
    expected = sign(f"/0/private/{LARGE_METHOD}", nonce, body, SECRET)
    if floor.sign(nonce, body) != expected or body != b'{"nonce":%d,"limit":200}' % nonce:
        raise AssertionError("the floor does not sign like kraken_prime_async")


def items(result: Any) -> int:
    """How many users or batches a client's result holds (typed, dict, or the bound's bytes)."""
    if isinstance(result, bytes):
        result = msgspec.json.decode(result)["result"]
    if isinstance(result, list):
        return len(result)
    data = result["data"] if isinstance(result, dict) else result.data
    return len(data)


class OursWindowedUnwatched(OursWindowed):
    """``OursWindowed`` with ``abandon_hold=0``: the concurrent row's price of the watch."""

    name = "kraken_prime_async (nonce_window, abandon_hold=0: no watch)"

    async def open(self) -> None:
        from kraken_prime_async import PrimeClient

        self._client = PrimeClient(
            fresh_key("ours-window-unwatched"),
            SECRET,
            base_url=self._base_url,
            nonce_window=60_000,
            max_in_flight=50,
            abandon_hold=0,
        )
        await self._client.__aenter__()
