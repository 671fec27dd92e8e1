"""``PrimeSandbox``: options, lifecycle, the request log and the scripting helpers.

The HTTP side lives in ``_http`` (API routes and the per-request steps), the Prime request chain in
``_prime``, the OAuth Fast API in ``_fast_api`` and the admin API in ``_admin``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from types import TracebackType
from typing import Final, NamedTuple

from aiohttp import web

from kraken_prime_async.sandbox._admin import AdminApi
from kraken_prime_async.sandbox._fast_api import (
    DEFAULT_SCOPES,
    FAST_API_OPERATIONS,
    FastApi,
    new_token,
)
from kraken_prime_async.sandbox._faults import Faults
from kraken_prime_async.sandbox._http import RequestServer
from kraken_prime_async.sandbox._operations import PRIME_OPERATIONS, parse_amount
from kraken_prime_async.sandbox._prime import LockoutPolicy, PrimeChain
from kraken_prime_async.sandbox._records import Announcement, RequestRecord, print_exports
from kraken_prime_async.sandbox._rules import TIERS, Tier, TierLimits, check_options
from kraken_prime_async.sandbox._state import (
    ASSET_KINDS,
    ROLES,
    BusinessRuleError,
    SandboxState,
)
from kraken_prime_async.sandbox._views import JSON, batch_view

_SHUTDOWN_TIMEOUT: Final = 1.0
#: Lifetime of the OAuth token in the start-up announcement (sandbox clock seconds).
ANNOUNCED_TOKEN_SECONDS: Final = 30 * 86400.0


class SandboxCredentials(NamedTuple):
    """A key pair issued by
    [`PrimeSandbox.add_api_key()`][kraken_prime_async.sandbox.PrimeSandbox.add_api_key]."""

    key_id: str
    api_key: str
    api_secret: str


class PrimeSandbox:
    """An in-process Kraken Prime REST server on loopback, with real state and Kraken's rules.

    Parameters
    ----------
    host : str, default "127.0.0.1"
        Interface to bind.
    port : int, default 0
        TCP port; 0 picks a free one (see [`url`][kraken_prime_async.sandbox.PrimeSandbox.url]).
    tier : Literal["starter", "intermediate", "pro"] | TierLimits, default "intermediate"
        Call-counter tier: max 15/20/20, decay 0.33/0.5/1 per second, or custom limits. Every
        call costs 1.
    rate_limit : bool, default True
        ``False`` turns the call counter off.
    nonce_window : int, default 0
        Nonce window (nonce units) of the master key and of keys created later.
    auto_confirm_after : float or None, default None
        Seconds (sandbox clock) after creation at which a batch confirms itself; ``None``: only
        [`confirm_batch()`][kraken_prime_async.sandbox.PrimeSandbox.confirm_batch] confirms.
    latency : tuple[float, float] or None, default None
        Uniform random delay (real seconds) before each request is processed, so concurrent
        requests overtake each other.
    seed : int or None
        Seed for identifiers and latency draws.
    lockout_after : int, default 15
        Invalid key/signature/nonce failures in a row on one key that lock it (a request that
        passes the nonce check clears the count).
    lockout_seconds : float, default 900.0
        Lockout length, counted again from each request made during the lockout.
    clock : Callable[[], float], default time.time
        Epoch seconds; drives rate-limit decay, lockouts, auto-confirm, token expiry and every
        timestamp the API returns.
    api_key, api_secret : str, optional
        Fixed credentials for the account owner (a base64 secret); random by default.
    admin_token : str, optional
        The bearer token of the ``/_sandbox/`` admin API; random by default.
    on_request : Callable[[RequestRecord], None], optional
        Called with every request log record as it is logged.

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
        lockout_seconds: float = 900.0,
        clock: Callable[[], float] = time.time,
        api_key: str | None = None,
        api_secret: str | None = None,
        admin_token: str | None = None,
        on_request: Callable[[RequestRecord], None] | None = None,
    ) -> None:
        check_options(tier, nonce_window, latency, lockout_after, auto_confirm_after)
        if (api_key is None) != (api_secret is None):
            raise ValueError("give both api_key and api_secret, or neither")
        if admin_token is not None and (not admin_token or not admin_token.isprintable()):
            raise ValueError("admin_token must be a non-empty printable string")
        self._host = host
        self._port = port
        self._auto_confirm_after = auto_confirm_after
        self._clock = clock
        self._rng = random.Random(seed)  # noqa: S311 - identifiers, not secrets
        self._state = SandboxState(self._rng, nonce_window)
        self._fast = FastApi(self._state)
        credentials = None if api_key is None or api_secret is None else (api_key, api_secret)
        self._master = self._state.new_key("master", None, self._now_ms(), None, credentials)
        self._admin_token = admin_token or new_token(24)
        self._announced_token: str | None = None
        self._log: list[RequestRecord] = []
        self._on_request = on_request
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self.faults = Faults([*PRIME_OPERATIONS, *FAST_API_OPERATIONS.values()])
        """Fault injection queue; see [`Faults`][kraken_prime_async.sandbox.Faults]."""
        limits = tier if isinstance(tier, TierLimits) else TIERS[tier]
        policy = LockoutPolicy(lockout_after, lockout_seconds)
        self._chain = PrimeChain(lambda: self._state, limits if rate_limit else None, policy)
        self._server = RequestServer(
            chain=self._chain,
            fast_api=lambda: self._fast,
            faults=self.faults,
            clock=clock,
            tick=self._tick,
            latency=latency,
            rng=random.Random(seed),  # noqa: S311 - latency draws
            log=self._append,
            next_seq=lambda: len(self._log),
        )

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the port and start serving (idempotent).

        Raises
        ------
        OSError
            When the port cannot be bound (in use, not allowed).
        """
        if self._runner is not None:
            return
        app = web.Application()
        app.add_routes(self._server.routes())
        app.add_routes(AdminApi(self).routes())
        app.router.add_route("*", r"/{tail:[\s\S]*}", self._server.not_found)
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
        """Stop serving (idempotent). State is kept;
        [`start()`][kraken_prime_async.sandbox.PrimeSandbox.start] serves it again."""
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

    async def serve_forever(
        self, *, announce: Callable[[Announcement], None] | None = print_exports
    ) -> None:
        """Serve until cancelled, first handing
        [`announcement()`][kraken_prime_async.sandbox.PrimeSandbox.announcement] to ``announce``."""
        await self.start()
        try:
            if announce is not None:
                announce(self.announcement())
            await asyncio.Event().wait()
        finally:
            await self.close()

    def announcement(self) -> Announcement:
        """URL and credentials to hand to a user (an OAuth token is issued on the first call)."""
        if self._announced_token is None:
            self._announced_token = self.issue_token(expires_in=ANNOUNCED_TOKEN_SECONDS)
        return Announcement(
            self.url, self.api_key, self.api_secret, self._announced_token, self._admin_token
        )

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
    def admin_token(self) -> str:
        """Bearer token of the ``/_sandbox/`` admin API."""
        return self._admin_token

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request so far, in processing order (a copy)."""
        return list(self._log)

    def calls(self, operation: str | None = None) -> list[RequestRecord]:
        """Logged requests for ``operation`` (all when ``None``)."""
        return [r for r in self._log if operation is None or r.operation == operation]

    def clear_requests(self) -> None:
        """Empty the request log."""
        self._log.clear()

    def reset(self) -> None:
        """Back to an empty account: no users, keys, trades, batches, Fast API keys or faults.

        The owner's key, the admin token and issued OAuth tokens stay valid; the request log,
        call counters and lockouts are cleared.
        """
        self._state = SandboxState(self._rng, self._state.default_nonce_window)
        self._state.keys[self._master.api_key] = self._master
        self._fast = self._fast.moved_to(self._state)
        self._chain.reset()
        self.faults.clear()
        self._log.clear()

    # -- scripting helpers -----------------------------------------------------------------------

    def add_trade(
        self, asset: str, amount: str | Decimal | int, *, asset_kind: str = "currency"
    ) -> str:
        """Book a trade (positive amount: we receive ``asset``) and return its uuid4 id."""
        if not isinstance(asset, str) or not asset or not asset.isprintable():
            raise ValueError("asset must be a non-empty printable string")
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

    def add_api_key(
        self, user_id: str, *, api_key: str | None = None, api_secret: str | None = None
    ) -> SandboxCredentials:
        """Create a key for an API user directly (optionally with a fixed key pair)."""
        if user_id not in self._state.users:
            raise ValueError(f"unknown user_id {user_id!r}")
        if (api_key is None) != (api_secret is None):
            raise ValueError("give both api_key and api_secret, or neither")
        fixed = None if api_key is None or api_secret is None else (api_key, api_secret)
        key = self._state.new_key("user", user_id, self._now_ms(), None, fixed)
        return SandboxCredentials(key.id, key.api_key, key.api_secret)

    def set_nonce_window(self, api_key: str, window: int) -> None:
        """Set the nonce window (nonce units, ``>= 0``) of one key."""
        key = self._state.keys.get(api_key)
        if key is None:
            raise ValueError("unknown api_key")
        key.nonces.set_window(window)

    def call_counter(self, api_key: str) -> float:
        """The key's call-counter value now (0 if never used)."""
        counter = self._chain.counters.get(api_key)
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

    # -- internals -------------------------------------------------------------------------------

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _tick(self) -> None:
        if self._auto_confirm_after is not None:
            self._state.auto_confirm(self._now_ms(), int(self._auto_confirm_after * 1000))

    def _append(self, record: RequestRecord) -> None:
        self._log.append(record)
        if self._on_request is not None:
            self._on_request(record)


async def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    announce: Callable[[Announcement], None] | None = print_exports,
) -> None:
    """Run a default ``PrimeSandbox`` on ``host:port`` until cancelled."""
    await PrimeSandbox(host=host, port=port).serve_forever(announce=announce)
