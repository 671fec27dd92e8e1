"""FileLockFleet: the nonce file, the slot locks and the shared call counter."""

from __future__ import annotations

import asyncio
import os
import signal
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kraken_prime_async import (
    CoordinationError,
    FileLockFleet,
    FileLockNonceSource,
    PrimeClient,
    RateLimit,
    ValidationError,
)
from kraken_prime_async._constants import AUTO_RATE_LIMIT_QUIET
from kraken_prime_async._keys.fleet import key_id
from kraken_prime_async._keys.pacing import TIERS

from ..._fakes import FakeClock
from ..test_nonce import _source

SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="


def run_nonce_workers(kind: str, where: str, processes: int, count: int) -> list[list[int]]:
    """Start ``processes`` children at once; each takes ``count`` nonces from the source."""
    children = [
        subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", "tests.keys.fleet._nonce_worker", kind, where, str(count)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    sequences = []
    for child in children:
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 0
        sequences.append([int(line) for line in out.split()])
    return sequences


def assert_fleet_sequence(sequences: list[list[int]], count: int) -> None:
    for sequence in sequences:
        assert len(sequence) == count
        assert sequence == sorted(sequence) and len(set(sequence)) == count
    every = [nonce for sequence in sequences for nonce in sequence]
    assert len(set(every)) == len(every), "a nonce was handed out twice across processes"


async def test_nonces_increase_and_survive_a_restart_and_a_clock_step(tmp_path: Path) -> None:
    clock = FakeClock(1_700_000_000.0)
    path = tmp_path / "key.nonce"
    source = FileLockNonceSource(path, clock=clock)
    first = await source.next_nonce()
    assert first == 1_700_000_000_000
    assert await source.next_nonce() == first + 1  # same millisecond
    clock.now -= 3600  # the wall clock steps back an hour
    assert await source.next_nonce() == first + 2
    source.close()

    restarted = FileLockNonceSource(path, clock=clock)  # a new process on the same file
    assert await restarted.next_nonce() == first + 3
    assert path.read_text() == f"{first + 3:020d} ms\n"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


async def test_a_nonce_at_least_a_floor_keeps_the_sequence_increasing(tmp_path: Path) -> None:
    clock = FakeClock(1_700_000_000.0)
    source = FileLockNonceSource(tmp_path / "key.nonce", clock=clock)
    first = await source.next_nonce()
    floor = first + 5001  # a fence above a lost request, 5 s window
    assert await source.next_nonce_at_least(floor) == floor
    assert await source.next_nonce() == floor + 1  # every process continues above it
    assert await source.next_nonce_at_least(first) == floor + 2  # a floor never lowers it
    source.close()


async def test_a_process_with_another_unit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "key.nonce"
    await FileLockNonceSource(path, "ms").next_nonce()
    with pytest.raises(ValidationError, match=r"nonce_unit.*'us'.*'ms'"):
        await FileLockNonceSource(path, "us").next_nonce()


async def test_a_damaged_file_is_reported_not_reset(tmp_path: Path) -> None:
    path = tmp_path / "key.nonce"
    path.write_text("not a nonce\n")
    with pytest.raises(CoordinationError, match="does not hold a nonce record") as caught:
        await FileLockNonceSource(path).next_nonce()
    assert caught.value.store == str(path)
    assert path.read_text() == "not a nonce\n"


async def test_an_unwritable_place_is_a_coordination_error(tmp_path: Path) -> None:
    with pytest.raises(CoordinationError, match="cannot open"):
        await FileLockNonceSource(tmp_path / "missing-dir" / "key.nonce").next_nonce()


def test_nonces_are_unique_across_processes(tmp_path: Path) -> None:
    sequences = run_nonce_workers("file", str(tmp_path / "shared.nonce"), processes=4, count=500)
    assert_fleet_sequence(sequences, 500)


async def test_a_slot_is_exclusive_between_descriptors_and_tasks(tmp_path: Path) -> None:
    fleet_a, fleet_b = FileLockFleet(tmp_path), FileLockFleet(tmp_path)  # two "processes"
    gate_a = fleet_a.gate("KEY", window_seconds=0, max_in_flight=8)
    gate_b = fleet_b.gate("KEY", window_seconds=0, max_in_flight=8)
    token = await gate_a.acquire(30)
    # Another task of the same process (same descriptor) must wait too.
    same_process = asyncio.ensure_future(gate_a.acquire(30))
    other = asyncio.ensure_future(gate_b.acquire(30))
    await asyncio.sleep(0.05)
    assert not same_process.done() and not other.done()
    await gate_a.release(token)
    done, pending = await asyncio.wait({same_process, other}, return_when=asyncio.FIRST_COMPLETED)
    assert len(done) == 1 and len(pending) == 1
    winner = done.pop()
    await (gate_a if winner is same_process else gate_b).release(winner.result())
    loser = pending.pop()
    await (gate_a if loser is same_process else gate_b).release(await loser)


async def test_a_window_gives_max_in_flight_slots(tmp_path: Path) -> None:
    gate = FileLockFleet(tmp_path).gate("KEY", window_seconds=5, max_in_flight=3)
    tokens = [await gate.acquire(30) for _ in range(3)]
    assert sorted(tokens) == [0, 1, 2]  # type: ignore[type-var]
    fourth = asyncio.ensure_future(gate.acquire(30))
    await asyncio.sleep(0.03)
    assert not fourth.done()
    await gate.release(tokens[1])
    assert await asyncio.wait_for(fourth, 5) == 1


async def test_a_dead_holders_slot_is_free_at_once(tmp_path: Path) -> None:
    slot = tmp_path / f"{key_id('KEY')}.slot0"
    holder = subprocess.Popen(  # noqa: S603, ASYNC220 - our own code; returns at once
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import fcntl, os, sys, time
                fd = os.open({str(slot)!r}, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)
                print("held", flush=True)
                time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    gate = FileLockFleet(tmp_path).gate("KEY", window_seconds=0, max_in_flight=1)
    waiting = asyncio.ensure_future(gate.acquire(30))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    holder.stdout.close()
    assert await asyncio.wait_for(waiting, 5) == 0


async def test_the_call_counter_is_shared_by_the_fleet(tmp_path: Path) -> None:
    clock = FakeClock(1_700_000_000.0)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    tier = RateLimit(max_counter=4, decay_per_second=2.0)
    a = FileLockFleet(tmp_path).counter("KEY", tier, auto=False, clock=clock)
    b = FileLockFleet(tmp_path).counter("KEY", tier, auto=False, clock=clock)
    for member in (a, b, a):  # 3 of the 3.5 units below the maximum
        assert await member.acquire(1, sleep) == 0
    assert await b.acquire(1, sleep) == pytest.approx(0.25)  # b waits for a's calls to decay
    assert slept == [pytest.approx(0.25)]


async def test_auto_members_learn_of_a_refusal_elsewhere(tmp_path: Path) -> None:
    clock = FakeClock(1_700_000_000.0)

    async def sleep(seconds: float) -> None:
        clock.now += seconds

    a = FileLockFleet(tmp_path).counter("KEY", None, auto=True, clock=clock)
    b = FileLockFleet(tmp_path).counter("KEY", None, auto=True, clock=clock)
    assert await b.acquire(1, sleep) == 0 and not b.active
    # Kraken refused a's call: the counter is full. The fleet's one recent call explains no
    # tier's refusal (other clients spent the rest): it paces as the starter tier.
    await a.refused(None, 1)
    waited = await b.acquire(1, sleep)
    assert b.active
    assert waited == pytest.approx((15 + 1 + 1 - 14.5) / 0.33)


async def test_a_counter_file_of_the_previous_format_still_reads(tmp_path: Path) -> None:
    clock = FakeClock(1_700_000_000.0)
    path = tmp_path / f"{key_id('KEY')}.counter"
    # value, updated, blocked until, max, decay: the starter tier "auto" used to store for good
    path.write_bytes(struct.pack("<5d", 19.0, clock.now, 0.0, 15.0, 0.33))
    auto = FileLockFleet(tmp_path).counter("KEY", None, auto=True, clock=clock)
    assert await auto.acquire(1, clock.sleep) == pytest.approx((19 + 1 - 14.5) / 0.33)
    assert path.stat().st_size > 40  # extended: the learnt time and the send times follow
    clock.now = 1_700_000_000.0 + AUTO_RATE_LIMIT_QUIET  # counted as learnt when last updated
    assert await auto.acquire(1, clock.sleep) == 0 and not auto.active

    path.write_bytes(struct.pack("<5d", 0.0, clock.now, 0.0, 20.0, 1.0))  # a member's pro tier
    own = FileLockFleet(tmp_path).counter("KEY", TIERS["pro"], auto=False, clock=clock)
    await own.acquire(1, clock.sleep)  # written back as the member's own: kept
    clock.now += AUTO_RATE_LIMIT_QUIET + 1
    assert await auto.acquire(1, clock.sleep) == 0
    assert auto.active and "rate_limit='pro' paces the key" in auto.describe()


async def test_a_throttle_holds_every_member(tmp_path: Path) -> None:
    clock = FakeClock(1_700_000_000.0)

    async def sleep(seconds: float) -> None:
        clock.now += seconds

    a = FileLockFleet(tmp_path).counter("KEY", None, auto=False, clock=clock)
    b = FileLockFleet(tmp_path).counter("KEY", None, auto=False, clock=clock)
    await a.refused(clock.now + 7, 1)
    assert await b.acquire(1, sleep) == pytest.approx(7)


async def test_client_takes_its_nonces_from_the_fleet(tmp_path: Path) -> None:
    fleet = FileLockFleet(tmp_path / "fleet")
    client = PrimeClient("KEY", SECRET, fleet=fleet)
    source = fleet.nonce_source("KEY", "ms")
    assert _source(client) is source
    assert (tmp_path / "fleet").stat().st_mode & 0o777 == 0o700
    assert "KEY" not in " ".join(p.name for p in (tmp_path / "fleet").iterdir())
    with pytest.raises(ValidationError, match="fleet: give either fleet or nonce_source"):
        PrimeClient("KEY", SECRET, fleet=fleet, nonce_source=source)
    with pytest.raises(ValidationError, match="fleet: must be"):
        PrimeClient("KEY", SECRET, fleet=object())  # type: ignore[arg-type]
    await client.close()


async def test_close_frees_the_descriptors_keeps_held_slots_and_can_run_twice(
    tmp_path: Path,
) -> None:
    fleet = FileLockFleet(tmp_path)
    source = fleet.nonce_source("KEY", "ms")
    first = await source.next_nonce()
    gate = fleet.gate("KEY", window_seconds=5, max_in_flight=2)
    held = await gate.acquire(30)
    fleet.counter("KEY", RateLimit(20, 1.0), auto=False, clock=lambda: 0.0)
    opened = len(os.listdir(f"/proc/{os.getpid()}/fd"))
    await fleet.close()
    await fleet.close()  # harmless
    assert len(os.listdir(f"/proc/{os.getpid()}/fd")) < opened
    # The held slot is still exclusive; a new member cannot take it.
    other = FileLockFleet(tmp_path).gate("KEY", window_seconds=5, max_in_flight=2)
    assert await other.acquire(30) != held
    await gate.release(held)
    # The nonce sequence continues from the file after a close.
    assert await source.next_nonce() > first
