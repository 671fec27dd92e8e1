"""Per-call instruction counts under callgrind: figures that do not move with the machine's load.

CPU time per call on a shared 2-core machine moves by ±10% between samples, so a change worth
1-2% of a call cannot be seen in ``benchmarks.run`` without hundreds of rounds. Valgrind's
callgrind counts the instructions a process executes in user space, exactly: the same program
gives the same count (to ~0.1%) however busy the machine is. Kernel work (the ``send`` and
``recv`` system calls) is not counted; it is the same for every client making the same request.

Each figure is ``(count(N2 calls) - count(N1 calls)) / (N2 - N1)`` from two child processes, so
interpreter start-up, imports and the warm-up cancel out. Over loopback, the bench server runs
in its own process, outside valgrind. The child runs the clients of ``benchmarks.clients``:

* ``bare aiohttp (floor)``, ``aiohttp alone (bound)``, ``kraken_prime_async`` (window 0) and
  ``kraken_prime_async (nonce_window, 50 in flight)``, on the tiny answer sequentially and at
  concurrency 50, and on the 200-batch page sequentially; each ``kraken_prime_async`` tiny row
  also with ``abandon_hold=0`` (no watch: the exchange runs in the caller's task), the price of
  the watch the default keeps;
* ``python-kraken-sdk`` on the 200-batch page (its target ratio) and the tiny answer;
* the SDK's own pieces, on a transport that answers at once (no HTTP): a whole call, the
  request's preparation (nonce, body, signature, headers), the signature alone, the nonce
  alone, the key's slot (enter and leave), the decoding of the tiny answer, the decoding of the
  200-batch page with nothing read and with every lazily decoded field read, and what a task
  per request would add (``asyncio.create_task`` and awaiting it, beside awaiting the coroutine);
* the import: ``import aiohttp, msgspec`` in a fresh interpreter, and the same followed by
  ``import kraken_prime_async`` (each less a bare interpreter's count).

Usage (needs ``valgrind``; a few minutes, two children at a time)::

    .venv-bench/bin/python -m benchmarks.instructions [--output benchmarks/results/instructions.md]
    .venv-bench/bin/python -m benchmarks.instructions --only sign,page   # rows whose key matches
    .venv-bench/bin/python -m benchmarks.instructions --repeat 3   # loopback rows: median of 3

The children run with ``PYTHONHASHSEED=0``: string hashes then lay dictionaries out the same way
in every child, which keeps the count of two runs of one program within a few hundred
instructions.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import os
import re
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .clients import (
    AiohttpAlone,
    Floor,
    Ours,
    OursUnwatched,
    OursWindowed,
    OursWindowedUnwatched,
    PythonKrakenSdk,
    Scenario,
)
from .profile_ours import _calls
from .serverproc import ROOT, ServerProcess

CLIENTS: dict[str, Callable[[str, Scenario], Any]] = {
    "floor": Floor,
    "bound": AiohttpAlone,
    "ours": Ours,
    "window": OursWindowed,
    "unwatched": OursUnwatched,
    "window-unwatched": OursWindowedUnwatched,
    "pks": PythonKrakenSdk,
}
#: (label, client, scenario, concurrency, N1, N2)
LOOPBACK: tuple[tuple[str, str, Scenario, int, int, int], ...] = (
    ("tiny, sequential", "floor", "tiny", 1, 60, 360),
    ("tiny, sequential", "bound", "tiny", 1, 60, 360),
    ("tiny, sequential", "ours", "tiny", 1, 60, 360),
    ("tiny, sequential", "window", "tiny", 1, 60, 360),
    ("tiny, sequential", "unwatched", "tiny", 1, 60, 360),
    ("tiny, sequential", "pks", "tiny", 1, 60, 360),
    ("tiny, 50 callers", "floor", "tiny", 50, 100, 600),
    ("tiny, 50 callers", "bound", "tiny", 50, 100, 600),
    ("tiny, 50 callers", "window", "tiny", 50, 100, 600),
    ("tiny, 50 callers", "window-unwatched", "tiny", 50, 100, 600),
    ("200-batch page, sequential", "floor", "large", 1, 10, 60),
    ("200-batch page, sequential", "bound", "large", 1, 10, 60),
    ("200-batch page, sequential", "ours", "large", 1, 10, 60),
    ("200-batch page, sequential", "pks", "large", 1, 10, 60),
)
PIECES: tuple[tuple[str, str], ...] = (
    ("call", "`client.api_users.list()`, whole (instant transport)"),
    ("prepare", "preparing the request: nonce, body, signature, headers"),
    ("sign", "the signature alone (HMAC-SHA512 over SHA-256)"),
    ("nonce", "the nonce alone"),
    ("slot", "the key's slot: enter and leave"),
    ("decode", "decoding the answer (3 users) into typed results"),
    ("page", "decoding the 200-batch page, no lazy field read"),
    ("page_read", "decoding the 200-batch page and reading every field"),
    ("coro", "awaiting a coroutine that returns at once (baseline of the next row)"),
    ("task", "the same coroutine as a task: create_task, then await it"),
)
#: (key, statement): each child imports, the count less a bare interpreter's is the figure.
IMPORTS: tuple[tuple[str, str], ...] = (
    ("bare", "pass"),
    ("base", "import aiohttp, msgspec"),
    ("ours", "import aiohttp, msgspec; import kraken_prime_async"),
)
_COLLECTED = re.compile(r"Collected : (\d+)")


# --- the child: runs N calls of one client, or N repetitions of one piece ---------------------


async def _loopback_child(kind: str, calls: int, url: str, scenario: Scenario, conc: int) -> None:
    client = CLIENTS[kind](url, scenario)
    await client.open()
    try:
        for _ in range(20):  # warm-up: connections, caches, lazy imports
            await client.call()
        _settle_heap()
        await _calls(client, calls, conc)
    finally:
        await client.close()


async def _piece_child(piece: str, n: int) -> None:
    from kraken_prime_async import PrimeClient
    from kraken_prime_async._keys.fence import issue_nonce
    from kraken_prime_async._pipeline import encode_params
    from kraken_prime_async._resources.api_users import LIST
    from kraken_prime_async._resources.settlement import LIST_BATCHES
    from kraken_prime_async._transports.base import RawResponse

    from .observe_cost import _ANSWER, _SECRET, InstantTransport
    from .payloads import large_body

    page = RawResponse(200, large_body())
    transport = InstantTransport()
    async with PrimeClient(
        f"instructions-{piece}", _SECRET, base_url="https://bench.test", transport=transport
    ) as client:
        await client.api_users.list()
        pipeline = client._pipeline
        auth: Any = pipeline._auth
        gate: Any = pipeline.gate
        params = encode_params(None)
        _settle_heap()
        for i in range(n):
            if piece == "call":
                await client.api_users.list()
            elif piece == "prepare":
                await auth.prepare(LIST, params, "bench")
            elif piece == "sign":
                auth._signer.sign(LIST.path_bytes, 1_700_000_000_000 + i, b'{"nonce":1}')
            elif piece == "nonce":
                await issue_nonce(auth._nonce_source)
            elif piece == "slot":
                async with gate.slot(1, 30.0, operation="bench") as slot:
                    slot.sending()
            elif piece == "decode":
                LIST.decode(_ANSWER, redact=str)
            elif piece == "page":
                LIST_BATCHES.decode(page, redact=str)
            elif piece == "page_read":
                _read_every_field(LIST_BATCHES.decode(page, redact=str))
            elif piece == "coro":
                await _at_once()
            elif piece == "task":
                await asyncio.create_task(_at_once())


def _settle_heap() -> None:
    """Collect, then freeze what is alive: a later collection scans only the objects made by the
    measured calls. Without it, a full collection of the whole heap (millions of instructions)
    lands in one child of a pair and not the other, as the loop's timing decides, and moves a
    per-call figure by tens of thousands of instructions."""
    gc.collect()
    gc.freeze()


async def _at_once() -> None:
    return None


def _read_every_field(page: Any) -> None:
    for batch in page.data:
        batch.trade_ids  # noqa: B018 - reading is the point
        for leg in batch.legs:
            leg.latest_spot_transfer  # noqa: B018


# --- the parent: two counts per figure, two children at a time ---------------------------------


def _valgrind(command: Sequence[str]) -> int:
    """Instructions executed by one process (callgrind's total, user space)."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # imports come from bytecode caches, as installed
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    found = _COLLECTED.search(out.stderr)
    if found is None:
        raise RuntimeError(f"no callgrind total in: {out.stderr[-500:]}")
    return int(found.group(1))


def _count(child_args: Sequence[str]) -> int:
    """Instructions executed by one child run."""
    return _valgrind([sys.executable, "-m", "benchmarks.instructions", "--child", *child_args])


def _per_call(pool: ThreadPoolExecutor, args: Sequence[str], n1: int, n2: int) -> float:
    low = pool.submit(_count, [*args[:1], str(n1), *args[1:]])
    high = pool.submit(_count, [*args[:1], str(n2), *args[1:]])
    return (high.result() - low.result()) / (n2 - n1)


def _fmt(value: float) -> str:
    return f"{value / 1000:,.1f}k"


def _imports(pool: ThreadPoolExecutor) -> dict[str, float]:
    """Each statement's count less a bare interpreter's (bytecode caches written first)."""
    for _, statement in IMPORTS:
        subprocess.run([sys.executable, "-c", statement], cwd=ROOT, check=True)
    counts = {
        key: pool.submit(_valgrind, [sys.executable, "-c", statement]) for key, statement in IMPORTS
    }
    bare = counts["bare"].result()
    return {key: count.result() - bare for key, count in counts.items() if key != "bare"}


def run(output: Path, only: Sequence[str] = (), repeat: int = 1) -> str:
    """Measure every figure (or those whose key contains one of ``only``); write the report.

    ``repeat``: the loopback rows are measured that many times, each round going through
    every row in turn (a floor and its clients measured close together), and each row reports
    the median of its rounds. The loopback counts move with how the server's answers meet the
    client's reads (the floor's tiny call measured 496.6k and 528.5k in two runs of the same
    code on a quiet machine), the pieces and imports do not.
    """

    def wanted(*keys: str) -> bool:
        return not only or any(word in key for word in only for key in keys)

    loop_rows: list[tuple[str, str, float]] = []
    piece_rows: list[tuple[str, str, float]] = []
    imported: dict[str, float] = {}
    with ServerProcess() as urls, ThreadPoolExecutor(max_workers=2) as pool:
        rows = [
            row
            for row in LOOPBACK
            if wanted(row[0], row[1]) or (row[1] == "floor" and wanted(row[0]))
        ]
        rounds: list[list[float]] = [[] for _ in rows]
        for round_ in range(repeat):
            for index, (label, kind, scenario, conc, n1, n2) in enumerate(rows):
                url = urls.tiny if scenario == "tiny" else urls.large
                per = _per_call(pool, ["loopback", kind, url, scenario, str(conc)], n1, n2)
                rounds[index].append(per)
                print(f"[{round_ + 1}/{repeat}] {label}: {CLIENTS[kind].name}: {_fmt(per)}")
        for (label, kind, *_), counts in zip(rows, rounds, strict=True):
            loop_rows.append((label, kind, statistics.median(counts)))
        for piece, what in PIECES:
            if wanted(piece):
                n1, n2 = (20, 120) if piece.startswith("page") else (200, 2200)
                per = _per_call(pool, ["piece", piece], n1, n2)
                piece_rows.append((piece, what, per))
                print(f"{what}: {_fmt(per)}", flush=True)
        if wanted("import"):
            imported = _imports(pool)
            print(f"imports: {imported}", flush=True)
    text = _report(loop_rows, piece_rows, imported, only, repeat)
    output.write_text(text)
    return text


def _report(
    loop_rows: Sequence[tuple[str, str, float]],
    piece_rows: Sequence[tuple[str, str, float]],
    imported: dict[str, float],
    only: Sequence[str],
    repeat: int = 1,
) -> str:
    floors = {label: per for label, kind, per in loop_rows if kind == "floor"}
    pks = {label: per for label, kind, per in loop_rows if kind == "pks"}
    command = "`.venv-bench/bin/python -m benchmarks.instructions"
    command += f" --only {','.join(only)}" if only else ""
    command += f" --repeat {repeat}`" if repeat > 1 else "`"
    lines = [
        "# Instructions per call (callgrind, user space)",
        "",
        f"- Date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- Command: {command}",
        f"- Python {sys.version.split()[0]}; valgrind's count, exact to ~0.1% between runs "
        "for the pieces; each loopback row is the median of "
        f"{repeat} round{'s' if repeat > 1 else ''} (those move with the server's timing)",
        "",
        "## Over loopback (the bench server in its own process, not counted)",
        "",
        "| call shape | client | instructions per call | ÷ floor | ÷ python-kraken-sdk |",
        "|---|---|---|---|---|",
    ]
    for label, kind, per in loop_rows:
        floor = f"{per / floors[label]:.2f}" if label in floors else ""
        peer = f"{per / pks[label]:.2f}" if label in pks else ""
        lines.append(f"| {label} | {CLIENTS[kind].name} | {_fmt(per)} | {floor} | {peer} |")
    lines += [
        "",
        "Kernel time (the system calls) is not in these counts, so the ratios differ a little",
        "from the CPU-time ratios of `latest.md`, which include it.",
        "",
        "## The SDK's own pieces (a transport that answers at once)",
        "",
        "| piece | instructions per call |",
        "|---|---|",
    ]
    lines += [f"| {what} | {_fmt(per)} |" for _, what, per in piece_rows]
    if imported:
        ours = imported["ours"] - imported["base"]
        lines += [
            "",
            "## Import (fresh interpreter, less a bare interpreter's count)",
            "",
            "| statement | instructions | ÷ `import aiohttp, msgspec` |",
            "|---|---|---|",
            f"| `import aiohttp, msgspec` | {_fmt(imported['base'])} | 1.00 |",
            f"| then `import kraken_prime_async` (its own part: {_fmt(ours)}) "
            f"| {_fmt(imported['ours'])} | {imported['ours'] / imported['base']:.3f} |",
        ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--child"]:
        mode, n, rest = args[1], int(args[2]), args[3:]  # as _per_call puts them
        if mode == "loopback":
            kind, url, scenario, conc = rest
            asyncio.run(_loopback_child(kind, n, url, scenario, int(conc)))  # type: ignore[arg-type]
        else:
            asyncio.run(_piece_child(rest[0], n))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results" / "instructions.md"
    )
    parser.add_argument(
        "--only", default="", help="comma-separated words: measure only the rows they name"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds of the loopback rows (the median is kept)"
    )
    options = parser.parse_args(args)
    if shutil.which("valgrind") is None:
        raise SystemExit("benchmarks.instructions needs valgrind (apt install valgrind)")
    only = [word for word in options.only.split(",") if word]
    print(run(options.output, only, max(1, options.repeat)))


if __name__ == "__main__":
    main()
