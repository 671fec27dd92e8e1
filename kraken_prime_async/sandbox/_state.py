"""The sandbox's account state: API users, keys, trades, settlement batches, legs and transfers.

All business rules live here and fail with ``BusinessRuleError``, whose message is the exact
Kraken-style error string the server returns. Times are epoch milliseconds handed in by the caller.
"""

from __future__ import annotations

import base64
import random
import secrets
import uuid
from collections.abc import Container
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final, Literal

from kraken_prime_async._signing import decode_secret
from kraken_prime_async.sandbox._rules import NonceTracker, check_credentials

KeyKind = Literal["master", "user", "fast"]
AssetKind = Literal["currency", "tokenized_equity"]

ASSET_KINDS: Final = ("currency", "tokenized_equity")
ROLES: Final = ("Trader", "Viewer")
USER_STATUSES: Final = ("Enabled", "Disabled")
BATCH_STATUSES: Final = ("unsettled", "partially_settled", "settled", "completed")

_ID_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

ERR_UNKNOWN_USER: Final = "EGeneral:Invalid arguments:unknown user_id"
ERR_UNKNOWN_KEY: Final = "EGeneral:Invalid arguments:unknown key_id"
ERR_UNKNOWN_BATCH: Final = "EGeneral:Invalid arguments:unknown batch_id"
ERR_UNKNOWN_ASSET: Final = "EGeneral:Invalid arguments:unknown asset"
ERR_ACTIVE_BATCH: Final = "EGeneral:Invalid arguments:active batch exists"
ERR_NO_TRADES: Final = "EGeneral:Invalid arguments:no unsettled trades"
ERR_NOT_CONFIRMED: Final = "EGeneral:Invalid arguments:batch not confirmed"
ERR_NOT_SETTLEABLE: Final = "EGeneral:Invalid arguments:leg not settleable"
ERR_LEG_SETTLING: Final = "EGeneral:Invalid arguments:leg already settling"
ERR_LEG_SETTLED: Final = "EGeneral:Invalid arguments:leg already settled"


class BusinessRuleError(Exception):
    """A request that is well formed but breaks a rule; ``str(exc)`` is the Kraken error string."""


@dataclass
class UserRecord:
    """One Prime API user."""

    id: str
    name: str
    status: str = "Enabled"
    roles: list[str] = field(default_factory=list)


@dataclass
class SandboxKey:
    """One API key: the owner's master key, an API user's key, or a Fast API key."""

    id: str
    api_key: str
    api_secret: str
    kind: KeyKind
    user_id: str | None
    updated_at: int
    nonces: NonceTracker
    whitelisted_ips: list[str] = field(default_factory=list)
    deleted: bool = False
    valid_until: float = 0.0
    last_used: float = 0.0

    @property
    def hmac_key(self) -> bytes:
        """The decoded secret used to verify ``API-Sign``."""
        return decode_secret(self.api_secret)


@dataclass
class TradeRecord:
    """A booked trade waiting to be captured by a settlement batch."""

    id: str
    asset: str
    amount: Decimal
    asset_kind: str
    created_at: int
    batch_id: str | None = None


@dataclass
class TransferRecord:
    """The spot transfer that settles one leg."""

    id: str
    batch_id: str
    asset: str
    amount: Decimal
    status: str = "pending"


@dataclass
class LegRecord:
    """The net position of one asset inside a batch."""

    asset: str
    amount: Decimal
    status: str = "unsettled"
    settled_at: int | None = None
    transfer: TransferRecord | None = None

    @property
    def can_settle(self) -> bool:
        """Settleable while unsettled and non-zero."""
        return self.status == "unsettled" and self.amount != 0


@dataclass
class BatchRecord:
    """A settlement batch: a snapshot of trades netted into legs."""

    id: str
    asset_kind: str
    created_at: int
    updated_at: int
    seq: int
    trade_ids: list[str]
    legs: list[LegRecord]
    confirmed: bool = False

    @property
    def status(self) -> str:
        """``unsettled`` → ``partially_settled`` → ``settled`` (zero legs are ignored)."""
        relevant = [leg for leg in self.legs if leg.amount != 0]
        if all(leg.status == "settled" for leg in relevant):
            return "settled"
        if any(leg.status != "unsettled" for leg in relevant):
            return "partially_settled"
        return "unsettled"

    @property
    def active(self) -> bool:
        """A batch is active until every leg is settled."""
        return self.status not in ("settled", "completed")


def new_secret() -> str:
    """A Kraken-style API secret: base64 of 64 random bytes."""
    return base64.b64encode(secrets.token_bytes(64)).decode("ascii")


class SandboxState:
    """Everything the sandbox knows, with the operations the endpoints need.

    Parameters
    ----------
    rng : random.Random
        Source of identifiers (seeded for reproducible ids).
    nonce_window : int
        Nonce window given to new keys.
    """

    def __init__(self, rng: random.Random, nonce_window: int = 0) -> None:
        self._rng = rng
        self.default_nonce_window = nonce_window
        self.users: dict[str, UserRecord] = {}
        self.keys: dict[str, SandboxKey] = {}  # by public api_key
        self.trades: dict[str, TradeRecord] = {}
        self.batches: dict[str, BatchRecord] = {}
        self.transfers: dict[str, TransferRecord] = {}
        self._transfer_seq = 100

    # -- identifiers -------------------------------------------------------------------------

    def _token(self, length: int) -> str:
        return "".join(self._rng.choice(_ID_ALPHABET) for _ in range(length))

    def _unique(self, length: int, taken: Container[str], prefix: str = "") -> str:
        while True:
            candidate = prefix + self._token(length)
            if candidate not in taken:
                return candidate

    # -- keys and users ----------------------------------------------------------------------

    def new_key(
        self,
        kind: KeyKind,
        user_id: str | None,
        now_ms: int,
        nonce_window: int | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> SandboxKey:
        """Create and register a key pair (``credentials``: a fixed ``(api_key, api_secret)``)."""
        key_ids = {k.id for k in self.keys.values()}
        window = self.default_nonce_window if nonce_window is None else nonce_window
        if credentials is not None:
            check_credentials(*credentials, taken=self.keys)
        api_key, api_secret = credentials or (
            self._unique(20, set(self.keys), prefix="KRA"),
            new_secret(),
        )
        key = SandboxKey(
            id=self._unique(13, key_ids),
            api_key=api_key,
            api_secret=api_secret,
            kind=kind,
            user_id=user_id,
            updated_at=now_ms,
            nonces=NonceTracker(window=window),
        )
        self.keys[key.api_key] = key
        return key

    def live_key(self, api_key: str) -> SandboxKey | None:
        """The key with this public part if it may still sign (not deleted, user enabled)."""
        key = self.keys.get(api_key)
        if key is None or key.deleted:
            return None
        if key.user_id is not None and self.users[key.user_id].status != "Enabled":
            return None
        return key

    def create_user(self, name: str, role: str) -> UserRecord:
        """Add an enabled API user with one role."""
        user = UserRecord(id=self._unique(13, self.users), name=name, roles=[role])
        self.users[user.id] = user
        return user

    def user(self, user_id: str) -> UserRecord:
        """Look up a user or fail with ``unknown user_id``."""
        try:
            return self.users[user_id]
        except KeyError:
            raise BusinessRuleError(ERR_UNKNOWN_USER) from None

    def update_user(self, user_id: str, name: str | None, status: str | None) -> UserRecord:
        """Rename and/or enable/disable a user (disabling revokes its keys at once)."""
        user = self.user(user_id)
        if name is not None:
            user.name = name
        if status is not None:
            user.status = status
        return user

    def update_roles(self, user_id: str, role: str) -> UserRecord:
        """Replace the user's roles with ``[role]``."""
        user = self.user(user_id)
        user.roles = [role]
        return user

    def user_keys(self, user_id: str) -> list[SandboxKey]:
        """The live keys of a user, oldest first."""
        self.user(user_id)
        return [k for k in self.keys.values() if k.user_id == user_id and not k.deleted]

    def user_key(self, user_id: str, key_id: str) -> SandboxKey:
        """One live key of a user or fail with ``unknown key_id``."""
        for key in self.user_keys(user_id):
            if key.id == key_id:
                return key
        raise BusinessRuleError(ERR_UNKNOWN_KEY)

    def update_key(
        self, user_id: str, key_id: str, ips: list[str] | None, now_ms: int
    ) -> SandboxKey:
        """Replace the key's IP allow-list."""
        key = self.user_key(user_id, key_id)
        if ips is not None:
            key.whitelisted_ips = list(ips)
        key.updated_at = now_ms
        return key

    def delete_key(self, user_id: str, key_id: str) -> None:
        """Revoke a key immediately."""
        self.user_key(user_id, key_id).deleted = True

    # -- trades and batches ------------------------------------------------------------------

    def add_trade(self, asset: str, amount: Decimal, asset_kind: str, now_ms: int) -> str:
        """Book a trade; it joins the next batch of its ``asset_kind``."""
        trade = TradeRecord(str(uuid.uuid4()), asset, amount, asset_kind, now_ms)
        self.trades[trade.id] = trade
        return trade.id

    def create_batch(self, asset_kind: str, now_ms: int) -> BatchRecord:
        """Snapshot every unbatched trade of ``asset_kind`` into a new batch, netting per asset."""
        if any(b.asset_kind == asset_kind and b.active for b in self.batches.values()):
            raise BusinessRuleError(ERR_ACTIVE_BATCH)
        trades = [
            t for t in self.trades.values() if t.asset_kind == asset_kind and t.batch_id is None
        ]
        if not trades:
            raise BusinessRuleError(ERR_NO_TRADES)
        net: dict[str, Decimal] = {}
        for trade in trades:
            net[trade.asset] = net.get(trade.asset, Decimal(0)) + trade.amount
        batch = BatchRecord(
            id=self._unique(8, self.batches, prefix="B_"),
            asset_kind=asset_kind,
            created_at=now_ms,
            updated_at=now_ms,
            seq=len(self.batches),
            trade_ids=[t.id for t in trades],
            legs=[LegRecord(asset, amount) for asset, amount in net.items()],
        )
        for trade in trades:
            trade.batch_id = batch.id
        self.batches[batch.id] = batch
        return batch

    def batch(self, batch_id: str, asset_kind: str | None = None) -> BatchRecord:
        """Look up a batch (optionally of one ``asset_kind``) or fail with ``unknown batch_id``."""
        batch = self.batches.get(batch_id)
        if batch is None or (asset_kind is not None and batch.asset_kind != asset_kind):
            raise BusinessRuleError(ERR_UNKNOWN_BATCH)
        return batch

    def list_batches(
        self,
        *,
        asset_kind: str | None,
        statuses: list[str] | None,
        from_ms: int | None,
        until_ms: int | None,
        limit: int,
        offset: int,
    ) -> tuple[list[BatchRecord], bool]:
        """Filtered batches, newest first, one page; returns ``(page, has_more)``."""
        found = [
            b
            for b in self.batches.values()
            if (asset_kind is None or b.asset_kind == asset_kind)
            and (statuses is None or b.status in statuses)
            and (from_ms is None or b.created_at > from_ms)
            and (until_ms is None or b.created_at <= until_ms)
        ]
        found.sort(key=lambda b: (b.created_at, b.seq), reverse=True)
        return found[offset : offset + limit], offset + limit < len(found)

    def confirm_batch(self, batch_id: str, now_ms: int) -> None:
        """Mark a batch confirmed (Kraken does this on its side)."""
        batch = self.batch(batch_id)
        if not batch.confirmed:
            batch.confirmed = True
            batch.updated_at = now_ms

    def auto_confirm(self, now_ms: int, after_ms: int) -> None:
        """Confirm every batch created at least ``after_ms`` ago."""
        for batch in self.batches.values():
            if not batch.confirmed and now_ms - batch.created_at >= after_ms:
                batch.confirmed = True
                batch.updated_at = batch.created_at + after_ms

    def settle(self, batch_id: str, asset: str, now_ms: int) -> tuple[TransferRecord, LegRecord]:
        """Start the transfer of one leg; a leg never gets two transfers."""
        batch = self.batch(batch_id)
        leg = next((leg for leg in batch.legs if leg.asset == asset), None)
        if leg is None:
            raise BusinessRuleError(ERR_UNKNOWN_ASSET)
        if not batch.confirmed:
            raise BusinessRuleError(ERR_NOT_CONFIRMED)
        if leg.status == "settling":
            raise BusinessRuleError(ERR_LEG_SETTLING)
        if leg.status == "settled":
            raise BusinessRuleError(ERR_LEG_SETTLED)
        if not leg.can_settle:
            raise BusinessRuleError(ERR_NOT_SETTLEABLE)
        transfer = TransferRecord(str(self._transfer_seq), batch.id, leg.asset, leg.amount)
        self._transfer_seq += 1
        self.transfers[transfer.id] = transfer
        leg.status = "settling"
        leg.transfer = transfer
        batch.updated_at = now_ms
        return transfer, leg

    def complete_transfers(self, now_ms: int, batch_id: str | None = None) -> list[str]:
        """Settle every pending transfer (of one batch, or all); returns their ids."""
        done: list[str] = []
        for transfer in self.transfers.values():
            if transfer.status != "pending" or batch_id not in (None, transfer.batch_id):
                continue
            transfer.status = "settled"
            batch = self.batches[transfer.batch_id]
            for leg in batch.legs:
                if leg.transfer is transfer:
                    leg.status = "settled"
                    leg.settled_at = now_ms
            batch.updated_at = now_ms
            done.append(transfer.id)
        return done
