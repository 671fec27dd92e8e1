"""A non-idempotent write through the client's journal, with its idempotency key.

``journaled()`` wraps the send of ``Resource._written``:

1. under an idempotency key (one task of the process at a time per key): a write recorded
   under it with the same arguments is returned without sending (``Outcome.replayed``); a
   pending one is settled first (``Journal.held``); other arguments raise ``ValidationError``;
2. the rule's read-before-write, then the intent, recorded (claimed under the key, atomically
   across the processes sharing the journal) before anything is sent;
3. each attempt's fence, recorded by the pipeline's ``on_sent`` hook before it goes out;
4. the outcome: ``applied`` (the result, secrets stripped), ``not_applied`` (refused, or proven
   not applied), ``unknown`` (stays pending for ``client.journal.resolve_pending()``). A
   cancelled write stays pending too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

import msgspec

from .. import _validation as check
from .._call import OnSent
from .._constants import MAX_ID_LENGTH
from .._endpoint import Endpoint
from .._journal.journal import Journal, Write
from .._journal.replay import frozen, plain, typed
from ..errors import KrakenPrimeError, OutcomeUnknownError
from ..models import ApiUser, Batch, CreatedApiKey, CreatedFastApiKey, Transfer
from ._reconcile.base import SETTLE_ASSET, Outcome, Rule

R = TypeVar("R")
F = TypeVar("F")

#: What each journaled create returns, for a result read back from the journal.
RESULT_TYPES: Final[dict[str, type[Any]]] = {
    "CreatePrimeApiUser": ApiUser,
    "CreatePrimeApiUserKey": CreatedApiKey,
    "CreatePrimeSettlementBatch": Batch,
    "SettlePrimeSettlementBatchAsset": Transfer,
    "CreateFastApiKey": CreatedFastApiKey,
}

#: ``send(before, on_sent, intent_id, mark)``: the write's sends (``Resource._claimed``); the
#: intent's id also names the create's claim, so resolving it later speaks for the same create,
#: and ``mark`` (``claims.Mark``) is what the registrations said before ``before`` was read.
Send = Callable[[object, OnSent, str, Any], Awaitable[Outcome[Any]]]


def idempotency_key(value: object) -> str:
    """A checked idempotency key: non-blank text of at most ``MAX_ID_LENGTH`` characters."""
    return check.name("idempotency_key", value, max_length=MAX_ID_LENGTH)


async def journaled(
    resource: Any,
    journal: Journal,
    endpoint: Endpoint[Any, Any],
    request: msgspec.Struct,
    reconcile: Rule[Any, Any, Any],
    send: Send,
    key: str | None,
) -> Outcome[Any]:
    """See the module docstring."""
    if key is None:
        return await _once(resource, journal, endpoint, request, reconcile, send, None)
    key = idempotency_key(key)
    async with journal.exclusive(key):
        return await _once(resource, journal, endpoint, request, reconcile, send, key)


async def _once(
    resource: Any,
    journal: Journal,
    endpoint: Endpoint[Any, Any],
    request: msgspec.Struct,
    reconcile: Rule[Any, Any, Any],
    send: Send,
    key: str | None,
) -> Outcome[Any]:
    operation = endpoint.operation
    arguments = plain(request)
    while True:
        if key is not None:
            held = await journal.held(operation, arguments, key)
            if held is not None:
                return Outcome(
                    replayed(held.result, operation, arguments, reconcile), replayed=True
                )
        mark = await resource._mark(reconcile, request)  # before the read-before-write
        before = None if reconcile.before is None else await reconcile.before(resource, request)
        write = await journal.begin(
            operation, arguments, before=frozen(before), idempotency_key=key
        )
        if isinstance(write, Write):
            break  # else another process claimed the key meanwhile: look again
    try:
        outcome = await send(before, write.sent, write.intent.id, mark)
    except OutcomeUnknownError as exc:
        await write.unknown(exc)
        raise
    except KrakenPrimeError as exc:
        await write.not_applied(exc)
        raise
    except BaseException:
        write.abandoned()
        raise
    secret = isinstance(outcome.value, (CreatedApiKey, CreatedFastApiKey))
    how = "read_back" if outcome.read_back else "answer"
    await write.applied(plain(outcome.value), how, wait=secret)
    return outcome


def replayed(
    result: Any, operation: str, arguments: dict[str, Any], reconcile: Rule[Any, Any, Any]
) -> Any:
    """A recorded result as the method returns it."""
    if result is None and reconcile is SETTLE_ASSET:
        raise OutcomeUnknownError(
            f"{operation}: the settle recorded under this idempotency key took effect, but the "
            "batch did not name its transfer when it was read back: read the batch for it.",
            operation=operation,
            arguments=arguments,
            attempts=0,
        )
    type_ = RESULT_TYPES.get(operation)
    return result if type_ is None or result is None else typed(result, type_)
