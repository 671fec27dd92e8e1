"""A key rotation that survives a crash: its stages in the journal, finished or undone later.

``api_user_keys.rotate`` records one ``RotateApiUserKey`` write whose steps are:

===============  =============================================================================
(intent)         the user, the old key, the allow-list to set; nothing changed yet
the create       ``CreatePrimeApiUserKey``, journaled as the rotation's step (its own intent,
                 fence and outcome)
``created``      the new key's id (its secret is held by this process only)
``delivered``    ``on_new_key(new)`` returned: the caller holds the new key durably
``deleting_old`` the old key's delete is about to be sent
(outcome)        ``applied`` (replaced), ``not_applied`` (rolled back: old key unchanged)
===============  =============================================================================

After a crash, ``resolve_rotation()`` (through ``client.journal.resolve_pending()``) decides by
the last stage reached: before ``delivered``, nobody holds the new key's secret, so the new key
is deleted (a create still pending is settled by the create rule behind its fence, which deletes
a key whose secret was lost) and the old key stays; from ``delivered`` on, the rotation is
finished (allow-list set, old key deleted). The old key is deleted only after delivery, so the
user never holds neither key and no key whose secret was never delivered stays live.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, Final

from .._journal.base import Intent, Status
from .._journal.journal import Journal, Write
from ..errors import KeyRotationError, KrakenPrimeError, OutcomeUnknownError, ValidationError
from ..models import CreatedApiKey

if TYPE_CHECKING:
    from .api_user_keys import ApiUserKeys

#: The journal's name of a key rotation (a workflow, not an API operation).
ROTATION: Final = "RotateApiUserKey"

#: ``on_new_key(new)``: hand the new key (with its secret) over durably; may be async.
NewKeyCallback = Callable[[CreatedApiKey], "Awaitable[None] | None"]


def check_delivery(journal: Journal | None, on_new_key: object) -> NewKeyCallback | None:
    """``on_new_key``, checked: required with a durable journal (a crash after the old key's
    delete would otherwise leave a key whose secret only the dead process held)."""
    if on_new_key is not None and not callable(on_new_key):
        raise ValidationError("on_new_key", "must be a callable taking the new CreatedApiKey")
    if on_new_key is None and journal is not None and journal.durable:
        raise ValidationError(
            "on_new_key",
            "a rotation with a file or Redis journal needs on_new_key=: the new key must reach "
            "you durably before the old key is deleted",
        )
    return on_new_key


class RotationLog:
    """One rotation's record in the journal (a no-op without a journal)."""

    def __init__(self, write: Write | None, on_new_key: NewKeyCallback | None) -> None:
        self.write = write
        self.on_new_key = on_new_key

    @classmethod
    async def begin(
        cls,
        journal: Journal | None,
        arguments: dict[str, Any],
        on_new_key: NewKeyCallback | None,
    ) -> RotationLog:
        if journal is None:
            return cls(None, on_new_key)
        write = await journal.begin(ROTATION, arguments)
        assert isinstance(write, Write)  # no idempotency key: never held by another write
        await write.sent(None, "")  # its steps may go out from now on: never "never sent"
        return cls(write, on_new_key)

    def steps(self) -> AbstractContextManager[None]:
        """The writes sent inside are the rotation's steps."""
        return nullcontext() if self.write is None else self.write.steps()

    async def stage(self, name: str, **progress: Any) -> None:
        if self.write is not None:
            await self.write.stage(name, **progress)

    async def deliver(self, new: CreatedApiKey) -> None:
        """``on_new_key(new)``, then the ``delivered`` stage."""
        if self.on_new_key is not None:
            result = self.on_new_key(new)
            if inspect.isawaitable(result):
                await result
        await self.stage("delivered")

    async def finished(self, new: CreatedApiKey) -> None:
        if self.write is not None:
            await self.write.applied({"new_key_id": new.id}, "replaced", wait=True)

    async def stopped(self, exc: KeyRotationError) -> None:
        """A rotation that raised: rolled back (only the old key live) or left pending."""
        if self.write is None:
            return
        if exc.new_key is None and exc.live_key_ids == (exc.old_key_id,):
            await self.write.not_applied(exc)
        else:
            await self.write.unknown(exc)

    def abandoned(self) -> None:
        if self.write is not None:
            self.write.abandoned()


async def resolve_rotation(
    keys: ApiUserKeys, journal: Journal, intent: Intent
) -> tuple[Status, Any, str]:
    """Finish (delivered) or undo (not delivered) a rotation a dead process left pending."""
    from .key_rotation import _Rotation  # the rotation's delete-and-confirm

    user_id, old_id = intent.arguments["user_id"], intent.arguments["key_id"]
    rotation = _Rotation(keys, user_id, old_id, {"timeout": None, "retry": None})
    new_id = intent.progress.get("new_key_id")
    for child in await journal.store.children(journal.key, intent.id):
        if child.pending:
            await journal.settle(child)  # a lost create: its secretless key is deleted
            settled = await journal.store.get(child.id)
            child = settled if settled is not None else child
        if child.status == "applied" and isinstance(child.result, dict):
            new_id = new_id or child.result.get("id")
    if intent.stage in ("delivered", "deleting_old"):
        allow = intent.arguments.get("whitelisted_ips")
        if allow and isinstance(new_id, str):
            await keys.update(user_id, new_id, whitelisted_ips=allow)
        if await rotation.delete(old_id) != "deleted":
            raise _unsettled(intent, f"the old key {old_id} could not be deleted")
        return "applied", {"new_key_id": new_id}, "finished"
    if new_id is not None and await rotation.delete(new_id) != "deleted":
        raise _unsettled(intent, f"the undelivered new key {new_id} could not be deleted")
    return "not_applied", {"deleted_key_id": new_id}, "rolled_back"


def _unsettled(intent: Intent, what: str) -> KrakenPrimeError:
    return OutcomeUnknownError(
        f"{ROTATION}: {what}; run client.journal.resolve_pending() again.",
        operation=ROTATION,
        arguments=intent.arguments,
        attempts=0,
    )
