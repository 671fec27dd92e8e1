"""The admin HTTP API under ``/_sandbox/``: drive the sandbox from tests in any language.

Every route needs ``Authorization: Bearer <admin token>`` (``sb.admin_token``; printed by
``kraken-prime sandbox`` as ``KRAKEN_SANDBOX_ADMIN_TOKEN``). Without it: HTTP 401
``{"error": ["EAuth:Invalid token"]}`` and nothing changes. Answers are Kraken-style envelopes
(``{"error": [], "result": ...}``); bad input is HTTP 400 ``EGeneral:Invalid arguments:<field>``.

=======================================  ==================================================
route                                    body → ``result``
=======================================  ==================================================
``POST /_sandbox/trades``                ``{"asset", "amount", "asset_kind"?}`` →
                                         ``{"trade_id"}`` (``amount`` a decimal string)
``POST /_sandbox/batches/{id}/confirm``  → ``{"batch": <the batch as Get returns it>}``
``POST /_sandbox/transfers/complete``    ``{"batch_id"?}`` → ``{"transfer_ids": [...]}``
``POST /_sandbox/faults``                ``{"operation"?, "kind", "times"?, "seconds"?,
                                         "message"?, "processed"?}`` → ``{"fault": {...}}``
``DELETE /_sandbox/faults``              → ``{"cleared": n}``
``GET /_sandbox/requests``               ``?operation=`` → ``{"requests": [...]}`` (the log;
                                         key fingerprints only, secret values ``"***"``)
``POST /_sandbox/reset``                 → ``{"reset": true}``
``POST /_sandbox/tokens``                ``{"scopes"?, "expires_in"?}`` → ``{"token",
                                         "scopes", "expires_in"}``
=======================================  ==================================================
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, Final, Protocol

from aiohttp import web

from kraken_prime_async.sandbox._errors import decode_object, invalid_arguments
from kraken_prime_async.sandbox._fast_api import DEFAULT_SCOPES
from kraken_prime_async.sandbox._faults import Fault, Faults
from kraken_prime_async.sandbox._records import RequestRecord

ADMIN_PREFIX: Final = "/_sandbox"
ERR_ADMIN_TOKEN: Final = "EAuth:Invalid token"  # noqa: S105 - an error string
_FAULT_FIELDS: Final = ("operation", "kind", "times", "seconds", "message", "processed")


class AdminTarget(Protocol):
    """The [`PrimeSandbox`][kraken_prime_async.sandbox.PrimeSandbox] methods the admin API
    drives."""

    faults: Faults

    @property
    def admin_token(self) -> str: ...

    def add_trade(
        self, asset: str, amount: str | Decimal | int, *, asset_kind: str = "currency"
    ) -> str: ...

    def confirm_batch(self, batch_id: str) -> None: ...

    def batch(self, batch_id: str) -> dict[str, Any]: ...

    def complete_transfers(self, batch_id: str | None = None) -> list[str]: ...

    def calls(self, operation: str | None = None) -> list[RequestRecord]: ...

    def reset(self) -> None: ...

    def issue_token(self, scopes: Iterable[str] = ..., *, expires_in: float = ...) -> str: ...


class BadInput(Exception):
    """An admin request with a missing or wrong field; ``str(exc)`` names it."""


Handler = Callable[[web.Request, dict[str, Any]], Awaitable[dict[str, Any]]]


def _answer(status: int, payload: dict[str, Any]) -> web.Response:
    return web.json_response(payload, status=status)


def _text(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise BadInput(name)
    return value


def fault_json(fault: Fault) -> dict[str, Any]:
    """A queued fault as JSON builtins."""
    return {name: getattr(fault, name) for name in _FAULT_FIELDS}


class AdminApi:
    """The admin routes over one sandbox."""

    def __init__(self, target: AdminTarget) -> None:
        self._target = target

    def routes(self) -> list[web.RouteDef]:
        """Every admin route, each behind the bearer check."""
        table: Sequence[tuple[str, str, Handler]] = (
            ("POST", "/trades", self._trades),
            ("POST", "/batches/{batch_id}/confirm", self._confirm),
            ("POST", "/transfers/complete", self._complete),
            ("POST", "/faults", self._add_fault),
            ("DELETE", "/faults", self._clear_faults),
            ("GET", "/requests", self._requests),
            ("POST", "/reset", self._reset),
            ("POST", "/tokens", self._tokens),
        )
        return [web.route(verb, ADMIN_PREFIX + path, self._guarded(h)) for verb, path, h in table]

    def _guarded(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def guarded(request: web.Request) -> web.StreamResponse:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            expected = self._target.admin_token.encode()
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                token.strip().encode("utf-8", "replace"), expected
            ):
                response = _answer(401, {"error": [ERR_ADMIN_TOKEN]})
                response.headers["WWW-Authenticate"] = "Bearer"
                return response
            raw = await request.read()
            body = decode_object(raw) if raw.strip() else {}
            if body is None:
                return _answer(400, {"error": [invalid_arguments()]})
            try:
                result = await handler(request, body)
            except (BadInput, ValueError, TypeError) as exc:
                return _answer(400, {"error": [invalid_arguments(str(exc))]})
            return _answer(200, {"error": [], "result": result})

        return guarded

    async def _trades(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        asset = _text(body, "asset")
        amount = body.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, (str, int)):
            raise BadInput("amount")
        kind = _text(body, "asset_kind", required=False) or "currency"
        assert asset is not None
        return {"trade_id": self._target.add_trade(asset, amount, asset_kind=kind)}

    async def _confirm(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        batch_id = request.match_info["batch_id"]
        try:
            self._target.confirm_batch(batch_id)
        except ValueError:
            raise BadInput("unknown batch_id") from None
        return {"batch": self._target.batch(batch_id)}

    async def _complete(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        batch_id = _text(body, "batch_id", required=False)
        return {"transfer_ids": self._target.complete_transfers(batch_id)}

    async def _add_fault(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(body) - set(_FAULT_FIELDS))
        if unknown:
            raise BadInput(unknown[0])
        kind = _text(body, "kind")
        operation = _text(body, "operation", required=False)
        times, seconds = body.get("times", 1), body.get("seconds")
        if times is not None and (isinstance(times, bool) or not isinstance(times, int)):
            raise BadInput("times")
        if seconds is not None and (
            isinstance(seconds, bool) or not isinstance(seconds, (int, float))
        ):
            raise BadInput("seconds")
        message, processed = body.get("message"), body.get("processed")
        if message is not None and not isinstance(message, str):
            raise BadInput("message")
        if processed is not None and not isinstance(processed, bool):
            raise BadInput("processed")
        fault = self._target.faults.add(
            operation,
            kind,  # type: ignore[arg-type]  # checked by Faults.add
            times=times,
            seconds=None if seconds is None else float(seconds),
            message=message,
            processed=processed,
        )
        return {"fault": fault_json(fault)}

    async def _clear_faults(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        cleared = len(self._target.faults)
        self._target.faults.clear()
        return {"cleared": cleared}

    async def _requests(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        operation = request.query.get("operation") or None
        return {"requests": [r.to_json() for r in self._target.calls(operation)]}

    async def _reset(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        self._target.reset()
        return {"reset": True}

    async def _tokens(self, request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        scopes = body.get("scopes", list(DEFAULT_SCOPES))
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise BadInput("scopes")
        expires_in = body.get("expires_in", 86400.0)
        if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)):
            raise BadInput("expires_in")
        if not 0 < expires_in < float("inf"):
            raise BadInput("expires_in")
        token = self._target.issue_token(scopes, expires_in=float(expires_in))
        return {"token": token, "scopes": scopes, "expires_in": float(expires_in)}
