"""Every public method and constructor x a table of bad values.

Each bad value must end in a :class:`ValidationError` naming the argument, raised before anything
reached the transport (Python's own ``TypeError`` only for an unknown keyword). A ``str``
subclass of a good value is accepted and sent exactly as the plain ``str`` would be.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timezone
from typing import Any

import aiohttp
import pytest
from yarl import URL

from kraken_prime_async import (
    FastApiKeyClient,
    PrimeClient,
    RawResponse,
    RequestTimeout,
    RetryPolicy,
    ValidationError,
)
from kraken_prime_async.models import CreatedFastApiKey, SecretStr
from tests._fakes import FAKE_SECRET, unique_key


class S(str):
    """A ``str`` subclass, as enum mixins, ORMs and settings libraries hand out."""

    __slots__ = ()


class Reached(Exception):
    """Raised by :class:`RecordingTransport`: a request got as far as the wire."""


class RecordingTransport:
    """Records every request and refuses to answer it."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes | None]] = []

    async def request(
        self,
        url: URL,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: RequestTimeout,
        *,
        operation: str,
        http_method: str = "POST",
    ) -> RawResponse:
        self.requests.append((operation, body))
        raise Reached(operation)

    async def close(self) -> None:
        return None


SURROGATE = "ab\ud800cd"
HUGE = "A" * 10_000_000  # a 10 MB id: must never be uploaded
NAIVE = datetime(2024, 1, 1)
BEFORE_1970 = datetime(1960, 1, 1, tzinfo=timezone.utc)
NAN, INF = math.nan, math.inf

#: Bad values per kind of argument. ``None`` is added for required arguments only.
BAD: dict[str, list[Any]] = {
    "id": [123, 1.5, b"B1", ["B1"], "", "a b", "a\tb", SURROGATE, "a\x00b", "a\x85b",
           "a\u202eb", "a\u2028b", "é1", HUGE, S("a b")],
    "name": [123, b"n", ["n"], "", "   ", SURROGATE, "a\x00b", "a\x85b", "a\u202eb",
             "a\u2028b", "a\u2029b", "a\u200bb", "a\x7fb", "x" * 100_000, S("a\x85b")],
    "choice": [5, True, "trader", "", SURROGATE, S("Nope"), b"Trader", ["Trader"]],
    "filter": [5, "", SURROGATE, "a b", "a\x85", HUGE, b"spot"],
    "statuses": [5, "unsettled", ["bogus"], [5], [], ["unsettled", "unsettled"],
                 [SURROGATE], object()],
    "ips": ["10.0.0.1", 5, [5], ["999.1.1.1"], ["10.0.0.1/8"], [SURROGATE], [None], b"x"],
    "int": ["5", 1.5, True, -1, 10**30, NAN, INF, object()],
    "epoch": ["123", -1, 1.5, True, NAIVE, BEFORE_1970, 10**30, NAN, object()],
    "timeout": [0, -1, INF, -INF, NAN, True, "5", object(), 10**400,
                aiohttp.ClientTimeout(total=-1), aiohttp.ClientTimeout(total=INF),
                aiohttp.ClientTimeout(total=1, connect=NAN)],
    "retry": [1, 0, True, "x", object(), RetryPolicy, {"max_attempts": 1}],
    "callback": [5, "f", object()],
    "seconds0": ["2", -1, NAN, INF, True, object()],
    "seconds": ["2", 0, -1, NAN, INF, True, object()],
    "permissions": [5, "funds_query", {"bogus": True}, {"funds_query": 1},
                    [("funds_query", True)], {5: True}],
    "created": [object(), {"api_key": "K"}, "K"],
    "base_url": [5, "", "ftp://x", "http://", "https://exa mple.com", "https://h\ud800",
                 "https://h/\x00", b"https://h"],
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Param:
    name: str
    kind: str
    required: bool = False


@dataclasses.dataclass(frozen=True)
class Method:
    """A public method, its good arguments and the arguments to try bad values in."""

    label: str
    client: str  # "prime" or "oauth"
    call: Callable[[Any, dict[str, Any]], Awaitable[Any]]
    good: dict[str, Any]
    params: tuple[Param, ...]


def _p(*spec: str) -> tuple[Param, ...]:
    """``"user_id:id!"``: argument ``user_id`` of kind ``id``, required (``!``)."""
    out = []
    for item in spec:
        name, kind = item.split(":")
        out.append(Param(name, kind.rstrip("!"), kind.endswith("!")))
    return tuple(out)


TAIL = _p("timeout:timeout", "retry:retry")


async def _iter(client: Any, kwargs: dict[str, Any]) -> None:
    async for _ in client.settlement.iter_batches(**kwargs):
        pass


async def _prime_client(client: Any, kwargs: dict[str, Any]) -> None:
    PrimeClient.from_fast_api_key(**kwargs)


CREATED = CreatedFastApiKey(api_key="FASTKEY", secret=SecretStr(FAKE_SECRET), nonce_window=5)
FIELDS = {
    "permissions": {"funds_query": True},
    "ip_allowlist": ["10.0.0.1"],
    "nonce_window": 5,
    "query_from": 1,
    "query_to": 2,
    "valid_until": 3,
}
FIELD_PARAMS = _p(
    "permissions:permissions",
    "ip_allowlist:ips",
    "nonce_window:int",
    "query_from:epoch",
    "query_to:epoch",
    "valid_until:epoch",
)


def _m(label: str, client: str, good: dict[str, Any], params: tuple[Param, ...]) -> Method:
    tag, name = label.split(".")
    if label == "settlement.iter_batches":
        return Method(label, client, _iter, good, params)
    if label == "PrimeClient.from_fast_api_key":
        return Method(label, client, _prime_client, good, params)

    async def call(c: Any, kwargs: dict[str, Any]) -> Any:
        return await getattr(getattr(c, tag), name)(**kwargs)

    return Method(label, client, call, good, params)


METHODS = [
    _m("api_users.create", "prime", {"name": "N", "role": "Trader"},
       _p("name:name!", "role:choice!") + TAIL),
    _m("api_users.get", "prime", {"user_id": "U1"}, _p("user_id:id!") + TAIL),
    _m("api_users.list", "prime", {}, TAIL),
    _m("api_users.update", "prime", {"user_id": "U1", "name": "N", "status": "Enabled"},
       _p("user_id:id!", "name:name", "status:choice") + TAIL),
    _m("api_users.update_roles", "prime", {"user_id": "U1", "role": "Viewer"},
       _p("user_id:id!", "role:choice!") + TAIL),
    _m("api_user_keys.create", "prime", {"user_id": "U1"}, _p("user_id:id!") + TAIL),
    _m("api_user_keys.list", "prime", {"user_id": "U1"}, _p("user_id:id!") + TAIL),
    _m("api_user_keys.update", "prime",
       {"user_id": "U1", "key_id": "K1", "whitelisted_ips": ["10.0.0.1"]},
       _p("user_id:id!", "key_id:id!", "whitelisted_ips:ips!") + TAIL),
    _m("api_user_keys.delete", "prime", {"user_id": "U1", "key_id": "K1"},
       _p("user_id:id!", "key_id:id!") + TAIL),
    _m("settlement.create_batch", "prime", {"asset_kind": "currency"},
       _p("asset_kind:choice") + TAIL),
    _m("settlement.get_batch", "prime", {"batch_id": "B1", "asset_kind": "spot"},
       _p("batch_id:id!", "asset_kind:filter") + TAIL),
    _m("settlement.list_batches", "prime",
       {"statuses": ["unsettled"], "from_": 1, "until": 2, "limit": 10, "offset": 0,
        "asset_kind": "spot"},
       _p("statuses:statuses", "from_:epoch", "until:epoch", "limit:int", "offset:int",
          "asset_kind:filter") + TAIL),
    _m("settlement.iter_batches", "prime",
       {"statuses": ["unsettled"], "from_": 1, "until": 2, "page_size": 10,
        "asset_kind": "spot"},
       _p("statuses:statuses", "from_:epoch", "until:epoch", "page_size:int",
          "asset_kind:filter") + TAIL),
    _m("settlement.settle_asset", "prime", {"batch_id": "B1", "asset": "BTC"},
       _p("batch_id:id!", "asset:id!") + TAIL),
    _m("settlement.settle_batch", "prime",
       {"batch_id": "B1", "concurrency": 2, "wait_for_confirmation": 0.0,
        "poll_interval": 1.0, "on_progress": lambda *a: None},
       _p("batch_id:id!", "concurrency:int", "wait_for_confirmation:seconds0",
          "poll_interval:seconds", "on_progress:callback")),
    _m("fast_api_keys.create", "oauth", {"api_key_name": "k", **FIELDS},
       _p("api_key_name:name!") + FIELD_PARAMS + TAIL),
    _m("fast_api_keys.list", "oauth", {}, TAIL),
    _m("fast_api_keys.update", "oauth", {"api_key_name": "k", "new_api_key_name": "k2", **FIELDS},
       _p("api_key_name:name!", "new_api_key_name:name") + FIELD_PARAMS + TAIL),
    _m("fast_api_keys.delete", "oauth", {"api_key_name": "k"},
       _p("api_key_name:name!") + TAIL),
    _m("PrimeClient.from_fast_api_key", "oauth", {"created": CREATED},
       _p("created:created!", "base_url:base_url", "nonce_window:int") + TAIL),
]  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Case:
    method: Method
    param: str
    value: Any

    @property
    def id(self) -> str:
        shown = repr(self.value)
        shown = shown if len(shown) <= 24 else shown[:21] + "..."
        return f"{self.method.label}-{self.param}={shown}"


def _cases() -> list[Case]:
    cases: list[Case] = []
    for method in METHODS:
        for param in method.params:
            values = list(BAD[param.kind])
            if param.required:
                values.append(None)
            cases.extend(Case(method, param.name, value) for value in values)
    return cases


CASES = _cases()


def _clients(transport: RecordingTransport) -> dict[str, Any]:
    prime = PrimeClient(
        unique_key(), FAKE_SECRET, base_url="https://prime.test", transport=transport
    )
    oauth = FastApiKeyClient("TOKEN", "https://prime.test", transport=transport)
    return {"prime": prime, "oauth": oauth}


async def run(method: Method, kwargs: dict[str, Any]) -> tuple[BaseException | None, int]:
    """Call ``method``; return what it raised (``None``: nothing) and how many requests went."""
    transport = RecordingTransport()
    client = _clients(transport)[method.client]
    try:
        await method.call(client, kwargs)
    except Exception as exc:
        return exc, len(transport.requests)
    return None, len(transport.requests)


def _named(exc: ValidationError, param: str) -> bool:
    return exc.field == param or exc.field.startswith((f"{param}[", f"{param}."))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_a_bad_argument_is_refused_before_sending(case: Case) -> None:
    raised, sent = await run(case.method, {**case.method.good, case.param: case.value})
    assert sent == 0, f"{sent} request(s) reached the transport"
    assert isinstance(raised, ValidationError), f"raised {raised!r}"
    assert _named(raised, case.param), f"names {raised.field!r}"


@pytest.mark.parametrize("method", METHODS, ids=[m.label for m in METHODS])
async def test_the_good_arguments_reach_the_wire(method: Method) -> None:
    raised, sent = await run(method, dict(method.good))
    if method.label == "PrimeClient.from_fast_api_key":
        assert (raised, sent) == (None, 0)
    else:
        assert isinstance(raised, Reached) and sent == 1


@pytest.mark.parametrize("method", METHODS, ids=[m.label for m in METHODS])
async def test_an_unknown_keyword_is_pythons_type_error(method: Method) -> None:
    raised, sent = await run(method, {**method.good, "bogus": 1})
    assert isinstance(raised, TypeError) and sent == 0


STR_PARAMS = [
    (m, p.name)
    for m in METHODS
    if m.label != "PrimeClient.from_fast_api_key"
    for p in m.params
    if p.kind in ("id", "name", "choice", "filter")
]


@pytest.mark.parametrize(
    ("method", "param"), STR_PARAMS, ids=[f"{m.label}-{p}" for m, p in STR_PARAMS]
)
async def test_a_str_subclass_is_sent_as_the_plain_str(method: Method, param: str) -> None:
    plain = RecordingTransport()
    subclassed = RecordingTransport()
    for transport, value in ((plain, method.good[param]), (subclassed, S(method.good[param]))):
        client = _clients(transport)[method.client]
        with pytest.raises(Reached):
            await method.call(client, {**method.good, param: value})

    def fields(body: bytes | None) -> dict[str, Any]:
        import json

        decoded: dict[str, Any] = json.loads(body or b"{}")
        decoded.pop("nonce", None)
        return decoded

    assert [fields(b) for _, b in subclassed.requests] == [fields(b) for _, b in plain.requests]


# Constructors ------------------------------------------------------------------------------

CTOR_BAD: dict[str, list[Any]] = {
    "api_key": BAD["id"] + [None],
    "api_secret": [5, None, "", "not base64!", SURROGATE, b"abc"],
    "access_token": [5, "", "a b", "a\nb", SURROGATE, b"t"],
    "base_url": [*BAD["base_url"], None],
    "session": [5, "s", object()],
    "timeout": BAD["timeout"],
    "retry": BAD["retry"],
    "nonce_unit": ["hours", 5, None],
    "nonce_source": [object(), 5],
    "nonce_window": BAD["int"],
    "max_in_flight": [*BAD["int"], 0],
    "rate_limit": ["bogus", 5, object()],
    "fleet": [object(), 5],
    "secret_encoding": ["hex", 5, None],
    "transport": [object(), 5, "t"],
    "sleep": [5, "s", object()],
    "clock": [5, "c"],
    "token_provider": [5, "x"],
    "max_response_bytes": [0, -1, "1", 1.5, True, None, NAN],
}

PRIME_PARAMS = (
    "api_key", "api_secret", "base_url", "session", "timeout", "retry", "nonce_unit",
    "nonce_source", "nonce_window", "max_in_flight", "rate_limit", "fleet", "secret_encoding",
    "transport", "sleep", "clock", "max_response_bytes",
)  # fmt: skip
OAUTH_PARAMS = (
    "access_token", "base_url", "session", "timeout", "retry", "token_provider", "transport",
    "sleep", "clock", "max_response_bytes",
)  # fmt: skip

CTOR_CASES = [
    (cls, param, value)
    for cls, params in ((PrimeClient, PRIME_PARAMS), (FastApiKeyClient, OAUTH_PARAMS))
    for param in params
    for value in CTOR_BAD[param]
]


def _good_ctor_kwargs(cls: type, param: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"base_url": "https://prime.test"}
    if param != "session":
        kwargs["transport"] = RecordingTransport()
    if cls is PrimeClient:
        kwargs.update(api_key=unique_key(), api_secret=FAKE_SECRET)
    else:
        kwargs["access_token"] = "TOKEN"
    return kwargs


@pytest.mark.parametrize(
    ("cls", "param", "value"),
    CTOR_CASES,
    ids=[f"{c.__name__}-{p}={v!r:.24}" for c, p, v in CTOR_CASES],
)
def test_a_bad_constructor_argument_is_refused(cls: type, param: str, value: Any) -> None:
    client: Any = object.__new__(cls)
    with pytest.raises(ValidationError) as info:
        client.__init__(**{**_good_ctor_kwargs(cls, param), param: value})
    assert _named(info.value, param), f"names {info.value.field!r}"
    assert type(client).__name__ in repr(client)  # a half-built client still renders


@pytest.mark.parametrize("cls", [PrimeClient, FastApiKeyClient])
def test_an_unknown_constructor_keyword_is_pythons_type_error(cls: type) -> None:
    with pytest.raises(TypeError):
        cls(**_good_ctor_kwargs(cls, "-"), bogus=1)


RETRY_BAD: dict[str, list[Any]] = {
    "max_attempts": [0, -1, "3", 1.5, True, None, 10**30],
    "max_nonce_retries": [-1, "1", 1.5, None, True],
    "initial_backoff": ["1", -1, NAN, INF, None, True],
    "rate_limit_backoff": ["1", -1, NAN, INF, None],
    "max_backoff": ["1", -1, NAN, INF, None],
    "max_throttle_wait": ["1", -1, NAN, INF, None],
    "jitter": ["yes", 1, None],
}
RETRY_CASES = [(field, value) for field, values in RETRY_BAD.items() for value in values]


@pytest.mark.parametrize(
    ("field", "value"), RETRY_CASES, ids=[f"{f}={v!r:.24}" for f, v in RETRY_CASES]
)
def test_a_bad_retry_policy_field_is_refused(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        RetryPolicy(**{field: value})
    assert info.value.field == field
