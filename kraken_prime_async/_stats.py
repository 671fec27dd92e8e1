"""Per-client counters (metadata only)."""

from __future__ import annotations

import msgspec


class ClientStats(msgspec.Struct, gc=False):
    """One client's counters; ``PrimeClient.stats`` returns a copy.

    Attributes
    ----------
    calls : int
        Method calls started.
    attempts : int
        HTTP requests sent (every retry is one more attempt).
    retries : int
        Attempts beyond the first of a call.
    successes, failures : int
        Calls that returned, calls that raised.
    nonce_rejections : int
        Answers of ``EAPI:Invalid nonce``.
    rate_limit_errors : int
        Answers of a rate-limit error (``EAPI:Rate limit exceeded``, ``EService: Throttled``, ...).
    rate_limit_waits : int
        Times a call waited before retrying because of a rate-limit answer.
    rate_limit_wait_seconds : float
        Total of those waits.
    outcome_unknown : int
        Writes that ended in ``OutcomeUnknownError``.
    resolved_lost_answers : int
        Lost answers of writes the client resolved by reading the state back (the write's
        result found, or the write proven not applied and sent again); these writes did not
        raise ``OutcomeUnknownError``.
    token_refreshes : int
        Bearer tokens replaced through ``token_provider`` after an HTTP 401 (OAuth clients).
    abandoned : int
        Requests sent and then left without an answer (timeout, cancellation, connection lost
        after sending, a gateway's error page); each held its key's slot for a while.
    cancelled_writes : int
        Non-idempotent writes cancelled by the caller after they were sent (outcome unknown;
        logged at WARNING).
    abandoned_writes_applied : int
        Of the writes abandoned after sending (a timeout, a cancellation), those whose answer,
        read later in the background, showed they took effect (logged at WARNING, reported as a
        ``late_answer`` event).
    nonce_cooldowns : int
        Calls refused without sending because their key rested after repeated invalid nonces.

    Notes
    -----
    A ``msgspec.Struct``: ``msgspec.structs.asdict(client.stats)`` gives a ``dict``.
    """

    calls: int = 0
    attempts: int = 0
    retries: int = 0
    successes: int = 0
    failures: int = 0
    nonce_rejections: int = 0
    rate_limit_errors: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0
    outcome_unknown: int = 0
    resolved_lost_answers: int = 0
    token_refreshes: int = 0
    abandoned: int = 0
    cancelled_writes: int = 0
    abandoned_writes_applied: int = 0
    nonce_cooldowns: int = 0

    def lost_answer_resolved(self) -> None:
        """A lost answer counted in ``outcome_unknown`` when its call raised was resolved by
        reading back: it moves to ``resolved_lost_answers``."""
        self.outcome_unknown -= 1
        self.resolved_lost_answers += 1

    def snapshot(self) -> ClientStats:
        """A copy that later calls do not change."""
        return msgspec.structs.replace(self)
