"""Kraken Connect OAuth ``/oauth/fast-api-key`` (create, list, update, delete Fast API keys).

Auth is ``Authorization: Bearer <token>`` with a token from ``PrimeSandbox.issue_token``. A missing,
unknown or expired token gives HTTP 401 ``{"error": ["EAuth:Invalid token"]}``; a token without
the needed scope (``account.fast-api-key:read`` for GET, ``…:write`` otherwise) gives HTTP 403
``{"error": ["EGeneral:Permission denied"]}``. Bad input gives HTTP 400
``{"error": ["EGeneral:Invalid arguments:<field>"]}``; an existing name on create/rename gives
``…:duplicate api_key_name`` and an unknown name ``…:unknown api_key_name``.

A created key is a Prime key: its ``api_key``/``secret`` sign Prime calls with owner rights and
the given ``nonce_window``; ``valid_until`` (epoch seconds, 0 = never) expires it; deleting it
revokes it at once. ``last_used`` is epoch seconds; ``created_time``/``modified_time`` are ISO 8601.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Final

from kraken_prime_async.sandbox._errors import decode_object, invalid_arguments
from kraken_prime_async.sandbox._records import Outcome, error_outcome
from kraken_prime_async.sandbox._state import SandboxKey, SandboxState

SCOPE_READ: Final = "account.fast-api-key:read"
SCOPE_WRITE: Final = "account.fast-api-key:write"
DEFAULT_SCOPES: Final = (SCOPE_READ, SCOPE_WRITE)
PERMISSION_NAMES: Final = (
    "funds_query",
    "funds_add",
    "funds_withdraw",
    "funds_earn",
    "trades_query_open",
    "trades_query_closed",
    "trades_modify",
    "trades_close",
    "ledger_query",
    "export_data",
)
#: HTTP verb → Fast API operation name.
FAST_API_OPERATIONS: Final = {
    "POST": "CreateFastApiKey",
    "GET": "ListFastApiKeys",
    "PUT": "UpdateFastApiKey",
    "DELETE": "DeleteFastApiKey",
}
ERR_INVALID_TOKEN: Final = "EAuth:Invalid token"  # noqa: S105 - an error string
ERR_SCOPE: Final = "EGeneral:Permission denied"
ERR_DUPLICATE: Final = invalid_arguments("duplicate api_key_name")
ERR_UNKNOWN_NAME: Final = invalid_arguments("unknown api_key_name")


@dataclass(frozen=True)
class TokenRecord:
    """An issued bearer token."""

    scopes: frozenset[str]
    expires_at: float


@dataclass
class FastKeyRecord:
    """A Fast API key's metadata around its Prime ``SandboxKey``."""

    id: str
    name: str
    key: SandboxKey
    created_time: str
    modified_time: str
    ip_allowlist: list[str] = field(default_factory=list)
    permissions: dict[str, bool | None] = field(default_factory=dict)
    query_from: float = 0
    query_to: float = 0


def _name(value: Any) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 32


def _number(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _non_negative(value: Any) -> bool:
    return _number(value) and (value is None or value >= 0)


def _ips(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _permissions(value: Any) -> bool:
    return isinstance(value, dict) and all(
        k in PERMISSION_NAMES and (v is None or isinstance(v, bool)) for k, v in value.items()
    )


_PARAMETERS: Final = {
    "api_key_name": _name,
    "ip_allowlist": _ips,
    "nonce_window": _non_negative,
    "permissions": _permissions,
    "query_from": _number,
    "query_to": _number,
    "valid_until": _number,
}
_UPDATE: Final = {**_PARAMETERS, "new_api_key_name": lambda v: v is None or _name(v)}
_DELETE: Final = {"api_key_name": _name}


def _check(
    body: Mapping[str, Any], schema: Mapping[str, Any], required: Iterable[str]
) -> str | None:
    for name in body:
        if name not in schema:
            return name
    for name in required:
        if name not in body:
            return name
    for name, value in body.items():
        if not schema[name](value):
            return name
    return None


def _iso(now: float) -> str:
    return datetime.fromtimestamp(now, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def new_token(nbytes: int) -> str:
    """A random URL-safe token that does not start with ``-`` (it goes on command lines, where
    ``--token -x...`` would read as an option)."""
    token = secrets.token_urlsafe(nbytes)
    while token.startswith("-"):
        token = secrets.token_urlsafe(nbytes)
    return token


class FastApi:
    """Tokens and Fast API keys of the sandbox account."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state
        self._tokens: dict[str, TokenRecord] = {}
        self.keys: dict[str, FastKeyRecord] = {}

    def moved_to(self, state: SandboxState) -> FastApi:
        """A Fast API over a fresh account state that keeps this one's issued tokens."""
        moved = FastApi(state)
        moved._tokens = self._tokens
        return moved

    def issue_token(self, scopes: Iterable[str], expires_at: float) -> str:
        """Register and return a new bearer token."""
        token = new_token(32)
        self._tokens[token] = TokenRecord(frozenset(scopes), expires_at)
        return token

    def revoke_token(self, token: str) -> None:
        """Forget a token (later use gives HTTP 401)."""
        self._tokens.pop(token, None)

    def handle(self, http_method: str, authorization: str, body: bytes, now: float) -> Outcome:
        """Process one request to ``/oauth/fast-api-key``."""
        scheme, _, token_text = authorization.partition(" ")
        token = self._tokens.get(token_text.strip()) if scheme.lower() == "bearer" else None
        if token is None or now >= token.expires_at:
            return error_outcome(ERR_INVALID_TOKEN, status=401)
        needed = SCOPE_READ if http_method == "GET" else SCOPE_WRITE
        if needed not in token.scopes:
            return error_outcome(ERR_SCOPE, status=403)
        if http_method == "GET":
            return Outcome(200, {"result": [self._info(k) for k in self.keys.values()]}, True)
        params = decode_object(body) if body.strip() else {}
        if params is None:
            return error_outcome(invalid_arguments(), status=400)
        if http_method == "POST":
            return self._create(params, now)
        if http_method == "PUT":
            return self._update(params, now)
        return self._delete(params)

    def _create(self, params: dict[str, Any], now: float) -> Outcome:
        bad = _check(params, _PARAMETERS, ["api_key_name"])
        if bad is not None:
            return error_outcome(invalid_arguments(bad), status=400)
        if params["api_key_name"] in self.keys:
            return error_outcome(ERR_DUPLICATE, status=400)
        key = self._state.new_key(
            "fast", None, int(now * 1000), nonce_window=int(params.get("nonce_window") or 0)
        )
        raw_id = base64.b64encode(secrets.token_bytes(12)).decode("ascii")
        fast = FastKeyRecord(
            id=raw_id.replace("+", "_").replace("/", ",").replace("=", "-"),
            name=params["api_key_name"],
            key=key,
            created_time=_iso(now),
            modified_time=_iso(now),
            permissions=dict.fromkeys(PERMISSION_NAMES),
        )
        self._apply(fast, params)
        self.keys[fast.name] = fast
        return Outcome(200, {"result": {"secret": key.api_secret, **self._info(fast)}}, True)

    def _update(self, params: dict[str, Any], now: float) -> Outcome:
        bad = _check(params, _UPDATE, ["api_key_name"])
        if bad is not None:
            return error_outcome(invalid_arguments(bad), status=400)
        fast = self.keys.get(params["api_key_name"])
        if fast is None:
            return error_outcome(ERR_UNKNOWN_NAME, status=400)
        new_name = params.get("new_api_key_name")
        if new_name is not None and new_name != fast.name and new_name in self.keys:
            return error_outcome(ERR_DUPLICATE, status=400)
        self._apply(fast, params)
        if new_name is not None:
            del self.keys[fast.name]
            fast.name = new_name
            self.keys[new_name] = fast
        fast.modified_time = _iso(now)
        return Outcome(200, {"result": True}, True)

    def _delete(self, params: dict[str, Any]) -> Outcome:
        bad = _check(params, _DELETE, ["api_key_name"])
        if bad is not None:
            return error_outcome(invalid_arguments(bad), status=400)
        fast = self.keys.pop(params["api_key_name"], None)
        if fast is None:
            return error_outcome(ERR_UNKNOWN_NAME, status=400)
        fast.key.deleted = True
        return Outcome(200, {"result": True}, True)

    @staticmethod
    def _apply(fast: FastKeyRecord, params: Mapping[str, Any]) -> None:
        """Replace every non-null field present in ``params``."""
        if params.get("ip_allowlist") is not None:
            fast.ip_allowlist = list(params["ip_allowlist"])
            fast.key.whitelisted_ips = list(params["ip_allowlist"])
        if params.get("permissions") is not None:
            fast.permissions = {**dict.fromkeys(PERMISSION_NAMES), **params["permissions"]}
        if params.get("nonce_window") is not None:
            fast.key.nonces.set_window(int(params["nonce_window"]))
        if params.get("query_from") is not None:
            fast.query_from = params["query_from"]
        if params.get("query_to") is not None:
            fast.query_to = params["query_to"]
        if params.get("valid_until") is not None:
            fast.key.valid_until = params["valid_until"]

    @staticmethod
    def _info(fast: FastKeyRecord) -> dict[str, Any]:
        """``APIKeyInfo`` (no secret)."""
        return {
            "api_key": fast.key.api_key,
            "api_key_name": fast.name,
            "created_time": fast.created_time,
            "id": fast.id,
            "ip_allowlist": list(fast.ip_allowlist),
            "last_used": int(fast.key.last_used),
            "modified_time": fast.modified_time,
            "nonce": fast.key.nonces.highest or 0,
            "nonce_window": fast.key.nonces.window,
            "oauth_client": "kraken-prime-sandbox",
            "permissions": dict(fast.permissions),
            "purpose": "standard",
            "query_from": fast.query_from,
            "query_to": fast.query_to,
            "valid_until": fast.key.valid_until,
        }
