"""``client.api_user_keys.audit()``: findings about API keys, from listed reads only.

The rules are pure functions of a user and its listed keys (``findings_for()``,
``unattributed_findings()``), so they are tested without a server; ``audit_keys()`` does the
reads (the client's journal's pending creates, then ``ListPrimeApiUsers`` or ``GetPrimeApiUser``,
then ``ListPrimeApiUserKeys`` per user, one after the other).

``unattributed_key``: a create whose answer was lost and could not be settled stays pending in
the client's write journal with the ids its read-back could not attribute (``candidates``); one
may be the lost create's own key, whose secret nobody received. Each such id still listed on an
audited user is reported until the write is settled (``client.journal.resolve_pending()``) or
the key is deleted.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Final, Literal

from .. import _validation as check
from .._constants import AUDIT_MAX_KEYS_PER_USER, AUDIT_MIN_IPV4_PREFIX, AUDIT_MIN_IPV6_PREFIX
from .._journal.base import Intent
from .._journal.journal import Journal
from .._retry import RetryLike
from ..errors import ValidationError
from ..models import ApiKey, ApiUser, FindingCode, KeyAudit, KeyFinding, Severity
from ._base import TimeoutLike
from .api_users import ApiUsers

UpdatedAtUnit = Literal["s", "ms"]
#: A key id a lost create could not attribute → the pending writes naming it, oldest first.
LostCreates = Mapping[str, Sequence[Intent]]

#: The journaled write whose lost answers leave keys nobody may hold the secret of.
CREATE_KEY: Final = "CreatePrimeApiUserKey"

_SEVERITY: Final[dict[FindingCode, Severity]] = {
    "no_ip_allowlist": "high",
    "wide_ip_range": "medium",
    "unparsable_ip_entry": "low",
    "trader_key": "low",
    "disabled_user_key": "low",
    "many_keys": "medium",
    "stale": "medium",
    "unattributed_key": "high",
}
_RANK: Final[dict[Severity, int]] = {"high": 0, "medium": 1, "low": 2}
_PER_SECOND: Final[dict[str, int]] = {"s": 1, "ms": 1000}


def _finding(user: ApiUser, key_id: str | None, code: FindingCode, message: str) -> KeyFinding:
    return KeyFinding(
        user_id=user.id, key_id=key_id, code=code, severity=_SEVERITY[code], message=message
    )


def _allowlist_findings(user: ApiUser, key: ApiKey) -> list[KeyFinding]:
    if not key.whitelisted_ips:
        return [_finding(user, key.id, "no_ip_allowlist", "no IP allow-list: usable from anywhere")]
    found = []
    for entry in key.whitelisted_ips:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            message = f"allow-list entry {entry!r:.60} is not an address or network"
            found.append(_finding(user, key.id, "unparsable_ip_entry", message))
            continue
        floor = AUDIT_MIN_IPV4_PREFIX if network.version == 4 else AUDIT_MIN_IPV6_PREFIX
        if network.prefixlen < floor:
            message = (
                f"allow-list admits {network} ({network.num_addresses:,} addresses; "
                f"prefixes shorter than /{floor} are reported)"
            )
            found.append(_finding(user, key.id, "wide_ip_range", message))
    return found


def findings_for(
    user: ApiUser,
    keys: Sequence[ApiKey],
    *,
    now: float | None = None,
    stale_after: float | None = None,
    updated_at_unit: UpdatedAtUnit | None = None,
) -> list[KeyFinding]:
    """Every finding about ``user``'s ``keys`` (see [`KeyFinding`][kraken_prime_async.KeyFinding]
    for the codes).

    ``stale`` is checked only when ``now`` (epoch seconds), ``stale_after`` (seconds) and
    ``updated_at_unit`` are all given: Kraken does not document the unit of ``updated_at``.
    """
    found: list[KeyFinding] = []
    if len(keys) > AUDIT_MAX_KEYS_PER_USER:
        message = (
            f"{len(keys)} keys (more than {AUDIT_MAX_KEYS_PER_USER}, the old key and its "
            "successor during a rotation): delete the ones no service uses"
        )
        found.append(_finding(user, None, "many_keys", message))
    for key in keys:
        found.extend(_allowlist_findings(user, key))
        if "Trader" in user.roles:
            found.append(_finding(user, key.id, "trader_key", "key of a Trader user: it can trade"))
        if user.status == "Disabled":
            message = "key of a Disabled user: delete it (Kraken does not say whether it works)"
            found.append(_finding(user, key.id, "disabled_user_key", message))
        if now is not None and stale_after is not None and updated_at_unit is not None:
            age = (
                None
                if key.updated_at is None
                else now - key.updated_at / _PER_SECOND[updated_at_unit]
            )
            if age is not None and age > stale_after:
                message = f"not updated for {age / 86400:.1f} days"
                found.append(_finding(user, key.id, "stale", message))
    return found


def unattributed_findings(
    user: ApiUser, keys: Sequence[ApiKey], lost: LostCreates
) -> list[KeyFinding]:
    """An ``unattributed_key`` finding for each of ``user``'s ``keys`` that a pending lost
    create could not attribute (``lost``: the user's candidate ids and the writes naming each).
    A candidate no longer among the keys is not reported."""
    found = []
    for key in keys:
        writes = lost.get(key.id)
        if writes:
            found.append(_finding(user, key.id, "unattributed_key", _unattributed(writes)))
    return found


def _unattributed(writes: Sequence[Intent]) -> str:
    first = writes[0]
    request = f", request {first.request_id}" if first.request_id else ""
    more = f", and {len(writes) - 1} later" if len(writes) > 1 else ""
    return (
        f"a create whose answer was lost (journal intent {first.id}{request}{more}) may have "
        "made this key, and nobody may hold its secret: delete it unless you know it"
    )


async def lost_creates(journal: Journal | None) -> dict[str, dict[str, list[Intent]]]:
    """The key ids the journal's pending key creates could not attribute, by user id, with the
    writes naming each (oldest first); none without a journal."""
    found: dict[str, dict[str, list[Intent]]] = {}
    if journal is None:
        return found
    await journal.flush()  # an unknown outcome is recorded in the background
    for intent in sorted(await journal.store.pending(journal.key), key=lambda i: i.at):
        user_id = intent.arguments.get("user_id")
        if intent.operation != CREATE_KEY or not isinstance(user_id, str):
            continue
        for key_id in intent.candidates:
            found.setdefault(user_id, {}).setdefault(key_id, []).append(intent)
    return found


def _sorted(findings: Iterable[KeyFinding]) -> tuple[KeyFinding, ...]:
    return tuple(
        sorted(findings, key=lambda f: (_RANK[f.severity], f.user_id, f.key_id or "", f.code))
    )


def _stale_settings(
    stale_after: float | None, updated_at_unit: str | None
) -> tuple[float | None, UpdatedAtUnit | None]:
    if stale_after is None:
        if updated_at_unit is not None:
            raise ValidationError("updated_at_unit", "only meaningful with stale_after")
        return None, None
    if isinstance(stale_after, bool) or not isinstance(stale_after, (int, float)):
        raise ValidationError("stale_after", "must be a number of seconds")
    if not 0 < stale_after < float("inf"):
        raise ValidationError("stale_after", "must be a positive, finite number of seconds")
    if updated_at_unit == "s":
        return float(stale_after), "s"
    if updated_at_unit == "ms":
        return float(stale_after), "ms"
    raise ValidationError(
        "updated_at_unit",
        "give 's' or 'ms' with stale_after: Kraken does not document the unit of updated_at",
    )


async def audit_keys(
    users: ApiUsers,
    list_keys: Callable[..., Awaitable[list[ApiKey]]],
    user_ids: Iterable[str] | None,
    *,
    clock: Callable[[], float],
    journal: Journal | None,
    stale_after: float | None,
    updated_at_unit: str | None,
    timeout: TimeoutLike | None,
    retry: RetryLike | None,
) -> KeyAudit:
    """Read the journal's pending key creates, the users (all, or ``user_ids``) and their
    keys; return the findings."""
    stale, unit = _stale_settings(stale_after, updated_at_unit)
    wanted: list[str] | None = None
    if user_ids is not None:
        if isinstance(user_ids, str):
            raise ValidationError("user_ids", "must be a list of user ids, not one str")
        wanted = [check.identifier(f"user_ids[{i}]", uid) for i, uid in enumerate(user_ids)]
    lost = await lost_creates(journal)
    if wanted is None:
        people = await users.list(timeout=timeout, retry=retry)
    else:
        people = [await users.get(u, timeout=timeout, retry=retry) for u in dict.fromkeys(wanted)]
    found: list[KeyFinding] = []
    keys_checked = 0
    for user in people:
        keys = await list_keys(user.id, timeout=timeout, retry=retry)
        keys_checked += len(keys)
        found.extend(findings_for(user, keys, now=clock(), stale_after=stale, updated_at_unit=unit))
        found.extend(unattributed_findings(user, keys, lost.get(user.id, {})))
    return KeyAudit(users_checked=len(people), keys_checked=keys_checked, findings=_sorted(found))
