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
from typing import Any, Final

from .._journal.journal import Journal, Write
from ..errors import KeyRotationError, ValidationError
from ..models import CreatedApiKey

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
