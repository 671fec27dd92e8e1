"""How each attempt's request is made ready: the pipeline's auth strategy.

The pipeline is the same for every endpoint; only this step differs:

* ``HmacAuth`` (Prime REST, ``PrimeClient``): take a fresh nonce, splice it into the body,
  sign exactly those bytes, set ``API-Key``/``API-Sign``. A refused key is final.
* ``BearerAuth`` (OAuth, ``FastApiKeyClient``): ``Authorization: Bearer <token>``, the body
  as encoded (none for GET), no nonce. With a ``token_provider`` it replaces a refused token
  (HTTP 401) once per call.

Like httpx's ``Auth`` flow, a strategy owns its credential's refresh: the pipeline asks
``RequestAuth.begin()`` for the call's flow, prepares every send through it and, when a send is
refused with ``AuthenticationError``, asks ``CallAuth.on_refused()`` whether to re-send at
once. Which API key gates the attempts is the client's business (``_keys.gate``), not the auth's.

Every strategy returns the values that must never appear in an error message (the API key and
signature, or the bearer token) so the pipeline can redact them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ._endpoint import Endpoint
from ._keys.fence import fence_floor, issue_nonce, local_nonce
from ._keys.nonces import NonceSource
from ._secret import Credential, MaskedHeaders, fingerprint
from ._signing import Signer
from .errors import AuthenticationError, ValidationError

#: An async callable returning a fresh OAuth access token.
TokenProvider = Callable[[], Awaitable[str]]


def with_nonce(nonce: int, params: bytes) -> bytes:
    """The exact body of one attempt: ``nonce`` first, then the call's fields."""
    if params == b"{}":
        return b'{"nonce":%d}' % nonce
    return b'{"nonce":%d,' % nonce + params[1:]


class Prepared:
    """One attempt's request, ready to send. Its ``repr`` shows no credential.

    Attributes
    ----------
    body : bytes or None
        The exact bytes to send.
    headers : MaskedHeaders
        The headers, credentials included (masked in ``repr`` only).
    secrets : tuple of str
        Values to redact from anything quoted in an exception.
    fence : int or None
        The lowest nonce that, once accepted on the key, fences this request off (``None``: the
        request has no nonce and cannot be fenced). Never logged.
    """

    __slots__ = ("body", "fence", "headers", "secrets")

    def __init__(
        self,
        body: bytes | None,
        headers: MaskedHeaders,
        secrets: tuple[str, ...],
        fence: int | None = None,
    ) -> None:
        self.body = body
        self.headers = headers
        self.secrets = secrets
        self.fence = fence

    def __repr__(self) -> str:
        return f"Prepared(body_bytes={None if self.body is None else len(self.body)})"


class CallAuth(Protocol):
    """One call's auth flow: prepares every send of the call, decides on a refusal."""

    async def prepare(
        self, endpoint: Endpoint[Any, Any], params: bytes, user_agent: str
    ) -> Prepared:
        """Body and headers of one send."""
        ...

    async def on_refused(self, exc: AuthenticationError) -> bool:
        """The last send was refused with ``exc``: whether the credential was replaced and the
        request should be re-sent at once (not counted as a retry)."""
        ...


class RequestAuth(Protocol):
    """What the pipeline needs from an auth strategy."""

    def begin(self) -> CallAuth:
        """The flow of one call (strategies without per-call state return themselves)."""
        ...


class HmacAuth:
    """Kraken's ``API-Key``/``API-Sign`` scheme with a fresh nonce per attempt.

    Parameters
    ----------
    api_key : Credential
        Public key (``API-Key`` header), wrapped so no frame shows it.
    signer : Signer
        Holds the decoded secret.
    nonce_source : NonceSource
        Strictly increasing nonces for this key.
    fence_window : int
        The key's nonce window at Kraken, in nonce units: the window ``Prepared.fence`` is
        computed with, even when the client runs with a smaller one.
    """

    __slots__ = ("_nonce_source", "_signer", "fence_window", "key")

    def __init__(
        self, api_key: Credential, signer: Signer, nonce_source: NonceSource, fence_window: int = 0
    ) -> None:
        self.key = str(api_key.reveal())
        self._signer = signer
        self._nonce_source = nonce_source
        self.fence_window = fence_window

    def begin(self) -> HmacAuth:
        """No per-call state: the strategy is its own flow."""
        return self

    async def prepare(
        self, endpoint: Endpoint[Any, Any], params: bytes, user_agent: str
    ) -> Prepared:
        """nonce → splice → sign exactly the bytes that will be sent → headers.

        The nonce is raised to the floor of a fence being put up (``_keys/fence.py``).
        """
        nonce = local_nonce(self._nonce_source)
        if nonce is None:
            nonce = await issue_nonce(self._nonce_source)
        body = with_nonce(nonce, params)
        signature = self._signer.sign(endpoint.path_bytes, nonce, body)
        headers = MaskedHeaders(
            {
                "API-Key": self.key,
                "API-Sign": signature,
                "Content-Type": "application/json",
                "User-Agent": user_agent,
            }
        )
        return Prepared(
            body, headers, (self.key, signature), fence=fence_floor(nonce, self.fence_window)
        )

    async def on_refused(self, exc: AuthenticationError) -> bool:
        """Never re-send: a refused key is final."""
        return False

    def __repr__(self) -> str:
        return "HmacAuth(<redacted>)"


def token_problem(value: object) -> str | None:
    """What is wrong with ``value`` as a bearer token (``None``: nothing). Never quotes it."""
    if not isinstance(value, str):
        return f"must be a str, got {type(value).__name__}"
    if not value:
        return "must not be empty"
    if any(ch.isspace() or ch < " " or ch == "\x7f" for ch in value):
        return "must not contain whitespace or control characters"
    if not value.isascii():
        return "must contain only ASCII characters"
    return None


def bearer_token(field: str, token: Credential) -> str:
    """A usable bearer token: a non-empty ``str`` without whitespace or control characters.

    Takes the token wrapped, so the frame that raises holds no raw token; the error never
    quotes it.
    """
    problem = token_problem(token.reveal())
    if problem is not None:
        raise ValidationError(field, problem)
    value = token.reveal()
    assert isinstance(value, str)
    return value


class BearerAuth:
    """``Authorization: Bearer <token>`` with an optional async ``token_provider``.

    The token is kept in a private attribute and only ever leaves in the ``Authorization``
    header; it is returned in ``Prepared.secrets`` so error text is redacted.

    Refreshing: every token has a generation number. When a request made with generation ``g``
    is refused with HTTP 401, ``refresh()`` calls the provider, unless another call already
    replaced generation ``g`` (then its newer token is used): concurrent calls that all saw the
    same token fail share one provider call.

    Parameters
    ----------
    token : str or None
        The access token; ``None`` to let ``provider`` supply the first one.
    provider : TokenProvider or None
        Async callable returning a fresh access token.
    """

    __slots__ = ("_generation", "_lock", "_provider", "_token")

    def __init__(self, token: Credential, provider: TokenProvider | None) -> None:
        if token.reveal() is None and provider is None:
            raise ValidationError("access_token", "give an access token, a token_provider or both")
        if provider is not None and not callable(provider):
            raise ValidationError("token_provider", "must be an async callable returning a str")
        self._token = None if token.reveal() is None else bearer_token("access_token", token)
        self._generation = 0 if self._token is None else 1
        self._provider = provider
        self._lock = asyncio.Lock()

    @property
    def can_refresh(self) -> bool:
        """Whether a ``token_provider`` was given."""
        return self._provider is not None

    @property
    def fingerprint(self) -> str | None:
        """Fingerprint of the current token (``None`` before the provider supplied one)."""
        token = getattr(self, "_token", None)  # None too on a half-built instance
        return None if token is None else fingerprint(token)

    def begin(self) -> CallAuth:
        """A flow that refreshes once per call with a provider; without one, this strategy."""
        return self if self._provider is None else _BearerFlow(self)

    async def prepare(
        self, endpoint: Endpoint[Any, Any], params: bytes, user_agent: str
    ) -> Prepared:
        """Headers with the current token; the JSON body unless the verb is GET."""
        return (await self.prepare_tagged(endpoint, params, user_agent))[0]

    async def prepare_tagged(
        self, endpoint: Endpoint[Any, Any], params: bytes, user_agent: str
    ) -> tuple[Prepared, int]:
        """``prepare()``, and the generation of the token used."""
        token, tag = self._token, self._generation
        if token is None:
            token, tag = await self._replace(0)
        headers = MaskedHeaders({"Authorization": "Bearer " + token, "User-Agent": user_agent})
        body: bytes | None = None
        if endpoint.http_method != "GET":
            body = params
            headers["Content-Type"] = "application/json"
        return Prepared(body, headers, (token,)), tag

    async def on_refused(self, exc: AuthenticationError) -> bool:
        """Without a provider a refused token is final."""
        return False

    async def refresh(self, failed_tag: int) -> None:
        """Replace the token of generation ``failed_tag`` (no-op if already replaced)."""
        await self._replace(failed_tag)

    async def _replace(self, stale: int) -> tuple[str, int]:
        async with self._lock:
            if self._token is not None and self._generation != stale:
                return self._token, self._generation
            if self._provider is None:  # pragma: no cover - guarded by the callers
                raise ValidationError("token_provider", "no token_provider to get a token from")
            token = bearer_token("token_provider()", Credential(await self._provider()))
            self._token = token
            self._generation += 1
            return token, self._generation

    def __repr__(self) -> str:
        return f"BearerAuth(token_fingerprint={self.fingerprint!r})"


class _BearerFlow:
    """One call of a ``BearerAuth`` with a provider: remembers the token generation of its
    last send and whether it already replaced a refused token (once per call)."""

    __slots__ = ("_auth", "_refreshed", "_tag")

    def __init__(self, auth: BearerAuth) -> None:
        self._auth = auth
        self._tag = 0
        self._refreshed = False

    async def prepare(
        self, endpoint: Endpoint[Any, Any], params: bytes, user_agent: str
    ) -> Prepared:
        prepared, self._tag = await self._auth.prepare_tagged(endpoint, params, user_agent)
        return prepared

    async def on_refused(self, exc: AuthenticationError) -> bool:
        """HTTP 401, first time in this call: replace the token (shared with concurrent calls
        refused with the same one) and re-send."""
        if self._refreshed or exc.status != 401:
            return False
        self._refreshed = True
        await self._auth.refresh(self._tag)
        return True
