"""Typed results of ``client.api_user_keys.audit()``.

Re-exported by :mod:`kraken_prime_async.models`; import them from there.
"""

from __future__ import annotations

from typing import Literal

import msgspec


class _Result(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """Base of the audit result Structs: immutable, no GC tracking."""


#: What a :class:`KeyFinding` reports: no allow-list (high); a whole network allowed, IPv4
#: prefix < /24 or IPv6 < /48 (medium); an entry that is no address (low); key of a Trader
#: (low) or of a Disabled user (low); more than 2 keys per user (medium); not updated for longer
#: than ``stale_after`` (medium; only with ``updated_at_unit``, Kraken does not document it).
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
