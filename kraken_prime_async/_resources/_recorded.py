"""Which reconcile rule settles a write a journal recorded: the client's journal resolver.

``client.journal.resolve_pending()`` (and an idempotency key whose write is pending) hands each
recorded intent to the resolver built here. It rebuilds the request that was sent from the
recorded arguments and runs the write's rule through the one seam every lost answer goes
through, ``Resource._reconcile_lost``, with a ``LostAnswer`` that carries the recorded fence
(the dead request's nonce plus the key's window) and the recorded ``before``. Whatever the rule
decides for a lost answer in a live process, it decides for a dead process's write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import msgspec

from .._constants import CLAIM_TTL
from .._journal.base import Intent, Status, fold
from .._journal.base import now as journal_now
from .._journal.journal import Resolver
from .._journal.replay import plain, thawed
from .._keys.fleet._base import Claim
from ..errors import KrakenPrimeError, OutcomeUnknownError
from . import api_user_keys, api_users, fast_api_keys, settlement
from ._base import Resource
from ._journaled import replayed
from ._reconcile import base as _settlement_rules
from ._reconcile import fast_api as _fast_api_rules
from ._reconcile import users as _user_rules
from ._reconcile.base import LostAnswer, Resend, Rule
from ._reconcile.claims import BLIND, Mark


class Recorded(NamedTuple):
    """How to settle one operation: the resource reading the state, its rule, its request."""

    resource: str
    rule: Rule[Any, Any, Any]
    request: type[msgspec.Struct]


#: Every non-idempotent write the resources journal. A settle recorded in the journal is settled
#: by the leg rule: a leg shown started without a named transfer is applied (its transfer is
#: read later), never "unknown".
RECORDED: Final[dict[str, Recorded]] = {
    "CreatePrimeApiUser": Recorded("api_users", _user_rules.CREATE_USER, api_users.CreateUser),
    "CreatePrimeApiUserKey": Recorded(
        "api_user_keys", _user_rules.CREATE_KEY, api_user_keys.UserId
    ),
    "CreatePrimeSettlementBatch": Recorded(
        "settlement", _settlement_rules.CREATE_BATCH, settlement.CreateBatch
    ),
    "SettlePrimeSettlementBatchAsset": Recorded(
        "settlement", _settlement_rules.SETTLE_LEG, settlement.SettleAsset
    ),
    "CreateFastApiKey": Recorded(
        "fast_api_keys", _fast_api_rules.FAST_API_CREATE, fast_api_keys._Parameters
    ),
    "UpdateFastApiKey": Recorded(
        "fast_api_keys", _fast_api_rules.FAST_API_RENAME, fast_api_keys._Update
    ),
    "DeleteFastApiKey": Recorded(
        "fast_api_keys", _fast_api_rules.FAST_API_DELETE, fast_api_keys._Name
    ),
}


def lost_from(intent: Intent, request: msgspec.Struct) -> LostAnswer[Any]:
    """The ``LostAnswer`` of a recorded write: its fence and ``before`` as recorded."""
    error = OutcomeUnknownError(
        f"{intent.operation}: sent by a process that stopped before its answer was recorded "
        f"(journal intent {intent.id}).",
        operation=intent.operation,
        arguments=intent.arguments,
        attempts=1,
    )
    error.request_id = intent.request_id or ""
    return LostAnswer(intent.operation, request, error, thawed(intent.before), intent.fence)


def resolver(resources: Mapping[str, Resource], workflows: Mapping[str, Resolver]) -> Resolver:
    """The resolver of a client with ``resources`` (by attribute name) and ``workflows``
    (multi-step writes such as a key rotation, by operation)."""

    async def resolve(intent: Intent) -> tuple[Status, Any, str]:
        workflow = workflows.get(intent.operation)
        if workflow is not None:
            return await workflow(intent)
        recorded = RECORDED.get(intent.operation)
        resource = None if recorded is None else resources.get(recorded.resource)
        if recorded is None or resource is None:
            raise OutcomeUnknownError(
                f"{intent.operation}: this client cannot settle a recorded write of this "
                "operation; use a client of the kind that made it.",
                operation=intent.operation,
                arguments=intent.arguments,
                attempts=0,
            )
        request = msgspec.convert(intent.arguments, recorded.request)
        return await _settled(resource, recorded.rule, intent, request)

    return resolve


async def _settled(
    resource: Resource, rule: Rule[Any, Any, Any], intent: Intent, request: msgspec.Struct
) -> tuple[Status, Any, str]:
    """A recorded write settled by its rule; a create speaks through its registration (the
    intent's id names it), so attribution follows the same proof as a lost answer."""
    lost = lost_from(intent, request)
    claims = resource._pipeline.claims
    if rule.scope is None or claims is None:
        verdict = await resource._reconcile_lost(rule, lost)
        return _status(rule, verdict)
    scope = rule.scope(request)
    earlier = claims.stamps(scope).get(intent.id)
    if earlier is not None and earlier[2].seq >= 0:
        claim = await claims.register(scope, token=intent.id)  # this process's: its own mark
    else:  # another process's, or this one's before a restart: what the journal recorded now
        recorded = await _recorded_creates(resource, intent, scope)
        # The intent's age on the journal's clock, as a time on the client's.
        at = claims.clock() - (journal_now() - intent.at)
        mark = BLIND if recorded is None else Mark(-1, frozenset(), at, extra=recorded)
        claim = await claims.register(scope, token=intent.id, mark=mark)
    try:
        verdict = await resource._reconcile_lost(rule, msgspec.structs.replace(lost, claim=claim))
    except OutcomeUnknownError as exc:
        await claim.put("unknown", exc.candidates)
        raise
    except BaseException:
        await claim.put("unknown")
        raise
    if isinstance(verdict, Resend):
        await claim.put("none")
    else:
        made = None if rule.made is None else rule.made(request, verdict)
        await claim.put("done", () if made is None else (made,))
    return _status(rule, verdict)


async def _recorded_creates(
    resource: Resource, intent: Intent, scope: str
) -> dict[str, Claim] | None:
    """The creates of ``scope`` a durable journal recorded around ``intent`` (from
    ``CLAIM_TTL`` before it, and every one still pending), as registrations. One begun after
    ``intent`` is set aside by what it made (``done``); one begun before it, or unresolved, is
    ``unknown`` with the ids it made or could not attribute: it can only withhold a proof (a
    name a Fast API create used before may be in use again). With them, a write this process
    did not register (a dead process's) is attributed against every create the journal saw
    since. ``None`` when the journal does not outlive its process: then nothing is claimed."""
    journal = resource._pipeline.journal
    if journal is None or not journal.durable:
        return None
    states: dict[str, Intent | None] = {}
    async for entry in journal.store.entries(since=intent.at - CLAIM_TTL):
        state = fold(states.get(entry.intent), entry)
        if state is None and entry.kind != "intent":  # begun before the window
            state = await journal.store.get(entry.intent)
        states[entry.intent] = state
    for waiting in await journal.store.pending(journal.key):
        if states.get(waiting.id) is None:
            states[waiting.id] = waiting
    found: dict[str, Claim] = {}
    for other in states.values():
        if other is None or other.id == intent.id or other.key != intent.key:
            continue
        claim = _as_claim(other, scope, after=other.at > intent.at)
        if claim is not None:
            found[other.id] = claim
    return found


def _as_claim(other: Intent, scope: str, *, after: bool) -> Claim | None:
    """A recorded create of ``scope`` as a registration (``None``: another scope, or no create)."""
    recorded = RECORDED.get(other.operation)
    if recorded is None or recorded.rule.scope is None or other.status == "not_applied":
        return None
    try:
        request = msgspec.convert(other.arguments, recorded.request)
        if recorded.rule.scope(request) != scope:
            return None
        made: tuple[str, ...] | None = _made(recorded.rule, other, request)
    except (msgspec.ValidationError, KrakenPrimeError, TypeError, ValueError):
        made = None  # unreadable: a create that may have made anything
    if after and other.status == "applied" and made is not None:
        return Claim(scope, other.id, "done", made, other.at)
    return Claim(scope, other.id, "unknown", made or other.candidates, other.at)


def _made(rule: Rule[Any, Any, Any], other: Intent, request: msgspec.Struct) -> tuple[str, ...]:
    """The id an applied recorded create made (none when it names none)."""
    if other.status != "applied" or rule.made is None:
        return ()
    made = rule.made(request, replayed(other.result, other.operation, other.arguments, rule))
    return () if made is None else (made,)


def _status(rule: Rule[Any, Any, Any], verdict: object) -> tuple[Status, Any, str]:
    if isinstance(verdict, Resend):
        return "not_applied", None, "not_applied"
    return "applied", plain(verdict), rule.how
