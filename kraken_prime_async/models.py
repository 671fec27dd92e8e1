"""Typed results and argument enums.

Every result is a frozen ``msgspec.Struct`` decoded straight from the response bytes. Where
Kraken's documentation is silent or disagrees, fields are optional, unknown keys are ignored and
open vocabularies (statuses, directions, permissions) stay ``str`` so a new value never breaks
decoding. The enums are for *arguments*: every method that takes one also accepts the string.
Timestamps are integers as Kraken sends them; each model says what its unit is, when known.
``LegOutcome``/``SettlementReport`` (what ``settle_batch`` reports) and ``KeyFinding``/``KeyAudit``
(what ``audit`` reports) are the SDK's own, not decoded from Kraken.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from ._lazy import lazy_fields
from ._secret import SecretStr, repr_hiding
from .errors import KrakenPrimeError, ResponseValidationError

__all__ = [
    "ApiKey",
    "ApiUser",
    "AssetKind",
    "AssetKindName",
    "Batch",
    "BatchAttributes",
    "BatchFilterAssetKind",
    "BatchFilterAssetKindName",
    "BatchPage",
    "BatchStatus",
    "BatchStatusName",
    "CreatedApiKey",
    "CreatedFastApiKey",
    "FastApiKeyInfo",
    "FastApiKeyPermissions",
    "FindingCode",
    "KeyAudit",
    "KeyFinding",
    "Leg",
    "LegOutcome",
    "Pagination",
    "Role",
    "RoleName",
    "SecretStr",
    "SettlementReport",
    "Severity",
    "Transfer",
    "TransferAttributes",
    "TransferRelationships",
    "UserStatus",
    "UserStatusName",
]


class Role(str, enum.Enum):
    """Role of a Prime API user."""

    TRADER = "Trader"
    VIEWER = "Viewer"


class UserStatus(str, enum.Enum):
    """Status of a Prime API user."""

    ENABLED = "Enabled"
    DISABLED = "Disabled"


class AssetKind(str, enum.Enum):
    """``asset_kind`` of ``CreatePrimeSettlementBatch`` (one active batch per kind)."""

    CURRENCY = "currency"
    TOKENIZED_EQUITY = "tokenized_equity"


class BatchFilterAssetKind(str, enum.Enum):
    """``asset_kind`` filter values shown on the live Get/List pages (unverified)."""

    SPOT = "spot"
    OPTION = "option"
    FUTURE = "future"


class BatchStatus(str, enum.Enum):
    """``statuses`` filter values of ``ListPrimeSettlementBatches``."""

    UNSETTLED = "unsettled"
    PARTIALLY_SETTLED = "partially_settled"
    SETTLED = "settled"
    COMPLETED = "completed"


#: The enums' values as strings (``role=``, ``status=``, ...): a type checker catches a typo.
RoleName = Literal["Trader", "Viewer"]
UserStatusName = Literal["Enabled", "Disabled"]
AssetKindName = Literal["currency", "tokenized_equity"]
BatchFilterAssetKindName = Literal["spot", "option", "future"]
BatchStatusName = Literal["unsettled", "partially_settled", "settled", "completed"]


class _Result(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """Base of every result Struct: immutable, no GC tracking (decoded JSON has no cycles).

    Subclasses repeat ``frozen=True`` (mypy does not inherit it) and ``kw_only=True`` (msgspec
    applies it only to the fields of the class that sets it)."""


class ApiUser(_Result, frozen=True, kw_only=True):
    """A Prime API user (``ApiUserInfo``; all four fields are required by Kraken's schema).
    ``status`` (``"Enabled"``/``"Disabled"``) and ``roles`` (``"Trader"``/``"Viewer"``) stay
    strings, so an undocumented value still decodes."""

    id: str
    name: str
    status: str
    roles: tuple[str, ...]


class CreatedApiKey(_Result, frozen=True, kw_only=True):
    """A newly created key. ``api_secret`` is shown only in this answer: store it now."""

    id: str
    api_key: str
    api_secret: SecretStr
    user_id: str
    permissions: tuple[str, ...] = ()
    whitelisted_ips: tuple[str, ...] = ()

    __repr__ = repr_hiding("api_key")


class ApiKey(_Result, frozen=True, kw_only=True):
    """An existing key, without its secret. ``api_key`` is the public key (``UpdatePrimeApiUserKey``
    calls it ``api_key``, ``ListPrimeApiUserKeys`` ``key``); ``updated_at``'s unit is not
    documented."""

    id: str
    user_id: str | None = None
    api_key: str | None = None
    permissions: tuple[str, ...] = ()

    __repr__ = repr_hiding("api_key")
    whitelisted_ips: tuple[str, ...] = ()
    updated_at: int | None = None


class Leg(_Result, frozen=True, kw_only=True):
    """One asset's net position in a batch.

    The wire ``amount`` (a decimal string) is kept exactly as Kraken sent it, in ``amount_text``;
    the [`amount`][kraken_prime_async.models.Leg.amount] property parses it into a ``Decimal`` on
    access. A page of 200 batches holds
    1,000 legs, and building their ``Decimal`` s at decode time was about a third of decoding it:
    most callers never read most amounts. ``Transfer.attributes.transfer_amount`` (one per
    answer) stays a ``Decimal`` field.

    Parameters
    ----------
    asset : str
        The asset code.
    amount_text : str or None
        Kraken's ``amount`` exactly as sent (wire name ``amount``; encoding a ``Leg`` writes
        ``"amount": "<text>"``). Kraken's sign is kept (its convention is not documented). Not
        checked at decode time (a ``pattern`` check there cost more than building the
        ``Decimal``); [`amount`][kraken_prime_async.models.Leg.amount] raises on text that is not a
        decimal.
    status : str or None
        Open vocabulary (``unsettled``, ...).
    can_settle : bool or None
        Whether Kraken would accept a settlement of this leg now.
    direction : str or None
        Appears only in some documentation revisions.
    settled_at : int or None
        Unit not documented; left as a raw integer.
    latest_spot_transfer : dict or None
        Its fields are not documented.

    Notes
    -----
    The Struct mirrors the wire, so equality and ``repr`` compare and show the text:
    ``Leg(asset="BTC", amount_text="1.0") != Leg(asset="BTC", amount_text="1.00")`` although
    both ``amount`` values are equal. Compare ``leg.amount`` to compare quantities. Each access
    of [`amount`][kraken_prime_async.models.Leg.amount] parses the text again: keep the value if you
    use it in a loop.
    """

    asset: str
    amount_text: str | None = msgspec.field(default=None, name="amount")
    status: str | None = None
    can_settle: bool | None = None
    direction: str | None = None
    settled_at: int | None = None
    latest_spot_transfer: dict[str, Any] | None = None

    @property
    def amount(self) -> Decimal | None:
        """``amount_text`` as a ``Decimal`` (``None`` when Kraken sent no amount).

        Raises
        ------
        ResponseValidationError
            The text is not a finite decimal number (``NaN``, ``sNaN`` and ``Infinity`` are
            refused: a malformed answer, and comparing an sNaN raises in the caller's code).
        """
        text = self.amount_text
        if text is None:
            return None
        try:
            value = Decimal(text)
        except (InvalidOperation, TypeError, ValueError):
            raise ResponseValidationError(f"Leg.amount: {text!r:.60} is not a decimal") from None
        if not value.is_finite():
            raise ResponseValidationError(f"Leg.amount: {text!r:.60} is not a finite decimal")
        return value

    @property
    def started(self) -> bool:
        """Whether a transfer for this leg has started (it is settling or settled).

        Any status other than ``unsettled`` counts (the vocabulary is not documented), and so
        does a non-empty ``latest_spot_transfer``.
        """
        return (self.status is not None and self.status != "unsettled") or bool(
            self.latest_spot_transfer
        )


class BatchAttributes(_Result, frozen=True, kw_only=True):
    """``Batch.attributes``. ``created_at``/``updated_at`` are epoch milliseconds."""

    status: str | None = None
    confirmed: bool | None = None
    created_at: int | None = None
    updated_at: int | None = None
    trade_count: int | None = None
    asset_kind: str | None = None

    @property
    def created_at_datetime(self) -> datetime | None:
        """``created_at`` as an aware UTC datetime (``ResponseValidationError`` when it is out of
        the range a datetime can hold)."""
        return _ms_to_datetime("created_at", self.created_at)

    @property
    def updated_at_datetime(self) -> datetime | None:
        """``updated_at`` as an aware UTC datetime (errors as for ``created_at_datetime``)."""
        return _ms_to_datetime("updated_at", self.updated_at)


@lazy_fields(legs=tuple[Leg, ...], trade_ids=tuple[str, ...] | None)
class Batch(_Result, frozen=True, kw_only=True):
    """A settlement batch: a snapshot of unsettled trades netted into one leg per asset.

    ``trade_ids`` is ``None`` when the answer did not carry it (list items may not).

    Notes
    -----
    ``legs`` and ``trade_ids`` are decoded when first read, from the answer's bytes, and then
    kept: a page of 200 batches is mostly legs and trade
    ids, and decoding them eagerly was most of the call. Reading them behaves as before, except
    that a malformed leg or trade id raises :class:`ResponseValidationError` (naming the field)
    on that first read rather than failing the call. Until then the answer's whole body stays in
    memory with the batch: read the fields (or drop the batch) rather than keep many unread
    pages. ``==``, ``hash`` and ``repr`` read them first; ``msgspec.json.encode`` writes an
    unread one as Kraken sent it; ``msgspec.to_builtins`` needs them read (it raises
    ``TypeError`` on an unread one). docs/performance.md has the figures.
    """

    id: str
    attributes: BatchAttributes = BatchAttributes()
    if TYPE_CHECKING:
        legs: tuple[Leg, ...] = ()
        trade_ids: tuple[str, ...] | None = None
    else:  # decoded on first read (_lazy.py)
        legs: msgspec.Raw = ()
        trade_ids: msgspec.Raw = None

    def leg(self, asset: str) -> Leg | None:
        """The leg for ``asset``, if the batch has one."""
        return next((leg for leg in self.legs if leg.asset == asset), None)


class Pagination(_Result, frozen=True, kw_only=True):
    """Paging state of ``ListPrimeSettlementBatches``."""

    has_more: bool = False
    limit: int | None = None
    offset: int | None = None


class BatchPage(_Result, frozen=True, kw_only=True):
    """One page of batches, newest first."""

    data: tuple[Batch, ...] = ()
    pagination: Pagination = Pagination()


class TransferAttributes(_Result, frozen=True, kw_only=True):
    """``Transfer.attributes``; ``transfer_status`` is an open vocabulary (``pending`` seen).
    ``transfer_amount`` is a finite ``Decimal`` (``NaN``/``Infinity`` there: a malformed answer,
    ``ResponseValidationError``)."""

    transfer_status: str | None = None
    transfer_amount: Decimal | None = None
    transfer_asset: str | None = None

    def __post_init__(self) -> None:
        # Decoding turns this ValueError into a ResponseValidationError (a malformed answer).
        if self.transfer_amount is not None and not self.transfer_amount.is_finite():
            raise ValueError("transfer_amount must be a finite decimal")


class TransferRelationships(_Result, frozen=True, kw_only=True):
    """``Transfer.relationships``: the leg being settled."""

    leg: Leg | None = None


class Transfer(_Result, frozen=True, kw_only=True):
    """The transfer started by ``SettlePrimeSettlementBatchAsset``."""

    id: str
    attributes: TransferAttributes = TransferAttributes()
    relationships: TransferRelationships = TransferRelationships()


LegResult = Literal["settled", "skipped", "failed", "unknown"]


class LegOutcome(msgspec.Struct, frozen=True):
    """What happened to one leg in
    [`Settlement.settle_batch()`][kraken_prime_async._resources.settlement.Settlement.settle_batch].

    Attributes
    ----------
    asset : str
        The leg's asset.
    result : Literal["settled", "skipped", "failed", "unknown"]
        ``settled``: a transfer was started now (``transfer`` is set, unless it was established by
        reading the batch after a lost answer). ``skipped``: nothing to do (``reason`` says why).
        ``failed``: Kraken refused (``error``). ``unknown``: the answer was lost and the batch still
        shows the leg unsettled; run again later to retry it.

    Unlike the answers above, it (and ``SettlementReport``) stays tracked by the garbage
    collector: ``error``'s traceback holds frames that may refer back to it.
    """

    asset: str
    result: LegResult
    reason: str | None = None
    transfer: Transfer | None = None
    error: KrakenPrimeError | None = None


class SettlementReport(msgspec.Struct, frozen=True):
    """Per-leg outcomes of
    [`Settlement.settle_batch()`][kraken_prime_async._resources.settlement.Settlement.settle_batch],
    in the batch's leg order.

    ``confirmed`` is whether the batch was confirmed (when it was not, every leg is skipped).
    """

    batch_id: str
    confirmed: bool
    legs: tuple[LegOutcome, ...]

    def _with(self, result: LegResult) -> tuple[LegOutcome, ...]:
        return tuple(leg for leg in self.legs if leg.result == result)

    @property
    def settled(self) -> tuple[LegOutcome, ...]:
        """Legs settled by this run."""
        return self._with("settled")

    @property
    def skipped(self) -> tuple[LegOutcome, ...]:
        """Legs with nothing to do."""
        return self._with("skipped")

    @property
    def failed(self) -> tuple[LegOutcome, ...]:
        """Legs Kraken refused."""
        return self._with("failed")

    @property
    def unknown(self) -> tuple[LegOutcome, ...]:
        """Legs whose outcome could not be established; run again to retry them."""
        return self._with("unknown")

    @property
    def complete(self) -> bool:
        """``True`` when the batch was confirmed and no leg failed or is unknown."""
        return self.confirmed and not self.failed and not self.unknown


def _ms_to_datetime(field: str, value: int | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        shown = str(value) if -(10**24) < value < 10**24 else "a number of over 24 digits"
        raise ResponseValidationError(
            f"BatchAttributes.{field}: {shown} is not a usable epoch-milliseconds timestamp"
        ) from None


#: What a ``KeyFinding`` of ``client.api_user_keys.audit()`` reports (thresholds and
#: severities: ``docs/keys.md``, "Audit keys").
FindingCode = Literal[
    "no_ip_allowlist",
    "wide_ip_range",
    "unparsable_ip_entry",
    "trader_key",
    "disabled_user_key",
    "many_keys",
    "stale",
]

#: How urgent a finding is, most urgent first.
Severity = Literal["high", "medium", "low"]


class KeyFinding(_Result, frozen=True, kw_only=True):
    """One observation of ``client.api_user_keys.audit()`` (codes and thresholds: ``FindingCode``
    and docs/keys.md). ``key_id`` is ``None`` for a finding about all of a user's keys
    (``many_keys``); ``message`` is one line for people (keys carry no secret)."""

    user_id: str
    key_id: str | None
    code: FindingCode
    severity: Severity
    message: str


class KeyAudit(_Result, frozen=True, kw_only=True):
    """What an audit looked at, and its findings (most severe first, then user and key)."""

    users_checked: int
    keys_checked: int
    findings: tuple[KeyFinding, ...] = ()

    @property
    def clean(self) -> bool:
        """``True`` when nothing was found."""
        return not self.findings


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
