"""``PrimeClient``: owns the session, the signer, the key's nonce source and the pipeline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import aiohttp

from ._auth import HmacAuth
from ._config import prime_settings, renamed
from ._constants import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_NONCE_UNIT,
)
from ._keys.gate import KeyGate
from ._keys.nonces import PER_SECOND, LocalNonceSource, NonceSource, NonceUnit, shared_nonce_source
from ._keys.pacing import RateLimitSetting, resolve
from ._lifecycle import ClientBase, connection
from ._observability.context import EventCallback, pacing_sleep
from ._retry import RetryLike
from ._secret import Credential, MaskedDict, SecretStr, fingerprint
from ._signing import SecretEncoding, Signer, decode_secret
from ._transports.base import Transport
from ._transports.wrappers import BorrowedTransport
from ._validation import identifier_problem, integer, seconds
from .errors import ValidationError
from .models import CreatedFastApiKey

if TYPE_CHECKING:
    from ._journal import JournalSetting
    from ._keys.fleet import Fleet
    from ._resources._base import TimeoutLike
    from ._resources.api_user_keys import ApiUserKeys
    from ._resources.api_users import ApiUsers
    from ._resources.settlement import Settlement


class PrimeClient(ClientBase):
    """Async client for the Kraken Prime REST API.

    Parameters
    ----------
    api_key : str
        Public API key (``API-Key`` header).
    api_secret : str
        Private key, base64 as Kraken issues it. Checked here; kept only wrapped (every
        ``repr`` shows a mask), for ``copy()``.
    base_url : str
        Scheme and host, e.g. ``"https://api.kraken.com"`` or a sandbox's ``url``.
    session : aiohttp.ClientSession, optional
        Use this session; it is never closed by the client.
    timeout : float or aiohttp.ClientTimeout, optional
        Per-attempt budget; seconds mean a whole-request budget. Default: 30 s (connect 10 s).
    retry : RetryPolicy or tenacity.AsyncRetrying, optional
        Retry settings (``RetryPolicy.disabled()`` turns retries off). A tenacity
        ``AsyncRetrying``/``Retrying`` is converted once (``RetryPolicy.from_tenacity``); every
        method's ``retry=`` takes either too. See the guide "Retries and deadlines".
    nonce_unit : Literal["ms", "us", "ns", "s"]
        Unit of the process-wide nonce source for this key (see ``docs/nonces-and-fleets.md``,
        "Nonces in one process").
    nonce_source : NonceSource, optional
        Replace the process-wide source (for example a
        [`FileLockNonceSource`][kraken_prime_async.FileLockNonceSource] or a
        [`RedisNonceSource`][kraken_prime_async.RedisNonceSource]). Excludes ``fleet``.
    fleet : Fleet, optional
        Share the key with other processes or hosts
        ([`FileLockFleet`][kraken_prime_async.FileLockFleet],
        [`RedisFleet`][kraken_prime_async.RedisFleet]): the fleet's nonce sequence, in-flight slots
        and call counter
        replace the process's own (see ``docs/nonces-and-fleets.md``, "Running a fleet on one key").
    nonce_window : int
        The key's nonce window at Kraken, in nonce units (0, Kraken's default, unless you set one
        on the key). With 0 the key's requests go out one at a time; with a window up to
        ``max_in_flight`` overlap (see ``docs/nonces-and-fleets.md``, "Concurrency on one key").
    max_in_flight : int
        Most requests of this key on the wire at once when ``nonce_window > 0``.
    abandon_hold : "auto" or float
        How long a request that was sent and then abandoned without an answer (timeout,
        cancellation, connection lost) keeps the key's slot, because it may still reach Kraken:
        with ``nonce_window=0`` the key's next request waits that long; with a window it still
        counts as in flight. A request the transport can watch keeps it until its answer or
        its connection's end is seen, at most 30 s (``"auto"``) or that many seconds; one it
        cannot watch (a caller's own transport) is held for ``"auto"``: 2 x the key's
        95th-percentile recent answer time, at least 2 s, at most 30 s. ``0`` turns the hold
        off (no watch either: the exchange runs in the caller's task) and risks
        ``EAPI:Invalid nonce`` for the abandoned request.
    sole_writer : bool
        ``True`` tells the client that no writer outside this client's process and fleet
        creates API users, keys or batches on the account. A create whose answer was lost then
        resolves exactly: a single new object the read-back cannot attribute to another create
        of the process or fleet is taken as its own (a key whose secret was lost is deleted and
        made again). Default ``False``: such an object is reported instead
        (``OutcomeUnknownError`` with ``candidates``, a WARNING and a ``reconciled``
        event), never claimed or deleted, since another service on the account may have made
        it. Either way a create that is proven not applied is sent again.
    rate_limit : Literal["auto", "starter", "intermediate", "pro"] | RateLimit | None
        Client-side model of Kraken's call counter. ``"auto"`` paces nothing until Kraken reports
        a rate limit, then paces as the fastest tier that explains it (one tier slower on each
        further refusal, nothing again after 300 s without one); ``None`` turns pacing off.
    secret_encoding : Literal["base64", "raw"]
        ``"raw"`` only for a secret that is known not to be base64.
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
    max_response_bytes : int
        Largest answer accepted, in bytes (default 4 MiB; Kraken's largest page is about
        150 KB). Reading stops as soon as an answer is over it (nothing more is buffered) and a
        [`ResponseValidationError`][kraken_prime_async.ResponseValidationError] says so
        ([`OutcomeUnknownError`][kraken_prime_async.OutcomeUnknownError] for a write).
    journal : None, str, Path, SqliteJournal or RedisJournal
        The write journal (see the guide "Running settlement unattended"): every
        non-idempotent write records its intent (before anything is sent), each attempt's
        nonce fence and its outcome there, so ``idempotency_key=`` holds across restarts and
        ``client.journal.resolve_pending()`` settles what a killed process left in flight.
        ``None`` (default): in memory, for the process's life; a path: a SQLite file (created
        if missing); a ``RedisJournal``: shared by the hosts of a fleet. Never holds a
        secret, signature or token.
    sleep, clock : callables, optional
        Injected ``asyncio.sleep`` and ``time.time`` (tests use them so nothing waits for real).

    Notes
    -----
    Use ``async with PrimeClient(...) as client:`` or call methods directly and ``await
    client.close()`` at the end. A closed client raises
    [`ClientStateError`][kraken_prime_async.ClientStateError].
    ``copy()`` derives a client sharing this one's connections.
    """

    #: A key's own settings: a copy signing with another key starts them afresh.
    _KEY_SETTINGS: ClassVar = frozenset(
        {
            "nonce_unit",
            "nonce_source",
            "nonce_window",
            "max_in_flight",
            "abandon_hold",
            "rate_limit",
            "fleet",
            "_fence_window",
        }
    )
    #: What a copy cannot change: it shares this client's transport.
    _SHARED_SETTINGS: ClassVar = frozenset({"session", "transport", "max_response_bytes"})

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        session: aiohttp.ClientSession | None = None,
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
        nonce_unit: NonceUnit = DEFAULT_NONCE_UNIT,
        nonce_source: NonceSource | None = None,
        nonce_window: int = 0,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        abandon_hold: float | Literal["auto"] = "auto",
        rate_limit: RateLimitSetting = "auto",
        fleet: Fleet | None = None,
        sole_writer: bool = False,
        secret_encoding: SecretEncoding = "base64",  # noqa: S107 - an encoding name
        transport: Transport | None = None,
        on_event: EventCallback | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        journal: JournalSetting = None,
        _fence_window: int | None = None,
        _journal: Any = None,
    ) -> None:
        # The credentials are wrapped first: no frame of this call holds them in plain text, so
        # an error tracker capturing locals on any error below shows a mask.
        key, secret = Credential(api_key), Credential(api_secret)
        del api_key, api_secret
        # Every other argument as given, for copy() (``_fence_window``: the key's window at
        # Kraken when the client runs with a smaller one, see from_fast_api_key).
        settings = MaskedDict(locals())
        for name in ("self", "key", "secret", "session", "transport", "_journal"):
            del settings[name]
        if secret_encoding not in ("base64", "raw"):
            raise ValidationError("secret_encoding", "must be 'base64' or 'raw'")
        signer, ref = _signer_and_ref(key, secret, secret_encoding)
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
        window, max_in_flight, hold = _key_options(
            nonce_unit, nonce_window, max_in_flight, abandon_hold, rate_limit
        )
        from ._journal import build_journal  # with the first client: most never journal to disk

        # ``_journal``: a copy of the same key writes through its client's journal (see copy()).
        write_journal = build_journal(journal, ref) if _journal is None else _journal
        self._shared_journal = _journal is not None
        from ._resources._reconcile.claims import client_claims

        claims = client_claims(conn.base_url, sole_writer, fleet, clock)
        fence = window if _fence_window is None else max(window, _fence_window)
        # Last: the process-wide nonce source is registered only once everything else passed.
        nonce_source = _nonce_source(key, ref, nonce_unit, nonce_source, fleet)
        self._fingerprint = ref[:8]
        self._credentials = (key, secret)
        self._settings = MaskedDict(settings, _fence_window=fence)
        self._gate = KeyGate(
            key,
            ref=ref,
            window_seconds=window / PER_SECOND[nonce_unit],
            max_in_flight=max_in_flight,
            rate_limit=rate_limit,
            fleet=fleet,
            clock=clock,
            sleep=pacing_sleep(sleep),
            abandon_hold=hold,
        )
        self._auth = HmacAuth(key, signer, nonce_source, fence)
        pipeline = self._start(self._auth, self._gate, conn)
        pipeline.journal = write_journal
        pipeline.claims = claims
        self._attach_resources()

    def _attach_resources(self) -> None:
        # The resource modules load with the first client, not with ``import kraken_prime_async``
        # (their endpoint tables, request Structs and helpers are most of the package's own
        # import time).
        from ._resources._recorded import resolver
        from ._resources.api_user_keys import ApiUserKeys
        from ._resources.api_users import ApiUsers
        from ._resources.key_rotation_journal import ROTATION
        from ._resources.settlement import Settlement

        self.api_users: ApiUsers = ApiUsers(self._pipeline)
        """Tag "API Users"."""
        self.api_user_keys: ApiUserKeys = ApiUserKeys(self._pipeline, self._for_new_key)
        """Tag "API User Keys"."""
        self.settlement: Settlement = Settlement(self._pipeline)
        """Tag "Settlement"."""
        resources = {
            "api_users": self.api_users,
            "api_user_keys": self.api_user_keys,
            "settlement": self.settlement,
        }
        workflows = {ROTATION: self.api_user_keys.resolve_rotation}
        if not self._shared_journal:  # a copy's journal settles through its client's resources
            self._pipeline.journal.attach(resolver(resources, workflows))

    def copy(self, **overrides: Any) -> PrimeClient:
        """A new client sharing this one's HTTP transport, with some settings changed.

        As the ``copy()`` of Stainless-generated SDKs: the copy takes every constructor argument
        this client was given, except those in ``overrides``, and sends through this client's
        transport (its connection pool, or the ``session``/``transport`` it was given). Closing
        the copy never closes that transport; once this client is closed, the copy's calls raise
        ``ClientStateError``. A copy of the same key shares the
        key's nonce source, in-flight gate, call counter and journal (in-memory too: an
        ``idempotency_key`` used on one is held for both; closing the copy leaves it open).

        Parameters
        ----------
        **overrides
            Any ``PrimeClient`` keyword but ``session``, ``transport`` and
            ``max_response_bytes`` (they belong to the shared transport). ``api_key`` and
            ``api_secret`` together make a client of another key: then the key's own settings
            (``nonce_unit``, ``nonce_source``, ``nonce_window``, ``max_in_flight``,
            ``abandon_hold``, ``rate_limit``, ``fleet``) are not carried over.

        Returns
        -------
        PrimeClient
            Unopened; close it (or use ``async with``) when done, to release its share of the
            key's gate.

        Raises
        ------
        ValidationError
            An override is invalid, or changes what the copy shares.
        TypeError
            An override is not a ``PrimeClient`` keyword.

        Examples
        --------
        >>> slow = client.copy(timeout=120)  # doctest: +SKIP
        """
        overrides = MaskedDict(overrides)  # may hold credentials: masked in captured frames
        for name in sorted(overrides):
            if name in self._SHARED_SETTINGS:
                raise ValidationError(
                    name, "cannot change in copy(): the copy shares this client's transport"
                )
            if name not in self._settings and name not in ("api_key", "api_secret"):
                raise TypeError(f"copy() got an unexpected keyword argument {name!r}")
        settings = MaskedDict(self._settings)
        key, secret = self._credentials
        if "api_key" in overrides or "api_secret" in overrides:
            if not ("api_key" in overrides and "api_secret" in overrides):
                missing = "api_secret" if "api_key" in overrides else "api_key"
                raise ValidationError(
                    missing, "copy() with another key needs api_key and api_secret"
                )
            key, secret = (
                Credential(overrides.pop("api_key")),
                Credential(overrides.pop("api_secret")),
            )
            settings = MaskedDict(
                (name, value) for name, value in settings.items() if name not in self._KEY_SETTINGS
            )
        settings.update(overrides)
        # One journal (one owner, one set of writes in flight) for a copy of the same key.
        same_key = key is self._credentials[0] and "journal" not in overrides
        return type(self)(
            key.reveal(),  # type: ignore[arg-type]  # checked by the constructor
            _revealed(secret),
            transport=BorrowedTransport(self._lent_transport),
            _journal=self._pipeline.journal if same_key else None,
            **settings,
        )

    def _for_new_key(self, api_key: str, api_secret: SecretStr) -> PrimeClient:
        """Key rotation's client for the new key (``key_rotation``): a copy signing with it, its
        nonces in seconds, the smallest unit, so whichever unit the key is used with later
        stays above them."""
        return self.copy(api_key=api_key, api_secret=api_secret, nonce_source=LocalNonceSource("s"))

    @classmethod
    def from_env(cls, **overrides: Any) -> PrimeClient:
        """A client configured from the environment; keyword arguments override it.

        Reads ``KRAKEN_PRIME_API_KEY``, ``KRAKEN_PRIME_API_SECRET`` (or
        ``KRAKEN_PRIME_API_SECRET_FILE``: a file holding the secret, one trailing newline
        dropped), ``KRAKEN_PRIME_BASE_URL``, ``KRAKEN_PRIME_RATE_LIMIT`` (``auto``, ``none`` or
        a tier), ``KRAKEN_PRIME_NONCE_WINDOW``, ``KRAKEN_PRIME_SECRET_ENCODING`` (``base64``
        or ``raw``) and ``KRAKEN_PRIME_SOLE_WRITER`` (``true`` or ``false``: see
        ``sole_writer``); any other ``PrimeClient`` argument can be given as a keyword. A
        variable whose argument is given is not read.

        Raises
        ------
        ValidationError
            A required variable is missing or a value is invalid; the error names the variable
            (never its value).
        """
        overrides = MaskedDict(overrides)  # may hold credentials: masked in captured frames
        kwargs, sources = prime_settings(overrides)
        try:
            return cls(**kwargs)
        except ValidationError as exc:
            raise renamed(exc, sources) from None

    def __repr__(self) -> str:
        # getattr: error trackers render a client whose constructor raised half-way.
        return (
            f"PrimeClient(base_url={getattr(self, '_base_url', None)!r}, "
            f"key_fingerprint={getattr(self, '_fingerprint', None)!r}, "
            f"state={self._state.value!r})"
        )

    @classmethod
    def from_fast_api_key(
        cls,
        created: CreatedFastApiKey,
        *,
        base_url: str = DEFAULT_BASE_URL,
        **kwargs: Any,
    ) -> PrimeClient:
        """A client signing with a Fast API key just created (``oauth.fast_api_keys.create``).

        The key's ``api_key`` and ``secret`` become the client's credentials, and its
        ``nonce_window`` becomes the client's ``nonce_window`` unchanged: both count in nonce
        units, the units the client sends (milliseconds by default, so a window of 5000 lets
        requests overlap within 5 s). Pass ``nonce_unit=`` only together with a window chosen for
        that unit.

        Parameters
        ----------
        created : CreatedFastApiKey
            What ``create`` returned (only it carries the secret).
        base_url : str
            The Prime REST base URL.
        **kwargs
            Any other ``PrimeClient`` keyword (``session``, ``timeout``, ``retry``,
            ``rate_limit``, ...). ``nonce_window`` may lower the key's window, not raise it.
        """
        if not isinstance(created, CreatedFastApiKey):
            raise ValidationError("created", "must be the CreatedFastApiKey that create() returned")
        if not created.api_key:
            raise ValidationError("created", "has no api_key (Kraken's answer did not carry one)")
        key_window = int(created.nonce_window or 0)
        window = kwargs.pop("nonce_window", key_window)
        if integer("nonce_window", window, minimum=0) > key_window:
            raise ValidationError(
                "nonce_window", f"must not exceed the key's nonce_window ({key_window})"
            )
        # A lowered window still fences lost requests off with the key's own (docs/guarantees.md).
        return cls(
            created.api_key,
            created.secret.get_secret_value(),
            base_url=base_url,
            nonce_window=window,
            _fence_window=key_window,
            **kwargs,
        )


def _revealed(secret: Credential) -> str:
    """A secret for the constructor: a ``SecretStr`` (as ``create`` returns) unwrapped."""
    value = secret.reveal()
    return value.get_secret_value() if isinstance(value, SecretStr) else value  # type: ignore[return-value]


def _signer_and_ref(
    key: Credential, secret: Credential, encoding: SecretEncoding
) -> tuple[Signer, str]:
    """Check both credentials; return the signer and the key's reference (a SHA-256 fingerprint
    that names the key's shared state in this process).

    Problems are found by functions that return (their frames holding the raw values are gone)
    and raised here, outside any ``except``, so no exception chain holds a credential.
    """
    key_problem = identifier_problem(key.reveal())
    if key_problem is not None:
        raise ValidationError("api_key", key_problem)
    signer: Signer | None = None
    try:
        signer = Signer(decode_secret(secret.reveal(), encoding=encoding))  # type: ignore[arg-type]
    except UnicodeError:  # its text would quote a character of the secret
        secret_problem = "must be encodable text"  # noqa: S105 - a message, not a secret
    except ValueError as exc:
        secret_problem = str(exc)
    if signer is None:
        raise ValidationError("api_secret", secret_problem)
    return signer, fingerprint(str(key.reveal()), 32)


def _key_options(
    nonce_unit: object,
    nonce_window: object,
    max_in_flight: object,
    abandon_hold: object,
    rate_limit: object,
) -> tuple[int, int, float | None]:
    """The per-key options, checked: ``(nonce_window, max_in_flight, abandon_hold)``, the hold
    ``None`` for ``"auto"``."""
    if not isinstance(nonce_unit, str) or nonce_unit not in PER_SECOND:
        raise ValidationError("nonce_unit", f"must be one of {', '.join(PER_SECOND)}")
    window = integer("nonce_window", nonce_window, minimum=0)
    in_flight = integer("max_in_flight", max_in_flight, minimum=1)
    hold = (
        None if abandon_hold == "auto" else seconds("abandon_hold", abandon_hold, allow_zero=True)
    )
    resolve(rate_limit)  # type: ignore[arg-type]
    return window, in_flight, hold


def _nonce_source(
    key: Credential,
    ref: str,
    unit: NonceUnit,
    given: NonceSource | None,
    fleet: Fleet | None,
) -> NonceSource:
    """The key's nonce source: the fleet's, the one given, or the process-wide one (shared by
    every client of the key, found by its reference ``ref``)."""
    if fleet is not None:
        if given is not None:
            raise ValidationError("fleet", "give either fleet or nonce_source, not both")
        if not all(callable(getattr(fleet, m, None)) for m in ("nonce_source", "gate", "counter")):
            raise ValidationError("fleet", "must be a FileLockFleet, a RedisFleet or a Fleet")
        return fleet.nonce_source(str(key.reveal()), unit)
    if given is None:
        try:
            return shared_nonce_source(ref, unit)
        except ValueError as exc:
            problem = str(exc)
        raise ValidationError("nonce_unit", problem)
    if not isinstance(given, NonceSource):
        raise ValidationError("nonce_source", "must have an async next_nonce() method")
    return given
