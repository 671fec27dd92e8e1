"""Kraken Connect's OAuth Fast API key answers (tag "Fast API")."""

from __future__ import annotations

from .._secret import SecretStr, repr_hiding
from ._base import _Result


class FastApiKeyPermissions(_Result, frozen=True, kw_only=True):
    """What a Fast API key may do (OAuth ``permissions``; Spot API key permission names).

    Each flag is ``bool | None`` as in Kraken's schema (``None``: not given); unknown flags are
    ignored. As an argument, a mapping of these names to ``bool | None`` is accepted too."""

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
    ignored. Units and formats are not documented by Kraken; what the embedded sandbox uses is
    given per field.

    Attributes
    ----------
    api_key, api_key_name : str or None
        The key's public half (the ``API-Key`` of Prime calls) and its name (1-32 characters,
        by which Update and Delete address it).
    created_time, modified_time : str or None
        ISO 8601 in the sandbox (``"2023-11-14T22:13:20Z"``).
    id, oauth_client, purpose : str or None
        Kraken's id (used by no operation), the OAuth client that created the key, and
        ``"standard"`` by default.
    ip_allowlist : tuple of str
        Addresses and CIDR networks allowed to use the key (empty: any).
    last_used, query_from, query_to, valid_until : int, float or None
        Unix timestamps (seconds in the sandbox); 0 means never used / no restriction / no
        expiry.
    nonce, nonce_window : int, float or None
        The key's highest nonce so far, and how far below it a nonce is still accepted, in the
        nonce units the key's client sends (milliseconds for a default ``PrimeClient``). Typed
        ``number`` by Kraken: ``1.0`` arrives as a ``float`` (``int(info.nonce)``).
    permissions : FastApiKeyPermissions or None
        What the key may do.
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
    """A newly created Fast API key: the listed fields plus ``secret`` (masked;
    ``.get_secret_value()`` reads it), returned only in this answer: store it now, or sign with
    it through ``PrimeClient.from_fast_api_key(created)``."""

    secret: SecretStr
