"""The cost of safety at scale, against the embedded sandbox over loopback.

The sandbox (``PrimeSandbox``: real signatures, nonces, call counter, batches and legs) runs in
its own process, so its CPU is not charged to the client's event loop. Three scenarios:

* **settle_batch, nonce window.** A confirmed batch of 1,000 legs (1,000 assets) settled with
  ``settle_batch(concurrency=50)`` by a client with ``nonce_window`` and ``max_in_flight=50``,
  against a fast custom tier (``--max-counter``, ``--decay``; the same on both sides). Every call
  costs 1, the first ``max_counter`` are free, so no client can finish the run's C calls sooner
  than ``(C - max_counter) / decay`` seconds: the *pacing bound*. Reported: wall time ÷ bound.
* **settle_batch, window 0.** The same batch, with Kraken's default window of 0: the key sends
  one request at a time (an overtaken nonce is refused), the sandbox answers each after
  ``--latency`` seconds, the counter is off. Bound: C x the answer latency, as served: the wall
  time of a bare aiohttp client sending the same C requests (the batch read, then one settle
  per leg, signed, each after the last answer) to a fresh sandbox of the same set-up. The
  nominal C x ``--latency`` is reported beside it: the sandbox's own work and its timer
  (``asyncio.sleep`` wakes up to a millisecond late: epoll counts whole milliseconds) add more
  than a millisecond per request, which no client can avoid (the report says how much).
  Reported: wall ÷ bound.
* **10,000 mixed calls on 20 keys** (the owner's and 19 Trader users' keys:
  ``settlement.list_batches`` of one and of 20 batches, ``settlement.get_batch``, in turn),
  window 0, in 10 waves of 1,000 concurrent calls started in groups of 20: every callback the
  loop runs is timed as in ``looplag.py`` (blocked max and p99, garbage collection apart), and
  the RSS after the first wave and after the last (growth over the last 9,000 calls).

Targets (issue 28): ≤ 1.05 x the pacing bound; ≤ 1.10 x the latency bound; blocked max ≤ 2 ms,
p99 ≤ 0.5 ms; RSS growth ≤ 2 MiB.

Run: ``.venv-bench/bin/python -m benchmarks.scale [--output benchmarks/results/scale.md]``
(a few minutes; ``--legs``, ``--calls`` make it shorter).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .looplag import CallbackTimer, _percentile
from .serverproc import ROOT

KEYS = 20
WAVE = 1000
LAUNCH_GROUP = 20


# --- the sandbox's process ------------------------------------------------------------------


async def _serve(config: dict[str, Any]) -> None:
    from kraken_prime_async.sandbox import PrimeSandbox, TierLimits

    latency = config["latency"]
    sandbox = PrimeSandbox(
        tier=TierLimits(config["max_counter"], config["decay"]),
        rate_limit=config["rate_limit"],
        nonce_window=config["nonce_window"],
        auto_confirm_after=0.0,
        latency=(latency, latency) if latency else None,
        seed=28,
    )
    async with sandbox:
        for i in range(config["legs"]):
            sandbox.add_trade(f"A{i:04d}", "1.5" if i % 2 else "-2.25")
        keys = [(sandbox.api_key, sandbox.api_secret)]
        for i in range(config["keys"] - 1):
            user = sandbox.add_api_user(f"bench{i}")
            created = sandbox.add_api_key(user)
            sandbox.set_nonce_window(created.api_key, config["nonce_window"])
            keys.append((created.api_key, created.api_secret))
        print(json.dumps({"url": sandbox.url, "keys": keys}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until closed


class SandboxProcess:
    """``PrimeSandbox`` in a child process; ``url`` and ``keys`` once it listens."""

    def __init__(self, **config: Any) -> None:
        self.config = config
        self.url = ""
        self.keys: list[tuple[str, str]] = []
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> SandboxProcess:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.scale", "--serve", json.dumps(self.config)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        ready = json.loads(self._process.stdout.readline())
        self.url, self.keys = ready["url"], [tuple(pair) for pair in ready["keys"]]
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._process is not None
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=30)


# --- settle_batch ---------------------------------------------------------------------------


async def _settle(url: str, key: tuple[str, str], window: int, rate: Any) -> dict[str, Any]:
    from kraken_prime_async import PrimeClient

    async with PrimeClient(
        *key,
        base_url=url,
        nonce_window=window,
        max_in_flight=50 if window else 1,
        rate_limit=rate,
    ) as client:
        batch = await client.settlement.create_batch("currency")
        started = time.perf_counter()
        report = await client.settlement.settle_batch(batch.id, concurrency=50)
        wall = time.perf_counter() - started
        calls = client.stats.calls if hasattr(client.stats, "calls") else None
    return {
        "legs": len(report.legs),
        "settled": len(report.settled),
        "complete": report.complete,
        "wall_s": wall,
        "calls": calls,
    }


def settle_scenarios(legs: int, max_counter: float, decay: float, latency: float) -> list[Any]:
    from kraken_prime_async import RateLimit

    rows = []
    with SandboxProcess(
        legs=legs, keys=1, max_counter=max_counter, decay=decay, rate_limit=True,
        nonce_window=60_000, latency=0.0,
    ) as sandbox:  # fmt: skip
        got = asyncio.run(
            _settle(sandbox.url, sandbox.keys[0], 60_000, RateLimit(max_counter, decay))
        )
    calls = got["legs"] + 1  # one read of the batch, one settle per leg (create not timed)
    bound = max(0.0, calls - max_counter) / decay
    rows.append(("nonce window 60 s, 50 in flight", got, calls, bound, "pacing", 1.05))
    with SandboxProcess(
        legs=legs, keys=1, max_counter=max_counter, decay=decay, rate_limit=False,
        nonce_window=0, latency=latency,
    ) as sandbox:  # fmt: skip
        got = asyncio.run(_settle(sandbox.url, sandbox.keys[0], 0, None))
    calls = got["legs"] + 1
    with SandboxProcess(
        legs=legs, keys=1, max_counter=max_counter, decay=decay, rate_limit=False,
        nonce_window=0, latency=latency,
    ) as sandbox:  # fmt: skip
        bare = asyncio.run(_bare_settle(sandbox.url, sandbox.keys[0]))
    if bare["settled"] != legs:
        raise RuntimeError(f"the bare client settled {bare['settled']} of {legs} legs")
    rows.append(("window 0 (one request at a time)", got, calls, bare["wall_s"], "latency", 1.10))
    return rows


async def _bare_settle(url: str, key: tuple[str, str]) -> dict[str, Any]:
    """The window-0 bound: the same requests as ``settle_batch`` (one batch read, then one
    settle per leg), sent by bare aiohttp one after another, each signed with a fresh nonce."""
    import base64
    import hashlib
    import hmac

    import aiohttp
    import msgspec

    from kraken_prime_async import PrimeClient

    async with PrimeClient(*key, base_url=url) as client:  # the batch itself is not timed
        batch = await client.settlement.create_batch("currency")
    mac = hmac.new(base64.b64decode(key[1]), digestmod=hashlib.sha512)
    last = 0

    def signed(operation: str, params: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
        nonlocal last
        last = max(int(time.time() * 1000), last + 1)
        body = msgspec.json.encode({"nonce": last, **params})
        path = f"/0/private/{operation}"
        inner = hashlib.sha256(b"%d" % last + body).digest()
        signer = mac.copy()
        signer.update(path.encode() + inner)
        sign = base64.b64encode(signer.digest()).decode()
        headers = {"API-Key": key[0], "API-Sign": sign, "Content-Type": "application/json"}
        return url + path, body, headers

    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        started = time.perf_counter()
        target, body, headers = signed("GetPrimeSettlementBatch", {"batch_id": batch.id})
        async with session.post(target, data=body, headers=headers) as response:
            answer = msgspec.json.decode(await response.read())
        assets = [leg["asset"] for leg in answer["result"]["batch"]["legs"]]
        settled = 0
        for asset in assets:
            params = {"batch_id": batch.id, "asset": asset}
            target, body, headers = signed("SettlePrimeSettlementBatchAsset", params)
            async with session.post(target, data=body, headers=headers) as response:
                settled += not msgspec.json.decode(await response.read())["error"]
        wall = time.perf_counter() - started
    return {"legs": len(assets), "settled": settled, "wall_s": wall, "calls": len(assets) + 1}


# --- 10,000 mixed calls ---------------------------------------------------------------------


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def _mixed(url: str, keys: list[tuple[str, str]], calls: int) -> dict[str, Any]:
    from kraken_prime_async import PrimeClient

    clients = [PrimeClient(*key, base_url=url, rate_limit=None) for key in keys]
    batch = await clients[0].settlement.create_batch("currency")
    operations = (
        lambda c: c.settlement.list_batches(limit=1),
        lambda c: c.settlement.list_batches(limit=20),
        lambda c: c.settlement.get_batch(batch.id),
    )
    for client in clients:
        await client.settlement.list_batches(limit=1)  # connections open
    timer = CallbackTimer()
    rss: list[float] = []
    objects: list[int] = []
    timer.install()
    started = time.perf_counter()
    try:
        for wave in range(0, calls, WAVE):
            tasks = []
            for start in range(wave, min(calls, wave + WAVE), LAUNCH_GROUP):
                for i in range(start, min(calls, wave + WAVE, start + LAUNCH_GROUP)):
                    call = operations[i % len(operations)](clients[i % len(clients)])
                    tasks.append(asyncio.ensure_future(call))
                await asyncio.sleep(0)
                timer.harness()
            await asyncio.gather(*tasks)
            timer.harness()
            del tasks
            rss.append(_rss_mib())
            objects.append(len(gc.get_objects()))
    finally:
        wall = time.perf_counter() - started
        timer.remove()
    for client in clients:
        await client.close()
    blocked = timer.durations
    return {
        "calls": calls,
        "wall_s": wall,
        "blocked_max_ms": 1e3 * max(blocked),
        "blocked_p99_ms": 1e3 * _percentile(blocked, 0.99),
        "gc_count": len(timer.collections),
        "gc_max_ms": 1e3 * max((t for _, t in timer.collections), default=0.0),
        "rss_first_mib": rss[0],
        "rss_last_mib": rss[-1],
        "rss_waves": rss,
        "objects_waves": objects,
    }


def mixed_scenario(calls: int, latency: float) -> dict[str, Any]:
    with SandboxProcess(
        legs=10, keys=KEYS, max_counter=20, decay=1, rate_limit=False, nonce_window=0,
        latency=latency,
    ) as sandbox:  # fmt: skip
        return asyncio.run(_mixed(sandbox.url, sandbox.keys, calls))


# --- the report -----------------------------------------------------------------------------


def run(args: argparse.Namespace) -> str:
    settle = settle_scenarios(args.legs, args.max_counter, args.decay, args.latency)
    mixed = mixed_scenario(args.calls, args.mixed_latency)
    lines = [
        "# The cost of safety at scale (embedded sandbox in its own process, loopback)",
        "",
        f"- Date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- Command: `.venv-bench/bin/python -m benchmarks.scale {' '.join(args.argv)}`".replace(
            " `", "`"
        ),
        f"- Tier: max counter {args.max_counter:g}, decay {args.decay:g}/s (both sides); "
        f"answer latency {args.latency * 1e3:g} ms in the window-0 run",
        f"- load average at end: {' / '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)",
        "",
        f"## settle_batch of {args.legs:,} legs (concurrency 50)",
        "",
        "| client | legs settled | calls | wall (s) | bound (s) | ÷ bound | target | result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, got, calls, bound, kind, limit in settle:
        ratio = got["wall_s"] / bound
        verdict = "PASS" if ratio <= limit and got["complete"] else "**FAIL**"
        lines.append(
            f"| {label} | {got['settled']:,} / {got['legs']:,} | {calls:,} | {got['wall_s']:.2f} "
            f"| {bound:.2f} ({kind}) | {ratio:.3f} | ≤ {limit:.2f} | {verdict} |"
        )
    label, got, calls, served, _, _ = settle[-1]
    nominal = calls * args.latency
    lines += [
        "",
        f"Window 0: the bound is the answer latency as served, {1e3 * served / calls:.2f} ms per "
        f"request (a bare aiohttp client sending the same {calls:,} requests one at a time to a "
        f"fresh sandbox of the same set-up; the sandbox sleeps {args.latency * 1e3:g} ms). "
        f"Against the nominal {nominal:.2f} s ({calls:,} x {args.latency * 1e3:g} ms) the bare "
        f"client is {served / nominal:.3f}x and ours {got['wall_s'] / nominal:.3f}x.",
    ]
    growth = mixed["rss_last_mib"] - mixed["rss_first_mib"]
    lines += [
        "",
        f"## {mixed['calls']:,} mixed calls on {KEYS} keys (window 0, waves of {WAVE:,})",
        "",
        "| figure | measured | target | result |",
        "|---|---|---|---|",
        _row("loop blocked by one callback, max (ms)", mixed["blocked_max_ms"], 2.0),
        _row("loop blocked by one callback, p99 (ms)", mixed["blocked_p99_ms"], 0.5),
        _row(
            f"RSS growth over the last {mixed['calls'] - WAVE:,} calls (MiB; "
            f"{mixed['rss_first_mib']:.1f} → {mixed['rss_last_mib']:.1f})",
            growth,
            2.0,
        ),
        "",
        f"Wall time {mixed['wall_s']:.1f} s; {mixed['gc_count']} collections, longest "
        f"{mixed['gc_max_ms']:.2f} ms (timed apart from the callbacks, as in `looplag.py`).",
        "",
        "RSS after each wave (MiB): "
        + ", ".join(f"{value:.1f}" for value in mixed["rss_waves"])
        + "; objects tracked by the GC after each wave: "
        + ", ".join(f"{value:,}" for value in mixed["objects_waves"])
        + ".",
    ]
    text = "\n".join(lines) + "\n"
    Path(args.output).write_text(text)
    return text


def _row(what: str, value: float, limit: float) -> str:
    return f"| {what} | {value:.2f} | ≤ {limit:g} | {'PASS' if value <= limit else '**FAIL**'} |"


def main(argv: list[str] | None = None) -> None:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["--serve"]:
        asyncio.run(_serve(json.loads(args_list[1])))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--legs", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--max-counter", type=float, default=20.0)
    parser.add_argument("--decay", type=float, default=100.0)
    parser.add_argument("--latency", type=float, default=0.010, help="seconds, window-0 run")
    parser.add_argument("--mixed-latency", type=float, default=0.002, help="seconds")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "scale.md"))
    args = parser.parse_args(args_list)
    args.argv = args_list
    print(run(args))


if __name__ == "__main__":
    main()
