"""What the write journal costs: per entry, per journaled write, and for reads (nothing).

Run from the repository root::

    .venv/bin/python -m benchmarks.journal_cost            # about half a minute
    .venv/bin/python -m benchmarks.journal_cost --writes 2000 --fsync-entries 200

Sections (wall time, the event loop waiting included, in one run on one machine):

* ``entry``: one ``SqliteJournal.append`` awaited from the event loop (the journal's thread,
  one ``BEGIN IMMEDIATE`` transaction: the entry and the write's folded state), with
  ``fsync=False`` (the default: survives a killed process) and ``fsync=True`` (survives a
  power cut);
* ``write``: ``api_users.create`` through an in-process transport that answers at once (no
  network), with the default in-memory journal and with a file journal: the difference is
  the file journal's cost per write (a claim, one ``sent`` entry, the outcome);
* ``read``: ``api_users.list`` the same way: reads never touch the journal.

The issue's target: a file journal costs at most 1 ms per write at the median.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

from kraken_prime_async import PrimeClient, RawResponse
from kraken_prime_async._journal.base import Entry, new_id, now
from kraken_prime_async._journal.sqlite import SqliteJournal

KEY = "BENCHJOURNALKEY0001"
SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA=="
_USER = b'{"error":[],"result":{"id":"U1","name":"Desk","status":"Enabled","roles":["Trader"]}}'
_USERS = b'{"error":[],"result":{"data":[]}}'


class InstantTransport:
    """Answers every request at once: the create with a user, the list with none."""

    async def request(
        self,
        url: URL,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: aiohttp.ClientTimeout,
        *,
        operation: str,
        http_method: str = "POST",
    ) -> RawResponse:
        return RawResponse(200, _USER if operation == "CreatePrimeApiUser" else _USERS)

    async def close(self) -> None:
        return None


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
    return f"p50 {p50:.3f} ms, p99 {p99:.3f} ms (n={len(ordered)})"


async def _timed(count: int, step: Callable[[int], Awaitable[Any]]) -> list[float]:
    samples = []
    for index in range(count):
        started = time.perf_counter()
        await step(index)
        samples.append(time.perf_counter() - started)
    return samples


async def entries(folder: Path, count: int, *, fsync: bool) -> list[float]:
    journal = SqliteJournal(folder / f"entries-{fsync}.sqlite3", fsync=fsync)
    intent = new_id()
    await journal.append(
        Entry(kind="intent", intent=intent, key="k", at=now(), operation="X", arguments={})
    )

    async def append(index: int) -> None:
        await journal.append(Entry(kind="sent", intent=intent, key="k", at=now(), fence=index))

    try:
        return await _timed(count, append)
    finally:
        await journal.close()


async def calls(journal: Any, count: int, *, write: bool) -> list[float]:
    client = PrimeClient(
        KEY, SECRET, transport=InstantTransport(), rate_limit=None, journal=journal
    )
    async with client:

        async def one(index: int) -> None:
            if write:
                await client.api_users.create("Desk", "Trader")
            else:
                await client.api_users.list()

        await _timed(50, one)  # warm up
        return await _timed(count, one)


async def main(writes: int, fsync_entries: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        where = Path(folder)
        print("entry, fsync=False:", _ms(await entries(where, writes, fsync=False)))
        print("entry, fsync=True: ", _ms(await entries(where, fsync_entries, fsync=True)))
        memory = await calls(None, writes, write=True)
        filed = await calls(where / "writes.sqlite3", writes, write=True)
        print("write, memory journal:", _ms(memory))
        print("write, file journal:  ", _ms(filed))
        extra = (statistics.median(filed) - statistics.median(memory)) * 1000
        print(f"file journal cost per write (p50 difference): {extra:.3f} ms")
        read_memory = await calls(None, writes, write=False)
        read_file = await calls(where / "reads.sqlite3", writes, write=False)
        print("read, memory journal:", _ms(read_memory))
        print("read, file journal:  ", _ms(read_file))
        ratio = statistics.median(read_file) / statistics.median(read_memory)
        print(f"read with a file journal / without: {ratio:.3f}x (p50)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=1000)
    parser.add_argument("--fsync-entries", type=int, default=100)
    options = parser.parse_args()
    asyncio.run(main(options.writes, options.fsync_entries))
