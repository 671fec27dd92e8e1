"""The sandbox HTTP server: routing and the per-request pipeline.

Every ``POST /0/private/<Method>`` goes through, in order: fault lookup → simulated latency →
(fault ``delay``) → method lookup → ``API-Key`` → lockout → key state → body/nonce parsing →
``API-Sign`` → nonce rule → call counter → permission → argument schema → handler → fault rewrite
→ request log. Requests to ``/oauth/fast-api-key`` share the fault, latency and log steps.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from decimal import Decimal
from types import TracebackType
from typing import Any, Final, NamedTuple

import msgspec
from aiohttp import web

from kraken_prime_async._signing import verify
from kraken_prime_async.sandbox._endpoints import ENDPOINTS, Access, Context, parse_amount, validate
from kraken_prime_async.sandbox._fast_api import DEFAULT_SCOPES, OPERATIONS, FastApi
from kraken_prime_async.sandbox._faults import Fault, Faults
from kraken_prime_async.sandbox._records import Outcome, RequestRecord, error_outcome
from kraken_prime_async.sandbox._rules import TIERS, CallCounter, Lockout, Tier, TierLimits
from kraken_prime_async.sandbox._state import (
    ASSET_KINDS,
    ROLES,
    ApiKey,
    BusinessRuleError,
    SandboxState,
)
from kraken_prime_async.sandbox._views import JSON, batch_view

ERR_INVALID_KEY: Final = "EAPI:Invalid key"
ERR_INVALID_SIGNATURE: Final = "EAPI:Invalid signature"
ERR_INVALID_NONCE: Final = "EAPI:Invalid nonce"
ERR_RATE_LIMIT: Final = "EAPI:Rate limit exceeded"
ERR_LOCKOUT: Final = "EGeneral:Temporary lockout"
ERR_PERMISSION: Final = "EGeneral:Permission denied"
ERR_UNKNOWN_METHOD: Final = "EGeneral:Unknown Method"
ERR_INVALID_ARGUMENTS: Final = "EGeneral:Invalid arguments"
ERR_INTERNAL: Final = "EGeneral:Internal error"

_HTML: Final = (
    "<html><head><title>{code} {reason}</title></head><body><center><h1>{code} {reason}</h1>"
    "</center><hr><center>cloudflare</center></body></html>"
)
_SHUTDOWN_TIMEOUT: Final = 1.0


class SandboxCredentials(NamedTuple):
    """A key pair issued by :meth:`PrimeSandbox.add_api_key`."""

    key_id: str
    api_key: str
    api_secret: str


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _peek_nonce(body: bytes) -> int | None:
    try:
        parsed = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    nonce = parsed.get("nonce") if isinstance(parsed, dict) else None
    return nonce if type(nonce) is int else None


class PrimeSandbox:
    """An in-process Kraken Prime REST server on loopback, with real state and Kraken's rules.

    Parameters
    ----------
    host : str, default "127.0.0.1"
        Interface to bind.
    port : int, default 0
        TCP port; 0 picks a free one (see :attr:`url`).
    tier : {"starter", "intermediate", "pro"} or TierLimits, default "intermediate"
        Call-counter tier: max 15/20/20, decay 0.33/0.5/1 per second, or custom limits (tests
        use a fast-decaying counter). Every call costs 1.
    rate_limit : bool, default True
        ``False`` turns the call counter off.
    nonce_window : int, default 0
        Nonce window (nonce units) of the master key and of keys created later.
    auto_confirm_after : float or None, default None
        Seconds (sandbox clock) after creation at which a batch confirms itself; ``None``: only
        :meth:`confirm_batch` confirms.
    latency : tuple[float, float] or None, default None
        Uniform random delay (real seconds) before each request is processed, so concurrent
        requests overtake each other.
    seed : int or None
        Seed for identifiers and latency draws.
    lockout_after : int, default 15
        Invalid key/signature/nonce failures on one key within ``lockout_window`` that lock it.
    lockout_window : float, default 60.0
        Seconds over which failures are counted.
    lockout_seconds : float, default 900.0
        Lockout length; requests during a lockout do not extend it.
    clock : Callable[[], float], default time.time
        Epoch seconds; drives rate-limit decay, lockouts, auto-confirm, token expiry and every
        timestamp the API returns.

    Examples
    --------
    >>> async with PrimeSandbox() as sb:  # doctest: +SKIP
    ...     trade_id = sb.add_trade("BTC", "1.5")
    ...     client = PrimeClient(sb.api_key, sb.api_secret, base_url=sb.url)
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tier: Tier | TierLimits = "intermediate",
        rate_limit: bool = True,
        nonce_window: int = 0,
        auto_confirm_after: float | None = None,
        latency: tuple[float, float] | None = None,
        seed: int | None = None,
        lockout_after: int = 15,
        lockout_window: float = 60.0,
        lockout_seconds: float = 900.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(tier, TierLimits) and tier not in TIERS:
            raise ValueError(f"tier must be one of {sorted(TIERS)} or a TierLimits")
        if nonce_window < 0:
            raise ValueError("nonce_window must be >= 0")
        if latency is not None and not 0 <= latency[0] <= latency[1]:
            raise ValueError("latency must be (low, high) with 0 <= low <= high")
        if lockout_after < 1:
            raise ValueError("lockout_after must be >= 1")
        self._host = host
        self._port = port
        self._limits = tier if isinstance(tier, TierLimits) else TIERS[tier]
        self._rate_limit = rate_limit
        self._auto_confirm_after = auto_confirm_after
        self._latency = latency
        self._lockout_params = (lockout_after, lockout_window, lockout_seconds)
        self._clock = clock
        self._rng = random.Random(seed)  # noqa: S311 - identifiers, not secrets
        self._latency_rng = random.Random(seed)  # noqa: S311
        self._state = SandboxState(self._rng, nonce_window)
        self._fast = FastApi(self._state)
        self._master = self._state.new_key("master", None, _ms(clock()))
        self._counters: dict[str, CallCounter] = {}
        self._lockouts: dict[str, Lockout] = {}
        self._log: list[RequestRecord] = []
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self.faults = Faults([*ENDPOINTS, *OPERATIONS.values()])
        """Fault injection queue; see :class:`Faults`."""

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the port and start serving (idempotent)."""
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_post("/0/private/{method}", self._handle_prime)
        app.router.add_route("GET", "/0/public/Time", self._handle_time)
        app.router.add_route("POST", "/0/public/Time", self._handle_time)
        app.router.add_route("*", "/oauth/fast-api-key", self._handle_fast_api)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        port = runner.addresses[0][1]
        self._url = f"http://{self._host}:{port}"

    async def close(self) -> None:
        """Stop serving (idempotent). State is kept; :meth:`start` serves it again."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> PrimeSandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def serve_forever(self, *, announce: Callable[[str], None] | None = print) -> None:
        """Serve until cancelled, first announcing the URL and owner credentials."""
        await self.start()
        try:
            if announce is not None:
                announce(f"url={self.url}")
                announce(f"api_key={self.api_key}")
                announce(f"api_secret={self.api_secret}")
            await asyncio.Event().wait()
        finally:
            await self.close()

    # -- public accessors ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://<host>:<port>``, the client's ``base_url``; only while started."""
        if self._url is None or self._runner is None:
            raise RuntimeError("the sandbox is not started")
        return self._url

    @property
    def api_key(self) -> str:
        """The account owner's public key (every permission)."""
        return self._master.api_key

    @property
    def api_secret(self) -> str:
        """The account owner's secret (base64 of 64 random bytes)."""
        return self._master.api_secret

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request so far, in processing order (a copy)."""
        return list(self._log)

    def calls(self, method: str | None = None) -> list[RequestRecord]:
        """Logged requests for ``method`` (all when ``None``)."""
        return [r for r in self._log if method is None or r.method == method]

    def clear_requests(self) -> None:
        """Empty the request log."""
        self._log.clear()

    # -- scripting helpers -----------------------------------------------------------------------

    def add_trade(
        self, asset: str, amount: str | Decimal | int, *, asset_kind: str = "currency"
    ) -> str:
        """Book a trade (positive amount: we receive ``asset``) and return its uuid4 id."""
        if not isinstance(asset, str) or not asset:
            raise ValueError("asset must be a non-empty string")
        if asset_kind not in ASSET_KINDS:
            raise ValueError(f"asset_kind must be one of {ASSET_KINDS}")
        return self._state.add_trade(asset, parse_amount(amount), asset_kind, self._now_ms())

    def confirm_batch(self, batch_id: str) -> None:
        """Confirm a batch as Kraken does on its side (needed before settling)."""
        self._tick()
        try:
            self._state.confirm_batch(batch_id, self._now_ms())
        except BusinessRuleError:
            raise ValueError(f"unknown batch_id {batch_id!r}") from None

    def complete_transfers(self, batch_id: str | None = None) -> list[str]:
        """Complete every pending transfer (optionally of one batch); return their ids.

        Their legs become ``settled`` (``settled_at`` set) and batches update their status.
        """
        self._tick()
        return self._state.complete_transfers(self._now_ms(), batch_id)

    def batch(self, batch_id: str) -> JSON:
        """The batch as ``GetPrimeSettlementBatch`` would return it (no request logged)."""
        self._tick()
        try:
            return batch_view(self._state.batch(batch_id))
        except BusinessRuleError:
            raise ValueError(f"unknown batch_id {batch_id!r}") from None

    def add_api_user(self, name: str, role: str = "Trader") -> str:
        """Create an enabled API user directly; return its ``user_id``."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        return self._state.create_user(name, role).id

    def add_api_key(self, user_id: str) -> SandboxCredentials:
        """Create a key for an API user directly."""
        if user_id not in self._state.users:
            raise ValueError(f"unknown user_id {user_id!r}")
        key = self._state.new_key("user", user_id, self._now_ms())
        return SandboxCredentials(key.id, key.api_key, key.api_secret)

    def set_nonce_window(self, api_key: str, window: int) -> None:
        """Set the nonce window (nonce units, ``>= 0``) of one key."""
        key = self._state.keys.get(api_key)
        if key is None:
            raise ValueError("unknown api_key")
        key.nonces.set_window(window)

    def call_counter(self, api_key: str) -> float:
        """The key's call-counter value now (0 if never used)."""
        counter = self._counters.get(api_key)
        return 0.0 if counter is None else counter.current(self._clock())

    def issue_token(
        self, scopes: Iterable[str] = DEFAULT_SCOPES, *, expires_in: float = 86400.0
    ) -> str:
        """Issue an OAuth bearer token for ``/oauth/fast-api-key``.

        Parameters
        ----------
        scopes : Iterable[str]
            Granted scopes; GET needs ``account.fast-api-key:read``, the rest
            ``account.fast-api-key:write`` (both by default).
        expires_in : float, default 86400
            Lifetime in seconds on the sandbox clock.
        """
        return self._fast.issue_token(scopes, self._clock() + expires_in)

    def revoke_token(self, token: str) -> None:
        """Invalidate a bearer token."""
        self._fast.revoke_token(token)

    # -- request pipeline ------------------------------------------------------------------------

    def _now_ms(self) -> int:
        return _ms(self._clock())

    def _tick(self) -> None:
        if self._auto_confirm_after is not None:
            self._state.auto_confirm(self._now_ms(), _ms(self._auto_confirm_after))

    async def _handle_time(self, request: web.Request) -> web.StreamResponse:
        """Kraken's public ``Time``: the sandbox clock in Unix seconds and RFC 1123."""
        now = self._clock()
        return _json(200, {"error": [], "result": {"unixtime": int(now), "rfc1123": rfc1123(now)}})

    async def _handle_prime(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, request.match_info["method"], self._process_prime)

    async def _handle_fast_api(self, request: web.Request) -> web.StreamResponse:
        operation = OPERATIONS.get(request.method)
        if operation is None:
            return web.Response(status=405)
        return await self._serve(request, operation, self._process_fast_api)

    async def _serve(
        self,
        request: web.Request,
        method: str,
        process: Callable[[web.Request, str, bytes], Outcome],
    ) -> web.StreamResponse:
        fault = self.faults.take(method)
        if self._latency is not None:
            await asyncio.sleep(self._latency_rng.uniform(*self._latency))
        body = await request.read()
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
        if fault is None or fault.processed:
            outcome = process(request, method, body)
        else:
            outcome = Outcome(0, {}, api_key=request.headers.get("API-Key"))
            outcome.nonce = _peek_nonce(body)
        status, errors, response = self._respond(request, fault, outcome)
        self._log.append(
            RequestRecord(
                seq=len(self._log),
                method=method,
                api_key=outcome.api_key,
                nonce=outcome.nonce,
                status=status,
                errors=errors,
                processed=outcome.processed,
                fault=None if fault is None else fault.kind,
                timestamp=self._clock(),
            )
        )
        return response

    def _respond(
        self, request: web.Request, fault: Fault | None, outcome: Outcome
    ) -> tuple[int | None, tuple[str, ...], web.StreamResponse]:
        kind = None if fault is None else fault.kind
        if fault is None or kind == "delay":
            return outcome.status, outcome.errors, _json(outcome.status, outcome.payload)
        if kind in ("drop_before", "drop_after"):
            if request.transport is not None:
                request.transport.close()
            return None, (), web.Response()
        if kind == "http_500":
            return 500, (ERR_INTERNAL,), _json(500, {"error": [ERR_INTERNAL]})
        if kind in ("http_502_html", "http_503_html"):
            code, reason = (502, "Bad Gateway") if kind == "http_502_html" else (503, "Unavailable")
            page = _HTML.format(code=code, reason=reason)
            return code, (), web.Response(status=code, text=page, content_type="text/html")
        if kind == "malformed_json":
            encoded = msgspec.json.encode(outcome.payload)
            truncated = encoded[: max(1, len(encoded) // 2)]
            response = web.Response(status=200, body=truncated, content_type="application/json")
            return 200, outcome.errors, response
        if kind == "throttled":
            message = f"EService: Throttled: {int(self._clock() + fault.seconds)}"
        else:
            message = fault.message or ERR_INTERNAL
        return 200, (message,), _json(200, {"error": [message]})

    def _process_fast_api(self, request: web.Request, method: str, body: bytes) -> Outcome:
        self._tick()
        authorization = request.headers.get("Authorization", "")
        return self._fast.handle(request.method, authorization, body, self._clock())

    def _process_prime(self, request: web.Request, method: str, body: bytes) -> Outcome:
        now = self._clock()
        self._tick()
        key_text = request.headers.get("API-Key") or None
        nonce = _peek_nonce(body)
        ident: dict[str, Any] = {"api_key": key_text, "nonce": nonce}
        endpoint = ENDPOINTS.get(method)
        if endpoint is None:
            return error_outcome(ERR_UNKNOWN_METHOD, **ident)
        if key_text is None:
            return error_outcome(ERR_INVALID_KEY, **ident)
        lockout = self._lockout(key_text)
        if lockout.is_locked(now):
            return error_outcome(ERR_LOCKOUT, **ident)
        key = self._state.live_key(key_text)
        if key is None or (key.valid_until and now >= key.valid_until):
            lockout.record_failure(now)
            return error_outcome(ERR_INVALID_KEY, **ident)
        try:
            params = msgspec.json.decode(body)
        except msgspec.DecodeError:
            params = None
        if not isinstance(params, dict):
            return error_outcome(ERR_INVALID_ARGUMENTS, **ident)
        if nonce is None or not 0 <= nonce < 2**64:
            return error_outcome(f"{ERR_INVALID_ARGUMENTS}:nonce", **ident)
        signature = request.headers.get("API-Sign", "")
        path = request.rel_url.raw_path.encode("ascii", "replace")
        if not signature or not verify(path, nonce, body, key.hmac_key, signature):
            lockout.record_failure(now)
            return error_outcome(ERR_INVALID_SIGNATURE, **ident)
        nonce_ok = key.nonces.accept(nonce)
        within_limit = self._charge(key_text, now)
        if not nonce_ok:
            lockout.record_failure(now)
            return error_outcome(ERR_INVALID_NONCE, **ident)
        if not within_limit:
            return error_outcome(ERR_RATE_LIMIT, **ident)
        key.last_used = now
        if not self._allowed(key, endpoint.access):
            return error_outcome(ERR_PERMISSION, **ident)
        args = {name: value for name, value in params.items() if name != "nonce"}
        bad = validate(endpoint.fields, args)
        if bad is not None:
            return error_outcome(f"{ERR_INVALID_ARGUMENTS}:{bad}", **ident)
        try:
            result = endpoint.handler(Context(self._state, _ms(now)), args)
        except BusinessRuleError as exc:
            return error_outcome(str(exc), **ident)
        return Outcome(200, {"error": [], "result": result}, processed=True, **ident)

    def _lockout(self, key_text: str) -> Lockout:
        lockout = self._lockouts.get(key_text)
        if lockout is None:
            lockout = Lockout(*self._lockout_params)
            self._lockouts[key_text] = lockout
        return lockout

    def _charge(self, key_text: str, now: float) -> bool:
        if not self._rate_limit:
            return True
        counter = self._counters.get(key_text)
        if counter is None:
            counter = CallCounter(self._limits)
            self._counters[key_text] = counter
        return counter.charge(now)

    def _allowed(self, key: ApiKey, access: Access) -> bool:
        if key.user_id is None:
            return True
        if access == "owner":
            return False
        roles = self._state.users[key.user_id].roles
        if access == "read":
            return "Trader" in roles or "Viewer" in roles
        return "Trader" in roles


def rfc1123(now: float) -> str:
    """``Tue, 14 Nov 23 22:13:20 +0000`` as Kraken writes it (2-digit year, English names)."""
    moment = datetime.fromtimestamp(now, tz=timezone.utc)
    day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[moment.weekday()]
    month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][
        moment.month - 1
    ]
    return f"{day}, {moment:%d} {month} {moment:%y %H:%M:%S} +0000"


def _json(status: int, payload: dict[str, Any]) -> web.Response:
    return web.Response(
        status=status, body=msgspec.json.encode(payload), content_type="application/json"
    )


async def serve(
    host: str = "127.0.0.1", port: int = 0, *, announce: Callable[[str], None] | None = print
) -> None:
    """Run a default :class:`PrimeSandbox` on ``host:port`` until cancelled (for the CLI)."""
    await PrimeSandbox(host=host, port=port).serve_forever(announce=announce)
