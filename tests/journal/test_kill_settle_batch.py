"""``settle_batch`` with a file journal, killed with SIGKILL mid-run, then run again at once.

Some settle requests are delayed on their way in (the dead run's request may still be on its
way when the rerun starts: the issue's "already settling" and, with a nonce window, double-settle
cases). The rerun first settles the legs the dead run left in flight, behind their recorded nonce
fences, then settles the rest: no leg reported failed, ``complete`` true, every leg settled
exactly once (also after the late requests have landed or been refused), and every late request
of the dead run is refused by its nonce, never by the leg's state: a server that does not refuse
a second settle (the issue's strict stand-in) would not settle twice either.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from ..cli._support import ThreadedSandbox
from ._kill import Workers

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRIALS = int(os.environ.get("JOURNAL_TRIALS", "2"))
ASSETS = [f"A{i:02d}" for i in range(8)]
SETTLE = "SettlePrimeSettlementBatchAsset"


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


def settle_batch_killed_and_rerun(served: ThreadedSandbox, workers: Workers, trial: int) -> None:
    """One trial (shared with the Redis fleet test)."""
    rng = random.Random(2000 + trial)
    sb = served.sandbox
    for index, asset in enumerate(ASSETS):
        served.sync(lambda a=asset, i=index: sb.add_trade(a, str(i + 1)))  # type: ignore[misc]
    batch_id = workers.run(op="create_batch", idem=f"batch-{trial}")["id"]
    served.sync(lambda: sb.confirm_batch(batch_id))
    delay = rng.uniform(1.5, 3.0)
    served.sync(lambda: sb.faults.add(SETTLE, "delay_before", times=3, seconds=delay))
    call = {"op": "settle_batch", "batch_id": batch_id, "concurrency": 4}
    workers.kill_while_sending(rng, SETTLE, within=delay, **call)
    rerun = workers.run(**call)
    assert rerun["failed"] == [] and rerun["unknown"] == 0
    assert rerun["complete"] is True
    time.sleep(delay + 0.2)  # the dead run's late requests land or are refused meanwhile
    again = workers.run(**call)
    assert again == {"complete": True, "settled": 0, "failed": [], "unknown": 0}
    for asset in ASSETS:
        assert len(workers.processed(SETTLE, asset=asset)) == 1, asset  # 0 twice, 0 left
    # The dead run's late requests were fenced off by their nonce: none reached the leg (a
    # server that does not refuse a second settle would have settled it twice).
    refusals = [e for r in sb.calls(SETTLE) for e in r.errors]
    assert not [e for e in refusals if "already settl" in e], refusals
    legs = served.sync(lambda: sb.batch(batch_id))["legs"]
    assert all(leg["status"] != "unsettled" for leg in legs)


@pytest.mark.parametrize("trial", range(TRIALS))
def test_settle_batch_killed_mid_run(stack: ExitStack, tmp_path: Path, trial: int) -> None:
    window = 5000 if trial % 2 == 0 else 0
    served = stack.enter_context(ThreadedSandbox(nonce_window=window).running())
    workers = Workers(served, journal=tmp_path / "journal.sqlite3", window=window)
    settle_batch_killed_and_rerun(served, workers, trial)
