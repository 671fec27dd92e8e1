"""What every resource shares: the pipeline and the keyword tail of every method."""

from __future__ import annotations

import logging
from typing import Any, Generic, TypeVar

import msgspec

from .._call import LostRequest, OnSent
from .._constants import LOGGER_NAME
from .._endpoint import Endpoint
from .._observability.context import Reconciling
from .._pipeline import Pipeline
from .._retry import RetryLike, RetryPolicy, retry_policy
from .._retry_call import may_resend
from .._timeout import TimeoutLike as TimeoutLike  # re-exported: every method's ``timeout=``
from .._timeout import coerce_timeout
from ..errors import KrakenPrimeError, OutcomeUnknownError, ValidationError
from ._journaled import journaled
from ._reconcile.base import LostAnswer, Outcome, Resend, Rule, not_applied
from ._reconcile.claims import Mark, Registration

logger = logging.getLogger(LOGGER_NAME)

R = TypeVar("R")
F = TypeVar("F")
Q = TypeVar("Q", bound=msgspec.Struct)
Res = TypeVar("Res", bound="Resource")


class _Write(Generic[Q, R, F]):
    """What stays the same across a write's steps (claim, sends, read-backs): the endpoint, the
    request, its rule, the call's retry policy and keyword tail, and when it started (on the
    pipeline's ``elapsed`` clock, for ``max_elapsed``)."""

    __slots__ = ("endpoint", "policy", "reconcile", "request", "retry", "started", "timeout")

    def __init__(
        self,
        endpoint: Endpoint[Any, R],
        request: Q,
        reconcile: Rule[Any, Q, F],
        policy: RetryPolicy,
        timeout: TimeoutLike | None,
        retry: RetryLike | None,
        started: float,
    ) -> None:
        self.endpoint = endpoint
        self.request = request
        self.reconcile = reconcile
        self.policy = policy
        self.timeout = timeout
        self.retry = retry
        self.started = started


class Resource:
    """Base of ``client.api_users``, ``client.api_user_keys`` and ``client.settlement``."""

    __slots__ = ("_pipeline",)

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    async def _call(
        self,
        endpoint: Endpoint[Any, R],
        request: msgspec.Struct | None,
        *,
        timeout: TimeoutLike | None,
        retry: RetryLike | None,
        prior_attempts: int = 0,
        request_id: str | None = None,
        lost: LostRequest | None = None,
        deadline: float | None = None,
    ) -> R:
        return await self._pipeline.call(
            endpoint,
            request,
            timeout=None if timeout is None else coerce_timeout(timeout),
            retry=retry_policy("retry", retry),
            prior_attempts=prior_attempts,
            request_id=request_id,
            lost=lost,
            deadline=deadline,
        )

    async def _write(
        self: Res,
        endpoint: Endpoint[Any, R],
        request: Q,
        *,
        reconcile: Rule[Res, Q, F],
        timeout: TimeoutLike | None,
        retry: RetryLike | None,
        idempotency_key: str | None = None,
    ) -> R | F:
        """A non-idempotent write; a lost answer is settled by the ``reconcile`` rule."""
        outcome = await self._written(
            endpoint,
            request,
            reconcile=reconcile,
            timeout=timeout,
            retry=retry,
            idempotency_key=idempotency_key,
        )
        return outcome.value

    async def _written(
        self: Res,
        endpoint: Endpoint[Any, R],
        request: Q,
        *,
        reconcile: Rule[Res, Q, F],
        timeout: TimeoutLike | None = None,
        retry: RetryLike | None = None,
        idempotency_key: str | None = None,
    ) -> Outcome[R | F]:
        """As ``_write()``, also saying whether the result was read back after a lost answer.

        With the client's journal (``_journaled.journaled``) the write's intent is recorded
        before anything is sent, each attempt's fence just before it goes out, and the outcome
        after; under an ``idempotency_key`` a write already recorded is returned unsent.
        """
        # Checked before the rule's read-before-write, so a bad argument sends nothing.
        policy = retry_policy("retry", retry) or self._pipeline.retry
        # ``max_elapsed`` bounds the write from its first step, a resend included (never its
        # read-backs).
        started = self._pipeline.elapsed()
        if timeout is not None:
            coerce_timeout(timeout)
        write = _Write(endpoint, request, reconcile, policy, timeout, retry, started)
        journal = self._pipeline.journal
        if journal is None:  # a bare pipeline (clients always have a journal)
            if idempotency_key is not None:
                raise ValidationError("idempotency_key", "needs a client with a journal")
            mark = await self._mark(reconcile, request)  # before the read-before-write
            before = None if reconcile.before is None else await reconcile.before(self, request)
            return await self._claimed(write, before, None, None, mark)
        return await journaled(
            self,
            journal,
            endpoint,
            request,
            reconcile,
            lambda before, on_sent, intent_id, mark: self._claimed(
                write, before, on_sent, intent_id, mark
            ),
            idempotency_key,
        )

    async def _mark(self, reconcile: Rule[Any, Q, Any], request: Q) -> Mark | None:
        """The registrations of a create's scope just before its read-before-write (``None``:
        not a create, or no registrations)."""
        claims = self._pipeline.claims
        if reconcile.scope is None or claims is None:
            return None
        return await claims.mark(reconcile.scope(request))

    async def _claimed(
        self,
        write: _Write[Q, R, F],
        before: object,
        on_sent: OnSent | None,
        token: str | None,
        mark: Mark | None,
    ) -> Outcome[R | F]:
        """``_sent()`` with a create (``reconcile.scope``) registered first (see
        ``_reconcile/claims.py``); the registration says at the end what it made, so that other
        creates the client or its fleet runs can tell their objects from this one's. ``token``
        (a journal intent's id) names the registration, so that resolving the intent later
        speaks for the same create."""
        reconcile, request = write.reconcile, write.request
        claims = self._pipeline.claims
        claim = None
        if reconcile.scope is not None and claims is not None:
            claim = await claims.register(reconcile.scope(request), token=token, mark=mark)
        try:
            outcome = await self._sent(write, before, on_sent, claim)
        except BaseException as exc:
            if claim is not None:
                await claim.failed(exc)
            raise
        if claim is not None:
            made = None if reconcile.made is None else reconcile.made(request, outcome.value)
            await claim.put("done", () if made is None else (made,))
        return outcome

    async def _sent(
        self,
        write: _Write[Q, R, F],
        before: object,
        on_sent: OnSent | None,
        claim: Registration | None,
    ) -> Outcome[R | F]:
        """Send the write, settling a lost answer by ``reconcile`` (``before``: its read).

        After a lost answer the rule reads back: applied → its result; proven not applied → the
        write is sent again as a new attempt, while the retry policy allows (``max_attempts``, or
        its ``stop`` strategy, and its ``max_elapsed`` deadline; then the failure of the last
        attempt is raised: the write did not take effect). A
        resend refused outright is raised, unless the rule's ``refused`` hook finds the refusal
        revealed the lost request's effect (it then undoes it and the write is sent again).

        The write keeps one request id across its sends; each read-back runs inside
        ``Reconciling``, which reports how it ended (``reconciled`` event, INFO record,
        ``reconcile`` span) under that id.
        """
        endpoint, request, reconcile = write.endpoint, write.request, write.reconcile
        policy, timeout, retry, started = write.policy, write.timeout, write.retry, write.started
        deadline = None if policy.max_elapsed is None else started + policy.max_elapsed
        attempts, lost, refused = 0, None, None
        stats = self._pipeline.stats
        record = LostRequest()  # the pipeline leaves a lost send's fence here
        while True:
            try:
                value = await self._pipeline.call(
                    endpoint,
                    request,
                    timeout=None if timeout is None else coerce_timeout(timeout),
                    retry=retry_policy("retry", retry),
                    prior_attempts=attempts,
                    request_id=None if lost is None else lost.error.request_id,
                    on_sent=on_sent,
                    lost=record,
                    deadline=deadline,
                )
                return Outcome(value)
            except OutcomeUnknownError as exc:
                lost = LostAnswer(
                    endpoint.operation, request, exc, before, record.fence, claim, record.late
                )
                attempts, refused = exc.attempts, None
            except KrakenPrimeError as exc:
                if lost is None or reconcile.refused is None:
                    raise  # refused outright, or a resend refused for its own reasons
                attempts, refused = attempts + 1, exc
            verdict = await self._reconcile_lost(reconcile, lost, refused)
            if refused is None:
                stats.lost_answer_resolved()
            if not isinstance(verdict, Resend):
                return Outcome(verdict, read_back=True)
            now = self._pipeline.elapsed()
            if not await may_resend(policy, attempts, lost.error, started=started, now=now):
                failure = not_applied(lost, verdict, refused)
                failure.request_id = lost.error.request_id
                raise failure
            logger.warning(
                "%s: answer lost; %s; sending it again (attempt %d)",
                endpoint.operation,
                verdict.reason,
                attempts + 1,
                extra={"request_id": lost.error.request_id},
            )

    async def _reconcile_lost(
        self: Res,
        reconcile: Rule[Res, Q, F],
        lost: LostAnswer[Q],
        refused: KrakenPrimeError | None = None,
    ) -> F | Resend:
        """The one place a lost write is settled by its rule, reported as a reconciliation.

        Used after an answer lost in this process (``_sent``) and for a write a dead process
        left pending in the journal (``client.journal.resolve_pending()``, whose ``lost`` carries
        the recorded fence and ``before``).
        """
        with Reconciling(self._pipeline.observer, lost.operation, lost.error) as step:
            verdict, step.how = await self._resolution(reconcile, lost, refused)
        return verdict  # type: ignore[no-any-return]

    async def _resolution(
        self: Res,
        reconcile: Rule[Res, Q, F],
        lost: LostAnswer[Q],
        refused: KrakenPrimeError | None,
    ) -> tuple[Any, str]:
        """The verdict on ``lost`` and its tag: the lost attempt's own answer when the client
        watched it to its end and Kraken accepted the write (``"late_answer"``), else the
        rule's (``_verdict()``)."""
        late = None if refused is not None else lost.late
        if late is not None:
            found, result = await late.result()
            if found:
                logger.warning(
                    "%s: the answer the caller's timeout gave up on arrived later; it is the "
                    "write's result",
                    lost.operation,
                    extra={"request_id": lost.error.request_id},
                )
                return result, "late_answer"
        verdict = await self._verdict(reconcile, lost, refused)
        return verdict, "not_applied" if isinstance(verdict, Resend) else reconcile.how

    async def _verdict(
        self: Res,
        reconcile: Rule[Res, Q, F],
        lost: LostAnswer[Q],
        refused: KrakenPrimeError | None,
    ) -> F | Resend:
        """The rule's verdict on ``lost``; after a resend refused with ``refused``, that refusal
        is raised unless the rule's ``refused`` hook finds it revealed the lost request's
        effect (and undid it)."""
        if refused is None:
            return await reconcile.resolve(self, lost)
        hook = reconcile.refused
        verdict = None if hook is None else await hook(self, lost, refused)
        if verdict is None:
            raise refused
        return verdict

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class Request(msgspec.Struct, omit_defaults=True, frozen=True, gc=False):
    """Base of request Structs: unset optional fields are left out of the body."""
