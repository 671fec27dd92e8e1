"""``kill -9`` at a random point of ``api_user_keys.rotate`` with a file journal, then
``resolve_pending()`` in a new process.

The rotation hands the new key over (``on_new_key`` writes it to a file) before it deletes the
old key, and records each stage. Whatever the kill point, after the resolution the user has no
live key whose secret was never delivered, and at least one key whose secret is held: the old
one, or the delivered new one.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from ..cli._support import ThreadedSandbox
from ._kill import Workers

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRIALS = int(os.environ.get("JOURNAL_TRIALS", "2"))
#: A slow step of the rotation per trial, so kill points spread over the stages.
SLOW_STEPS = [
    "CreatePrimeApiUserKey",
    "ListPrimeSettlementBatches",
    "UpdatePrimeApiUserKey",
    "DeletePrimeApiUserKey",
]


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


@pytest.mark.parametrize("trial", range(TRIALS))
def test_rotation_killed_then_resolved(stack: ExitStack, tmp_path: Path, trial: int) -> None:
    rng = random.Random(3000 + trial)
    served = stack.enter_context(ThreadedSandbox().running())
    sb = served.sandbox
    user_id = served.sync(lambda: sb.add_api_user("Desk R"))
    old = served.sync(lambda: sb.add_api_key(user_id))
    workers = Workers(served, journal=tmp_path / "journal.sqlite3")
    slow = SLOW_STEPS[trial % len(SLOW_STEPS)]
    delay = rng.uniform(0.2, 0.6)
    served.sync(
        lambda: sb.faults.add(slow, rng.choice(["delay_before", "delay_after"]), seconds=delay)
    )
    delivered = tmp_path / "new-key.json"
    call = {"op": "rotate", "user_id": user_id, "key_id": old.key_id, "secret_file": str(delivered)}
    workers.kill_while_sending(rng, "CreatePrimeApiUserKey", within=1.5, **call)
    workers.run(op="resolve")
    held = {old.key_id}
    if delivered.exists():
        new_id, secret = json.loads(delivered.read_text())
        assert secret
        held.add(new_id)
    live = {key.id for key in served.sync(lambda: sb._state.user_keys(user_id))}  # read only
    assert live, "the user was left without a key"
    assert live <= held, f"live keys whose secret was never delivered: {live - held}"
    assert workers.run(op="resolve") == {"resolved": []}  # nothing left pending
