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
  concurrency 50, and on the 200-batch page sequentially;
* the SDK's own pieces, on a transport that answers at once (no HTTP): a whole call, the
  request's preparation (nonce, body, signature, headers), the signature alone, the nonce
  alone, the key's slot (enter and leave) and the decoding of the answer.

Usage (needs ``valgrind``; a few minutes, two children at a time)::

    .venv-bench/bin/python -m benchmarks.instructions [--output benchmarks/results/instructions.md]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .clients import AiohttpAlone, Floor, Ours, OursWindowed, Scenario
from .profile_ours import _calls
from .serverproc import ROOT, ServerProcess

CLIENTS: dict[str, Callable[[str, Scenario], Any]] = {
    "floor": Floor,
    "bound": AiohttpAlone,
    "ours": Ours,
    "window": OursWindowed,
}
#: (label, client, scenario, concurrency, N1, N2)
LOOPBACK: tuple[tuple[str, str, Scenario, int, int, int], ...] = (
    ("tiny, sequential", "floor", "tiny", 1, 60, 360),
    ("tiny, sequential", "bound", "tiny", 1, 60, 360),
    ("tiny, sequential", "ours", "tiny", 1, 60, 360),
    ("tiny, sequential", "window", "tiny", 1, 60, 360),
    ("tiny, 50 callers", "floor", "tiny", 50, 100, 600),
    ("tiny, 50 callers", "bound", "tiny", 50, 100, 600),
    ("tiny, 50 callers", "window", "tiny", 50, 100, 600),
    ("200-batch page, sequential", "floor", "large", 1, 10, 60),
    ("200-batch page, sequential", "bound", "large", 1, 10, 60),
    ("200-batch page, sequential", "ours", "large", 1, 10, 60),
)
PIECES: tuple[tuple[str, str], ...] = (
    ("call", "`client.api_users.list()`, whole (instant transport)"),
    ("prepare", "preparing the request: nonce, body, signature, headers"),
    ("sign", "the signature alone (HMAC-SHA512 over SHA-256)"),
    ("nonce", "the nonce alone"),
    ("slot", "the key's slot: enter and leave"),
    ("decode", "decoding the answer (3 users) into typed results"),
)
_COLLECTED = re.compile(r"Collected : (\d+)")


# --- the child: runs N calls of one client, or N repetitions of one piece ---------------------


async def _loopback_child(kind: str, calls: int, url: str, scenario: Scenario, conc: int) -> None:
    client = CLIENTS[kind](url, scenario)
    await client.open()
    try:
        for _ in range(20):  # warm-up: connections, caches, lazy imports
            await client.call()
        await _calls(client, calls, conc)
    finally:
        await client.close()


async def _piece_child(piece: str, n: int) -> None:
    from kraken_prime_async import PrimeClient
    from kraken_prime_async._keys.fence import issue_nonce
    from kraken_prime_async._pipeline import encode_params
    from kraken_prime_async._resources.api_users import LIST

    from .observe_cost import _ANSWER, _SECRET, InstantTransport

    transport = InstantTransport()
    async with PrimeClient(
        f"instructions-{piece}", _SECRET, base_url="https://bench.test", transport=transport
    ) as client:
        await client.api_users.list()
        pipeline = client._pipeline
        auth: Any = pipeline._auth
        gate: Any = pipeline.gate
        params = encode_params(None)
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


# --- the parent: two counts per figure, two children at a time ---------------------------------


def _count(child_args: Sequence[str]) -> int:
    """Instructions executed by one child run (callgrind's total, user space)."""
    out = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-m",
            "benchmarks.instructions",
            "--child",
            *child_args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    found = _COLLECTED.search(out.stderr)
    if found is None:
        raise RuntimeError(f"no callgrind total in: {out.stderr[-500:]}")
    return int(found.group(1))


def _per_call(pool: ThreadPoolExecutor, args: Sequence[str], n1: int, n2: int) -> float:
    low = pool.submit(_count, [*args[:1], str(n1), *args[1:]])
    high = pool.submit(_count, [*args[:1], str(n2), *args[1:]])
    return (high.result() - low.result()) / (n2 - n1)


def _fmt(value: float) -> str:
    return f"{value / 1000:,.1f}k"


def run(output: Path) -> str:
    """Measure every figure; write and return the markdown report."""
    with ServerProcess() as urls, ThreadPoolExecutor(max_workers=2) as pool:
        loop_rows: list[tuple[str, str, float]] = []
        for label, kind, scenario, conc, n1, n2 in LOOPBACK:
            url = urls.tiny if scenario == "tiny" else urls.large
            per = _per_call(pool, ["loopback", kind, url, scenario, str(conc)], n1, n2)
            loop_rows.append((label, kind, per))
            print(f"{label}: {CLIENTS[kind].name}: {_fmt(per)}", flush=True)
        piece_rows = []
        for piece, what in PIECES:
            per = _per_call(pool, ["piece", piece], 200, 2200)
            piece_rows.append((what, per))
            print(f"{what}: {_fmt(per)}", flush=True)
    floors = {label: per for label, kind, per in loop_rows if kind == "floor"}
    lines = [
        "# Instructions per call (callgrind, user space)",
        "",
        f"- Date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        "- Command: `.venv-bench/bin/python -m benchmarks.instructions`",
        f"- Python {sys.version.split()[0]}; valgrind's count, exact to ~0.1% between runs",
        "",
        "## Over loopback (the bench server in its own process, not counted)",
        "",
        "| call shape | client | instructions per call | ÷ floor |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {label} | {CLIENTS[kind].name} | {_fmt(per)} | {per / floors[label]:.2f} |"
        for label, kind, per in loop_rows
    ]
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
    lines += [f"| {what} | {_fmt(per)} |" for what, per in piece_rows]
    text = "\n".join(lines) + "\n"
    output.write_text(text)
    return text


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
    options = parser.parse_args(args)
    if shutil.which("valgrind") is None:
        raise SystemExit("benchmarks.instructions needs valgrind (apt install valgrind)")
    print(run(options.output))


if __name__ == "__main__":
    main()
