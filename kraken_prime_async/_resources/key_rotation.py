"""``client.api_user_keys.rotate()``: replace a key without a moment with no working key.

Steps, each safe against a lost answer:

1. ``ListPrimeApiUserKeys``: the old key must exist; its allow-list is copied, and the list is
   the "before" picture that makes a lost create recognisable.
2. ``CreatePrimeApiUserKey``, through ``api_user_keys.create``, which settles a lost answer
   exactly: the user's keys are read before and read back behind the nonce fence; a key the lost
   request made (nobody holds its secret) is deleted and the key created again, within the retry
   policy (see ``docs/guarantees.md``, "Exactly-once writes"). An answer it cannot settle stops
   the rotation with the old key unchanged.
3. Verification (``verify=True``): a signed ``ListPrimeSettlementBatches`` (``limit=1``) made
   with the *new* key and the secret this call holds. Both roles may make it (Viewer: "query
   orders"; the key and user endpoints are the account owner's). A ``PermissionDeniedError``
   also proves the key: Kraken checks key, signature and nonce before permissions. Its nonce is
   in seconds, the smallest unit, so whichever unit the key is used with later stays above it.
   It runs before the allow-list is set, so it works from the host running the rotation.
4. ``UpdatePrimeApiUserKey``: the allow-list (the old key's, or ``whitelisted_ips``).
5. ``on_new_key(new)``: the new key (with its secret) is handed over before the old key goes
   (the CLI writes ``--secret-file`` here); a callback that raises rolls the rotation back.
6. ``DeletePrimeApiUserKey`` of the old key; a lost or refused answer is resolved by listing.

With the client's journal each stage is recorded (``key_rotation_journal``), so after a crash
``client.journal.resolve_pending()`` finishes a rotation whose new key was delivered and undoes
one whose new key was not.

If step 3 or 4 fails, or the old key's delete is refused, the new key is deleted (confirmed by
listing) and [`KeyRotationError`][kraken_prime_async.errors.KeyRotationError] says so; the old key
is
untouched. Once the old key's delete has been sent, cancelling the rotation is deferred until its
outcome is known, so the caller is never left holding neither key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

import msgspec

from .. import _validation as check
from .._constants import LOGGER_NAME
from .._retry import RetryLike, RetryPolicy
from .._secret import SecretStr
from .._timeout import coerce_timeout
from ..errors import (
    AuthenticationError,
    KeyRotationError,
    KrakenPrimeError,
    OutcomeUnknownError,
    PermissionDeniedError,
    ValidationError,
)
from ..models import ApiKey, BatchPage, CreatedApiKey
from ._base import TimeoutLike
from .key_rotation_journal import ROTATION, NewKeyCallback, RotationLog, check_delivery

if TYPE_CHECKING:
    from .._journal.base import Intent, Status
    from .._journal.journal import Journal


class _BatchReads(Protocol):
    async def list_batches(
        self, *, limit: int | None = None, timeout: TimeoutLike | None, retry: RetryLike | None
    ) -> BatchPage: ...


class UserKeys(Protocol):
    """What the rotation calls of ``client.api_user_keys`` (``ApiUserKeys``)."""

    async def list(
        self, user_id: str, *, timeout: TimeoutLike | None = None, retry: RetryPolicy | None = None
    ) -> list[ApiKey]: ...

    async def create(
        self, user_id: str, *, timeout: TimeoutLike | None = None, retry: RetryPolicy | None = None
    ) -> CreatedApiKey: ...

    async def update(
        self,
        user_id: str,
        key_id: str,
        *,
        whitelisted_ips: Iterable[str],
        timeout: TimeoutLike | None = None,
        retry: RetryPolicy | None = None,
    ) -> ApiKey: ...

    async def delete(
        self,
        user_id: str,
        key_id: str,
        *,
        timeout: TimeoutLike | None = None,
        retry: RetryPolicy | None = None,
    ) -> bool: ...


class KeyClient(Protocol):
    """What verifying needs of a client signing with the new key (a ``PrimeClient``)."""

    @property
    def settlement(self) -> _BatchReads: ...

    async def close(self) -> None: ...


#: ``(api_key, api_secret) -> client`` for the new key (``PrimeClient.copy`` with the new key).
SiblingFactory = Callable[[str, SecretStr], KeyClient]
Deletion = Literal["deleted", "live", "unknown"]

logger = logging.getLogger(LOGGER_NAME)

#: Kraken may take a moment to accept a key it has just issued: "Invalid key" is retried this
#: many times, ``_VERIFY_DELAY`` seconds apart (each refusal counts towards Kraken's lockout).
_VERIFY_ATTEMPTS: Final = 3
_VERIFY_DELAY: Final = 1.0


def _describe(exc: BaseException) -> str:
    """The SDK's own messages carry no credential; anything else is named by its type only."""
    if isinstance(exc, KrakenPrimeError):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__


class _Rotation:
    """One rotation's arguments and the calls it makes (``timeout``/``retry`` on each)."""

    def __init__(
        self,
        keys: UserKeys,
        user_id: str,
        old_key_id: str,
        tail: dict[str, Any],
        *,
        sleep: Callable[[float], Awaitable[None]],
        fence_seconds: float,
    ) -> None:
        self.keys = keys
        self.sleep = sleep
        self.fence_seconds = fence_seconds  # the calling key's nonce window, in seconds
        self.user_id = user_id
        self.old_key_id = old_key_id
        self.tail = tail
        self.delete_error: BaseException | None = None  # why the last delete() was not clean

    def error(self, message: str, stage: str, **state: Any) -> KeyRotationError:
        text = f"key rotation of {self.old_key_id} (user {self.user_id}) stopped: {message}"
        return KeyRotationError(
            text, stage=stage, user_id=self.user_id, old_key_id=self.old_key_id, **state
        )

    async def first_read(self) -> list[ApiKey]:
        """The user's keys before anything is changed (stage ``"list"`` when it fails)."""
        try:
            return await self.keys.list(self.user_id, **self.tail)
        except KrakenPrimeError as exc:
            raise self.error(
                f"reading the user's keys failed ({_describe(exc)}); nothing was changed",
                "list",
                live_key_ids=(self.old_key_id,),
            ) from exc

    async def key_ids(self) -> list[str]:
        return [key.id for key in await self.keys.list(self.user_id, **self.tail)]

    async def fence(self) -> None:
        """Make a request lost on the wire unadmittable before reading the state back."""
        if self.fence_seconds > 0:
            await self.sleep(self.fence_seconds)

    async def delete(self, key_id: str) -> Deletion:
        """Delete ``key_id``; when the answer is lost or refused, list to find out."""
        try:
            await self.keys.delete(self.user_id, key_id, **self.tail)
            return "deleted"
        except (AuthenticationError, PermissionDeniedError) as exc:
            self.delete_error = exc
            return "live"  # refused before anything happened
        except KrakenPrimeError as exc:
            self.delete_error = exc
            logger.info("delete of key %s: %s; reading the user's keys", key_id, type(exc).__name__)
        try:
            await self.fence()
            return "live" if key_id in await self.key_ids() else "deleted"
        except KrakenPrimeError:
            return "unknown"

    async def create(self) -> CreatedApiKey:
        try:
            return await self.keys.create(self.user_id, **self.tail)
        except OutcomeUnknownError as exc:  # lost, and it could not be settled
            orphan: tuple[str, ...] = () if exc.orphan_key_id is None else (exc.orphan_key_id,)
            orphan += tuple(key for key in exc.candidates if key not in orphan)
            raise self.error(
                f"creating the new key had an unknown outcome ({exc}); the old key is unchanged",
                "create",
                live_key_ids=(self.old_key_id,),
                unknown_key_ids=orphan,
            ) from exc
        except KrakenPrimeError as exc:  # refused, or proven not made: no key was left
            raise self.error(
                f"creating the new key failed ({_describe(exc)}); the old key is unchanged",
                "create",
                live_key_ids=(self.old_key_id,),
            ) from exc

    async def roll_back(self, new: CreatedApiKey, stage: str, cause: BaseException) -> None:
        """Delete the new key after a failed step, and raise saying what is left."""
        what = f"{stage.replace('_', '-')} failed ({_describe(cause)})"
        outcome = await self.delete(new.id)
        if outcome == "deleted":
            raise self.error(
                f"{what}; the new key was deleted, the old key is unchanged",
                stage,
                live_key_ids=(self.old_key_id,),
            ) from cause
        raise self.error(
            f"{what}; the new key {new.id} could not be deleted: it is on .new_key (with its "
            "secret); delete it or use it",
            stage,
            live_key_ids=(self.old_key_id, new.id) if outcome == "live" else (self.old_key_id,),
            unknown_key_ids=(new.id,) if outcome == "unknown" else (),
            new_key=new,
        ) from cause


async def _verify(sibling: SiblingFactory, new: CreatedApiKey, rotation: _Rotation) -> None:
    """A signed read made with the new key and the secret we hold."""
    client = sibling(new.api_key, new.api_secret)
    try:
        for attempt in range(1, _VERIFY_ATTEMPTS + 1):
            try:
                await client.settlement.list_batches(limit=1, **rotation.tail)
                return
            except PermissionDeniedError:
                return  # Kraken refuses a permission only after accepting key, signature, nonce
            except AuthenticationError:
                if attempt == _VERIFY_ATTEMPTS:
                    raise
            await rotation.sleep(_VERIFY_DELAY)
    finally:
        await client.close()


async def _delete_old(rotation: _Rotation, new: CreatedApiKey) -> None:
    """Delete the old key; a cancellation here waits for the outcome (see the module doc)."""
    task = asyncio.ensure_future(rotation.delete(rotation.old_key_id))
    try:
        outcome = await asyncio.shield(task)
    except asyncio.CancelledError:
        outcome = await task
        if outcome != "deleted":
            raise
        logger.warning("key rotation: cancellation deferred, the old key was already deleted")
    if outcome == "deleted":
        return
    if outcome == "live":
        cause = rotation.delete_error or KrakenPrimeError("the old key is still listed")
        await rotation.roll_back(new, "delete_old", cause)
    raise rotation.error(
        f"whether the old key was deleted is unknown; the new key {new.id} works and is on "
        ".new_key (with its secret): keep it",
        "delete_old",
        live_key_ids=(new.id,),
        unknown_key_ids=(rotation.old_key_id,),
        new_key=new,
    )


async def rotate_key(
    keys: UserKeys,
    sibling: SiblingFactory | None,
    user_id: str,
    key_id: str,
    *,
    whitelisted_ips: Iterable[str] | None,
    verify: bool,
    timeout: TimeoutLike | None,
    retry: RetryLike | None,
    sleep: Callable[[float], Awaitable[None]],
    fence_seconds: float,
    on_new_key: NewKeyCallback | None = None,
    journal: Journal | None = None,
) -> CreatedApiKey:
    """The workflow behind ``client.api_user_keys.rotate`` (see the module docstring).

    ``sleep`` is the client's; ``fence_seconds`` its key's nonce window in seconds (how long a
    request lost on the wire stays admittable).
    """
    user_id = check.identifier("user_id", user_id)
    key_id = check.identifier("key_id", key_id)
    ips = None if whitelisted_ips is None else check.ip_list("whitelisted_ips", whitelisted_ips)
    if not isinstance(verify, bool):
        raise ValidationError("verify", "must be True or False")
    if verify and sibling is None:
        raise ValidationError("verify", "this client cannot build a client for the new key")
    if timeout is not None:
        coerce_timeout(timeout)  # checked now: a bad value must not surface after a write
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise ValidationError("retry", "must be a RetryPolicy")
    deliver_to = check_delivery(journal, on_new_key)
    tail = {"timeout": timeout, "retry": retry}
    rotation = _Rotation(keys, user_id, key_id, tail, sleep=sleep, fence_seconds=fence_seconds)
    before = await rotation.first_read()
    old = next((key for key in before if key.id == key_id), None)
    if old is None:
        raise rotation.error("the user has no such key; nothing was changed", "start")
    allow = list(old.whitelisted_ips) if ips is None else ips
    arguments = {"user_id": user_id, "key_id": key_id, "whitelisted_ips": allow}
    log = await RotationLog.begin(journal, arguments, deliver_to)
    try:
        new = await _replace(rotation, log, sibling, verify, allow)
    except KeyRotationError as exc:
        await log.stopped(exc)
        raise
    except BaseException:
        log.abandoned()
        raise
    await log.finished(new)
    logger.info("key rotation for %s: key %s replaced by %s", user_id, key_id, new.id)
    return new


async def _replace(
    rotation: _Rotation,
    log: RotationLog,
    sibling: SiblingFactory | None,
    verify: bool,
    allow: list[str],
) -> CreatedApiKey:
    """Create, verify, set the allow-list, deliver, delete the old key (each stage logged)."""
    keys, user_id = rotation.keys, rotation.user_id
    with log.steps():
        new = await rotation.create()
    logger.info("key rotation for %s: created key %s", user_id, new.id)
    await log.stage("created", new_key_id=new.id)
    stage = "verify"
    try:
        if verify:
            assert sibling is not None
            await _verify(sibling, new, rotation)
        stage = "allow_list"
        if allow:
            updated = await keys.update(user_id, new.id, whitelisted_ips=allow, **rotation.tail)
            new = msgspec.structs.replace(new, whitelisted_ips=updated.whitelisted_ips)
        stage = "deliver"
        await log.deliver(new)
    except (Exception, asyncio.CancelledError) as exc:  # the new key must not be left behind
        try:
            await rotation.roll_back(new, stage, exc)
        except KeyRotationError as failure:
            if not isinstance(exc, asyncio.CancelledError):
                raise
            if failure.new_key is not None:
                logger.warning("key rotation cancelled: new key %s may be live: delete it", new.id)
            raise exc from None
    await log.stage("deleting_old")
    await _delete_old(rotation, new)
    return new


async def resolve_rotation(
    keys: UserKeys,
    journal: Journal,
    intent: Intent,
    *,
    sleep: Callable[[float], Awaitable[None]],
    fence_seconds: float,
) -> tuple[Status, Any, str]:
    """Finish (delivered) or undo (not delivered) a rotation a dead process left pending."""
    user_id, old_id = intent.arguments["user_id"], intent.arguments["key_id"]
    tail = {"timeout": None, "retry": None}
    rotation = _Rotation(keys, user_id, old_id, tail, sleep=sleep, fence_seconds=fence_seconds)
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
