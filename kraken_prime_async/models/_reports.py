"""What the SDK itself reports: ``settle_batch``'s outcomes and ``audit``'s findings."""

from __future__ import annotations

from typing import Literal

import msgspec

from ..errors import KrakenPrimeError
from ._base import _Result
from ._prime import Transfer

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
    "unattributed_key",
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
