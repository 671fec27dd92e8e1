"""``FastApiKeyClient``: Kraken Connect OAuth (tag "Fast API") over the same call pipeline.

Bearer auth instead of HMAC signing; no nonce, no per-key gate or call counter. Everything
else (timeouts, retries, the retry budget, error mapping, typed decoding, redaction, counters,
the client lifecycle) is the pipeline ``PrimeClient`` uses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from ._auth import BearerAuth, TokenProvider
from ._config import fast_api_settings, renamed
from ._constants import DEFAULT_BASE_URL, DEFAULT_MAX_RESPONSE_BYTES
from ._journal import JournalSetting, build_journal
from ._keys.gate import NO_GATE
from ._lifecycle import ClientBase, connection
from ._observability.context import EventCallback
from ._resources._base import TimeoutLike
from ._resources._reconcile.claims import client_claims
from ._resources._recorded import resolver
from ._resources.fast_api_keys import FastApiKeys
from ._retry import RetryLike
from ._secret import Credential, MaskedDict, fingerprint
from ._transports.base import Transport
from .errors import ValidationError


class FastApiKeyClient(ClientBase):
    """Async client for Kraken's OAuth Fast API key operations (``/oauth/fast-api-key``).

    Parameters
    ----------
    access_token : str, optional
        OAuth 2.0 access token (``Authorization: Bearer``), with the scopes
        ``account.fast-api-key:read`` (list) and ``account.fast-api-key:write`` (the rest). May
        be omitted when ``token_provider`` is given: the provider then supplies the first token.
        Kept privately; never logged, shown in a repr or quoted in an exception.
    base_url : str
        Scheme and host, e.g. ``"https://api.kraken.com"`` or a sandbox's ``url``; requests go to
        ``<base_url>/oauth/fast-api-key``.
    session : aiohttp.ClientSession, optional
        Use this session; it is never closed by the client.
    timeout : float or aiohttp.ClientTimeout, optional
        Per-attempt budget; default 30 s (connect 10 s).
    retry : RetryPolicy or tenacity.AsyncRetrying, optional
        Retry settings, as for ``PrimeClient``: 5xx, 429, connection failures before sending and
        ``EService:Unavailable`` are retried; authentication and permission errors never.
    token_provider : async callable, optional
        ``async () -> str`` returning a fresh access token (after refreshing it at Kraken's
        ``/oauth/token``, for instance). When a request is refused with HTTP 401, the client calls
        it once and re-sends the request once with the new token; that re-send does not count
        against ``retry``. A second 401 raises
        [`AuthenticationError`][kraken_prime_async.AuthenticationError]. Concurrent calls
        refused with the same token share one provider call.
    transport : Transport, optional
        Replace the HTTP layer (tests, special networking). Excludes ``session``.
    on_event : callable, optional
        Called with each [`events`][kraken_prime_async.events] event of every call (started, each
        attempt, retries, rate-limit waits, abandoned requests, unknown outcomes,
        reconciliations, finished), inline on the event loop: keep it quick. One that raises is
        logged and ignored. See ``docs/observability.md``, "Events".
    tracer_provider, meter_provider : optional
        OpenTelemetry providers for the client's spans and metrics (the ``otel`` extra). Default:
        the global providers, when the application has set them before building the client.
    sole_writer : bool
        ``True``: no writer outside this process and fleet creates Fast API keys on the account,
        so a create whose answer was lost deletes the key of its name it finds and creates it
        again; default ``False``: that key is reported (``OutcomeUnknownError.candidates``), as
        for ``PrimeClient``.
    max_response_bytes : int
        Largest answer accepted, in bytes (default 4 MiB), as for ``PrimeClient``.
    journal : None, str, Path, SqliteJournal or RedisJournal
        The write journal, as for ``PrimeClient`` (``fast_api_keys.create(...,
        idempotency_key=...)``, ``oauth.journal.resolve_pending()``).
    sleep, clock : callables, optional
        Injected ``asyncio.sleep`` and ``time.time`` (tests use them so nothing waits for real).

    Notes
    -----
    Use ``async with FastApiKeyClient(token) as oauth:`` or call methods directly and ``await
    oauth.close()`` at the end. A closed client raises
    [`ClientStateError`][kraken_prime_async.ClientStateError].

    Errors: Kraken's ``error`` strings decide first (``EAuth:Invalid token`` is an
    [`AuthenticationError`][kraken_prime_async.AuthenticationError], ``EGeneral:Permission denied``
    - a token without the scope - a
    [`PermissionDeniedError`][kraken_prime_async.PermissionDeniedError]). An HTTP 401 or 403 without
    a Kraken error body is an
    [`AuthenticationError`][kraken_prime_async.AuthenticationError], as for every client (a bare 403
    is more often a proxy or WAF
    than a scope decision). Only HTTP 401 triggers ``token_provider``.
    """

    def __init__(
        self,
        access_token: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
        token_provider: TokenProvider | None = None,
        transport: Transport | None = None,
        on_event: EventCallback | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        journal: JournalSetting = None,
        sole_writer: bool = False,
    ) -> None:
        token = Credential(access_token)  # wrapped first: no frame of this call shows it
        del access_token
        auth = BearerAuth(token, token_provider)
        del token
        conn = connection(
            base_url=base_url,
            session=session,
            transport=transport,
            timeout=timeout,
            retry=retry,
            sleep=sleep,
            clock=clock,
            max_response_bytes=max_response_bytes,
            on_event=on_event,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
        )
        # OAuth tokens are replaced; the journal's records are the account's behind this host.
        write_journal = build_journal(journal, "oauth:" + fingerprint(conn.base_url, 32))
        self._auth = auth
        pipeline = self._start(auth, NO_GATE, conn)
        pipeline.journal = write_journal
        pipeline.claims = client_claims(conn.base_url, sole_writer, None, clock)
        self.fast_api_keys: FastApiKeys = FastApiKeys(self._pipeline)
        """Tag "Fast API"."""
        write_journal.attach(resolver({"fast_api_keys": self.fast_api_keys}, {}))

    @classmethod
    def from_env(cls, **overrides: Any) -> FastApiKeyClient:
        """A client configured from the environment; keyword arguments override it.

        Reads ``KRAKEN_OAUTH_TOKEN`` (not needed when ``access_token`` or ``token_provider`` is
        given), ``KRAKEN_PRIME_BASE_URL`` and ``KRAKEN_PRIME_SOLE_WRITER`` (``true`` or
        ``false``: see ``sole_writer``).

        Raises
        ------
        ValidationError
            The token is missing or a value is invalid; the error names the variable.
        """
        overrides = MaskedDict(overrides)  # may hold credentials: masked in captured frames
        kwargs, sources = fast_api_settings(overrides)
        try:
            return cls(**kwargs)
        except ValidationError as exc:
            raise renamed(exc, sources) from None

    def __repr__(self) -> str:
        auth = getattr(self, "_auth", None)
        return (
            f"FastApiKeyClient(base_url={getattr(self, '_base_url', None)!r}, "
            f"token_fingerprint={None if auth is None else auth.fingerprint!r}, "
            f"token_provider={auth is not None and auth.can_refresh}, "
            f"state={self._state.value!r})"
        )
