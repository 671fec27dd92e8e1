"""Typed results of the Kraken Connect OAuth Fast API key operations (tag "Fast API").

Re-exported by :mod:`kraken_prime_async.models`; import them from there.
"""

from __future__ import annotations

import msgspec

from ._secret import SecretStr, repr_hiding


class _Result(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """Base of the OAuth result Structs: immutable, no GC tracking (decoded JSON has no cycles).

    ``frozen`` and ``gc`` are inherited by subclasses at runtime; subclasses still say
    ``frozen=True`` because mypy's ``dataclass_transform`` support does not inherit it, and
    ``kw_only=True`` because msgspec applies it only to the fields of the class that sets it.
    """


class FastApiKeyPermissions(_Result, frozen=True, kw_only=True):
    """What a Fast API key may do (OAuth ``permissions``; Spot API key permission names).

    Every flag is a nullable boolean, as in Kraken's schema; ``None`` means "not given" (Kraken
    does not document how a null differs from ``False``). Unknown extra flags in an answer are
    ignored. As an argument, a plain mapping of these names to ``bool | None`` is accepted too.
    """

    funds_query: bool | None = None
    """Query funds info."""
    funds_add: bool | None = None
    """Add to funds (deposit)."""
    funds_withdraw: bool | None = None
    """Withdraw funds."""
    funds_earn: bool | None = None
    """Staking/unstaking."""
    trades_query_open: bool | None = None
    """Query open orders/positions."""
    trades_query_closed: bool | None = None
    """Query closed orders/positions."""
    trades_modify: bool | None = None
    """Add and cancel trades."""
    trades_close: bool | None = None
    """Cancel trades, close positions."""
    ledger_query: bool | None = None
    """Query the ledger."""
    export_data: bool | None = None
    """Export data."""


class FastApiKeyInfo(_Result, frozen=True, kw_only=True):
    """A Fast API key as listed (Kraken's ``APIKeyInfo``), without its secret.

    Kraken's schema marks no field as required, so every field is optional and unknown extras are
    ignored. Units and formats are not documented by Kraken; what the embedded sandbox uses (and
    what the names suggest) is given per field. ``nonce``/``nonce_window`` are in the nonce units
    the key's client sends (milliseconds for a default ``PrimeClient``).

    Attributes
    ----------
    api_key : str or None
        The key's public half (the ``API-Key`` of Prime calls).
    api_key_name : str or None
        The key's name (1-32 characters); Update and Delete address keys by it.
    created_time, modified_time : str or None
        Format not documented; ISO 8601 in the sandbox (``"2023-11-14T22:13:20Z"``).
    id : str or None
        Kraken's id (modified base64), not used by any operation.
    ip_allowlist : tuple of str
        Addresses and CIDR networks allowed to use the key (empty: any).
    last_used : int, float or None
        Unit not documented; epoch seconds in the sandbox (0: never used).
    nonce : int, float or None
        The key's highest nonce so far. Kraken's spec types it ``number``: an integral JSON
        number such as ``1.0`` arrives as a ``float`` (exact up to 2**53; ``int(info.nonce)``
        gives the integer), an integer as an ``int``.
    nonce_window : int, float or None
        How far below the highest nonce a nonce is still accepted, in nonce units.
    oauth_client : str or None
        The OAuth client that created the key.
    permissions : FastApiKeyPermissions or None
        What the key may do.
    purpose : str or None
        ``"standard"`` by default.
    query_from, query_to, valid_until : int, float or None
        Unix timestamps (seconds in the sandbox; Kraken says "Unix timestamp" without a unit);
        0 means no restriction / no expiry.
    """

    api_key: str | None = None
    api_key_name: str | None = None
    created_time: str | None = None
    id: str | None = None
    ip_allowlist: tuple[str, ...] = ()
    last_used: int | float | None = None
    modified_time: str | None = None
    nonce: int | float | None = None
    nonce_window: int | float | None = None
    oauth_client: str | None = None
    permissions: FastApiKeyPermissions | None = None
    purpose: str | None = None
    query_from: int | float | None = None
    query_to: int | float | None = None
    valid_until: int | float | None = None

    __repr__ = repr_hiding("api_key")


class CreatedFastApiKey(FastApiKeyInfo, frozen=True, kw_only=True):
    """A newly created Fast API key: the listed fields plus ``secret``.

    ``secret`` (masked; ``.get_secret_value()`` reads it) is returned only in this answer and can
    never be retrieved again: store it now, or turn the key into a client with
    ``PrimeClient.from_fast_api_key(created)``.
    """

    secret: SecretStr
